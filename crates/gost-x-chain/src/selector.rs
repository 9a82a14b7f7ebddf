//! Selection strategies (`round`, `rand`, `fifo`, `hash`, `lowest`, and `parallel` for nodes),
//! the fail, backup and latency filters, generic over what they select, as in gost.

use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use gost_core::{
    Error, Filter, Markable, Metadata, Node, ProbeResult, Result, SelectRequest, Selector, Strategy,
};

/// What the strategies and filters know about a candidate beyond its fail marker. Nodes read it
/// from their metadata (`weight`, `backup`, `maxFails`, `failTimeout`); anything else can use the
/// defaults.
pub trait Candidate: Markable {
    /// Relative share for weighted strategies (`weight`, at least 1).
    fn weight(&self) -> u64 {
        1
    }
    /// A backup is used only when no primary is available (`backup: true`).
    fn is_backup(&self) -> bool {
        false
    }
    /// The candidate's own `maxFails`, overriding the selector's.
    fn max_fails(&self) -> Option<u64> {
        None
    }
    /// The candidate's own `failTimeout`, overriding the selector's.
    fn fail_timeout(&self) -> Option<Duration> {
        None
    }
    /// The latest result of the candidate's health probe; `None` when it has none.
    fn probe_result(&self) -> Option<ProbeResult> {
        None
    }
}

impl Candidate for Arc<Node> {
    fn weight(&self) -> u64 {
        self.metadata.get_int(&["weight"]).ok().flatten().map_or(1, |w| w.max(1) as u64)
    }
    fn is_backup(&self) -> bool {
        self.metadata.get_bool(&["backup"]).ok().flatten().unwrap_or(false)
    }
    fn max_fails(&self) -> Option<u64> {
        self.metadata.get_int(&["maxFails", "max_fails"]).ok().flatten().map(|n| n.max(0) as u64)
    }
    fn fail_timeout(&self) -> Option<Duration> {
        self.metadata.get_duration(&["failTimeout", "fail_timeout"]).ok().flatten()
    }
    fn probe_result(&self) -> Option<ProbeResult> {
        self.probe.get()
    }
}

/// gost's default number of failures before a candidate is skipped.
pub const DEFAULT_MAX_FAILS: u64 = 1;
/// gost's default time a failed candidate is skipped (the code default; the CLI sets 30 s).
pub const DEFAULT_FAIL_TIMEOUT: Duration = Duration::from_secs(10);

/// `round`: each call takes the next candidate.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl<T: Clone> Strategy<T> for RoundRobin {
    fn apply(&self, items: &[T], _req: &SelectRequest) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        items.get(i % items.len()).cloned()
    }
}

/// `rand`: a random candidate, weighted by each one's `weight` (xorshift; good enough to spread
/// load, not for secrets).
#[derive(Debug)]
pub struct Random {
    state: AtomicU64,
}

impl Default for Random {
    fn default() -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
        Random { state: AtomicU64::new(seed | 1) }
    }
}

impl<T: Candidate + Clone> Strategy<T> for Random {
    fn apply(&self, items: &[T], _req: &SelectRequest) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::Relaxed);
        let total: u64 = items.iter().map(Candidate::weight).sum();
        let mut pick = x % total.max(1);
        for item in items {
            let w = item.weight();
            if pick < w {
                return Some(item.clone());
            }
            pick -= w;
        }
        items.last().cloned()
    }
}

/// `fifo`: always the first candidate still available (failover in configured order).
#[derive(Debug, Default)]
pub struct Fifo;

impl<T: Clone> Strategy<T> for Fifo {
    fn apply(&self, items: &[T], _req: &SelectRequest) -> Option<T> {
        items.first().cloned()
    }
}

/// `hash`: the same key always picks the same candidate. The key is the client IP, or the target
/// host with `hash=host`.
#[derive(Debug, Default)]
pub struct Hash {
    by_host: bool,
}

impl Hash {
    /// Keys on the target host instead of the client IP.
    pub fn by_host() -> Self {
        Hash { by_host: true }
    }
}

impl<T: Clone> Strategy<T> for Hash {
    fn apply(&self, items: &[T], req: &SelectRequest) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let mut h = Fnv1a::default();
        if self.by_host {
            let host = req.host.clone().or_else(|| req.target.as_ref().map(|t| t.host()));
            h.write(host.unwrap_or_default().as_bytes());
        } else {
            match req.client_addr.map(|a| a.ip()) {
                Some(IpAddr::V4(ip)) => h.write(&ip.octets()),
                Some(IpAddr::V6(ip)) => h.write(&ip.octets()),
                None => {}
            }
        }
        items.get((h.finish() % items.len() as u64) as usize).cloned()
    }
}

