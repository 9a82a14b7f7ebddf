//! Connectors speak a proxy protocol over a dialed connection to reach the next address.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::addr::{Address, Network};
use crate::error::{Error, Result};
use crate::io::{BoxConn, BoxPacketConn};
use crate::listener::BoxListener;
use crate::metadata::Metadata;

/// Per-call connect options.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {}

/// Per-call bind options (remote port forwarding).
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct BindOptions {
    /// Ask the node to multiplex every accepted connection over one session.
    pub mux: bool,
    /// How many accepted connections may wait in the remote listener's queue.
    pub backlog: Option<usize>,
    /// UDP: the datagram buffer size.
    pub udp_buffer_size: Option<usize>,
    /// How the route's nodes are reached (timeout, node-connect callback).
    pub dial: crate::dialer::DialOptions,
}

/// Speaks a proxy protocol (socks5, http, relay, forward...) on a connection to a node.
pub trait Connector: Send + Sync + 'static {
    /// Asks the node at the other end of `conn` to connect to `target` over `network`, and returns
    /// the connection that now leads there (often `conn` itself, or a wrapper of it).
    ///
    /// Takes ownership of `conn`; on error it is closed. Errors: [`crate::ErrorKind::Connect`]
    /// when the node refused (retryable through another node), [`crate::ErrorKind::Auth`] when it
    /// rejected our credentials. Not cancel safe beyond closing `conn`.
    fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        opts: ConnectOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send;

    /// Turns `conn` (leading to the node) into a datagram connection through the node: UDP
    /// datagrams go to, and come from, the addresses each one names. With `target` set, every
    /// datagram goes to that one address (and protocols that have a fixed-target form use it).
    /// Takes ownership of `conn`. The default is [`crate::ErrorKind::Unsupported`].
    fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> impl Future<Output = Result<BoxPacketConn>> + Send {
        let _ = conn;
        async move {
            let what =
                target.map_or_else(|| "datagrams".to_owned(), |t| format!("datagrams to {t}"));
            Err(Error::unsupported(format!("this connector cannot carry {what}")))
        }
    }

    /// Asks the node to listen on `addr` and carry each connection it accepts back over `conn`
    /// (remote port forwarding). The default is [`crate::ErrorKind::Unsupported`].
    fn bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> impl Future<Output = Result<BoxListener>> + Send {
        let _ = (conn, opts);
        async move { Err(Error::unsupported(format!("this connector cannot bind {network} {addr}"))) }
    }
}

/// Construction options every connector gets besides its metadata.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ConnectorOptions {
    /// The owning node's name, for logs.
    pub node: String,
    /// User name from the node URL (`socks5://user:pass@host:port`).
    pub username: Option<String>,
    /// Password from the node URL.
    pub password: Option<String>,
}

/// A connector factory, as registered under a type name.
pub type NewConnector = fn(ConnectorOptions, &Metadata) -> Result<BoxConnector>;

trait DynConnector: Send + Sync + 'static {
    fn dyn_connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        opts: ConnectOptions,
    ) -> BoxFuture<'_, Result<BoxConn>>;
    fn dyn_bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> BoxFuture<'_, Result<BoxListener>>;
    fn dyn_connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> BoxFuture<'_, Result<BoxPacketConn>>;
}

impl<T: Connector> DynConnector for T {
    fn dyn_connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        opts: ConnectOptions,
    ) -> BoxFuture<'_, Result<BoxConn>> {
        Box::pin(self.connect(conn, network, target, opts))
    }
    fn dyn_bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> BoxFuture<'_, Result<BoxListener>> {
        Box::pin(self.bind(conn, network, addr, opts))
    }
    fn dyn_connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> BoxFuture<'_, Result<BoxPacketConn>> {
        Box::pin(self.connect_packet(conn, target))
    }
}

/// A type-erased, cheaply cloneable [`Connector`].
#[derive(Clone)]
pub struct BoxConnector(Arc<dyn DynConnector>);

impl BoxConnector {
    /// Erases the type of `connector`.
    pub fn new(connector: impl Connector) -> Self {
        BoxConnector(Arc::new(connector))
    }
}

impl Connector for BoxConnector {
    fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        opts: ConnectOptions,
    ) -> impl Future<Output = Result<BoxConn>> + Send {
        self.0.dyn_connect(conn, network, target, opts)
    }
    fn bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        opts: BindOptions,
    ) -> impl Future<Output = Result<BoxListener>> + Send {
        self.0.dyn_bind(conn, network, addr, opts)
    }
    fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> impl Future<Output = Result<BoxPacketConn>> + Send {
        self.0.dyn_connect_packet(conn, target)
    }
}

impl fmt::Debug for BoxConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxConnector")
    }
}
