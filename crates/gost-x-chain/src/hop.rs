use std::sync::Arc;

use crate::probe::Probes;
use gost_core::{BoxBypass, Bypass, Hop, Matcher, Node, SelectRequest, Selector};

/// A hop made of a fixed list of nodes and a selector.
pub struct NodeHop {
    name: String,
    nodes: Vec<Arc<Node>>,
    selector: Box<dyn Selector<Arc<Node>>>,
    bypass: Option<BoxBypass>,
    /// The nodes' health probes, stopped with the hop.
    _probes: Probes,
    /// The largest body prefix the nodes' rules read.
    body_size: usize,
}

impl NodeHop {
    /// A hop named `name` choosing among `nodes` with `selector`.
    pub fn new(
        name: impl Into<String>,
        nodes: Vec<Arc<Node>>,
        selector: Box<dyn Selector<Arc<Node>>>,
    ) -> Self {
        let body_size = nodes.iter().map(|n| n.body_size).max().unwrap_or(0);
        NodeHop {
            name: name.into(),
            nodes,
            selector,
            bypass: None,
            _probes: Probes::default(),
            body_size,
        }
    }

    /// Keeps the nodes' probes running as long as the hop lives.
    pub fn with_probes(mut self, probes: Probes) -> Self {
        self._probes = probes;
        self
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

/// gost's node filters (`filter.host`, `filter.protocol`, `filter.path`): a node without one
/// takes anything; a host filter (`example.com`, or `.example.com` for it and every name under
/// it) needs the request's host, a protocol filter the request's protocol, a path filter a path
/// that starts with it.
fn eligible(node: &Node, req: &SelectRequest) -> bool {
    let filter = |key: &str| node.metadata.get_string(&[key]).ok().flatten();
    if let Some(want) = filter("filter.protocol")
        && req.protocol.as_deref() != Some(want.as_str())
    {
        return false;
    }
    if let Some(want) = filter("filter.path")
        && !req.path.as_deref().is_some_and(|p| p.starts_with(want.as_str()))
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
        // matcher rule (or, without one, whose filter) does not admit the request.
        let mut candidates = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            if let (Some(bypass), Some(target)) = (&node.bypass, &req.target)
                && bypass.contains(req.network, target.clone()).await
            {
                continue;
            }
            let admitted = match &node.matcher {
                Some(m) => m.matches(&req).await,
                None => eligible(node, &req),
            };
            if admitted {
                candidates.push(node.clone());
            }
        }
        let node = select_by_priority(&*self.selector, candidates, &req);
        if node.is_none() {
            tracing::debug!(hop = %self.name, "no node available");
        }
        node
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.nodes.clone()
    }

    fn body_size(&self) -> usize {
        self.body_size
    }
}

fn is_backup(node: &Arc<Node>) -> bool {
    crate::selector::Candidate::is_backup(node)
}

/// gost 3.3's choice among admitted nodes: a single node of the highest positive priority that
/// is not a backup wins outright; otherwise priority groups are tried from the highest down,
/// each through the selector (a group of backups only while no primary was admitted), and the
/// first group with an available node gives it. When every node failed, the selector's last
/// resort over all of them (gost gives no node then).
fn select_by_priority(
    selector: &dyn Selector<Arc<Node>>,
    mut nodes: Vec<Arc<Node>>,
    req: &SelectRequest,
) -> Option<Arc<Node>> {
    if nodes.len() <= 1 {
        return nodes.pop();
    }
    let max = nodes.iter().map(|n| n.priority).max().unwrap_or(0);
    let at_max: Vec<&Arc<Node>> = nodes.iter().filter(|n| n.priority == max).collect();
    // (Unlike gost, only while that node is available: a failed one falls to the groups below.)
    if max > 0
        && at_max.len() == 1
        && !is_backup(at_max[0])
        && let Some(n) = selector.select_available(std::slice::from_ref(at_max[0]), req)
    {
        return Some(n);
    }
    if at_max.len() == nodes.len() {
        return selector.select(&nodes, req);
    }
    let any_primary = nodes.iter().any(|n| !is_backup(n));
    // Stable: equal priorities keep their configured order.
    nodes.sort_by_key(|n| std::cmp::Reverse(n.priority));
    for group in nodes.chunk_by(|a, b| a.priority == b.priority) {
        if any_primary && group.iter().all(is_backup) {
            continue;
        }
        if let Some(n) = selector.select_available(group, req) {
            return Some(n);
        }
    }
    selector.select(&nodes, req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::{DEFAULT_FAIL_TIMEOUT, from_metadata};
    use gost_core::{Address, BoxMatcher, Marker, Metadata, Network};

    struct HostEnds(&'static str);
    impl Matcher for HostEnds {
        async fn matches(&self, req: &SelectRequest) -> bool {
            req.host_name().is_some_and(|h| h.ends_with(self.0))
        }
    }

    fn node(name: &str, rule: Option<&'static str>, priority: i64) -> Arc<Node> {
        let mut n = Node::target(name, Address::parse("127.0.0.1:1").unwrap());
        n.matcher = rule.map(|r| BoxMatcher::new(HostEnds(r)));
        n.priority = priority;
        Arc::new(n)
    }

    fn hop(nodes: Vec<Arc<Node>>) -> NodeHop {
        let sel =
            from_metadata(&Metadata::new().with("strategy", "fifo"), DEFAULT_FAIL_TIMEOUT).unwrap();
        NodeHop::new("hop", nodes, Box::new(sel))
    }

    fn to(host: &str) -> SelectRequest {
        SelectRequest::new(Network::Tcp, Address::parse(&format!("{host}:80")).unwrap())
    }

    #[tokio::test]
    async fn the_most_specific_match_wins_and_fails_over_to_the_next() {
        let api = node("api", Some("api.example.com"), 15);
        let site = node("site", Some("example.com"), 11);
        let rest = node("rest", None, 0);
        let h = hop(vec![rest.clone(), site.clone(), api.clone()]);
        assert_eq!(h.select(to("api.example.com")).await.unwrap().name, "api");
        assert_eq!(h.select(to("www.example.com")).await.unwrap().name, "site");
        assert_eq!(h.select(to("other.test")).await.unwrap().name, "rest");
        // The specific node failed: the next priority takes it, then the catch-all.
        api.marker.mark();
        assert_eq!(h.select(to("api.example.com")).await.unwrap().name, "site");
        site.marker.mark();
        assert_eq!(h.select(to("api.example.com")).await.unwrap().name, "rest");
        // All failed: the last resort still gives one.
        rest.marker.mark();
        assert!(h.select(to("api.example.com")).await.is_some());
    }

    #[tokio::test]
    async fn unmatched_rules_exclude_and_equal_priorities_share() {
        let a = node("a", Some(".test"), -1);
        let b = node("b", Some(".test"), -1);
        let h = hop(vec![a, b]);
        assert!(h.select(to("example.com")).await.is_none());
        assert_eq!(h.select(to("x.test")).await.unwrap().name, "a");
    }
}
