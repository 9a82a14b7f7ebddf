//! Handlers serve accepted connections: authenticate, read the request, route, relay.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::BoxFuture;
use crate::auth::BoxAuther;
use crate::bypass::BoxBypass;
use crate::chain::BoxRouter;
use crate::error::Result;
use crate::hop::BoxHop;
use crate::ingress::BoxIngress;
use crate::io::BoxConn;
use crate::metadata::Metadata;
use crate::sd::BoxSd;

/// Facts about one accepted connection, passed to the handler with it.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Session {
    /// A process-unique id, for logs.
    pub id: u64,
    /// The service that accepted the connection.
    pub service: Arc<str>,
    /// The client's address.
    pub client_addr: Option<SocketAddr>,
    /// The local address the client connected to.
    pub local_addr: Option<SocketAddr>,
}

impl Session {
    /// A session for a connection of `service`.
    pub fn new(id: u64, service: Arc<str>) -> Self {
        Session { id, service, client_addr: None, local_addr: None }
    }
}

/// Serves one connection at a time per call; called concurrently for many connections.
pub trait Handler: Send + Sync + 'static {
    /// Serves `conn` until the exchange is over. The handler owns `conn` and closes it by dropping
    /// it; returning `Ok` means the exchange ended normally (including the client closing).
    ///
    /// Cancel safety: the service may drop this future at shutdown; the connection is then closed.
    /// Errors are for logs and stats: EOF, timeouts and refusals by policy use the kinds for which
    /// [`crate::ErrorKind::is_normal_end`] is true.
    fn handle(&self, conn: BoxConn, session: Session) -> impl Future<Output = Result<()>> + Send;

    /// The service stops taking connections: a handler that holds things of its own (a port it
    /// listens on, long-lived sessions that are not connections being served) lets go of them
    /// now, so that the service ends within its grace period and its ports are free at once.
    /// Connections being served are not cut. The default does nothing.
    fn close(&self) {}
}

/// Construction options every handler gets besides its metadata.
#[non_exhaustive]
#[derive(Clone)]
pub struct HandlerOptions {
    /// Where the handler sends traffic: the chain (if any), retries, timeouts, resolution.
    pub router: BoxRouter,
    /// The forwarder's targets for port-forwarding handlers (`-L tcp://:8080/target:80`).
    pub forwarder: Option<BoxHop>,
    /// Authenticates clients (user/password from the URL or an auther object).
    pub auther: Option<BoxAuther>,
    /// Targets the service refuses (or only allows, for a whitelist).
    pub bypass: Option<BoxBypass>,
    /// The owning service's name, for logs.
    pub service: String,
    /// The service's inline credentials as written (`user`, `password`), for protocols that
    /// take a key rather than a login (shadowsocks: the method and the password).
    pub credentials: Option<(String, String)>,
    /// Host name → tunnel rules (the handler's `ingress` metadata), for tunnel servers.
    pub ingress: Option<BoxIngress>,
    /// Service discovery (the handler's `sd` metadata), for tunnel servers.
    pub sd: Option<BoxSd>,
    /// The service's host mappings (also in the router), for handlers that answer names
    /// themselves (the DNS proxy).
    pub hosts: Option<crate::BoxHostMapper>,
    /// The service's `cache` (gost 3.3), where handlers that read HTTP keep responses.
    pub cache: Option<crate::BoxCache>,
}

impl HandlerOptions {
    /// Options with a router and nothing else.
    pub fn new(router: BoxRouter) -> Self {
        HandlerOptions {
            router,
            forwarder: None,
            auther: None,
            bypass: None,
            service: String::new(),
            credentials: None,
            ingress: None,
            sd: None,
            hosts: None,
            cache: None,
        }
    }
}

impl fmt::Debug for HandlerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerOptions")
            .field("forwarder", &self.forwarder.is_some())
            .field("auther", &self.auther.is_some())
            .field("bypass", &self.bypass.is_some())
            .field("service", &self.service)
            .field("ingress", &self.ingress.is_some())
            .field("sd", &self.sd.is_some())
            .finish()
    }
}

/// A handler factory, as registered under a type name (`"forward"`, `"http"`, ...).
pub type NewHandler = fn(HandlerOptions, &Metadata) -> Result<BoxHandler>;

trait DynHandler: Send + Sync + 'static {
    fn dyn_handle(&self, conn: BoxConn, session: Session) -> BoxFuture<'_, Result<()>>;
    fn dyn_close(&self);
}

impl<T: Handler> DynHandler for T {
    fn dyn_handle(&self, conn: BoxConn, session: Session) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.handle(conn, session))
    }
    fn dyn_close(&self) {
        self.close()
    }
}

/// A type-erased, cheaply cloneable [`Handler`]; boxes one future per connection.
#[derive(Clone)]
pub struct BoxHandler(Arc<dyn DynHandler>);

impl BoxHandler {
    /// Erases the type of `handler`.
    pub fn new(handler: impl Handler) -> Self {
        BoxHandler(Arc::new(handler))
    }
}

impl Handler for BoxHandler {
    fn handle(&self, conn: BoxConn, session: Session) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_handle(conn, session)
    }
    fn close(&self) {
        self.0.dyn_close()
    }
}

impl fmt::Debug for BoxHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxHandler")
    }
}
