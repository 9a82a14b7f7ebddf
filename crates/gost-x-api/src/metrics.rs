//! The Prometheus endpoint (`metrics:` / `-metrics`): the text exposition at `path`
//! (`/metrics`), optionally behind Basic auth.

use std::sync::Arc;

use gost_core::{BoxAuther, BoxConn, BoxHandler, Handler, HandlerOptions, Metadata, Session};
use gost_x_metrics::Metrics;

use crate::http::{Request, Response};

/// What the endpoint serves: the series, at a path, maybe behind Basic auth.
struct Endpoint {
    metrics: Arc<Metrics>,
    path: String,
    auther: Option<BoxAuther>,
}

impl crate::http::Service for Endpoint {
    async fn gate(&self, req: &Request) -> Option<Response> {
        if req.path != self.path || !matches!(req.method.as_str(), "GET" | "HEAD") {
            return Some(Response::new(404, "text/plain; charset=utf-8", "404 page not found"));
        }
        if !req.authorized(self.auther.as_ref()).await {
            let mut r = Response::new(401, "text/plain; charset=utf-8", "Unauthorized");
            r.headers.push(("WWW-Authenticate", "Basic".into()));
            return Some(r);
        }
        None
    }

    async fn answer(&self, _req: Request) -> Response {
        Response::new(200, "text/plain; version=0.0.4; charset=utf-8", self.metrics.render())
    }
}

/// Serves `metrics` on `listener` at `path` until `shutdown` completes.
pub async fn serve(
    listener: crate::http::Listener,
    metrics: Arc<Metrics>,
    path: String,
    auther: Option<BoxAuther>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    crate::http::serve(listener, Endpoint { metrics, path, auther }, shutdown).await;
}

/// The registry name of [`handler`].
pub const HANDLER: &str = "metrics";

/// gost's `metrics` handler: the endpoint on the connections of any service
/// (`-L metrics://:9000`). Metadata: `path` / `metrics.path` (`/metrics`); the handler's auther
/// guards it. Needs metrics on in the process, which a `metrics` service at start-up turns on.
pub fn handler(
    opts: HandlerOptions,
    md: &Metadata,
    env: &gost_x_config::build::Env,
) -> gost_core::Result<BoxHandler> {
    let Some(metrics) = env.metrics.clone() else {
        return Err(gost_core::Error::config(
            "the metrics handler needs metrics on: start gost with it (or with a metrics: block), \
             adding one by reload or API is not enough",
        ));
    };
    let path = md.get_string(&["metrics.path", "path"])?.filter(|p| !p.is_empty());
    let path = path.unwrap_or_else(|| "/metrics".to_owned());
    Ok(BoxHandler::new(MetricsHandler(Endpoint { metrics, path, auther: opts.auther })))
}

struct MetricsHandler(Endpoint);

impl Handler for MetricsHandler {
    async fn handle(&self, conn: BoxConn, session: Session) -> gost_core::Result<()> {
        let client = session.client_addr.unwrap_or(crate::http::UNIX_CLIENT);
        crate::http::serve_connection(gost_x_rt::Compat::new(conn), client, &self.0)
            .await
            .map_err(|e| gost_core::Error::with_source(gost_core::ErrorKind::Io, "metrics", e))
    }
}
