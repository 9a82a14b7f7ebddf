//! `udp`: UDP port forwarding (`-L udp://:5353/127.0.0.1:53`). The `udp` listener hands over one
//! connection per client (each read one datagram from it, each write one datagram back); this
//! handler sends the datagrams to a forward target through the router (a local socket, or the
//! chain's UDP support: relay or SOCKS5 UDP-over-TCP) and passes the answers back.
//!
//! With `sniffing=true` a client's first datagram is read first: a QUIC Initial names its server
//! (the ClientHello's SNI, decrypted with the Initial keys), which the bypass is checked
//! against and which picks the target among nodes filtered by host and protocol (`quic`).
//!
//! Metadata: `sniffing` (false); the session's `ttl`, buffer and `stateless` options are the
//! listener's.

use gost_core::io::{read, recv_from, send_to, write_all};
use gost_core::{
    BoxConn, BoxHandler, BoxHop, BoxRouter, Error, ErrorKind, Handler, HandlerOptions, Hop, Marker,
    Metadata, Network, Result, Router, SelectRequest, Session,
};

/// The registry name.
pub const NAME: &str = "udp";
/// gost's name for it behind an `rudp` listener (`-L rudp://:5353/127.0.0.1:53`).
pub const RUDP_ALIAS: &str = "rudp";

/// The largest datagram relayed.
const MAX_DATAGRAM: usize = 65535;

struct UdpForwardHandler {
    router: BoxRouter,
    hop: BoxHop,
    bypass: Option<gost_core::BoxBypass>,
    sniffing: bool,
}

/// Builds the handler; it needs forward targets.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let hop = opts.forwarder.ok_or_else(|| {
        Error::config("udp handler has no target (e.g. -L udp://:5353/127.0.0.1:53)")
    })?;
    let sniffing = md.get_bool(&["sniffing"])?.unwrap_or(false);
    Ok(BoxHandler::new(UdpForwardHandler {
        router: opts.router,
        hop,
        bypass: opts.bypass,
        sniffing,
    }))
}

impl Handler for UdpForwardHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut req =
            SelectRequest::for_network(Network::Udp).with_client_addr(session.client_addr);
        let mut up = vec![0u8; MAX_DATAGRAM];
        let mut first = 0;
        if self.sniffing {
            first = read(&mut conn, &mut up).await?;
            if first == 0 {
                return Ok(());
            }
            if let Some(name) = sniff_quic(&up[..first]) {
                let host = gost_core::Address::Domain(name.clone(), 443);
                if crate::util::bypassed(self.bypass.as_ref(), Network::Udp, &host).await {
                    return Err(Error::new(ErrorKind::Denied, format!("udp: {host} is bypassed")));
                }
                tracing::debug!(sid = session.id, %host, "udp: sniffed a QUIC Initial");
                req.host = Some(host.to_string());
                req.protocol = Some("quic".to_owned());
            }
        }
        let Some(node) = self.hop.select(req).await else {
            return Err(Error::new(ErrorKind::NoRoute, "udp: no target available"));
        };
        let target = node.addr.clone();
        let mut outbound = match self.router.dial_packet(Some(target.clone())).await {
            Ok(p) => {
                node.marker.reset();
                p
            }
            Err(err) => {
                node.marker.mark();
                let kind = err.kind();
                return Err(err.wrap(kind, format!("udp forward to {} ({target})", node.name)));
            }
        };
        tracing::debug!(sid = session.id, client = ?session.client_addr, %target, "udp: forwarding");
        if first > 0 {
            send_to(&mut outbound, &up[..first], &target).await?;
        }
        let mut down = vec![0u8; MAX_DATAGRAM];
        loop {
            tokio::select! {
                got = read(&mut conn, &mut up) => {
                    // The session ended (idle ttl, or stateless after its reply).
                    let n = got?;
                    if n == 0 {
                        return Ok(());
                    }
                    if let Err(e) = send_to(&mut outbound, &up[..n], &target).await {
                        tracing::debug!(sid = session.id, %target, "udp: send: {e}");
                    }
                }
                got = recv_from(&mut outbound, &mut down) => {
                    let (n, _) = got.map_err(Error::from)?;
                    write_all(&mut conn, &down[..n]).await?;
                }
            }
        }
    }
}

/// The server a QUIC client Initial names, when QUIC sniffing is built in.
fn sniff_quic(datagram: &[u8]) -> Option<String> {
    #[cfg(feature = "quic-sniffing")]
    return crate::quic::initial_server_name(datagram);
    #[cfg(not(feature = "quic-sniffing"))]
    {
        let _ = datagram;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Direct, WAIT, datagrams};
    use gost_core::{Address, Node};
    use std::sync::Arc;
    use tokio::net::UdpSocket;

    struct One(Arc<Node>);
    impl Hop for One {
        async fn select(&self, _: SelectRequest) -> Option<Arc<Node>> {
            Some(self.0.clone())
        }
        fn nodes(&self) -> Vec<Arc<Node>> {
            vec![self.0.clone()]
        }
    }

    #[tokio::test]
    async fn datagrams_reach_the_target_and_come_back() {
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            while let Ok((n, from)) = echo.recv_from(&mut b).await {
                let _ = echo.send_to(&b[..n], from).await;
            }
        });
        let mut opts = HandlerOptions::new(BoxRouter::new(Direct));
        opts.forwarder =
            Some(BoxHop::new(One(Arc::new(Node::target("target-0", Address::Ip(echo_addr))))));
        let h = new(opts, &Metadata::new()).unwrap();
        // The client and the handler's side of its session.
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let side = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(side.local_addr().unwrap()).await.unwrap();
        side.connect(client.local_addr().unwrap()).await.unwrap();
        tokio::spawn(async move { h.handle(Box::new(datagrams(side)), Session::default()).await });
        for i in 0..50u32 {
            let msg = format!("datagram {i}");
            client.send(msg.as_bytes()).await.unwrap();
            let mut b = [0u8; 64];
            let n = tokio::time::timeout(WAIT, client.recv(&mut b)).await.unwrap().unwrap();
            assert_eq!(&b[..n], msg.as_bytes());
        }
        assert!(new(HandlerOptions::new(BoxRouter::new(Direct)), &Metadata::new()).is_err());
    }
}
