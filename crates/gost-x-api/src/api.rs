//! gost's Web API: the running configuration as JSON/YAML, its objects' five routes each,
//! save and reload, HTTP Basic auth on `/config`, CORS, an access log, and the OpenAPI
//! document at `/docs/swagger.yaml`.

use std::sync::Arc;
use std::time::Instant;

use gost_core::{BoxAuther, BoxConn, BoxHandler, Handler, HandlerOptions, Metadata, Session};
use gost_x_config::load::{self, Format};
use gost_x_config::runtime::{Kind, ObjectError, Runtime};
use serde_json::{Value, json};

use crate::http::{Request, Response};

/// Kinds of objects gost's API has and this build does not: listed as empty, refused on change.
const UNSUPPORTED: [&str; 3] = ["observers", "recorders", "quotas"];

/// API settings (the `api:` block).
#[derive(Clone, Default)]
pub struct ApiOptions {
    /// Prefix of every route (`pathPrefix`), e.g. `/api`.
    pub path_prefix: String,
    /// Log every request (`accesslog`).
    pub access_log: bool,
    /// Checks Basic credentials on `/config` (`auth` and `auther`); `None` = open.
    pub auther: Option<BoxAuther>,
}

impl std::fmt::Debug for ApiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiOptions")
            .field("path_prefix", &self.path_prefix)
            .field("access_log", &self.access_log)
            .field("auth", &self.auther.is_some())
            .finish()
    }
}

/// Answers one API request (the [`gate`], then the route).
pub async fn handle(rt: &Runtime, opts: &ApiOptions, req: Request) -> Response {
    let started = Instant::now();
    match gate(opts, &req).await {
        Some(resp) => finish(opts, &req, resp, started),
        None => answer(rt, opts, req, started).await,
    }
}

/// What the API says before a request's body is read: 404 for a path it does not serve, 401
/// without valid credentials; `None` lets the request go on.
pub async fn gate(opts: &ApiOptions, req: &Request) -> Option<Response> {
    // Routes that take no body are answered here, so no body is ever read for them.
    if req.method == "OPTIONS" {
        return Some(preflight(req));
    }
    let prefix = opts.path_prefix.trim_end_matches('/');
    let Some(path) = req.path.strip_prefix(prefix) else { return Some(not_found()) };
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    if path == "/docs/swagger.yaml" {
        return Some(match req.method.as_str() {
            "GET" | "HEAD" => {
                Response::new(200, "text/yaml; charset=utf-8", crate::doc::swagger(prefix))
            }
            _ => not_found(),
        });
    }
    let Some(rest) = path.strip_prefix("/config") else { return Some(not_found()) };
    if !rest.is_empty() && !rest.starts_with('/') {
        return Some(not_found());
    }
    if !req.authorized(opts.auther.as_ref()).await {
        let mut resp = error(401, 401, "Unauthorized");
        resp.headers.push(("WWW-Authenticate", "Basic".into()));
        return Some(resp);
    }
    None
}

async fn answer(rt: &Runtime, opts: &ApiOptions, req: Request, started: Instant) -> Response {
    let resp = route(rt, opts, &req).await;
    finish(opts, &req, resp, started)
}

/// Adds the CORS header and writes the access log line.
fn finish(opts: &ApiOptions, req: &Request, mut resp: Response, started: Instant) -> Response {
    resp.headers.push(("Access-Control-Allow-Origin", "*".into()));
    if opts.access_log {
        let d = started.elapsed();
        tracing::info!(
            kind = "api",
            method = %req.method,
            uri = %req.target,
            code = resp.status,
            client = %req.client.ip(),
            duration = ?d,
            "| {:3} | {:>13?} | {:>15} | {:<7} {}",
            resp.status,
            d,
            req.client.ip(),
            req.method,
            req.target
        );
    }
    resp
}

fn error(status: u16, code: u32, msg: impl Into<String>) -> Response {
    Response::json(status, &json!({ "code": code, "msg": msg.into() }))
}

fn object_error(e: &ObjectError) -> Response {
    let (status, code) = match e {
        ObjectError::Invalid(_) => (400, 40001),
        ObjectError::Duplicate(_) => (400, 40002),
        ObjectError::Failed(_) => (500, 40003),
        ObjectError::NotFound(_) => (400, 40004),
        ObjectError::Save(_) => (500, 40005),
    };
    error(status, code, e.to_string())
}

fn ok() -> Response {
    Response::json(200, &json!({ "msg": "OK" }))
}

fn not_found() -> Response {
    Response::new(404, "text/plain; charset=utf-8", "404 page not found")
}

/// Routes a request that passed the [`gate`] (an authorized one under `/config`).
async fn route(rt: &Runtime, opts: &ApiOptions, req: &Request) -> Response {
    let prefix = opts.path_prefix.trim_end_matches('/');
    let Some(path) = req.path.strip_prefix(prefix) else { return not_found() };
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let Some(rest) = path.strip_prefix("/config") else { return not_found() };
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method.as_str(), segments.as_slice()) {
        ("GET", []) => get_config(rt, req),
        ("POST", []) => match rt.save(req.query("path"), req.query("format")).await {
            Ok(file) => {
                tracing::info!("configuration saved to {}", file.display());
                ok()
            }
            Err(e) => object_error(&e),
        },
        ("POST", ["reload"]) => match rt.reload().await {
            Ok(()) => ok(),
            Err(e) => error(400, 40001, e.to_string()),
        },
        (method, [kind, tail @ ..]) => match Kind::from_segment(kind) {
            Some(kind) => object_route(rt, req, method, kind, tail).await,
            None if UNSUPPORTED.contains(kind) => match (method, tail) {
                ("GET", []) => Response::json(200, &json!({ "data": { "count": 0, "list": [] } })),
                ("GET", [_]) => Response::json(200, &json!({})),
                _ => error(500, 40003, format!("`{kind}` is not supported yet")),
            },
            None => not_found(),
        },
        _ => not_found(),
    }
}

