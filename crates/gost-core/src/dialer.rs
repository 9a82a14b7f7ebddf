//! Dialers open the connection from one node to the next hop (tcp, tls, ws, ...).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::BoxFuture;
use crate::addr::Address;
use crate::error::Result;
use crate::io::BoxConn;
use crate::metadata::Metadata;

/// Per-call dial options.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// Give up connecting after this long (the router's per-dial timeout when it calls).
    pub timeout: Option<Duration>,
    /// The host name the node was configured with (TLS SNI, WebSocket Host), when the address
    /// was resolved before dialing.
    pub host: Option<String>,
    /// Told how long reaching a route's first node took (dial and handshake), for gost's
    /// `gost_chain_node_connect_duration_seconds`. Read by [`crate::Route`], not by dialers.
    pub on_first_node: Option<OnNodeConnected>,
}

/// A callback with the name of the node reached and the time it took.
#[derive(Clone)]
pub struct OnNodeConnected(pub Arc<NodeConnectedFn>);

/// See [`OnNodeConnected`].
pub type NodeConnectedFn = dyn Fn(&str, Duration) + Send + Sync;

impl fmt::Debug for OnNodeConnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OnNodeConnected(..)")
    }
}

/// Per-call handshake options.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct HandshakeOptions {
    /// The node address the connection leads to.
    pub addr: Option<Address>,
}

impl HandshakeOptions {
    /// Options for a connection that leads to the node at `addr`.
    pub fn for_addr(addr: Address) -> Self {
        HandshakeOptions { addr: Some(addr) }
    }
}

/// Opens a transport connection to a node.
pub trait Dialer: Send + Sync + 'static {
    /// Connects to `addr` (resolving a domain if needed). The returned connection belongs to the
    /// caller. Cancel safe: dropping the future abandons the attempt and closes any socket.
    /// Errors are [`crate::ErrorKind::Dial`] (retryable) or [`crate::ErrorKind::Timeout`].
    fn dial(
        &self,
        addr: Address,
        opts: DialOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send;

    /// Upgrades a dialed connection (TLS, WebSocket, a multiplexed stream). The default passes it
    /// through. Takes ownership of `conn`; on error `conn` is closed.
    fn handshake(
        &self,
        conn: BoxConn,
        opts: HandshakeOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send {
        let _ = opts;
        async move { Ok(conn) }
    }

    /// Whether this dialer multiplexes many logical streams over one session (mws, mwss, ...).
    /// Its `dial` then returns a new stream of a session it keeps per node (rebuilding a dead
    /// one), and its `handshake` builds a session over a tunnel from earlier hops; either way
    /// the rest of the route travels inside the stream.
    fn multiplex(&self) -> bool {
        false
    }
}

/// Construction options every dialer gets besides its metadata.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct DialerOptions {
    /// The owning node's name, for logs.
    pub node: String,
}

/// A dialer factory, as registered under a type name.
pub type NewDialer = fn(DialerOptions, &Metadata) -> Result<BoxDialer>;

trait DynDialer: Send + Sync + 'static {
    fn dyn_dial(&self, addr: Address, opts: DialOptions) -> BoxFuture<'_, Result<BoxConn>>;
    fn dyn_handshake(
        &self,
        conn: BoxConn,
        opts: HandshakeOptions,
    ) -> BoxFuture<'_, Result<BoxConn>>;
    fn dyn_multiplex(&self) -> bool;
}

impl<T: Dialer> DynDialer for T {
    fn dyn_dial(&self, addr: Address, opts: DialOptions) -> BoxFuture<'_, Result<BoxConn>> {
        Box::pin(self.dial(addr, opts))
    }
    fn dyn_handshake(
        &self,
        conn: BoxConn,
        opts: HandshakeOptions,
    ) -> BoxFuture<'_, Result<BoxConn>> {
        Box::pin(self.handshake(conn, opts))
    }
    fn dyn_multiplex(&self) -> bool {
        self.multiplex()
    }
}

/// A type-erased, cheaply cloneable [`Dialer`].
#[derive(Clone)]
pub struct BoxDialer(Arc<dyn DynDialer>);

impl BoxDialer {
    /// Erases the type of `dialer`.
    pub fn new(dialer: impl Dialer) -> Self {
        BoxDialer(Arc::new(dialer))
    }
}

impl Dialer for BoxDialer {
    fn dial(
        &self,
        addr: Address,
        opts: DialOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send {
        self.0.dyn_dial(addr, opts)
    }
    fn handshake(
        &self,
        conn: BoxConn,
        opts: HandshakeOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send {
        self.0.dyn_handshake(conn, opts)
    }
    fn multiplex(&self) -> bool {
        self.0.dyn_multiplex()
    }
}

impl fmt::Debug for BoxDialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxDialer").field("multiplex", &self.multiplex()).finish()
    }
}
