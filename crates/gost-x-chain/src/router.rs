use std::sync::Arc;
use std::time::Duration;

use std::net::{IpAddr, SocketAddr};

use gost_core::{
    Address, BindOptions, BoxBypass, BoxChainer, BoxConn, BoxHostMapper, BoxListener,
    BoxPacketConn, BoxResolver, Bypass, Chainer, DialOptions, Error, ErrorKind, HostMapper,
    Network, OnNodeConnected, Resolver, Result, ResultExt, Route, Router, SelectRequest,
};
use gost_x_metrics::Metrics;
use gost_x_rt::net::{DEFAULT_BACKLOG, TcpAcceptor, connect_tcp_to, listen_tcp};
use gost_x_rt::{TokioConn, UdpPacketConn};

use crate::named_packets::NamedPackets;

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
    /// Resolves target names before routing (otherwise the last node or the system resolves).
    pub resolver: Option<BoxResolver>,
    /// Static name mappings, consulted before the resolver.
    pub hosts: Option<BoxHostMapper>,
    /// Where failures through the chain are counted (`gost_chain_errors_total`), with the
    /// chain's name.
    pub metrics: Option<(Arc<Metrics>, String)>,
    /// The service's bypass, checked again against the addresses a target name resolves to
    /// here (hosts, resolver, system), so that a name cannot lead to an address it forbids.
    pub bypass: Option<BoxBypass>,
}

impl Default for RouterOptions {
    fn default() -> Self {
        RouterOptions {
            chain: None,
            retries: 0,
            timeout: DEFAULT_DIAL_TIMEOUT,
            resolver: None,
            hosts: None,
            metrics: None,
            bypass: None,
        }
    }
}

/// The standard [`Router`]: direct, or through a chain, with retries and a per-attempt timeout.
#[derive(Debug, Clone)]
pub struct DefaultRouter {
    opts: RouterOptions,
    /// Times the first node of each route, when metrics are on.
    on_first_node: Option<OnNodeConnected>,
}

impl DefaultRouter {
    /// A router with `opts`.
    pub fn new(opts: RouterOptions) -> Self {
        let on_first_node = opts.metrics.clone().map(|(metrics, chain)| {
            OnNodeConnected(Arc::new(move |node: &str, took| {
                metrics.observe_node_connect(&chain, node, took);
            }))
        });
        DefaultRouter { opts, on_first_node }
    }

    fn dial_options(&self) -> DialOptions {
        let mut opts = DialOptions::default();
        opts.timeout = Some(self.opts.timeout);
        opts.on_first_node = self.on_first_node.clone();
        opts
    }

    /// A router that dials directly with the defaults.
    pub fn direct() -> Self {
        DefaultRouter::new(RouterOptions::default())
    }

    /// The target after the host mapper and the resolver (gost's order); a name neither knows
    /// is left for the chain's last node (or the system resolver) to resolve.
    pub(crate) async fn resolve(&self, network: Network, target: Address) -> Result<Address> {
        let target = target.resolve_numeric();
        let Address::Domain(host, port) = &target else { return Ok(target) };
        let wants = |ip: &IpAddr| match network {
            Network::Tcp4 | Network::Udp4 => ip.is_ipv4(),
            Network::Tcp6 | Network::Udp6 => ip.is_ipv6(),
            _ => true,
        };
        if let Some(hosts) = &self.opts.hosts
            && let Some(ips) = hosts.lookup(network, host.clone()).await
            && let Some(ip) = ips.into_iter().find(wants)
        {
            return Ok(Address::Ip(SocketAddr::new(ip, *port)));
        }
        if let Some(resolver) = &self.opts.resolver {
            let ips = resolver.resolve(network, host.clone()).await?;
            return match ips.into_iter().find(wants) {
                Some(ip) => Ok(Address::Ip(SocketAddr::new(ip, *port))),
                None => Err(Error::new(
                    ErrorKind::Dial,
                    format!("resolve {host}: no {network} address"),
                )),
            };
        }
        Ok(target)
    }

    /// Refuses `resolved`, an address a target name led to, when the service's bypass does.
    pub(crate) async fn check_resolved(
        &self,
        network: Network,
        name: &Address,
        resolved: SocketAddr,
    ) -> Result<()> {
        match &self.opts.bypass {
            Some(b) if b.refuses_resolved(network, Address::Ip(resolved)).await => Err(Error::new(
                ErrorKind::Denied,
                format!("{name} resolves to {resolved}, which is bypassed"),
            )),
            _ => Ok(()),
        }
    }

