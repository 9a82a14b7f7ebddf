//! gost 3.3's groups: a service's `chainGroup` (several chains, one chosen per connection) and a
//! forwarder's `hopGroup` (several hops, one chosen per connection). Each entry may carry a
//! matcher rule (it takes only what it matches) and a health probe (a failing entry is skipped
//! until a probe passes again); a selector (`round` by default, with the fail filter) chooses
//! among the entries left.
//!
//! As in gost, a chain group where no entry matches gives an empty route: the connection goes
//! out directly. When every matching entry has failed, the selector still picks one (gost would
//! go direct: see docs/compat-go.md).

use std::sync::Arc;

use gost_core::{
    BoxChainer, BoxConn, BoxFuture, BoxHop, BoxMatcher, Chainer, DialOptions, Error, FailMarker,
    Hop, Markable, Marker, Matcher, Network, Node, ProbeRecord, ProbeResult, Result, Route,
    SelectRequest, Selector,
};

use crate::probe::{ProbeTarget, Probes, reach_node};
use crate::selector::{Candidate, DefaultSelector};

/// One chain or hop of a group.
pub struct GroupEntry<T> {
    name: String,
    item: T,
    matcher: Option<BoxMatcher>,
    /// How much of a request body the matcher reads.
    body_size: usize,
    marker: FailMarker,
    probe: ProbeRecord,
}

impl<T> GroupEntry<T> {
    /// The entry for `item` (named `name`, for logs), taking what `matcher` matches (all
    /// without one).
    pub fn new(name: impl Into<String>, item: T, matcher: Option<BoxMatcher>) -> Arc<Self> {
        GroupEntry::with_body_size(name, item, matcher, 0)
    }

    /// [`GroupEntry::new`] for a matcher that reads `body_size` bytes of a request body.
    pub fn with_body_size(
        name: impl Into<String>,
        item: T,
        matcher: Option<BoxMatcher>,
        body_size: usize,
    ) -> Arc<Self> {
        Arc::new(GroupEntry {
            name: name.into(),
            item,
            matcher,
            body_size,
            marker: FailMarker::new(),
            probe: ProbeRecord::new(),
        })
    }

    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> Markable for GroupEntry<T> {
    fn marker(&self) -> &dyn Marker {
        &self.marker
    }
}

impl<T> Candidate for Arc<GroupEntry<T>> {
    fn probe_result(&self) -> Option<ProbeResult> {
        self.probe.get()
    }
}

/// The entries whose matcher (if any) admits `req`.
async fn admitted<T>(
    entries: &[Arc<GroupEntry<T>>],
    req: &SelectRequest,
) -> Vec<Arc<GroupEntry<T>>> {
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        if let Some(m) = &e.matcher
            && !m.matches(req).await
        {
            continue;
        }
        out.push(e.clone());
    }
    out
}

/// `chainGroup`: chooses a chain per connection.
pub struct ChainGroup {
    entries: Vec<Arc<GroupEntry<BoxChainer>>>,
    selector: DefaultSelector<Arc<GroupEntry<BoxChainer>>>,
    _probes: Probes,
}

impl ChainGroup {
    /// A group of `entries` chosen among by `selector`, its entries' `probes` running while it
    /// lives.
    pub fn new(
        entries: Vec<Arc<GroupEntry<BoxChainer>>>,
        selector: DefaultSelector<Arc<GroupEntry<BoxChainer>>>,
        probes: Probes,
    ) -> Self {
        ChainGroup { entries, selector, _probes: probes }
    }
}

impl Chainer for ChainGroup {
    async fn route(&self, req: SelectRequest) -> Result<Route> {
        let eligible = admitted(&self.entries, &req).await;
        let Some(entry) = self.selector.select(&eligible, &req) else {
            tracing::debug!(host = ?req.host_name(), "chain group: no chain matches, direct");
            return Ok(Route::default());
        };
        tracing::debug!(chain = %entry.name, "chain group: chain selected");
        entry.item.route(req).await
    }
}

/// A chain entry's probe: through the chain to the probe's `addr`.
pub struct ChainProbe(pub Arc<GroupEntry<BoxChainer>>);

impl ProbeTarget for ChainProbe {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn record(&self) -> &ProbeRecord {
        &self.0.probe
    }
    fn marker(&self) -> &dyn Marker {
        &self.0.marker
    }
    fn reach<'a>(&'a self, addr: Option<&'a str>) -> BoxFuture<'a, Result<BoxConn>> {
        Box::pin(async move {
            let addr = addr.ok_or_else(|| Error::config("a chain's probe needs an addr"))?;
            let target = gost_core::Address::parse(addr)?;
            let route = self.0.item.route(SelectRequest::new(Network::Tcp, target.clone())).await?;
            if route.is_empty() {
                // The chain ends before its first hop (bypassed): reach the target directly.
                return crate::probe::reach_tcp(&target, crate::probe::DEFAULT_TIMEOUT).await;
            }
            route.dial(Network::Tcp, target, DialOptions::default()).await
        })
    }
}

/// `hopGroup`: chooses a hop per connection, then the hop chooses its node.
pub struct HopGroup {
    entries: Vec<Arc<GroupEntry<BoxHop>>>,
    selector: DefaultSelector<Arc<GroupEntry<BoxHop>>>,
    _probes: Probes,
}

impl HopGroup {
    /// A group of `entries` chosen among by `selector`, its entries' `probes` running while it
    /// lives.
    pub fn new(
        entries: Vec<Arc<GroupEntry<BoxHop>>>,
        selector: DefaultSelector<Arc<GroupEntry<BoxHop>>>,
        probes: Probes,
    ) -> Self {
        HopGroup { entries, selector, _probes: probes }
    }
}

