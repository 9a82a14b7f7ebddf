//! The `parallel` strategy (gost 3.3): every candidate node of a hop is dialed at once and the
//! first to answer carries the connection; the others are dropped as they finish.
//!
//! The strategy returns a node made for this one connection, whose dialer races the candidates
//! (each one's own dialer and handshake) and whose connector then speaks the winner's protocol.
//! Racing needs fresh connections, so it happens in a chain's first hop; in a later hop the
//! connection is one tunnel through the previous node, and the first candidate takes it (as a
//! `fifo` hop would).

use std::sync::{Arc, OnceLock};

use gost_core::{
    Address, BindOptions, BoxConn, BoxConnector, BoxDialer, BoxListener, BoxPacketConn,
    ConnectOptions, Connector, DialOptions, Dialer, Error, ErrorKind, HandshakeOptions, Marker,
    Network, Node, Result, SelectRequest, Strategy, Transport,
};
use tokio::task::JoinSet;

/// The name of the node a parallel selection returns.
pub const PARALLEL_NODE: &str = "parallel";

/// `parallel`: races the candidates.
#[derive(Debug, Default)]
pub struct Parallel;

impl Strategy<Arc<Node>> for Parallel {
    fn apply(&self, items: &[Arc<Node>], _req: &SelectRequest) -> Option<Arc<Node>> {
        let first = items.first()?;
        if items.len() == 1 || items.iter().any(|n| n.transport.is_none()) {
            return Some(first.clone());
        }
        let race = Arc::new(Race { nodes: items.to_vec(), winner: OnceLock::new() });
        let transport = Transport::new(
            BoxDialer::new(RaceDialer(race.clone())),
            BoxConnector::new(RaceConnector(race)),
        );
        Some(Arc::new(Node::new(PARALLEL_NODE, first.addr.clone(), transport)))
    }
}

/// One connection's race: the candidates, and the one that won (or was taken).
struct Race {
    nodes: Vec<Arc<Node>>,
    winner: OnceLock<Arc<Node>>,
}

impl Race {
    /// The winner; the first candidate when there was no race (a later hop).
    fn node(&self) -> &Arc<Node> {
        self.winner.get_or_init(|| self.nodes[0].clone())
    }

    fn transport(&self) -> Result<&Transport> {
        let node = self.node();
        node.transport
            .as_ref()
            .ok_or_else(|| Error::config(format!("node {} has no dialer/connector", node.name)))
    }
}

struct RaceDialer(Arc<Race>);

impl Dialer for RaceDialer {
    async fn dial(&self, _addr: Address, opts: DialOptions) -> Result<BoxConn> {
        let mut tasks = JoinSet::new();
        for node in &self.0.nodes {
            let (node, opts) = (node.clone(), opts.clone());
            tasks.spawn(async move {
                let res = match &node.transport {
                    Some(t) => t.dial(&node.addr, opts).await,
                    None => Err(Error::config("no transport")),
                };
                (node, res)
            });
        }
        let mut errors = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let Ok((node, res)) = done else { continue };
            match res {
                Ok(conn) => {
                    node.marker.reset();
                    tracing::debug!(node = %node.name, "parallel: first to answer");
                    // Losers still dialing are aborted when `tasks` drops; their sockets close.
                    let _ = self.0.winner.set(node);
                    return Ok(conn);
                }
                Err(e) => {
                    if e.is_retryable() {
                        node.marker.mark();
                    }
                    errors.push(format!("{}: {e}", node.name));
                }
            }
        }
        Err(Error::new(
            ErrorKind::Dial,
            format!("parallel: no node answered ({})", errors.join("; ")),
        ))
    }

    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        // After a race the winner's handshake already ran (its transport dialed); in a later
        // hop there was no race and the first candidate's handshake runs over the tunnel.
        if self.0.winner.get().is_some() {
            return Ok(conn);
        }
        self.0.transport()?.dialer.handshake(conn, opts).await
    }
}

struct RaceConnector(Arc<Race>);

impl Connector for RaceConnector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        opts: ConnectOptions,
    ) -> Result<BoxConn> {
        self.0.transport()?.connector.connect(conn, network, target, opts).await
    }

    async fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        self.0.transport()?.connector.connect_packet(conn, target).await
    }

    async fn bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> Result<BoxListener> {
        self.0.transport()?.connector.bind(conn, network, addr, opts).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::Route;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Dials TCP after `delay`, or fails at once.
    struct Slow(Option<Duration>);
    impl Dialer for Slow {
        async fn dial(&self, addr: Address, _: DialOptions) -> Result<BoxConn> {
            let Some(delay) = self.0 else { return Err(Error::new(ErrorKind::Dial, "refused")) };
            tokio::time::sleep(delay).await;
            let s =
                gost_x_rt::net::connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await?;
            Ok(Box::new(gost_x_rt::TokioConn::tcp(s)))
        }
    }

    /// Writes its name, so the origin tells who carried the connection.
    struct Says(&'static str);
    impl Connector for Says {
        async fn connect(
            &self,
            mut conn: BoxConn,
            _: Network,
            _: Address,
            _: ConnectOptions,
        ) -> Result<BoxConn> {
            gost_core::io::write_all(&mut conn, self.0.as_bytes()).await?;
            Ok(conn)
        }
    }

    fn node(name: &'static str, addr: &Address, delay: Option<Duration>) -> Arc<Node> {
        let t = Transport::new(BoxDialer::new(Slow(delay)), BoxConnector::new(Says(name)));
        Arc::new(Node::new(name, addr.clone(), t))
    }

    #[tokio::test]
    async fn the_first_to_answer_carries_the_connection() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(origin.local_addr().unwrap());
        let nodes = vec![
            node("dead", &addr, None),
            node("slow", &addr, Some(Duration::from_secs(5))),
            node("fast", &addr, Some(Duration::from_millis(20))),
        ];
        let picked = Parallel.apply(&nodes, &SelectRequest::default()).unwrap();
        assert_eq!(picked.name, PARALLEL_NODE);
        let route = Route::new(vec![picked]);
        let started = std::time::Instant::now();
        let mut conn =
            route.dial(Network::Tcp, addr.clone(), DialOptions::default()).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "did not wait for the slow node");
        gost_core::io::write_all(&mut conn, b"!").await.unwrap();
        let (mut s, _) = origin.accept().await.unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"fast!");
        s.write_all(b"ok").await.unwrap();
        assert_eq!(nodes[0].marker.fail_count(), 1, "the refusing node is marked");
        assert_eq!(nodes[2].marker.fail_count(), 0);
    }

    #[tokio::test]
    async fn all_refusing_is_one_dial_error_naming_them() {
        let addr = Address::parse("127.0.0.1:9").unwrap();
        let nodes = vec![node("a", &addr, None), node("b", &addr, None)];
        let picked = Parallel.apply(&nodes, &SelectRequest::default()).unwrap();
        let err = Route::new(vec![picked])
            .dial(Network::Tcp, addr, DialOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        let text = err.to_string();
        assert!(text.contains("a: ") && text.contains("b: "), "{text}");
    }

    #[test]
    fn one_candidate_is_itself() {
        let addr = Address::parse("127.0.0.1:9").unwrap();
        let nodes = vec![node("only", &addr, None)];
        assert_eq!(Parallel.apply(&nodes, &SelectRequest::default()).unwrap().name, "only");
        assert!(Parallel.apply(&[], &SelectRequest::default()).is_none());
    }
}
