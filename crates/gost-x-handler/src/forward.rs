//! `forward`: TCP port forwarding. Every accepted connection is relayed, byte for byte, to one of
//! the service's forward targets (`-L tcp://:8080/host:80`, `forwarder.nodes` in YAML), chosen by
//! the forwarder's selector and reached through the service's router (so through the chain, if
//! any). A target that cannot be reached is marked failed for the selector's fail filter.
//!
//! With `sniffing=true` the first bytes are read first (TLS: the ClientHello's server name;
//! HTTP: the request's `Host`), as gost's: a bypassed host is refused, and the target is chosen
//! among the nodes whose filter (`filter.host`, `filter.protocol`: `tls`, `http`) admits the
//! sniffed host and protocol. A client that sends nothing within `sniffing.timeout` (or speaks
//! neither) is forwarded without them.
//!
//! An HTTP request is then served request by request (forward_http.rs): node `http` settings
//! (`host`, headers, `rewriteURL`, `auth`, `failCodes`) apply, as in gost.
//!
//! Metadata: `sniffing` (false), `sniffing.timeout` (2s), `idleTimeout`; HTTP mode: `readTimeout`
//! (15s), `keepaliveTimeout` (60s), `http.keepalive` (false), and with the service's `cache`:
//! `cache.ttl`, `cache.status.NNN`, `cache.serveStale`, `cache.methods`, `cache.maxBodyBytes`.

use std::time::Duration;

use gost_core::io::{read_decoded, rewind};
use gost_core::{
    BoxBypass, BoxConn, BoxHandler, BoxHop, BoxRouter, Error, ErrorKind, Handler, HandlerOptions,
    Hop, Marker, Metadata, Network, Result, Router, SelectRequest, Session,
};

use crate::sniff::{MAX_SNIFF, sniff};
use crate::util;

/// The registry name.
pub const NAME: &str = "forward";
/// gost's other name for this handler, used by `-L tcp://:8080/target`.
pub const TCP_ALIAS: &str = "tcp";
/// gost's name for it behind an `rtcp` listener (`-L rtcp://:2222/127.0.0.1:22`).
pub const RTCP_ALIAS: &str = "rtcp";

/// How long sniffing waits for a client's first bytes (gost waits without limit, so a protocol
/// where the server speaks first never starts there).
const DEFAULT_SNIFFING_TIMEOUT: Duration = Duration::from_secs(2);

#[path = "forward_http.rs"]
mod http_mode;

struct ForwardHandler {
    router: BoxRouter,
    hop: BoxHop,
    bypass: Option<BoxBypass>,
    /// `sniffing`: how long to wait for the first bytes.
    sniffing: Option<Duration>,
    /// `idleTimeout`.
    idle: Option<Duration>,
    /// HTTP mode: `readTimeout` (a request head, a node's answer head).
    read_timeout: Duration,
    /// HTTP mode: `keepaliveTimeout`, waiting for a kept-alive client's next request.
    keepalive_timeout: Duration,
    /// HTTP mode: `http.keepalive` (false: one request per connection, as gost).
    http_keepalive: bool,
    /// HTTP mode: the service's `cache` with the `cache.*` settings.
    cache: Option<http_mode::HttpCache>,
}

/// Builds the handler. Without forward targets it is a configuration error (Go gost would start
/// and fail every connection instead).
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let hop = opts.forwarder.ok_or_else(|| {
        Error::config("forward handler has no target (e.g. -L tcp://:8080/192.0.2.1:80)")
    })?;
    let sniffing = md.get_bool(&["sniffing"])?.unwrap_or(false).then_some(
        md.get_duration(&["sniffing.timeout"])?
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_SNIFFING_TIMEOUT),
    );
    let idle = util::idle_timeout(md)?;
    Ok(BoxHandler::new(ForwardHandler {
        router: opts.router,
        hop,
        bypass: opts.bypass,
        sniffing,
        idle,
        read_timeout: util::read_timeout(md)?,
        keepalive_timeout: md
            .get_duration(&["keepaliveTimeout"])?
            .unwrap_or(Duration::from_secs(60)),
        http_keepalive: md.get_bool(&["http.keepalive"])?.unwrap_or(false),
        cache: match opts.cache {
            Some(store) => Some(cache_settings(store, md)?),
            None => None,
        },
    }))
}

/// The `cache.*` metadata of the HTTP mode.
fn cache_settings(store: gost_core::BoxCache, md: &Metadata) -> Result<http_mode::HttpCache> {
    let mut status_ttl = Vec::new();
    for (key, _) in md.iter() {
        let lower = key.to_ascii_lowercase();
        if let Some(code) = lower.strip_prefix("cache.status.") {
            let code: u16 =
                code.parse().ok().filter(|c| (100..600).contains(c)).ok_or_else(|| {
                    Error::config(format!("metadata key `{key}`: not an HTTP status"))
                })?;
            if let Some(ttl) = md.get_duration(&[key])? {
                status_ttl.push((code, ttl));
            }
        }
    }
    let methods = md
        .get_strings(&["cache.methods"])?
        .unwrap_or_else(|| vec!["GET".into(), "HEAD".into()])
        .iter()
        .flat_map(|m| m.split(','))
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect();
    Ok(http_mode::HttpCache {
        store,
        ttl: md.get_duration(&["cache.ttl"])?.filter(|d| !d.is_zero()),
        status_ttl,
        serve_stale: md.get_bool(&["cache.serveStale"])?.unwrap_or(false),
        methods,
        max_body: md.get_usize(&["cache.maxBodyBytes"])?.filter(|n| *n > 0).unwrap_or(1 << 20),
    })
}

