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

/// The auther of an `api:` or `metrics:` block: its `auth` user and its named `auther`; either
/// may accept (gost combines both). `None` when neither is set.
pub fn block_auther(
    auth: Option<&AuthConfig>,
    auther: Option<&str>,
    r: &Registries,
) -> Result<Option<BoxAuther>> {
    let mut list = Vec::new();
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

/// Binds an `addr` of an `api:`/`metrics:` block (`:8080`, `host:port`). A Unix socket
/// (`unix:///path`) is not supported yet.
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener> {
    if addr.starts_with("unix://") {
        return Err(gost_core::Error::unsupported(format!(
            "{addr}: a Unix socket is not supported yet"
        )));
    }
    let (host, port) = gost_core::addr::split_host_port(addr)?;
    let port: u16 =
        port.parse().map_err(|_| gost_core::Error::config(format!("{addr}: bad port {port:?}")))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    tokio::net::TcpListener::bind((host, port)).await.map_err(|e| {
        gost_core::Error::with_source(gost_core::ErrorKind::Io, format!("listen on {addr}"), e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::Auther;

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