    /// The system resolver's addresses for `target`, less those the bypass refuses.
    pub(crate) async fn resolve_allowed(
        &self,
        network: Network,
        target: &Address,
    ) -> Result<Vec<SocketAddr>> {
        let what = format!("resolve {target}");
        let addrs =
            gost_x_rt::timeout(self.opts.timeout, &what, gost_x_rt::net::resolve(target, network))
                .await?;
        if self.opts.bypass.is_none() || matches!(target, Address::Ip(_)) {
            return Ok(addrs);
        }
        let mut allowed = Vec::with_capacity(addrs.len());
        let mut refused = None;
        for sa in addrs {
            match self.check_resolved(network, target, sa).await {
                Ok(()) => allowed.push(sa),
                Err(e) => refused = Some(e),
            }
        }
        match refused {
            Some(e) if allowed.is_empty() => Err(e),
            _ => Ok(allowed),
        }
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
            let addrs = self.resolve_allowed(network, target).await?;
            let stream = connect_tcp_to(&addrs, target, self.opts.timeout).await?;
            return Ok(Box::new(TokioConn::tcp(stream)));
        }
        let opts = self.dial_options();
        let what = format!("dial {target} through the chain");
        self.within_deadline(&route, &what, route.dial(network, target.clone(), opts)).await
    }

    /// Runs `fut` (an exchange with `route`) under the router's deadline. A dial whose deadline
    /// wins is dropped before it could mark the node it was waiting on: that node is marked
    /// here, so a node that never answers counts towards `maxFails` like one that refuses. (A
    /// timeout inside the exchange, such as a dialer's own, was marked where it happened.)
    async fn within_deadline<T>(
        &self,
        route: &Route,
        what: &str,
        fut: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let limit = self.opts.timeout;
        let res = match tokio::time::timeout(limit, fut).await {
            Ok(res) => res,
            Err(_) => {
                let err =
                    Error::new(ErrorKind::Timeout, format!("{what}: timed out after {limit:?}"));
                match route.mark_stalled() {
                    Some(node) => {
                        let context = format!("node {} ({}) did not answer", node.name, node.addr);
                        Err(err.wrap(ErrorKind::Timeout, context))
                    }
                    None => Err(err),
                }
            }
        };
        self.count_failure(route, res)
    }

    /// gost counts a failed connection through a chain against its first node.
    fn count_failure<T>(&self, route: &Route, res: Result<T>) -> Result<T> {
        if res.is_err()
            && let Some((metrics, chain)) = &self.opts.metrics
            && let Some(first) = route.nodes().first()
        {
            metrics.chain_error(chain, &first.name);
        }
        res
    }
}

