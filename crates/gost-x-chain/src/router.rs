use std::time::Duration;

use gost_core::{
    Address, BindOptions, BoxChainer, BoxConn, BoxListener, BoxPacketConn, Chainer, DialOptions,
    Error, ErrorKind, Network, Result, ResultExt, Route, Router, SelectRequest,
};
use gost_x_rt::net::{DEFAULT_BACKLOG, TcpAcceptor, connect_tcp, listen_tcp};
use gost_x_rt::{TokioConn, UdpPacketConn};

/// Go gost's router dial timeout.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(15);

/// Router settings.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct RouterOptions {
    /// The chain to route through; `None` dials directly.
    pub chain: Option<BoxChainer>,
    /// Extra attempts after a retryable failure (`retries`; 0 = one attempt).
    pub retries: usize,
    /// Bound on each attempt (`dialTimeout`, default 15 s).
    pub timeout: Duration,
}

impl Default for RouterOptions {
    fn default() -> Self {
        RouterOptions { chain: None, retries: 0, timeout: DEFAULT_DIAL_TIMEOUT }
    }
}

/// The standard [`Router`]: direct, or through a chain, with retries and a per-attempt timeout.
#[derive(Debug, Clone)]
pub struct DefaultRouter {
    opts: RouterOptions,
}

impl DefaultRouter {
    /// A router with `opts`.
    pub fn new(opts: RouterOptions) -> Self {
        DefaultRouter { opts }
    }

    /// A router that dials directly with the defaults.
    pub fn direct() -> Self {
        DefaultRouter::new(RouterOptions::default())
    }

    async fn route(&self, network: Network, target: &Address) -> Result<Route> {
        match &self.opts.chain {
            Some(chain) => chain.route(SelectRequest::new(network, target.clone())).await,
            None => Ok(Route::default()),
        }
    }

    async fn dial_once(&self, network: Network, target: &Address) -> Result<BoxConn> {
        let route = self.route(network, target).await?;
        if route.is_empty() {
            if network.is_udp() {
                let why = format!("a {network} stream to {target} (datagrams use dial_packet)");
                return Err(Error::unsupported(why));
            }
            let stream = connect_tcp(target, network, self.opts.timeout).await?;
            return Ok(Box::new(TokioConn::tcp(stream)));
        }
        let mut opts = DialOptions::default();
        opts.timeout = Some(self.opts.timeout);
        let what = format!("dial {target} through the chain");
        gost_x_rt::timeout(self.opts.timeout, &what, route.dial(network, target.clone(), opts))
            .await
    }
}

impl DefaultRouter {
    async fn dial_packet_once(&self, target: &Option<Address>) -> Result<BoxPacketConn> {
        let probe = target.clone().unwrap_or_else(|| Address::Ip(([0, 0, 0, 0], 0).into()));
        let route = self.route(Network::Udp, &probe).await?;
        if route.is_empty() {
            let socket =
                UdpPacketConn::bind_any().await.context(ErrorKind::Dial, "open a UDP socket")?;
            return Ok(Box::new(socket));
        }
        let mut opts = DialOptions::default();
        opts.timeout = Some(self.opts.timeout);
        let what = "datagrams through the chain";
        gost_x_rt::timeout(self.opts.timeout, what, route.dial_packet(target.clone(), opts)).await
    }
}