async fn object_route(
    rt: &Runtime,
    req: &Request,
    method: &str,
    kind: Kind,
    tail: &[&str],
) -> Response {
    let outcome = match (method, tail) {
        ("GET", []) => {
            let list = rt.list(kind);
            return Response::json(200, &json!({ "data": { "count": list.len(), "list": list } }));
        }
        ("GET", [name]) => {
            return match rt.get(kind, name) {
                Some(v) => Response::json(200, &json!({ "data": v })),
                None => Response::json(200, &json!({})),
            };
        }
        ("POST", []) => match body(req) {
            Ok(v) => rt.create(kind, v).await,
            Err(resp) => return resp,
        },
        ("PUT", [name]) => match body(req) {
            Ok(v) => rt.update(kind, name, v).await,
            Err(resp) => return resp,
        },
        ("DELETE", [name]) => rt.delete(kind, name).await,
        _ => return not_found(),
    };
    match outcome {
        Ok(()) => ok(),
        Err(e) => object_error(&e),
    }
}

/// The request body as a JSON object; anything else is gost's 40001.
fn body(req: &Request) -> std::result::Result<Value, Response> {
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(error(400, 40001, "the request body must be a JSON object")),
        Err(e) => Err(error(400, 40001, format!("invalid JSON: {e}"))),
    }
}

fn get_config(rt: &Runtime, req: &Request) -> Response {
    let yaml = req.query("format").is_some_and(|f| f.eq_ignore_ascii_case("yaml"));
    let (format, content_type) =
        if yaml { (Format::Yaml, "text/x-yaml") } else { (Format::Json, "application/json") };
    match load::write(&rt.snapshot(), format) {
        Ok(text) => Response::new(200, content_type, text),
        Err(e) => error(500, 500, e.to_string()),
    }
}

fn preflight(req: &Request) -> Response {
    let mut resp = Response::new(204, "", Vec::new());
    resp.headers.push(("Access-Control-Allow-Methods", "GET,POST,PUT,DELETE,OPTIONS".into()));
    let headers = req.head.header_str("access-control-request-headers").unwrap_or("*");
    resp.headers.push(("Access-Control-Allow-Headers", headers.to_owned()));
    resp.headers.push(("Access-Control-Allow-Private-Network", "true".into()));
    resp.headers.push(("Access-Control-Max-Age", "43200".into()));
    resp
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: crate::http::Listener,
    rt: Arc<Runtime>,
    opts: ApiOptions,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let service = ApiService { runtime: RuntimeRef::Running(rt), options: Arc::new(opts) };
    crate::http::serve(listener, service, shutdown).await;
}

/// Where the API finds the runtime it serves.
enum RuntimeRef {
    /// The API server started with the runtime.
    Running(Arc<Runtime>),
    /// An `api` handler: looked up per request (a connection must not keep a stopped runtime
    /// alive).
    Cell(gost_x_config::build::RuntimeCell),
}

struct ApiService {
    runtime: RuntimeRef,
    options: Arc<ApiOptions>,
}

impl crate::http::Service for ApiService {
    async fn gate(&self, req: &Request) -> Option<Response> {
        let started = Instant::now();
        let resp = gate(&self.options, req).await?;
        Some(finish(&self.options, req, resp, started))
    }

    async fn answer(&self, req: Request) -> Response {
        let started = Instant::now();
        let rt = match &self.runtime {
            RuntimeRef::Running(rt) => Some(rt.clone()),
            RuntimeRef::Cell(cell) => cell.get().and_then(std::sync::Weak::upgrade),
        };
        match rt {
            Some(rt) => answer(&rt, &self.options, req, started).await,
            None => {
                let body = json!({"code": 503, "msg": "the runtime is not running"});
                Response::json(503, &body)
            }
        }
    }
}

/// gost's `api` handler: the API on the connections of any service (`-L api://user:pass@:18080`,
/// or an `api` handler behind a `tls` listener for HTTPS). Metadata: `accessLog` / `api.accessLog`,
/// `pathPrefix` / `api.pathPrefix`; the handler's auther guards `/config`.
pub fn handler(
    opts: HandlerOptions,
    md: &Metadata,
    env: &gost_x_config::build::Env,
) -> gost_core::Result<BoxHandler> {
    let options = ApiOptions {
        path_prefix: md.get_string(&["api.pathPrefix", "pathPrefix"])?.unwrap_or_default(),
        access_log: md.get_bool(&["api.accessLog", "accessLog"])?.unwrap_or(false),
        auther: opts.auther,
    };
    let service =
        ApiService { runtime: RuntimeRef::Cell(env.runtime.clone()), options: Arc::new(options) };
    Ok(BoxHandler::new(ApiHandler(Arc::new(service))))
}

/// The registry name of [`handler`].
pub const HANDLER: &str = "api";

struct ApiHandler(Arc<ApiService>);

impl Handler for ApiHandler {
    async fn handle(&self, conn: BoxConn, session: Session) -> gost_core::Result<()> {
        let client = session.client_addr.unwrap_or(crate::http::UNIX_CLIENT);
        crate::http::serve_connection(gost_x_rt::Compat::new(conn), client, &*self.0)
            .await
            .map_err(|e| gost_core::Error::with_source(gost_core::ErrorKind::Io, "api", e))
    }
}
