use gost_core::{BoxHop, Chainer, Error, ErrorKind, Hop, Result, Route, SelectRequest};

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
            let node = hop.select(req.clone()).await.ok_or_else(|| {
                Error::new(
                    ErrorKind::NoRoute,
                    format!("chain {}: hop {name} has no node available", self.name),
                )
            })?;
            nodes.push(node);
        }
        Ok(Route::new(nodes))
    }
}
