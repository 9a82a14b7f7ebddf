//! The Prometheus endpoint (`metrics:` / `-metrics`): the text exposition at `path`
//! (`/metrics`), optionally behind Basic auth.

use std::sync::Arc;

use gost_core::BoxAuther;
use gost_x_metrics::Metrics;

use crate::http::{Request, Response};

/// Serves `metrics` on `listener` at `path` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    path: String,
    auther: Option<BoxAuther>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let state = Arc::new((metrics, path, auther));
    crate::http::serve(
        listener,
        move |req: Request| {
            let state = state.clone();
            async move {
                let (metrics, path, auther) = &*state;
                if req.path != *path || !matches!(req.method.as_str(), "GET" | "HEAD") {
                    return Response::new(404, "text/plain; charset=utf-8", "404 page not found");
                }
                if !req.authorized(auther.as_ref()).await {
                    let mut r = Response::new(401, "text/plain; charset=utf-8", "Unauthorized");
                    r.headers.push(("WWW-Authenticate", "Basic".into()));
                    return r;
                }
                Response::new(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
            }
        },
        shutdown,
    )
    .await;
}
