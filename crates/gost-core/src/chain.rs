//! Chains of proxies: [`Node`]s with their [`Transport`], the [`Route`] a connection takes, the
//! [`Chainer`] that builds routes, and the [`Router`] handlers send traffic through.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::BoxFuture;
use crate::addr::{Address, Network};
use crate::bypass::BoxBypass;
use crate::connector::{BindOptions, BoxConnector, ConnectOptions, Connector};
use crate::dialer::{BoxDialer, DialOptions, Dialer, HandshakeOptions, OnNodeConnected};
use crate::error::{Error, ErrorKind, Result};
use crate::io::{BoxConn, BoxPacketConn};
use crate::listener::BoxListener;
use crate::matcher::BoxMatcher;
use crate::metadata::Metadata;
use crate::probe::{ProbeRecord, ProbeResult, Probed};
use crate::selector::{FailMarker, Markable, Marker, SelectRequest};

/// A node's dialer and connector: how to reach the node, and what protocol to speak to it.
#[derive(Clone, Debug)]
pub struct Transport {
    /// Opens the connection to the node (tcp, tls, ws, ...).
    pub dialer: BoxDialer,
    /// Speaks the proxy protocol to the node (http, socks5, relay, forward, ...).
    pub connector: BoxConnector,
}

impl Transport {
    /// A transport from its two halves.
    pub fn new(dialer: BoxDialer, connector: BoxConnector) -> Self {
        Transport { dialer, connector }
    }

    /// Dials `addr` and runs the dialer's handshake. A multiplexing dialer's `dial` already
    /// returns a stream of its (cached) session, so its handshake is not run here: that one is
    /// for a tunnel that reaches the node through earlier hops.
    pub async fn dial(&self, addr: &Address, opts: DialOptions) -> Result<BoxConn> {
        let conn = self.dialer.dial(addr.clone(), opts).await?;
        if self.dialer.multiplex() {
            return Ok(conn);
        }
        self.dialer.handshake(conn, HandshakeOptions::for_addr(addr.clone())).await
    }
}

/// One proxy server of a hop: where it is, how to talk to it, and its failure record.
#[derive(Debug)]
pub struct Node {
    /// The node's name (`node-0`, or as configured).
    pub name: String,
    /// The node's address.
    pub addr: Address,
    /// How to reach it; `None` for a forwarder target, which is an address and nothing more.
    pub transport: Option<Transport>,
    /// Failures, for the fail filter.
    pub marker: FailMarker,
    /// Targets that must not go through this node.
    pub bypass: Option<BoxBypass>,
    /// The node's own options (hop and selector keys such as `weight`, `backup`).
    pub metadata: Metadata,
    /// The node takes only the requests its matcher matches (gost's `matcher.rule`).
    pub matcher: Option<BoxMatcher>,
    /// Among several matching nodes, one with the single highest priority is taken without the
    /// selector; equal priorities go to the selector (gost: 0 = the rule's length).
    pub priority: i64,
    /// The latest result of the node's health probe, if it has one.
    pub probe: ProbeRecord,
    /// gost's node `http` block: how a sniffing forwarder treats HTTP requests to this node.
    pub http: Option<Arc<HttpNodeSettings>>,
    /// How much of a request body the matcher reads (`matcher.bodySize`); 0 when it reads none.
    /// A handler that reads HTTP reads that much before selecting.
    pub body_size: usize,
}

