//! `pht` and `phts`: gost's plain HTTP tunnel on the client side (`-F socks5+pht://server:80`):
//! each connection a session of HTTP/1.1 requests to the node (a pull that streams the
//! server's data, a push per write), over connections of its own. See `gost-x-pht`.
//!
//! Metadata (gost's names): `host` (the `Host` header's host; the node's by default),
//! `pushPath` (`/push`), `pullPath` (`/pull`), `authorizePath` (`/authorize`, asked only by a
//! gost 3.2.6 server), `header` (extra request header fields, a map), `dialTimeout` (5s), and
//! (`phts`) every `tls` key.
//!
//! pht needs several HTTP connections per tunnelled one, so it must be a chain's first hop (gost
//! does not run its protocol past the first hop either).

use std::sync::Arc;
use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, Error, HandshakeOptions,
    Metadata, Network, Result,
};
use gost_x_pht::{DEFAULT_AUTHORIZE_PATH, DEFAULT_PULL_PATH, DEFAULT_PUSH_PATH, path_or};
use gost_x_rt::TokioConn;
use gost_x_rt::net::connect_tcp;
use gost_x_tls::TlsConnector;

/// The registry name of the cleartext form.
pub const NAME: &str = "pht";
/// The registry name of the TLS form.
pub const NAME_TLS: &str = "phts";

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);

struct PhtDialer {
    tls: Option<(TlsConnector, Option<String>)>,
    host: Option<String>,
    options: gost_x_pht::ClientOptions,
    dial_timeout: Duration,
}

/// `pht`: HTTP/1.1 in clear.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    build(md, None)
}

/// `phts`: HTTP/1.1 over TLS.
pub fn new_tls(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let (config, server_name) = gost_x_tls::client_config(md)?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    build(md, Some((TlsConnector::from(Arc::new(config)), server_name)))
}

fn build(md: &Metadata, tls: Option<(TlsConnector, Option<String>)>) -> Result<BoxDialer> {
    let headers: Vec<(String, String)> =
        md.get_string_map(&["header"])?.unwrap_or_default().into_iter().collect();
    for (k, v) in &headers {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n') || s.is_empty();
        if bad(k) || k.contains(':') || v.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(Error::config(format!("pht: header {k:?}: {v:?} is not a valid field")));
        }
    }
    Ok(BoxDialer::new(PhtDialer {
        tls,
        host: md.get_string(&["host"])?.filter(|h| !h.is_empty()),
        options: gost_x_pht::ClientOptions {
            host: String::new(),
            authorize_path: path_or(md.get_string(&["authorizePath"])?, DEFAULT_AUTHORIZE_PATH),
            push_path: path_or(md.get_string(&["pushPath"])?, DEFAULT_PUSH_PATH),
            pull_path: path_or(md.get_string(&["pullPath"])?, DEFAULT_PULL_PATH),
            headers,
        },
        dial_timeout: md.get_duration(&["dialTimeout"])?.unwrap_or(DEFAULT_DIAL_TIMEOUT),
    }))
}

/// `host` without a `:port` (and IPv6 brackets), as Go's `SplitHostPort` leaves it.
fn strip_port(host: &str) -> String {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner).to_owned();
    }
    match host.split_once(':') {
        Some((h, port)) if !port.contains(':') => h.to_owned(),
        _ => host.to_owned(),
    }
}

impl Dialer for PhtDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        // As gost: the configured host (else the node's), with the node's port.
        let host = self.host.clone().or(opts.host.clone()).unwrap_or_else(|| addr.host());
        let host = strip_port(&host);
        let authority = if host.contains(':') {
            format!("[{host}]:{}", addr.port())
        } else {
            format!("{host}:{}", addr.port())
        };
        let dial_timeout = opts.timeout.map_or(self.dial_timeout, |t| t.min(self.dial_timeout));
        let tls = self.tls.clone();
        let target = addr.clone();
        let sni = host.clone();
        let connect: gost_x_pht::Connect = Arc::new(move || {
            let (tls, target, sni) = (tls.clone(), target.clone(), sni.clone());
            Box::pin(async move {
                let stream = connect_tcp(&target, Network::Tcp, dial_timeout).await?;
                let conn: BoxConn = Box::new(TokioConn::tcp(stream));
                match &tls {
                    Some((connector, server_name)) => {
                        let name = gost_x_tls::server_name(server_name.as_deref(), &sni)?;
                        gost_x_tls::connect(connector, name, conn).await
                    }
                    None => Ok(conn),
                }
            })
        });
        let options = gost_x_pht::ClientOptions { host: authority, ..self.options.clone() };
        let peer = match &addr {
            Address::Ip(a) => Some(*a),
            Address::Domain(..) => None,
        };
        let dial = gost_x_pht::dial(connect, options, None, peer);
        gost_x_rt::timeout(opts.timeout.unwrap_or(Duration::from_secs(15)), "pht dial", dial).await
    }

    async fn handshake(&self, _conn: BoxConn, _opts: HandshakeOptions) -> Result<BoxConn> {
        Err(Error::config(
            "pht needs HTTP connections of its own: it can only be a chain's first hop",
        ))
    }

    fn multiplex(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_ports() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }
}
