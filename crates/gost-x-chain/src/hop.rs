use std::sync::Arc;

use gost_core::{BoxBypass, Bypass, Hop, Node, SelectRequest, Selector};

/// A hop made of a fixed list of nodes and a selector.
pub struct NodeHop {
    name: String,
    nodes: Vec<Arc<Node>>,
    selector: Box<dyn Selector<Arc<Node>>>,
    bypass: Option<BoxBypass>,
}

impl NodeHop {
    /// A hop named `name` choosing among `nodes` with `selector`.
    pub fn new(
        name: impl Into<String>,
        nodes: Vec<Arc<Node>>,
        selector: Box<dyn Selector<Arc<Node>>>,
    ) -> Self {
        NodeHop { name: name.into(), nodes, selector, bypass: None }
    }

    /// Sets the hop's bypass: a matching target does not go through this hop (nor any later
    /// one: the route ends before it, as in gost).
    pub fn with_bypass(mut self, bypass: Option<BoxBypass>) -> Self {
        self.bypass = bypass;
        self
    }

    /// The hop's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// gost's node filters (`filter.host`, `filter.protocol`): a node without one takes anything;
/// a host filter (`example.com`, or `.example.com` for it and every name under it) needs the
/// request's host, a protocol filter the request's protocol.
fn eligible(node: &Node, req: &SelectRequest) -> bool {
    let filter = |key: &str| node.metadata.get_string(&[key]).ok().flatten();
    if let Some(want) = filter("filter.protocol")
        && req.protocol.as_deref() != Some(want.as_str())
    {
        return false;
    }
    if let Some(want) = filter("filter.host") {
        let Some(host) = req.host.as_deref() else { return false };
        let host =
            gost_core::Address::parse(host).map(|a| a.host()).unwrap_or_else(|_| host.into());
        let matches = host.eq_ignore_ascii_case(&want)
            || want.strip_prefix('.').is_some_and(|suffix| {
                host.to_ascii_lowercase().ends_with(&suffix.to_ascii_lowercase())
            });
        if !matches {
            return false;
        }
    }
    true
}

impl Hop for NodeHop {
    async fn select(&self, req: SelectRequest) -> Option<Arc<Node>> {
        if let (Some(bypass), Some(target)) = (&self.bypass, &req.target)
            && bypass.contains(req.network, target.clone()).await
        {
            tracing::debug!(hop = %self.name, %target, "bypassed by the hop");
            return None;
        }
        // A node whose bypass matches the target does not carry this connection, nor one whose
        // filter names another host or protocol.
        let mut candidates = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            if !eligible(node, &req) {
                continue;
            }
            if let (Some(bypass), Some(target)) = (&node.bypass, &req.target)
                && bypass.contains(req.network, target.clone()).await
            {
                continue;
            }
            candidates.push(node.clone());
        }
        let node = self.selector.select(&candidates, &req);
        if node.is_none() {
            tracing::debug!(hop = %self.name, "no node available");
        }
        node
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.clone()
    }
}