/// A URL path rewrite: the new path (and query, after a `?`) when the rule applies.
pub type PathRewrite = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// gost's node `http` settings, applied by a forwarder that reads HTTP requests (`sniffing`):
/// the request's `Host`, headers and path are rewritten before it goes to the node, the
/// response's headers after, Basic credentials are required when `auth` is set, and a response
/// whose status is in `fail_codes` marks the node failed.
#[derive(Default)]
pub struct HttpNodeSettings {
    /// `host`: the `Host` header sent to the node.
    pub host: Option<String>,
    /// `requestHeader` (and the older `header`): set on requests; an empty value removes.
    pub request_header: Vec<(String, String)>,
    /// `responseHeader`: set on responses; an empty value removes.
    pub response_header: Vec<(String, String)>,
    /// `rewriteURL` (and the older `rewrite`): the first rule that applies rewrites the path.
    pub rewrite_url: Vec<PathRewrite>,
    /// `auth`: Basic credentials a client must send (401 otherwise).
    pub auth: Option<crate::auth::BoxAuther>,
    /// `failCodes`: statuses that mark the node failed; a value below 10 is a class (`5` = 5xx).
    pub fail_codes: Vec<u16>,
}

impl HttpNodeSettings {
    /// Whether `status` is one of the fail codes.
    pub fn is_fail_code(&self, status: u16) -> bool {
        self.fail_codes.iter().any(|&c| if c < 10 { status / 100 == c } else { status == c })
    }
}

impl fmt::Debug for HttpNodeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpNodeSettings")
            .field("host", &self.host)
            .field("request_header", &self.request_header)
            .field("response_header", &self.response_header)
            .field("rewrite_url", &self.rewrite_url.len())
            .field("auth", &self.auth.is_some())
            .field("fail_codes", &self.fail_codes)
            .finish()
    }
}

impl Node {
    /// A chain node with no bypass and no metadata.
    pub fn new(name: impl Into<String>, addr: Address, transport: Transport) -> Self {
        let mut node = Node::target(name, addr);
        node.transport = Some(transport);
        node
    }

    /// A forwarder target: an address to reach, with no transport of its own.
    pub fn target(name: impl Into<String>, addr: Address) -> Self {
        Node {
            name: name.into(),
            addr,
            transport: None,
            marker: FailMarker::new(),
            bypass: None,
            metadata: Metadata::new(),
            matcher: None,
            priority: 0,
            probe: ProbeRecord::new(),
            http: None,
            body_size: 0,
        }
    }
}

impl Markable for Node {
    fn marker(&self) -> &dyn Marker {
        &self.marker
    }
}

impl Probed for Node {
    fn probe_result(&self) -> Option<ProbeResult> {
        self.probe.get()
    }
}

/// The nodes one connection goes through, in order, one per hop.
#[derive(Debug, Default)]
pub struct Route {
    nodes: Vec<Arc<Node>>,
    /// 1 + the index of the node a dial is reaching right now; 0 when none.
    reaching: AtomicUsize,
}

impl Clone for Route {
    fn clone(&self) -> Self {
        Route::new(self.nodes.clone())
    }
}

impl Route {
    /// A route through `nodes` in order.
    pub fn new(nodes: Vec<Arc<Node>>) -> Self {
        Route { nodes, reaching: AtomicUsize::new(0) }
    }

    /// Marks the node that an abandoned dial was still reaching (its deadline won), as a node
    /// that refused would have been marked: a black-holed node must count towards `maxFails`.
    /// Returns that node; `None` when no node was being reached (the dial had got through all
    /// of them, or had not started).
    pub fn mark_stalled(&self) -> Option<&Arc<Node>> {
        let i = self.reaching.swap(0, Ordering::Relaxed).checked_sub(1)?;
        let node = self.nodes.get(i)?;
        node.marker.mark();
        Some(node)
    }

    /// The nodes, first hop first.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// Whether the route goes direct (no node).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Connects through every node and returns the connection from the last one: the first
    /// node is dialed, each next node is reached with the previous node's connector and its own
    /// dialer handshake, and the last node's connector connects to `target`.
    ///
    /// A node that cannot be reached (dial, connect through the previous node, or handshake
    /// fails) has its fail marker marked; a node that was reached has it reset. A failure of the
    /// last node to reach the target marks nothing: the target, not the node, may be at fault.
    /// An empty route is a [`ErrorKind::NoRoute`] error: the router dials directly instead.
    pub async fn dial(
        &self,
        network: Network,
        target: Address,
        opts: DialOptions,
    ) -> Result<BoxConn> {
        let (conn, last) = self.connect_nodes(opts).await?;
        let conn = transport_of(last)?
            .connector
            .connect(conn, network, target.clone(), ConnectOptions::default())
            .await
            .map_err(|e| {
                let kind = e.kind();
                e.wrap(kind, format!("connect to {target} through node {}", last.name))
            })?;
        Ok(conn)
    }

