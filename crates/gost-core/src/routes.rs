//! Route tables: gost's `routers:` objects (its `router.Router`), which say through which
//! gateway a destination network is reached. The TUN/TAP mode asks them where to send a packet
//! (and may install them as system routes). Named `RouteTable` here because [`crate::Router`] is
//! what handlers dial through.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;

/// One route: a destination (an IP, a CIDR network, or a name as written) and its gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// The destination as configured (`192.168.0.0/16`, `10.0.0.1`).
    pub dst: String,
    /// Where it goes (an address of a peer, as gost's TUN peers name each other).
    pub gateway: String,
}

/// Looks destinations up in a route table.
pub trait RouteTable: Send + Sync + 'static {
    /// The first route whose destination is `dst` or whose network contains it (as gost: in
    /// configured order, not longest prefix). Cancel safe.
    fn route<'a>(&'a self, dst: &'a str) -> impl Future<Output = Option<RouteEntry>> + Send + 'a;

    /// Every route, in order (for the Web API and system-route installation).
    fn routes(&self) -> Vec<RouteEntry>;
}

impl<T: RouteTable> RouteTable for Arc<T> {
    fn route<'a>(&'a self, dst: &'a str) -> impl Future<Output = Option<RouteEntry>> + Send + 'a {
        (**self).route(dst)
    }
    fn routes(&self) -> Vec<RouteEntry> {
        (**self).routes()
    }
}

trait DynRouteTable: Send + Sync + 'static {
    fn dyn_route<'a>(&'a self, dst: &'a str) -> BoxFuture<'a, Option<RouteEntry>>;
    fn dyn_routes(&self) -> Vec<RouteEntry>;
}

impl<T: RouteTable> DynRouteTable for T {
    fn dyn_route<'a>(&'a self, dst: &'a str) -> BoxFuture<'a, Option<RouteEntry>> {
        Box::pin(self.route(dst))
    }
    fn dyn_routes(&self) -> Vec<RouteEntry> {
        self.routes()
    }
}

/// A type-erased, cheaply cloneable [`RouteTable`].
#[derive(Clone)]
pub struct BoxRouteTable(Arc<dyn DynRouteTable>);

impl BoxRouteTable {
    /// Erases the type of `table`.
    pub fn new(table: impl RouteTable) -> Self {
        BoxRouteTable(Arc::new(table))
    }
}

impl RouteTable for BoxRouteTable {
    fn route<'a>(&'a self, dst: &'a str) -> impl Future<Output = Option<RouteEntry>> + Send + 'a {
        self.0.dyn_route(dst)
    }
    fn routes(&self) -> Vec<RouteEntry> {
        self.0.dyn_routes()
    }
}

impl fmt::Debug for BoxRouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxRouteTable")
    }
}
