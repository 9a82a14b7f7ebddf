//! # gost-x-api
//!
//! gost's Web API ([`api`]) over a [`gost_x_config::runtime::Runtime`], and the Prometheus
//! endpoint ([`metrics`]), both on a small HTTP/1.1 server ([`http`]). See docs/api.md.

pub mod api;
pub mod doc;
pub mod http;
pub mod metrics;

use gost_core::{BoxAuther, Registries, Result};
use gost_x_auth::{AutherGroup, Users};
use gost_x_config::model::AuthConfig;

pub use api::ApiOptions;

/// The handler types this crate adds to a [`gost_x_config::build::Env`]: `api` and `metrics`.
pub const HANDLERS: [(&str, gost_x_config::build::EnvHandler); 2] =
    [(api::HANDLER, api::handler), (metrics::HANDLER, metrics::handler)];

/// The auther of an `api:` or `metrics:` block: its `auth` user and its named `auther`; either
/// may accept (gost combines both). `None` when neither is set.
pub fn block_auther(
    auth: Option<&AuthConfig>,
    auther: Option<&str>,
    r: &Registries,
) -> Result<Option<BoxAuther>> {
    let mut list = Vec::new();
    if let Some(a) = auth
        && a.username.is_empty()
        && !a.password.is_empty()
    {
        // Go reads this as "no auth": the API (or metrics) would be open to anyone.
        return Err(gost_core::Error::config(
            "auth has a password but no user name, which would leave the endpoint open \
             (write user:password@, e.g. -api admin:secret@:18080)",
        ));
    }
    if let Some(a) = auth.filter(|a| !a.username.is_empty()) {
        list.push(BoxAuther::new(Users::new([(a.username.clone(), a.password.clone())])));
    }
    if let Some(name) = auther.filter(|n| !n.is_empty()) {
        if !r.authers.contains(name) {
            return Err(gost_core::Error::config(format!(
                "unknown auther {name:?} (no top-level auther has that name)"
            )));
        }
        list.push(BoxAuther::new(r.authers.named(name)));
    }
    Ok(match list.len() {
        0 => None,
        1 => list.pop(),
        _ => Some(BoxAuther::new(AutherGroup(list))),
    })
}

