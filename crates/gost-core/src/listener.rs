//! Listeners accept inbound connections: the data channel of a service.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use crate::BoxFuture;
use crate::error::Result;
use crate::io::BoxConn;
use crate::metadata::Metadata;

/// Accepts connections. Created bound: if the constructor returned `Ok`, the socket is listening.
///
/// Dropping a listener closes it. Errors from [`Listener::accept`]: a [`crate::ErrorKind::Closed`]
/// error means the listener is gone for good and the accept loop must end; any other error is
/// temporary (e.g. out of file descriptors, a failed per-connection TLS handshake) and the loop
/// backs off and calls `accept` again.
pub trait Listener: Send + 'static {
    /// Waits for the next connection. Cancel safe: dropping the future loses no connection.
    /// The returned connection belongs to the caller, who closes it by dropping it.
    fn accept(&mut self) -> impl Future<Output = Result<BoxConn>> + Send;

    /// The address actually bound (with the real port when `:0` was asked for).
    fn local_addr(&self) -> Option<SocketAddr>;
}

/// Construction options every listener gets besides its metadata.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ListenerOptions {
    /// The address to listen on, as written in the config (`":8080"`, `"127.0.0.1:0"`).
    pub addr: String,
    /// The owning service's name, for logs.
    pub service: String,
    /// For listeners that bind through a chain (`rtcp`, `rudp`): the router of `listener.chain`.
    pub router: Option<crate::chain::BoxRouter>,
}

impl ListenerOptions {
    /// Options for listening on `addr`.
    pub fn new(addr: impl Into<String>) -> Self {
        ListenerOptions { addr: addr.into(), service: String::new(), router: None }
    }
}

/// A listener factory, as registered under a type name (`"tcp"`, `"ws"`, ...).
pub type NewListener = fn(ListenerOptions, &Metadata) -> Result<BoxListener>;

trait DynListener: Send + 'static {
    fn dyn_accept(&mut self) -> BoxFuture<'_, Result<BoxConn>>;
    fn dyn_local_addr(&self) -> Option<SocketAddr>;
}

impl<T: Listener> DynListener for T {
    fn dyn_accept(&mut self) -> BoxFuture<'_, Result<BoxConn>> {
        Box::pin(self.accept())
    }
    fn dyn_local_addr(&self) -> Option<SocketAddr> {
        self.local_addr()
    }
}

/// A type-erased [`Listener`]; boxes one future per accepted connection.
pub struct BoxListener(Box<dyn DynListener>);

impl BoxListener {
    /// Erases the type of `listener`.
    pub fn new(listener: impl Listener) -> Self {
        BoxListener(Box::new(listener))
    }
}

impl Listener for BoxListener {
    fn accept(&mut self) -> impl Future<Output = Result<BoxConn>> + Send {
        self.0.dyn_accept()
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.0.dyn_local_addr()
    }
}

impl fmt::Debug for BoxListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxListener").field("local_addr", &self.local_addr()).finish()
    }
}
