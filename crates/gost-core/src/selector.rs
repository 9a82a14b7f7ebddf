//! Load balancing: a [`Selector`] runs [`Filter`]s then a [`Strategy`] over candidates (nodes,
//! hops or chains), and a fail [`Marker`] on each candidate feeds the filters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::addr::{Address, Network};

/// What a selection is for: the strategies and filters that care (hash, bypass, matchers) read it.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct SelectRequest {
    /// The network of the connection being routed.
    pub network: Network,
    /// The target the client asked for.
    pub target: Option<Address>,
    /// The client's address (the `hash` strategy keys on its IP by default).
    pub client_addr: Option<SocketAddr>,
    /// Application protocol, when known (`http`, `tls`, ...).
    pub protocol: Option<String>,
    /// Host name from a sniffed request (HTTP Host, TLS SNI).
    pub host: Option<String>,
    /// The HTTP request's method, when the handler read one.
    pub method: Option<String>,
    /// The HTTP request's path (without its query).
    pub path: Option<String>,
    /// The HTTP request's query string (without `?`), as sent.
    pub query: Option<String>,
    /// The HTTP request's header fields, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// A prefix of the HTTP request's body, for body rules (empty when none was read).
    pub body: std::sync::Arc<[u8]>,
}

impl SelectRequest {
    /// A request to reach `target` over `network`.
    pub fn new(network: Network, target: Address) -> Self {
        SelectRequest { network, target: Some(target), ..SelectRequest::default() }
    }

    /// A request for a connection over `network` whose target is not known yet (forwarding).
    pub fn for_network(network: Network) -> Self {
        SelectRequest { network, ..SelectRequest::default() }
    }

    /// Sets the client address.
    pub fn with_client_addr(mut self, client_addr: Option<SocketAddr>) -> Self {
        self.client_addr = client_addr;
        self
    }

    /// The host the request is for: the sniffed host if any, else the target's host.
    pub fn host_name(&self) -> Option<String> {
        match &self.host {
            Some(h) => Some(h.clone()),
            None => self.target.as_ref().map(Address::host),
        }
    }
}

/// Picks one of several candidates. Synchronous and cheap: called once per connection.
pub trait Strategy<T>: Send + Sync {
    /// Returns the chosen item, or `None` when `items` is empty.
    fn apply(&self, items: &[T], req: &SelectRequest) -> Option<T>;
}

/// Narrows the candidates before the strategy runs (e.g. drops nodes that failed recently).
pub trait Filter<T>: Send + Sync {
    /// Returns the items that stay candidates.
    fn filter(&self, items: Vec<T>, req: &SelectRequest) -> Vec<T>;
}

/// Filters then picks.
pub trait Selector<T>: Send + Sync {
    /// Returns the chosen item, or `None` when none is available.
    fn select(&self, items: &[T], req: &SelectRequest) -> Option<T>;

    /// Like [`Selector::select`], but `None` when the filters leave nothing, even if `select`
    /// would fall back to some item: a hop trying priority groups in turn asks this of each.
    fn select_available(&self, items: &[T], req: &SelectRequest) -> Option<T> {
        self.select(items, req)
    }
}

/// Counts failures of one candidate, for the fail filter (`maxFails`, `failTimeout`).
pub trait Marker: Send + Sync {
    /// Failures since the last success.
    fn fail_count(&self) -> u64;
    /// When the last failure happened, if any since the last reset.
    fn last_fail(&self) -> Option<SystemTime>;
    /// Records a failure.
    fn mark(&self);
    /// Records a success: the count goes back to zero.
    fn reset(&self);
}

/// Candidates that carry a fail [`Marker`].
pub trait Markable {
    /// The candidate's marker.
    fn marker(&self) -> &dyn Marker;
}

/// Shared candidates (`Arc<Node>`) are markable as what they share.
impl<T: Markable + ?Sized> Markable for std::sync::Arc<T> {
    fn marker(&self) -> &dyn Marker {
        (**self).marker()
    }
}

/// The standard lock-free [`Marker`].
#[derive(Debug, Default)]
pub struct FailMarker {
    count: AtomicU64,
    /// Milliseconds since the Unix epoch of the last failure; 0 = none.
    last_ms: AtomicU64,
}

impl FailMarker {
    /// A marker with no failures.
    pub fn new() -> Self {
        FailMarker::default()
    }
}

impl Marker for FailMarker {
    fn fail_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
    fn last_fail(&self) -> Option<SystemTime> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }
    fn mark(&self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1));
        self.last_ms.store(now, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_marker_counts_and_resets() {
        let m = FailMarker::new();
        assert_eq!(m.fail_count(), 0);
        assert!(m.last_fail().is_none());
        m.mark();
        m.mark();
        assert_eq!(m.fail_count(), 2);
        assert!(m.last_fail().is_some());
        m.reset();
        assert_eq!(m.fail_count(), 0);
    }
}