impl DefaultRouter {
    async fn dial_packet_once(&self, target: &Option<Address>) -> Result<BoxPacketConn> {
        let target = match target {
            Some(name) => {
                let t = self.resolve(Network::Udp, name.clone()).await?;
                if let (Address::Domain(..), Address::Ip(sa)) = (name, &t) {
                    self.check_resolved(Network::Udp, name, *sa).await?;
                }
                Some(t)
            }
            None => None,
        };
        let target = &target;
        let probe = target.clone().unwrap_or_else(|| Address::Ip(([0, 0, 0, 0], 0).into()));
        let route = self.route(Network::Udp, &probe).await?;
        if route.is_empty() {
            // One target: a connected socket, so only the target can answer (as Go dials it).
            // No target (SOCKS5 UDP ASSOCIATE): one socket for every destination.
            let socket = match target {
                Some(t) => {
                    let peers = self.resolve_allowed(Network::Udp, t).await?;
                    let Some(peer) = peers.first() else {
                        return Err(Error::new(ErrorKind::Dial, format!("no address for {t}")));
                    };
                    UdpPacketConn::connect(*peer).await
                }
                None => {
                    // Many destinations: names are resolved as for TCP targets (hosts,
                    // resolver, bypass), not by the socket's system lookup.
                    let socket = UdpPacketConn::bind_any()
                        .await
                        .context(ErrorKind::Dial, "open a UDP socket")?;
                    let named = NamedPackets::new(Box::new(socket), self.clone());
                    return Ok(Box::new(named));
                }
            };
            let socket = socket.context(ErrorKind::Dial, "open a UDP socket")?;
            return Ok(Box::new(socket));
        }
        let opts = self.dial_options();
        let what = "datagrams through the chain";
        self.within_deadline(&route, what, route.dial_packet(target.clone(), opts)).await
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
        let name = target.clone();
        let target = self.resolve(network, target).await?;
        if let (Address::Domain(..), Address::Ip(sa)) = (&name, &target) {
            self.check_resolved(network, &name, *sa).await?;
        }
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
            let mut opts = opts;
            opts.dial = self.dial_options();
            // The whole exchange is bounded: a node that never answers must not hold the
            // remote forwarder (which retries) forever.
            let what = format!("bind {addr} through the chain");
            let bind = route.bind(network, addr, opts);
            return self.within_deadline(&route, &what, bind).await;
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
            let s =
                gost_x_rt::net::connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await?;
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

    /// Answers nothing to a bind request.
    struct Silent;
    impl Connector for Silent {
        async fn connect(
            &self,
            c: BoxConn,
            _: Network,
            _: Address,
            _: ConnectOptions,
        ) -> Result<BoxConn> {
            Ok(c)
        }
        async fn bind(
            &self,
            _: BoxConn,
            _: Network,
            _: Address,
            _: BindOptions,
        ) -> Result<BoxListener> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_bind_through_a_silent_node_times_out_and_counts_as_a_chain_error() {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let t = Transport::new(
            BoxDialer::new(CountingTcp(Arc::new(AtomicUsize::new(0)))),
            BoxConnector::new(Silent),
        );
        let n = Arc::new(Node::new("node-0", Address::Ip(server.local_addr().unwrap()), t));
        let sel =
            selector::from_metadata(&gost_core::Metadata::new(), Duration::from_secs(60)).unwrap();
        let hop = NodeHop::new("hop-0", vec![n], Box::new(sel));
        let chain = Chain::new("chain-0", vec![("hop-0".into(), BoxHop::new(hop))]);
        let metrics = Metrics::with_host("h");
        let mut opts = RouterOptions::default();
        opts.chain = Some(BoxChainer::new(chain));
        opts.timeout = Duration::from_millis(300);
        opts.metrics = Some((metrics.clone(), "chain-0".into()));
        let r = DefaultRouter::new(opts);
        let started = std::time::Instant::now();
        let addr = Address::parse("127.0.0.1:0").unwrap();
        let err = r.bind(Network::Tcp, addr, BindOptions::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = metrics.render();
        assert!(
            text.contains(
                "gost_chain_errors_total{chain=\"chain-0\",host=\"h\",node=\"node-0\"} 1"
            ),
            "{text}"
        );
        // The node was reached: its connect time is recorded.
        assert!(
            text.contains("gost_chain_node_connect_duration_seconds_count{chain=\"chain-0\""),
            "{text}"
        );
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

    /// A node that never answers (black-holed): its dial never completes.
    struct Hang(Arc<AtomicUsize>);
    impl Dialer for Hang {
        async fn dial(&self, _: Address, _: DialOptions) -> Result<BoxConn> {
            self.0.fetch_add(1, Ordering::Relaxed);
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_node_that_never_answers_is_marked_when_the_deadline_wins() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hangs = Arc::new(AtomicUsize::new(0));
        let t = Transport::new(BoxDialer::new(Hang(hangs.clone())), BoxConnector::new(Pass));
        let hole = Arc::new(Node::new("hole", Address::parse("192.0.2.1:1080").unwrap(), t));
        let dials = Arc::new(AtomicUsize::new(0));
        let ok = node("ok", Address::Ip(live.local_addr().unwrap()), dials.clone());
        let sel = selector::from_metadata(
            &gost_core::Metadata::new().with("strategy", "fifo"),
            Duration::from_secs(60),
        )
        .unwrap();
        let hop = NodeHop::new("hop-0", vec![hole.clone(), ok.clone()], Box::new(sel));
        let chain = Chain::new("chain-0", vec![("hop-0".into(), BoxHop::new(hop))]);
        let mut opts = RouterOptions::default();
        opts.chain = Some(BoxChainer::new(chain));
        opts.retries = 1;
        opts.timeout = Duration::from_millis(200);
        let r = DefaultRouter::new(opts);
        let target = Address::Domain("example.invalid".into(), 80);
        // The first attempt stalls on the hole and is abandoned; the hole is marked, so the
        // retry takes the live node.
        r.dial(Network::Tcp, target.clone()).await.unwrap();
        assert_eq!((hangs.load(Ordering::Relaxed), dials.load(Ordering::Relaxed)), (1, 1));
        assert_eq!(hole.marker.fail_count(), 1);
        // Now out of the selection: no connection pays the timeout again.
        let started = std::time::Instant::now();
        r.dial(Network::Tcp, target).await.unwrap();
        assert!(started.elapsed() < Duration::from_millis(150));
        assert_eq!(hangs.load(Ordering::Relaxed), 1);
    }

    struct Names;
    impl HostMapper for Names {
        async fn lookup(&self, _: Network, host: String) -> Option<Vec<IpAddr>> {
            (host == "mapped.test").then(|| vec![IpAddr::from([127, 0, 0, 1])])
        }
    }
    impl Resolver for Names {
        async fn resolve(&self, _: Network, host: String) -> Result<Vec<IpAddr>> {
            match host.as_str() {
                "resolved.test" => Ok(vec![IpAddr::from([127, 0, 0, 1])]),
                _ => Err(Error::new(ErrorKind::Dial, format!("{host}: unknown"))),
            }
        }
    }

    #[tokio::test]
    async fn hosts_then_resolver_hooks() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let mut opts = RouterOptions::default();
        opts.hosts = Some(BoxHostMapper::new(Names));
        opts.resolver = Some(BoxResolver::new(Names));
        let r = DefaultRouter::new(opts);
        r.dial(Network::Tcp, Address::Domain("mapped.test".into(), port)).await.unwrap();
        r.dial(Network::Tcp, Address::Domain("resolved.test".into(), port)).await.unwrap();
        let err =
            r.dial(Network::Tcp, Address::Domain("nowhere.test".into(), port)).await.unwrap_err();
        assert!(err.to_string().contains("nowhere.test"), "{err}");
        // An IPv4-only mapping does not satisfy tcp6.
        let err =
            r.dial(Network::Tcp6, Address::Domain("resolved.test".into(), port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
    }

    /// A dialer whose own deadline fires (as the tcp dialer's 5 s one does).
    struct OwnTimeout;
    impl Dialer for OwnTimeout {
        async fn dial(&self, _: Address, _: DialOptions) -> Result<BoxConn> {
            Err(Error::new(ErrorKind::Timeout, "dial: timed out after 5s"))
        }
    }

    #[tokio::test]
    async fn a_node_timing_out_by_itself_is_marked_once() {
        let t = Transport::new(BoxDialer::new(OwnTimeout), BoxConnector::new(Pass));
        let slow = Arc::new(Node::new("slow", Address::parse("192.0.2.1:1080").unwrap(), t));
        let sel =
            selector::from_metadata(&gost_core::Metadata::new(), Duration::from_secs(60)).unwrap();
        let hop = NodeHop::new("hop-0", vec![slow.clone()], Box::new(sel));
        let chain = Chain::new("chain-0", vec![("hop-0".into(), BoxHop::new(hop))]);
        let mut opts = RouterOptions::default();
        opts.chain = Some(BoxChainer::new(chain));
        let r = DefaultRouter::new(opts);
        let target = Address::Domain("example.invalid".into(), 80);
        let err = r.dial(Network::Tcp, target).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(slow.marker.fail_count(), 1);
    }

    /// A blacklist of 127.0.0.2 (and of nothing else).
    struct NotTwo;
    impl Bypass for NotTwo {
        async fn contains(&self, _: Network, target: Address) -> bool {
            matches!(target, Address::Ip(sa) if sa.ip() == IpAddr::from([127, 0, 0, 2]))
        }
    }

    #[tokio::test]
    async fn names_that_resolve_to_a_bypassed_address_are_refused() {
        let two = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let port = two.local_addr().unwrap().port();
        let one = tokio::net::TcpListener::bind(("127.0.0.1", port)).await;
        struct Two;
        impl HostMapper for Two {
            async fn lookup(&self, _: Network, host: String) -> Option<Vec<IpAddr>> {
                (host == "two.test").then(|| vec![IpAddr::from([127, 0, 0, 2])])
            }
        }
        let mut opts = RouterOptions::default();
        opts.hosts = Some(BoxHostMapper::new(Two));
        opts.bypass = Some(BoxBypass::new(NotTwo));
        let r = DefaultRouter::new(opts);
        // Numeric spellings, a hosts mapping: all lead to 127.0.0.2.
        for name in ["127.0.2", "2130706434", "0x7f000002", "0177.0.0.2", "two.test"] {
            let err = r.dial(Network::Tcp, Address::Domain(name.into(), port)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Denied, "{name}: {err}");
            let Err(err) = r.dial_packet(Some(Address::Domain(name.into(), port))).await else {
                panic!("{name} (udp) was not refused");
            };
            assert_eq!(err.kind(), ErrorKind::Denied, "{name} (udp): {err}");
        }
        // A numeric spelling of an allowed address is dialed as that address.
        if one.is_ok() {
            r.dial(Network::Tcp, Address::Domain("127.1".into(), port)).await.unwrap();
        }
        // A name the system resolver would read as an address we cannot is refused.
        let err =
            r.dial(Network::Tcp, Address::Domain("1.2.3.256".into(), port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial, "{err}");
        drop(two);
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