impl Handler for ForwardHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut req =
            SelectRequest::for_network(Network::Tcp).with_client_addr(session.client_addr);
        let mut first = Vec::new();
        let mut http = false;
        if let Some(wait) = self.sniffing {
            let sniffed = read_decoded(&mut conn, &mut first, MAX_SNIFF, sniff);
            match tokio::time::timeout(wait, sniffed).await {
                Ok(Ok(sniffed)) => {
                    let target = sniffed.plain_target();
                    if let Some(host) = &target
                        && util::bypassed(self.bypass.as_ref(), Network::Tcp, host).await
                    {
                        return Err(Error::new(
                            ErrorKind::Denied,
                            format!("forward: {host} is bypassed"),
                        ));
                    }
                    tracing::debug!(sid = session.id, proto = sniffed.protocol(), host = ?target, "forward: sniffed");
                    sniffed.describe(&mut req, &first);
                    http = matches!(sniffed, crate::sniff::Sniffed::Http(_));
                }
                Ok(Err(e)) => return Err(e),
                // Nothing (or not enough) yet: forwarded as it is.
                Err(_) => {}
            }
        }
        let mut conn = rewind(conn, first);
        if http {
            return self.serve_http(conn, &session).await;
        }
        let Some(node) = self.hop.select(req).await else {
            return Err(Error::new(ErrorKind::NoRoute, "forward: no target available"));
        };
        let target = node.addr.clone();
        let mut upstream = match reach(&self.router, &node).await {
            Ok(upstream) => {
                node.marker.reset();
                upstream
            }
            Err(err) => {
                node.marker.mark();
                let kind = err.kind();
                return Err(err.wrap(kind, format!("forward to {} ({target})", node.name)));
            }
        };
        tracing::debug!(
            sid = session.id,
            client = ?session.client_addr,
            %target,
            "forward: connected"
        );
        let stats = gost_x_rt::relay_idle(&mut conn, &mut upstream, self.idle).await?;
        tracing::debug!(sid = session.id, up = stats.a_to_b, down = stats.b_to_a, "forward: done");
        Ok(())
    }
}

/// A connection to a forward target through the router, with the target's own handshake when
/// it has a transport (a forwarder node's `tls`, a hop node's dialer).
async fn reach(router: &BoxRouter, node: &gost_core::Node) -> Result<BoxConn> {
    let conn = router.dial(Network::Tcp, node.addr.clone()).await?;
    match &node.transport {
        Some(t) => {
            let hs = gost_core::HandshakeOptions::for_addr(node.addr.clone());
            gost_core::Dialer::handshake(&t.dialer, conn, hs).await
        }
        None => Ok(conn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{Address, BindOptions, BoxListener, Node};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct OneTarget(Arc<Node>);
    impl Hop for OneTarget {
        async fn select(&self, _req: SelectRequest) -> Option<Arc<Node>> {
            Some(self.0.clone())
        }
        fn nodes(&self) -> Vec<Arc<Node>> {
            vec![self.0.clone()]
        }
    }

    struct Direct;
    impl Router for Direct {
        async fn dial(&self, network: Network, target: Address) -> Result<BoxConn> {
            let s =
                gost_x_rt::net::connect_tcp(&target, network, std::time::Duration::from_secs(5))
                    .await?;
            Ok(Box::new(gost_x_rt::TokioConn::tcp(s)))
        }
        async fn dial_packet(&self, _: Option<Address>) -> Result<gost_core::BoxPacketConn> {
            Err(Error::unsupported("datagrams"))
        }
        async fn bind(&self, _: Network, _: Address, _: BindOptions) -> Result<BoxListener> {
            Err(Error::unsupported("bind"))
        }
    }

    fn handler(target: Address) -> (BoxHandler, Arc<Node>) {
        let node = Arc::new(Node::target("target-0", target));
        let mut opts = HandlerOptions::new(BoxRouter::new(Direct));
        opts.forwarder = Some(BoxHop::new(OneTarget(node.clone())));
        (new(opts, &Metadata::new()).unwrap(), node)
    }

    #[tokio::test]
    async fn relays_to_the_target_with_half_close() {
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (h, node) = handler(Address::Ip(upstream.local_addr().unwrap()));
        let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_addr = front.local_addr().unwrap();
        let serve = tokio::spawn(async move {
            let (s, _) = front.accept().await.unwrap();
            h.handle(Box::new(gost_x_rt::TokioConn::tcp(s)), Session::default()).await
        });
        let mut client = tokio::net::TcpStream::connect(front_addr).await.unwrap();
        let (mut origin, _) = upstream.accept().await.unwrap();
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        origin.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        origin.write_all(b"response").await.unwrap();
        drop(origin);
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"response");
        serve.await.unwrap().unwrap();
        assert_eq!(node.marker.fail_count(), 0);
    }

    #[tokio::test]
    async fn unreachable_target_marks_the_node_and_fails() {
        let gone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (h, node) = handler(Address::Ip(gone.local_addr().unwrap()));
        drop(gone);
        let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = tokio::net::TcpStream::connect(front.local_addr().unwrap()).await.unwrap();
        let (s, _) = front.accept().await.unwrap();
        let err =
            h.handle(Box::new(gost_x_rt::TokioConn::tcp(s)), Session::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert_eq!(node.marker.fail_count(), 1);
    }

    #[test]
    fn needs_a_target() {
        let opts = HandlerOptions::new(BoxRouter::new(Direct));
        assert_eq!(new(opts, &Metadata::new()).unwrap_err().kind(), ErrorKind::Config);
    }
}