/// FNV-1a: stable across runs and processes, unlike std's randomly keyed hasher.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Skips candidates that failed `max_fails` times in a row, until `fail_timeout` has passed since
/// their last failure, and candidates whose latest health probe failed, until a probe passes.
/// `max_fails = 0` disables the count (not the probe).
#[derive(Debug, Clone, Copy)]
pub struct FailFilter {
    /// Failures before a candidate is skipped.
    pub max_fails: u64,
    /// How long a failed candidate is skipped.
    pub fail_timeout: Duration,
}

impl Default for FailFilter {
    fn default() -> Self {
        FailFilter { max_fails: DEFAULT_MAX_FAILS, fail_timeout: DEFAULT_FAIL_TIMEOUT }
    }
}

impl<T: Candidate> Filter<T> for FailFilter {
    fn filter(&self, items: Vec<T>, _req: &SelectRequest) -> Vec<T> {
        // A lone candidate is never filtered out (as in gost): there is nothing to fail over to.
        if items.len() <= 1 {
            return items;
        }
        let now = SystemTime::now();
        items.into_iter().filter(|item| self.admits_at(item, now)).collect()
    }
}

impl FailFilter {
    /// Whether `item` is available now (the lone-candidate exemption aside).
    pub fn admits<T: Candidate>(&self, item: &T) -> bool {
        self.admits_at(item, SystemTime::now())
    }

    fn admits_at<T: Candidate>(&self, item: &T, now: SystemTime) -> bool {
        let max_fails = item.max_fails().unwrap_or(self.max_fails);
        let fail_timeout = item.fail_timeout().unwrap_or(self.fail_timeout);
        if item.probe_result().is_some_and(|p| !p.success) {
            return false;
        }
        let m = item.marker();
        max_fails == 0
            || m.fail_count() < max_fails
            || m.last_fail()
                .is_none_or(|t| now.duration_since(t).unwrap_or_default() >= fail_timeout)
    }
}

/// `maxLatency`: skips probed candidates whose latest probe failed or took longer than
/// `max_latency` (candidates never probed stay). A lone candidate stays.
#[derive(Debug, Clone, Copy)]
pub struct LatencyFilter {
    /// The slowest probe latency still accepted.
    pub max_latency: Duration,
}

impl<T: Candidate> Filter<T> for LatencyFilter {
    fn filter(&self, items: Vec<T>, _req: &SelectRequest) -> Vec<T> {
        if items.len() <= 1 || self.max_latency.is_zero() {
            return items;
        }
        items
            .into_iter()
            .filter(|i| i.probe_result().is_none_or(|p| p.success && p.latency <= self.max_latency))
            .collect()
    }
}

/// `lowest` (`lowestlatency`, `ll`): the candidate whose latest probe passed fastest; without
/// any passed probe, the first candidate (never probed, or failed), as gost.
#[derive(Debug, Default)]
pub struct LowestLatency;

impl<T: Candidate + Clone> Strategy<T> for LowestLatency {
    fn apply(&self, items: &[T], _req: &SelectRequest) -> Option<T> {
        items
            .iter()
            .filter_map(|i| i.probe_result().filter(|p| p.success).map(|p| (p.latency, i)))
            .min_by_key(|(latency, _)| *latency)
            .map(|(_, i)| i)
            .or_else(|| items.first())
            .cloned()
    }
}

/// Keeps backup candidates out while any primary is left.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackupFilter;

impl<T: Candidate> Filter<T> for BackupFilter {
    fn filter(&self, items: Vec<T>, _req: &SelectRequest) -> Vec<T> {
        if items.iter().all(Candidate::is_backup) {
            return items;
        }
        items.into_iter().filter(|i| !i.is_backup()).collect()
    }
}

/// Whether a lone candidate is available.
type LoneCheck<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

/// A strategy after a list of filters. When the filters leave nothing (every node failed
/// recently), [`Selector::select`] lets the strategy pick among all candidates as a last resort
/// (gost gives no node then: see docs/compat-go.md); [`Selector::select_available`] does not.
pub struct DefaultSelector<T> {
    strategy: Box<dyn Strategy<T>>,
    filters: Vec<Box<dyn Filter<T>>>,
    /// Checks a lone item in [`Selector::select_available`], which the fail filter lets through.
    lone: Option<LoneCheck<T>>,
}

