//! A hop is one step of a chain: a set of nodes from which one is selected per connection.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::chain::Node;
use crate::selector::SelectRequest;

/// Selects the node a connection goes through at this step of the chain.
pub trait Hop: Send + Sync + 'static {
    /// Picks a node for `req`, or `None` when no node is available (all failed or bypassed).
    /// Cancel safe.
    fn select(&self, req: SelectRequest) -> impl Future<Output = Option<Arc<Node>>> + Send;

    /// Every node of the hop, selected or not.
    fn nodes(&self) -> Vec<Arc<Node>>;

    /// How much of a request body its rules read (the largest `matcher.bodySize` they use; 0
    /// when none reads the body): a handler that reads HTTP reads that much before selecting.
    fn body_size(&self) -> usize {
        self.nodes().iter().map(|n| n.body_size).max().unwrap_or(0)
    }
}

trait DynHop: Send + Sync + 'static {
    fn dyn_select(&self, req: SelectRequest) -> BoxFuture<'_, Option<Arc<Node>>>;
    fn dyn_nodes(&self) -> Vec<Arc<Node>>;
    fn dyn_body_size(&self) -> usize;
}

impl<T: Hop> DynHop for T {
    fn dyn_select(&self, req: SelectRequest) -> BoxFuture<'_, Option<Arc<Node>>> {
        Box::pin(self.select(req))
    }
    fn dyn_nodes(&self) -> Vec<Arc<Node>> {
        self.nodes()
    }
    fn dyn_body_size(&self) -> usize {
        self.body_size()
    }
}

/// A type-erased, cheaply cloneable [`Hop`].
#[derive(Clone)]
pub struct BoxHop(Arc<dyn DynHop>);

impl BoxHop {
    /// Erases the type of `hop`.
    pub fn new(hop: impl Hop) -> Self {
        BoxHop(Arc::new(hop))
    }
}

impl Hop for BoxHop {
    fn select(&self, req: SelectRequest) -> impl Future<Output = Option<Arc<Node>>> + Send {
        self.0.dyn_select(req)
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.0.dyn_nodes()
    }
    fn body_size(&self) -> usize {
        self.0.dyn_body_size()
    }
}

impl fmt::Debug for BoxHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxHop").field("nodes", &self.nodes().len()).finish()
    }
}