impl Hop for HopGroup {
    async fn select(&self, req: SelectRequest) -> Option<Arc<Node>> {
        let eligible = admitted(&self.entries, &req).await;
        let entry = match eligible.as_slice() {
            [] => return None,
            [only] => only.clone(),
            _ => self.selector.select(&eligible, &req)?,
        };
        tracing::debug!(hop = %entry.name, "hop group: hop selected");
        entry.item.select(req).await
    }

    fn nodes(&self) -> Vec<Arc<Node>> {
        self.entries.iter().flat_map(|e| e.item.nodes()).collect()
    }

    fn body_size(&self) -> usize {
        self.entries.iter().map(|e| e.body_size.max(e.item.body_size())).max().unwrap_or(0)
    }
}

/// A hop entry's probe: a node the hop selects, reached itself.
pub struct HopProbe(pub Arc<GroupEntry<BoxHop>>);

impl ProbeTarget for HopProbe {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn record(&self) -> &ProbeRecord {
        &self.0.probe
    }
    fn marker(&self) -> &dyn Marker {
        &self.0.marker
    }
    fn reach<'a>(&'a self, _addr: Option<&'a str>) -> BoxFuture<'a, Result<BoxConn>> {
        Box::pin(async move {
            let node =
                self.0.item.select(SelectRequest::default()).await.ok_or_else(|| {
                    Error::new(gost_core::ErrorKind::NoRoute, "no node available")
                })?;
            reach_node(&node).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::from_metadata;
    use crate::{Chain, NodeHop, selector::DEFAULT_FAIL_TIMEOUT};
    use gost_core::{Address, Metadata};

    /// A transport never used (routes are only built here).
    struct Never;
    impl gost_core::Dialer for Never {
        async fn dial(&self, _: Address, _: DialOptions) -> Result<BoxConn> {
            Err(Error::config("not in this test"))
        }
    }
    impl gost_core::Connector for Never {
        async fn connect(
            &self,
            _: BoxConn,
            _: Network,
            _: Address,
            _: gost_core::ConnectOptions,
        ) -> Result<BoxConn> {
            Err(Error::config("not in this test"))
        }
    }

    struct HostIs(&'static str);
    impl Matcher for HostIs {
        async fn matches(&self, req: &SelectRequest) -> bool {
            req.host_name().as_deref() == Some(self.0)
        }
    }

    fn hop(name: &str, addr: &str) -> BoxHop {
        let node = Arc::new(Node::target(format!("{name}-node"), Address::parse(addr).unwrap()));
        let sel = from_metadata(&Metadata::new(), DEFAULT_FAIL_TIMEOUT).unwrap();
        BoxHop::new(NodeHop::new(name, vec![node], Box::new(sel)))
    }

    fn req(host: &str) -> SelectRequest {
        SelectRequest::new(Network::Tcp, Address::parse(&format!("{host}:443")).unwrap())
    }

    #[tokio::test]
    async fn hop_group_routes_by_matcher_and_skips_failed_entries() {
        let a =
            GroupEntry::new("a", hop("a", "127.0.0.1:1"), Some(BoxMatcher::new(HostIs("a.test"))));
        let b = GroupEntry::new("b", hop("b", "127.0.0.1:2"), None);
        let c = GroupEntry::new("c", hop("c", "127.0.0.1:3"), None);
        let sel =
            from_metadata(&Metadata::new().with("strategy", "fifo"), DEFAULT_FAIL_TIMEOUT).unwrap();
        let g = HopGroup::new(vec![a.clone(), b.clone(), c.clone()], sel, Probes::default());
        assert_eq!(g.select(req("a.test")).await.unwrap().name, "a-node");
        assert_eq!(g.select(req("x.test")).await.unwrap().name, "b-node");
        // b's probe failed: c takes over until b passes again.
        let failed = ProbeResult {
            success: false,
            latency: Default::default(),
            error: None,
            at: std::time::SystemTime::now(),
        };
        b.probe.set(failed.clone());
        assert_eq!(g.select(req("x.test")).await.unwrap().name, "c-node");
        b.probe.set(ProbeResult { success: true, ..failed });
        assert_eq!(g.select(req("x.test")).await.unwrap().name, "b-node");
        assert_eq!(g.nodes().len(), 3);
    }

    #[tokio::test]
    async fn chain_group_without_a_match_goes_direct() {
        let node = |n: &str| {
            let t = gost_core::Transport::new(
                gost_core::BoxDialer::new(Never),
                gost_core::BoxConnector::new(Never),
            );
            Arc::new(Node::new(n, Address::parse("127.0.0.1:1").unwrap(), t))
        };
        let chain = |n: &str| {
            let sel = from_metadata(&Metadata::new(), DEFAULT_FAIL_TIMEOUT).unwrap();
            let hop = BoxHop::new(NodeHop::new("hop", vec![node(n)], Box::new(sel)));
            BoxChainer::new(Chain::new(n, vec![("hop".into(), hop)]))
        };
        let entries = vec![
            GroupEntry::new(
                "corp",
                chain("corp-node"),
                Some(BoxMatcher::new(HostIs("intra.test"))),
            ),
            GroupEntry::new("web", chain("web-node"), Some(BoxMatcher::new(HostIs("web.test")))),
        ];
        let g = ChainGroup::new(
            entries,
            from_metadata(&Metadata::new(), DEFAULT_FAIL_TIMEOUT).unwrap(),
            Probes::default(),
        );
        assert_eq!(g.route(req("intra.test")).await.unwrap().nodes()[0].name, "corp-node");
        assert_eq!(g.route(req("web.test")).await.unwrap().nodes()[0].name, "web-node");
        assert!(g.route(req("other.test")).await.unwrap().is_empty());
    }
}