impl<T> DefaultSelector<T> {
    /// A selector running `filters` in order, then `strategy`.
    pub fn new(strategy: Box<dyn Strategy<T>>, filters: Vec<Box<dyn Filter<T>>>) -> Self {
        DefaultSelector { strategy, filters, lone: None }
    }
}

impl<T: Clone + Send + Sync> Selector<T> for DefaultSelector<T> {
    fn select(&self, items: &[T], req: &SelectRequest) -> Option<T> {
        let mut candidates = items.to_vec();
        for f in &self.filters {
            candidates = f.filter(candidates, req);
        }
        if candidates.is_empty() {
            return self.strategy.apply(items, req);
        }
        self.strategy.apply(&candidates, req)
    }

    fn select_available(&self, items: &[T], req: &SelectRequest) -> Option<T> {
        if let ([only], Some(lone)) = (items, &self.lone)
            && !lone(only)
        {
            return None;
        }
        let mut candidates = items.to_vec();
        for f in &self.filters {
            candidates = f.filter(candidates, req);
        }
        self.strategy.apply(&candidates, req)
    }
}

/// Builds the selector gost configures from `strategy`, `maxFails`/`max_fails` and
/// `failTimeout`/`fail_timeout` (metadata of a hop or forwarder), with the given defaults: the
/// fail filter, then the backup filter, then the strategy (and, when every candidate failed, the
/// strategy over all of them as a last resort).
pub fn from_metadata<T: Candidate + Clone + Send + Sync + 'static>(
    md: &Metadata,
    default_fail_timeout: Duration,
) -> Result<DefaultSelector<T>> {
    let strategy: Box<dyn Strategy<T>> =
        match md.get_string(&["strategy"])?.as_deref().unwrap_or("round") {
            "round" | "rr" | "" => Box::new(RoundRobin::default()),
            "rand" | "random" => Box::new(Random::default()),
            "fifo" | "ha" => Box::new(Fifo),
            "hash" => match md.get_string(&["hash"])?.as_deref() {
                Some("host") => Box::new(Hash::by_host()),
                _ => Box::new(Hash::default()),
            },
            "lowestlatency" | "lowest" | "ll" => Box::new(LowestLatency),
            "parallel" => {
                return Err(Error::config(
                    "strategy \"parallel\" races the nodes of a chain's hop; it cannot choose \
                     among forward targets, chains or hops",
                ));
            }
            other => {
                return Err(Error::config(format!(
                    "unknown selector strategy {other:?} (expected round, rand, fifo, hash, \
                     lowest or parallel)"
                )));
            }
        };
    from_parts(strategy, md, default_fail_timeout)
}

/// [`from_metadata`] for the nodes of a chain's hop, which may also race: `parallel`.
pub fn for_nodes(
    md: &Metadata,
    default_fail_timeout: Duration,
) -> Result<DefaultSelector<Arc<Node>>> {
    if md.get_string(&["strategy"])?.as_deref() == Some("parallel") {
        return from_parts(Box::new(crate::parallel::Parallel), md, default_fail_timeout);
    }
    from_metadata(md, default_fail_timeout)
}