    /// Connects through every node, then asks the last one to carry datagrams (see
    /// [`Connector::connect_packet`]). Marks nodes as [`Route::dial`] does.
    pub async fn dial_packet(
        &self,
        target: Option<Address>,
        opts: DialOptions,
    ) -> Result<BoxPacketConn> {
        let (conn, last) = self.connect_nodes(opts).await?;
        transport_of(last)?.connector.connect_packet(conn, target).await.map_err(|e| {
            let kind = e.kind();
            e.wrap(kind, format!("datagrams through node {}", last.name))
        })
    }

    /// Connects through every node, then asks the last one to bind `addr` (remote forwarding).
    pub async fn bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> Result<BoxListener> {
        let (conn, last) = self.connect_nodes(opts.dial.clone()).await?;
        let listener =
            transport_of(last)?.connector.bind(conn, network, addr.clone(), opts).await.map_err(
                |e| {
                    let kind = e.kind();
                    e.wrap(kind, format!("bind {addr} on node {}", last.name))
                },
            )?;
        Ok(listener)
    }

    async fn connect_nodes(&self, opts: DialOptions) -> Result<(BoxConn, &Arc<Node>)> {
        let res = self.reach_nodes(opts).await;
        if res.is_err() {
            // The failing node was marked where it failed.
            self.reaching.store(0, Ordering::Relaxed);
        }
        res
    }

    async fn reach_nodes(&self, opts: DialOptions) -> Result<(BoxConn, &Arc<Node>)> {
        let Some((first, rest)) = self.nodes.split_first() else {
            return Err(Error::new(ErrorKind::NoRoute, "empty route"));
        };
        let started = std::time::Instant::now();
        let on_first_node = opts.on_first_node.clone();
        self.reaching.store(1, Ordering::Relaxed);
        let mut conn = transport_of(first)?
            .dial(&first.addr, opts)
            .await
            .map_err(|e| fail(first, e, format!("dial node {} ({})", first.name, first.addr)))?;
        first.marker.reset();
        if let Some(OnNodeConnected(tell)) = on_first_node {
            tell(&first.name, started.elapsed());
        }
        let mut prev = first;
        for (i, node) in rest.iter().enumerate() {
            self.reaching.store(i + 2, Ordering::Relaxed);
            conn = transport_of(prev)?
                .connector
                .connect(conn, Network::Tcp, node.addr.clone(), ConnectOptions::default())
                .await
                .map_err(|e| {
                    fail(node, e, format!("connect to node {} through {}", node.name, prev.name))
                })?;
            let hs = HandshakeOptions::for_addr(node.addr.clone());
            conn = transport_of(node)?
                .dialer
                .handshake(conn, hs)
                .await
                .map_err(|e| fail(node, e, format!("handshake with node {}", node.name)))?;
            node.marker.reset();
            prev = node;
        }
        // Past the nodes: a stall from here on is the target's, not a node's.
        self.reaching.store(0, Ordering::Relaxed);
        Ok((conn, prev))
    }
}

fn transport_of(node: &Node) -> Result<&Transport> {
    node.transport.as_ref().ok_or_else(|| {
        Error::config(format!(
            "node {} has no dialer/connector and cannot be part of a chain",
            node.name
        ))
    })
}

fn fail(node: &Node, err: Error, context: String) -> Error {
    if err.is_retryable() {
        node.marker.mark();
    }
    let kind = err.kind();
    err.wrap(kind, context)
}

