use gost_core::{BoxHop, Chainer, Hop, Result, Route, SelectRequest};

/// A chain: hops in order, one node selected from each per connection.
pub struct Chain {
    name: String,
    hops: Vec<(String, BoxHop)>,
}

impl Chain {
    /// A chain named `name` through `hops` (each with its name, for errors).
    pub fn new(name: impl Into<String>, hops: Vec<(String, BoxHop)>) -> Self {
        Chain { name: name.into(), hops }
    }
}

impl Chainer for Chain {
    async fn route(&self, req: SelectRequest) -> Result<Route> {
        let mut nodes = Vec::with_capacity(self.hops.len());
        for (name, hop) in &self.hops {
            // gost: a hop that gives no node (its bypass, or every node's, matched the target)
            // ends the route there; the connection leaves from the last node selected so far,
            // or directly.
            let Some(node) = hop.select(req.clone()).await else {
                tracing::debug!(chain = %self.name, hop = %name, "route ends before this hop");
                break;
            };
            nodes.push(node);
        }
        Ok(Route::new(nodes))
    }
}
