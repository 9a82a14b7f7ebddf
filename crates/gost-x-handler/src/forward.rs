//! `forward`: TCP port forwarding. Every accepted connection is relayed, byte for byte, to one of
//! the service's forward targets (`-L tcp://:8080/host:80`, `forwarder.nodes` in YAML), chosen by
//! the forwarder's selector and reached through the service's router (so through the chain, if
//! any). A target that cannot be reached is marked failed for the selector's fail filter.
//!
//! Metadata: none yet (`sniffing` and `proxyProtocol` arrive with the forwarding issue).

use gost_core::{
    BoxConn, BoxHandler, BoxHop, BoxRouter, Error, ErrorKind, Handler, HandlerOptions, Hop, Marker,
    Metadata, Network, Result, Router, SelectRequest, Session,
};

/// The registry name.
pub const NAME: &str = "forward";
/// gost's other name for this handler, used by `-L tcp://:8080/target`.
pub const TCP_ALIAS: &str = "tcp";
/// gost's name for it behind an `rtcp` listener (`-L rtcp://:2222/127.0.0.1:22`).
pub const RTCP_ALIAS: &str = "rtcp";

struct ForwardHandler {
    router: BoxRouter,
    hop: BoxHop,
}

/// Builds the handler. Without forward targets it is a configuration error (Go gost would start
/// and fail every connection instead).
pub fn new(opts: HandlerOptions, _md: &Metadata) -> Result<BoxHandler> {
    let hop = opts.forwarder.ok_or_else(|| {
        Error::config("forward handler has no target (e.g. -L tcp://:8080/192.0.2.1:80)")
    })?;
    Ok(BoxHandler::new(ForwardHandler { router: opts.router, hop }))
}

impl Handler for ForwardHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let req = SelectRequest::for_network(Network::Tcp).with_client_addr(session.client_addr);
        let Some(node) = self.hop.select(req).await else {
            return Err(Error::new(ErrorKind::NoRoute, "forward: no target available"));
        };
        let target = node.addr.clone();
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
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
        let stats = gost_x_rt::relay(&mut conn, &mut upstream).await?;
        tracing::debug!(sid = session.id, up = stats.a_to_b, down = stats.b_to_a, "forward: done");
        Ok(())
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