fn from_parts<T: Candidate + Clone + Send + Sync + 'static>(
    strategy: Box<dyn Strategy<T>>,
    md: &Metadata,
    default_fail_timeout: Duration,
) -> Result<DefaultSelector<T>> {
    let max_fails =
        md.get_int(&["maxFails", "max_fails"])?.map_or(DEFAULT_MAX_FAILS, |n| n.max(0) as u64);
    let fail_timeout =
        md.get_duration(&["failTimeout", "fail_timeout"])?.unwrap_or(default_fail_timeout);
    let fail = FailFilter { max_fails, fail_timeout };
    let mut filters: Vec<Box<dyn Filter<T>>> = vec![Box::new(fail), Box::new(BackupFilter)];
    if let Some(max_latency) = md.get_duration(&["maxLatency", "max_latency"])?
        && !max_latency.is_zero()
    {
        filters.push(Box::new(LatencyFilter { max_latency }));
    }
    let mut sel = DefaultSelector::new(strategy, filters);
    sel.lone = Some(Box::new(move |item: &T| fail.admits(item)));
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{FailMarker, Marker};

    #[derive(Clone)]
    struct Item(u32, Arc<FailMarker>);
    impl Markable for Item {
        fn marker(&self) -> &dyn Marker {
            &*self.1
        }
    }
    impl Candidate for Item {
        // Item 9 is a backup; item 7 weighs 3.
        fn is_backup(&self) -> bool {
            self.0 == 9
        }
        fn weight(&self) -> u64 {
            if self.0 == 7 { 3 } else { 1 }
        }
    }

    #[test]
    fn backups_only_when_no_primary_is_left() {
        let mut it = items(2);
        it.push(Item(9, Arc::new(FailMarker::new())));
        let sel = from_metadata::<Item>(
            &Metadata::new().with("strategy", "fifo"),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(sel.select(&it[1..], &SelectRequest::default()).unwrap().0, 1);
        it[0].1.mark();
        it[1].1.mark();
        assert_eq!(sel.select(&it, &SelectRequest::default()).unwrap().0, 9);
    }

    #[test]
    fn random_is_weighted() {
        let it = vec![Item(1, Arc::new(FailMarker::new())), Item(7, Arc::new(FailMarker::new()))];
        let s = Random::default();
        let sevens =
            (0..4000).filter(|_| s.apply(&it, &SelectRequest::default()).unwrap().0 == 7).count();
        assert!(
            (2700..3300).contains(&sevens),
            "weight 3 of 4 should get ~3000 of 4000, got {sevens}"
        );
    }
    fn items(n: u32) -> Vec<Item> {
        (0..n).map(|i| Item(i, Arc::new(FailMarker::new()))).collect()
    }

    #[test]
    fn round_robin_cycles_evenly() {
        let s = RoundRobin::default();
        let it = items(3);
        let mut counts = [0; 3];
        for _ in 0..30 {
            counts[s.apply(&it, &SelectRequest::default()).unwrap().0 as usize] += 1;
        }
        assert_eq!(counts, [10, 10, 10]);
        assert!(Strategy::<Item>::apply(&s, &[], &SelectRequest::default()).is_none());
    }

    #[test]
    fn hash_is_stable_per_client() {
        let s = Hash::default();
        let it = items(5);
        let req = SelectRequest::default().with_client_addr(Some("10.1.2.3:5555".parse().unwrap()));
        let first = s.apply(&it, &req).unwrap().0;
        for port in 1..50u16 {
            let req = SelectRequest::default()
                .with_client_addr(Some(std::net::SocketAddr::from(([10, 1, 2, 3], port))));
            assert_eq!(s.apply(&it, &req).unwrap().0, first);
        }
    }

    #[test]
    fn random_stays_in_range() {
        let s = Random::default();
        let it = items(4);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[s.apply(&it, &SelectRequest::default()).unwrap().0 as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn fail_filter_skips_failed_until_timeout() {
        let it = items(3);
        it[0].1.mark();
        let f = FailFilter { max_fails: 1, fail_timeout: Duration::from_secs(60) };
        let left: Vec<u32> =
            f.filter(it.clone(), &SelectRequest::default()).iter().map(|i| i.0).collect();
        assert_eq!(left, [1, 2]);
        // A lone candidate stays, failed or not.
        assert_eq!(f.filter(vec![it[0].clone()], &SelectRequest::default()).len(), 1);
        let expired = FailFilter { max_fails: 1, fail_timeout: Duration::ZERO };
        assert_eq!(expired.filter(it.clone(), &SelectRequest::default()).len(), 3);
        let sel = DefaultSelector::new(Box::new(Fifo), vec![Box::new(f)]);
        assert_eq!(sel.select(&it, &SelectRequest::default()).unwrap().0, 1);
        // Every candidate failed: the strategy still picks one, as a last resort.
        it[1].1.mark();
        it[2].1.mark();
        assert_eq!(sel.select(&it, &SelectRequest::default()).unwrap().0, 0);
    }

    #[test]
    fn selector_from_metadata() {
        let md = Metadata::new().with("strategy", "fifo").with("maxFails", "2");
        let sel = from_metadata::<Item>(&md, DEFAULT_FAIL_TIMEOUT).unwrap();
        let it = items(2);
        it[0].1.mark();
        assert_eq!(sel.select(&it, &SelectRequest::default()).unwrap().0, 0);
        it[0].1.mark();
        assert_eq!(sel.select(&it, &SelectRequest::default()).unwrap().0, 1);
        let bad = Metadata::new().with("strategy", "best");
        assert!(from_metadata::<Item>(&bad, DEFAULT_FAIL_TIMEOUT).is_err());
    }
}