/// Binds an `addr` of an `api:`/`metrics:` block: `:8080`, `host:port`, or a Unix socket
/// `unix:///path` (a stale socket file left by a previous run is replaced).
pub async fn bind(addr: &str) -> Result<http::Listener> {
    let failed = |e: std::io::Error| {
        gost_core::Error::with_source(gost_core::ErrorKind::Bind, format!("listen on {addr}"), e)
    };
    if let Some(path) = addr.strip_prefix("unix://") {
        #[cfg(unix)]
        {
            if path.is_empty() {
                return Err(gost_core::Error::config(format!("{addr}: no socket path")));
            }
            let path = std::path::PathBuf::from(path);
            // Only a stale socket is replaced: never another kind of file, nor a socket a live
            // process still answers on.
            if std::fs::symlink_metadata(&path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                if tokio::net::UnixStream::connect(&path).await.is_ok() {
                    return Err(gost_core::Error::new(
                        gost_core::ErrorKind::Bind,
                        format!("listen on {addr}: address already in use"),
                    ));
                }
                let _ = std::fs::remove_file(&path);
            }
            let listener = tokio::net::UnixListener::bind(&path).map_err(failed)?;
            return Ok(http::Listener::Unix(listener, path));
        }
        #[cfg(not(unix))]
        return Err(gost_core::Error::unsupported(format!(
            "{addr}: Unix sockets need a Unix OS ({path})"
        )));
    }
    let (host, port) = gost_core::addr::split_host_port(addr)?;
    let port: u16 =
        port.parse().map_err(|_| gost_core::Error::config(format!("{addr}: bad port {port:?}")))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    tokio::net::TcpListener::bind((host, port)).await.map(http::Listener::Tcp).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{Auther, Handler, HandlerOptions, Metadata};
    use gost_x_config::Env;

    /// One request through a handler of `kind` built from `env`; the raw answer.
    async fn through_handler(
        kind: &str,
        md: Metadata,
        auther: Option<BoxAuther>,
        env: &Env,
        request: &[u8],
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (new, _) = HANDLERS.iter().find(|(n, _)| *n == kind).map(|(n, f)| (*f, n)).unwrap();
        let mut opts =
            HandlerOptions::new(gost_core::BoxRouter::new(gost_x_chain::DefaultRouter::direct()));
        opts.auther = auther;
        let handler = new(opts, &md, env).unwrap();
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let conn: gost_core::BoxConn = Box::new(gost_x_rt::TokioConn::new(server));
        let served = tokio::spawn(async move {
            handler.handle(conn, gost_core::Session::new(1, "svc".into())).await
        });
        client.write_all(request).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = String::new();
        client.read_to_string(&mut out).await.unwrap();
        served.await.unwrap().unwrap();
        out
    }

    #[tokio::test]
    async fn api_and_metrics_handlers_answer_on_a_connection() {
        let get = |path: &str| format!("GET {path} HTTP/1.1\r\nConnection: close\r\n\r\n");
        // The api handler before its runtime runs: 503, not a hang.
        let env = Env { metrics: Some(gost_x_metrics::Metrics::new()), ..Env::default() };
        let md = Metadata::new().with("pathPrefix", "/api");
        let out = through_handler("api", md, None, &env, get("/api/config").as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 503 "), "{out}");
        // The metrics handler: its path, behind its auther.
        let users = BoxAuther::new(Users::new([("m".to_owned(), "1".to_owned())]));
        let md = Metadata::new().with("path", "/m");
        let out =
            through_handler("metrics", md.clone(), Some(users.clone()), &env, get("/m").as_bytes())
                .await;
        assert!(out.starts_with("HTTP/1.1 401 "), "{out}");
        let authed = "GET /m HTTP/1.1\r\nAuthorization: Basic bTox\r\nConnection: close\r\n\r\n";
        let out = through_handler("metrics", md, Some(users), &env, authed.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 200 ") && out.contains("gost_services"), "{out}");
        // Without metrics on, the metrics handler cannot be built.
        let new = HANDLERS[1].1;
        let opts =
            HandlerOptions::new(gost_core::BoxRouter::new(gost_x_chain::DefaultRouter::direct()));
        let err = new(opts, &Metadata::new(), &Env::default()).err().unwrap();
        assert!(err.to_string().contains("needs metrics on"), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_unix_socket_is_replaced_only_when_stale() {
        let dir = std::env::temp_dir().join(format!("gost-api-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let addr = format!("unix://{}", dir.join("api.sock").display());
        let live = bind(&addr).await.unwrap();
        let err = bind(&addr).await.unwrap_err();
        assert!(err.to_string().contains("already in use"), "{err}");
        // A socket file left by a process that is gone is replaced.
        let stale = std::os::unix::net::UnixListener::bind(dir.join("stale.sock")).unwrap();
        drop(stale);
        assert!(bind(&format!("unix://{}", dir.join("stale.sock").display())).await.is_ok());
        drop(live);
        assert!(!dir.join("api.sock").exists(), "removed with its listener");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn auth_and_a_named_auther_both_accept() {
        let r = Registries::new();
        let auth = AuthConfig { username: "a".into(), password: "1".into(), ..Default::default() };
        assert!(block_auther(Some(&auth), Some("users"), &r).is_err(), "unknown auther");
        let users = std::sync::Arc::new(Users::new([("b".to_owned(), "2".to_owned())]));
        r.authers.register("users", BoxAuther::new(users.clone())).unwrap();
        let both = block_auther(Some(&auth), Some("users"), &r).unwrap().unwrap();
        let ok = |u: &str, p: &str| both.authenticate(u.into(), p.into(), None);
        assert!(ok("a", "1").await.is_some() && ok("b", "2").await.is_some());
        assert!(ok("a", "2").await.is_none());
        // The auther is late bound: a change of its users is seen at once.
        users.set_users([("c".to_owned(), "3".to_owned())]);
        assert!(ok("c", "3").await.is_some() && ok("b", "2").await.is_none());
        assert!(block_auther(None, None, &r).unwrap().is_none());
    }
}