/// Builds the route for one connection (selecting a node in every hop).
pub trait Chainer: Send + Sync + 'static {
    /// The route for `req`. A [`ErrorKind::NoRoute`] error means some hop had no usable node.
    fn route(&self, req: SelectRequest) -> impl Future<Output = Result<Route>> + Send;
}

trait DynChainer: Send + Sync + 'static {
    fn dyn_route(&self, req: SelectRequest) -> BoxFuture<'_, Result<Route>>;
}

impl<T: Chainer> DynChainer for T {
    fn dyn_route(&self, req: SelectRequest) -> BoxFuture<'_, Result<Route>> {
        Box::pin(self.route(req))
    }
}

/// A type-erased, cheaply cloneable [`Chainer`].
#[derive(Clone)]
pub struct BoxChainer(Arc<dyn DynChainer>);

impl BoxChainer {
    /// Erases the type of `chainer`.
    pub fn new(chainer: impl Chainer) -> Self {
        BoxChainer(Arc::new(chainer))
    }
}

impl Chainer for BoxChainer {
    fn route(&self, req: SelectRequest) -> impl Future<Output = Result<Route>> + Send {
        self.0.dyn_route(req)
    }
}

impl fmt::Debug for BoxChainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxChainer")
    }
}

/// What handlers send traffic through: it resolves, maps hosts, applies retries and the dial
/// timeout, and goes through the chain when there is one (directly otherwise).
pub trait Router: Send + Sync + 'static {
    /// A connection to `target`. The caller owns it. Retryable failures have already been
    /// retried; the error returned is the last one. Cancel safe.
    fn dial(
        &self,
        network: Network,
        target: Address,
    ) -> impl Future<Output = Result<BoxConn>> + Send;

    /// A datagram connection: through the chain (the last node's connector carries the
    /// datagrams), or a local UDP socket without a chain. With `target` set, every datagram goes
    /// there. Retries and timeout as for [`Router::dial`].
    fn dial_packet(
        &self,
        target: Option<Address>,
    ) -> impl Future<Output = Result<BoxPacketConn>> + Send;

    /// A listener on `addr`, on the last node of the chain (or locally without a chain).
    fn bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> impl Future<Output = Result<BoxListener>> + Send;
}

trait DynRouter: Send + Sync + 'static {
    fn dyn_dial(&self, network: Network, target: Address) -> BoxFuture<'_, Result<BoxConn>>;
    fn dyn_dial_packet(&self, target: Option<Address>) -> BoxFuture<'_, Result<BoxPacketConn>>;
    fn dyn_bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> BoxFuture<'_, Result<BoxListener>>;
}

impl<T: Router> DynRouter for T {
    fn dyn_dial(&self, network: Network, target: Address) -> BoxFuture<'_, Result<BoxConn>> {
        Box::pin(self.dial(network, target))
    }
    fn dyn_dial_packet(&self, target: Option<Address>) -> BoxFuture<'_, Result<BoxPacketConn>> {
        Box::pin(self.dial_packet(target))
    }
    fn dyn_bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> BoxFuture<'_, Result<BoxListener>> {
        Box::pin(self.bind(network, addr, opts))
    }
}

/// A type-erased, cheaply cloneable [`Router`].
#[derive(Clone)]
pub struct BoxRouter(Arc<dyn DynRouter>);

impl BoxRouter {
    /// Erases the type of `router`.
    pub fn new(router: impl Router) -> Self {
        BoxRouter(Arc::new(router))
    }
}

impl Router for BoxRouter {
    fn dial(
        &self,
        network: Network,
        target: Address,
    ) -> impl Future<Output = Result<BoxConn>> + Send {
        self.0.dyn_dial(network, target)
    }
    fn dial_packet(
        &self,
        target: Option<Address>,
    ) -> impl Future<Output = Result<BoxPacketConn>> + Send {
        self.0.dyn_dial_packet(target)
    }
    fn bind(
        &self,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> impl Future<Output = Result<BoxListener>> + Send {
        self.0.dyn_bind(network, addr, opts)
    }
}

impl fmt::Debug for BoxRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxRouter")
    }
}