impl Router for DefaultRouter {
    async fn dial_packet(&self, target: Option<Address>) -> Result<BoxPacketConn> {
        let attempts = self.opts.retries + 1;
        let mut attempt = 1;
        loop {
            match self.dial_packet_once(&target).await {
                Ok(conn) => return Ok(conn),
                Err(err) if err.is_retryable() && attempt < attempts => {
                    tracing::debug!(attempt, error = %err, "udp dial failed, retrying");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn dial(&self, network: Network, target: Address) -> Result<BoxConn> {
        let attempts = self.opts.retries + 1;
        let mut attempt = 1;
        loop {
            match self.dial_once(network, &target).await {
                Ok(conn) => return Ok(conn),
                Err(err) if err.is_retryable() && attempt < attempts => {
                    tracing::debug!(%target, attempt, error = %err, "dial failed, retrying");
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> Result<BoxListener> {
        let route = self.route(network, &addr).await?;
        if !route.is_empty() {
            return route.bind(network, addr, opts).await;
        }
        if network.is_udp() {
            return Err(Error::unsupported(format!("local {network} bind on {addr}")));
        }
        let backlog =
            opts.backlog.map_or(DEFAULT_BACKLOG, |b| u32::try_from(b).unwrap_or(u32::MAX));
        let listener = listen_tcp(&addr.to_string(), backlog)
            .map_err(|e| e.wrap(ErrorKind::Bind, format!("bind {addr}")))?;
        Ok(BoxListener::new(TcpAcceptor::new(listener)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Chain, NodeHop, selector};
    use gost_core::{
        BoxConnector, BoxDialer, BoxHop, ConnectOptions, Connector, Dialer, Listener, Marker, Node,
        Transport, io,
    };
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Dials TCP and counts attempts.
    struct CountingTcp(Arc<AtomicUsize>);
    impl Dialer for CountingTcp {
        async fn dial(&self, addr: Address, _opts: DialOptions) -> Result<BoxConn> {
            self.0.fetch_add(1, Ordering::Relaxed);
            let s = connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await?;
            Ok(Box::new(TokioConn::tcp(s)))
        }
    }
    /// Passes through, like the forward connector.
    struct Pass;
    impl Connector for Pass {
        async fn connect(
            &self,
            c: BoxConn,
            _: Network,
            _: Address,
            _: ConnectOptions,
        ) -> Result<BoxConn> {
            Ok(c)
        }
    }

    fn node(name: &str, addr: Address, dials: Arc<AtomicUsize>) -> Arc<Node> {
        let t = Transport::new(BoxDialer::new(CountingTcp(dials)), BoxConnector::new(Pass));
        Arc::new(Node::new(name, addr, t))
    }

    async fn dead_addr() -> Address {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Address::Ip(l.local_addr().unwrap())
    }

    #[tokio::test]
    async fn direct_dial_and_bind() {
        let r = DefaultRouter::direct();
        let mut l = r
            .bind(Network::Tcp, Address::parse("127.0.0.1:0").unwrap(), BindOptions::default())
            .await
            .unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let mut c = r.dial(Network::Tcp, addr).await.unwrap();
        let mut s = l.accept().await.unwrap();
        io::write_all(&mut c, b"ok").await.unwrap();
        let mut b = [0u8; 2];
        io::read_exact(&mut s, &mut b).await.unwrap();
        assert_eq!(&b, b"ok");
        let err = r.dial(Network::Tcp, dead_addr().await).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
    }

    #[tokio::test]
    async fn retries_move_to_a_live_node_and_mark_the_dead_one() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dials = Arc::new(AtomicUsize::new(0));
        let dead = node("dead", dead_addr().await, dials.clone());
        let ok = node("ok", Address::Ip(live.local_addr().unwrap()), dials.clone());
        let sel = selector::from_metadata(
            &gost_core::Metadata::new().with("strategy", "fifo"),
            Duration::from_secs(60),
        )
        .unwrap();
        let hop = NodeHop::new("hop-0", vec![dead.clone(), ok.clone()], Box::new(sel));
        let chain = Chain::new("chain-0", vec![("hop-0".into(), BoxHop::new(hop))]);
        let mut opts = RouterOptions::default();
        opts.chain = Some(BoxChainer::new(chain));
        opts.retries = 1;
        let r = DefaultRouter::new(opts);
        let target = Address::Domain("example.invalid".into(), 80);
        r.dial(Network::Tcp, target.clone()).await.unwrap();
        assert_eq!(dials.load(Ordering::Relaxed), 2);
        assert_eq!(dead.marker.fail_count(), 1);
        // The dead node is now filtered out: one attempt suffices.
        r.dial(Network::Tcp, target).await.unwrap();
        assert_eq!(dials.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn no_retry_without_retries() {
        let dials = Arc::new(AtomicUsize::new(0));
        let hop = NodeHop::new(
            "hop-0",
            vec![node("dead", dead_addr().await, dials.clone())],
            Box::new(selector::from_metadata(&gost_core::Metadata::new(), Duration::ZERO).unwrap()),
        );
        let mut opts = RouterOptions::default();
        opts.chain =
            Some(BoxChainer::new(Chain::new("c", vec![("hop-0".into(), BoxHop::new(hop))])));
        let err = DefaultRouter::new(opts)
            .dial(Network::Tcp, Address::Domain("x.invalid".into(), 1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert_eq!(dials.load(Ordering::Relaxed), 1);
    }
}
