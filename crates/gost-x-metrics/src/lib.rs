//! # gost-x-metrics
//!
//! gost's Prometheus metrics with its names and labels (`gost_services`,
//! `gost_service_requests_total`, `gost_service_transfer_input_bytes_total`,
//! `gost_chain_errors_total`, ...) plus the standard `process_*` metrics, rendered in the
//! Prometheus text format by [`Metrics::render`].
//!
//! Updates on the data path are atomic adds on counters looked up once per connection; the maps
//! of label values are locked only when a connection starts or a chain fails.

mod process;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_core::{Stats, StatsKind, StatsSnapshot};

/// gost's buckets for `gost_service_request_duration_seconds`.
const REQUEST_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0];

/// The entries of a series map, copied out so that rendering holds no lock while it writes.
fn snapshot<K: Clone, V: Clone>(map: &Mutex<BTreeMap<K, V>>) -> Vec<(K, V)> {
    let map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// gost's buckets for `gost_chain_node_connect_duration_seconds`.
const NODE_CONNECT_BUCKETS: [f64; 13] =
    [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0];

/// The per-client counters of one service: what a connection's byte counter and its
/// request/in-flight/error updates go to.
#[derive(Debug, Default)]
pub struct ClientSeries {
    requests: AtomicU64,
    in_flight: AtomicI64,
    input_bytes: AtomicU64,
    output_bytes: AtomicU64,
    errors: AtomicU64,
}

/// A connection's counters are a [`Stats`], so the service's byte-counting wrapper feeds them.
impl Stats for ClientSeries {
    fn add(&self, kind: StatsKind, n: i64) {
        match kind {
            StatsKind::TotalConns => {
                self.requests.fetch_add(n.unsigned_abs(), Ordering::Relaxed);
            }
            StatsKind::CurrentConns => {
                self.in_flight.fetch_add(n, Ordering::Relaxed);
            }
            StatsKind::InputBytes => {
                self.input_bytes.fetch_add(n.unsigned_abs(), Ordering::Relaxed);
            }
            StatsKind::OutputBytes => {
                self.output_bytes.fetch_add(n.unsigned_abs(), Ordering::Relaxed);
            }
            StatsKind::TotalErrs => {
                self.errors.fetch_add(n.unsigned_abs(), Ordering::Relaxed);
            }
        }
    }
    fn get(&self, kind: StatsKind) -> u64 {
        match kind {
            StatsKind::TotalConns => self.requests.load(Ordering::Relaxed),
            StatsKind::CurrentConns => self.in_flight.load(Ordering::Relaxed).max(0).unsigned_abs(),
            StatsKind::InputBytes => self.input_bytes.load(Ordering::Relaxed),
            StatsKind::OutputBytes => self.output_bytes.load(Ordering::Relaxed),
            StatsKind::TotalErrs => self.errors.load(Ordering::Relaxed),
        }
    }
    fn is_updated(&self) -> bool {
        true
    }
    fn snapshot(&self, _mark_seen: bool) -> StatsSnapshot {
        StatsSnapshot::read(self)
    }
    /// Prometheus counters never go back.
    fn reset(&self) {}
}

#[derive(Debug)]
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn new(n: usize) -> Self {
        Histogram {
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
        }
    }

    fn observe(&self, bounds: &[f64], d: Duration) {
        let secs = d.as_secs_f64();
        // Stored per bucket, made cumulative when rendered.
        if let Some(i) = bounds.iter().position(|b| secs <= *b)
            && let Some(b) = self.buckets.get(i)
        {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The `_bucket` (cumulative), `_sum` and `_count` lines of series `name{labels}`.
    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let mut cumulative = 0;
        for (bound, b) in bounds.iter().zip(&self.buckets) {
            cumulative += b.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = Duration::from_nanos(self.sum_nanos.load(Ordering::Relaxed)).as_secs_f64();
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// A probe's series: which probe wrote it, whether it passes, its latency.
type ProbeSeries = (usize, bool, Duration);

/// Every series of one process. Shared (`Arc`) by the services and routers that update it.
#[derive(Debug)]
pub struct Metrics {
    host: String,
    services: AtomicI64,
    clients: Mutex<BTreeMap<(String, String), Arc<ClientSeries>>>,
    durations: Mutex<BTreeMap<String, Arc<Histogram>>>,
    chain_errors: Mutex<BTreeMap<(String, String), Arc<AtomicU64>>>,
    node_connects: Mutex<BTreeMap<(String, String), Arc<Histogram>>>,
    /// (scope, target) → (up, latency) of each running health probe.
    probes: Mutex<BTreeMap<(String, String), ProbeSeries>>,
}

/// Counts one running accept loop in `gost_services` while it lives.
#[derive(Debug)]
pub struct ServiceGuard(Arc<Metrics>);

impl Drop for ServiceGuard {
    fn drop(&mut self) {
        self.0.services.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Empty series, labelled with this machine's host name (gost's `host` label).
    pub fn new() -> Arc<Self> {
        Metrics::with_host(process::hostname())
    }

    /// Empty series with the given `host` label.
    pub fn with_host(host: impl Into<String>) -> Arc<Self> {
        Arc::new(Metrics {
            host: host.into(),
            services: AtomicI64::new(0),
            clients: Mutex::new(BTreeMap::new()),
            durations: Mutex::new(BTreeMap::new()),
            chain_errors: Mutex::new(BTreeMap::new()),
            node_connects: Mutex::new(BTreeMap::new()),
            probes: Mutex::new(BTreeMap::new()),
        })
    }

    /// `gost_services` +1 until the guard is dropped.
    pub fn service_up(self: &Arc<Self>) -> ServiceGuard {
        self.services.fetch_add(1, Ordering::Relaxed);
        ServiceGuard(self.clone())
    }

    /// The counters of `client` (an IP address as text) on `service`; feed them to the
    /// connection's byte counter.
    pub fn client(&self, service: &str, client: &str) -> Arc<ClientSeries> {
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((service.to_owned(), client.to_owned())).or_default().clone()
    }

    /// One handled connection of `service` took `d` (`gost_service_request_duration_seconds`).
    pub fn observe_request(&self, service: &str, d: Duration) {
        let h = {
            let mut map = self.durations.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(service.to_owned())
                .or_insert_with(|| Arc::new(Histogram::new(REQUEST_BUCKETS.len())))
                .clone()
        };
        h.observe(&REQUEST_BUCKETS, d);
    }

    /// A connection through `chain` failed at `node` (`gost_chain_errors_total`).
    pub fn chain_error(&self, chain: &str, node: &str) {
        let mut map = self.chain_errors.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((chain.to_owned(), node.to_owned())).or_default().fetch_add(1, Ordering::Relaxed);
    }

    /// Reaching `node`, the first of a route through `chain`, took `d`
    /// (`gost_chain_node_connect_duration_seconds`).
    pub fn observe_node_connect(&self, chain: &str, node: &str, d: Duration) {
        let h = {
            let mut map = self.node_connects.lock().unwrap_or_else(|e| e.into_inner());
            map.entry((chain.to_owned(), node.to_owned()))
                .or_insert_with(|| Arc::new(Histogram::new(NODE_CONNECT_BUCKETS.len())))
                .clone()
        };
        h.observe(&NODE_CONNECT_BUCKETS, d);
    }

    /// The latest result of the health probe of `target` in `scope` (`gost_probe_up`,
    /// `gost_probe_latency_seconds`; not in gost).
    /// `owner` names the probe (so that a stopped one does not erase its replacement's series).
    pub fn probe(&self, scope: &str, target: &str, owner: usize, up: bool, latency: Duration) {
        let mut map = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        map.insert((scope.to_owned(), target.to_owned()), (owner, up, latency));
    }

    /// Drops the series of a probe that stopped (its hop or group was removed).
    pub fn forget_probe(&self, scope: &str, target: &str, owner: usize) {
        let mut map = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        let key = (scope.to_owned(), target.to_owned());
        if map.get(&key).is_some_and(|(o, _, _)| *o == owner) {
            map.remove(&key);
        }
    }

    /// Every series in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let host = escape(&self.host);
        family(&mut out, "gost_services", "gauge", "Current number of services");
        let _ = writeln!(
            out,
            "gost_services{{host=\"{host}\"}} {}",
            self.services.load(Ordering::Relaxed)
        );
        let clients = snapshot(&self.clients);
        let series: [(&str, &str, &str, StatsKind); 5] = [
            (
                "gost_service_requests_total",
                "counter",
                "Total number of requests",
                StatsKind::TotalConns,
            ),
            (
                "gost_service_requests_in_flight",
                "gauge",
                "Current in-flight requests",
                StatsKind::CurrentConns,
            ),
            (
                "gost_service_transfer_input_bytes_total",
                "counter",
                "Total service input data transfer size in bytes",
                StatsKind::InputBytes,
            ),
            (
                "gost_service_transfer_output_bytes_total",
                "counter",
                "Total service output data transfer size in bytes",
                StatsKind::OutputBytes,
            ),
            (
                "gost_service_handler_errors_total",
                "counter",
                "Total service handler errors",
                StatsKind::TotalErrs,
            ),
        ];
        for (name, kind, help, stat) in series {
            family(&mut out, name, kind, help);
            for ((service, client), s) in &clients {
                let _ = writeln!(
                    out,
                    "{name}{{client=\"{}\",host=\"{host}\",service=\"{}\"}} {}",
                    escape(client),
                    escape(service),
                    s.get(stat)
                );
            }
        }
        family(
            &mut out,
            "gost_service_request_duration_seconds",
            "histogram",
            "Distribution of request latencies",
        );
        let durations = snapshot(&self.durations);
        for (service, h) in &durations {
            let labels = format!("host=\"{host}\",service=\"{}\"", escape(service));
            h.render(&mut out, "gost_service_request_duration_seconds", &labels, &REQUEST_BUCKETS);
        }
        family(&mut out, "gost_chain_errors_total", "counter", "Total chain errors");
        for ((chain, node), n) in snapshot(&self.chain_errors) {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "gost_chain_errors_total{{chain=\"{}\",host=\"{host}\",node=\"{}\"}} {n}",
                escape(&chain),
                escape(&node)
            );
        }
        family(
            &mut out,
            "gost_chain_node_connect_duration_seconds",
            "histogram",
            "Distribution of chain node connect latencies",
        );
        let connects = snapshot(&self.node_connects);
        for ((chain, node), h) in &connects {
            let labels =
                format!("chain=\"{}\",host=\"{host}\",node=\"{}\"", escape(chain), escape(node));
            let name = "gost_chain_node_connect_duration_seconds";
            h.render(&mut out, name, &labels, &NODE_CONNECT_BUCKETS);
        }
        let probes = self.probes.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if !probes.is_empty() {
            family(
                &mut out,
                "gost_probe_up",
                "gauge",
                "Whether the health probe passes (1) or not",
            );
            for ((scope, target), (_, up, _)) in &probes {
                let _ = writeln!(
                    out,
                    "gost_probe_up{{host=\"{host}\",scope=\"{}\",target=\"{}\"}} {}",
                    escape(scope),
                    escape(target),
                    u8::from(*up)
                );
            }
            family(&mut out, "gost_probe_latency_seconds", "gauge", "Latency of the last probe");
            for ((scope, target), (_, _, latency)) in &probes {
                let _ = writeln!(
                    out,
                    "gost_probe_latency_seconds{{host=\"{host}\",scope=\"{}\",target=\"{}\"}} {}",
                    escape(scope),
                    escape(target),
                    latency.as_secs_f64()
                );
            }
        }
        process::render(&mut out);
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }

    #[test]
    fn series_move_and_render() {
        let m = Metrics::with_host("h\"1");
        let up = m.service_up();
        let c = m.client("service-0", "127.0.0.1");
        c.add(StatsKind::TotalConns, 1);
        c.add(StatsKind::CurrentConns, 1);
        c.add(StatsKind::InputBytes, 10);
        c.add(StatsKind::OutputBytes, 20);
        m.observe_request("service-0", Duration::from_millis(30));
        m.observe_request("service-0", Duration::from_secs(100));
        m.chain_error("chain-0", "node-0");
        let text = m.render();
        let labels = "{client=\"127.0.0.1\",host=\"h\\\"1\",service=\"service-0\"}";
        assert_eq!(value(&text, "gost_services{host=\"h\\\"1\"}"), Some(1.0));
        assert_eq!(value(&text, &format!("gost_service_requests_total{labels}")), Some(1.0));
        assert_eq!(value(&text, &format!("gost_service_requests_in_flight{labels}")), Some(1.0));
        assert_eq!(
            value(&text, &format!("gost_service_transfer_input_bytes_total{labels}")),
            Some(10.0)
        );
        assert_eq!(
            value(&text, &format!("gost_service_transfer_output_bytes_total{labels}")),
            Some(20.0)
        );
        let b =
            "gost_service_request_duration_seconds_bucket{host=\"h\\\"1\",service=\"service-0\",";
        assert_eq!(value(&text, &format!("{b}le=\"0.025\"}}")), Some(0.0));
        assert_eq!(value(&text, &format!("{b}le=\"0.05\"}}")), Some(1.0));
        assert_eq!(value(&text, &format!("{b}le=\"60\"}}")), Some(1.0));
        assert_eq!(value(&text, &format!("{b}le=\"+Inf\"}}")), Some(2.0));
        assert_eq!(
            value(
                &text,
                "gost_chain_errors_total{chain=\"chain-0\",host=\"h\\\"1\",node=\"node-0\"}"
            ),
            Some(1.0)
        );
        assert!(text.contains("# TYPE gost_service_request_duration_seconds histogram"));
        drop(up);
        m.observe_node_connect("chain-0", "node-0", Duration::from_millis(70));
        m.observe_node_connect("chain-0", "node-0", Duration::from_millis(1200));
        let text = m.render();
        let n = "gost_chain_node_connect_duration_seconds";
        let b = format!("{n}_bucket{{chain=\"chain-0\",host=\"h\\\"1\",node=\"node-0\",");
        assert_eq!(value(&text, &format!("{b}le=\"0.05\"}}")), Some(0.0));
        assert_eq!(value(&text, &format!("{b}le=\"0.1\"}}")), Some(1.0));
        assert_eq!(value(&text, &format!("{b}le=\"1.5\"}}")), Some(2.0));
        assert_eq!(value(&text, &format!("{b}le=\"+Inf\"}}")), Some(2.0));
        assert!(text.contains(&format!("# TYPE {n} histogram")));
        c.add(StatsKind::CurrentConns, -1);
        let text = m.render();
        assert_eq!(value(&text, "gost_services{host=\"h\\\"1\"}"), Some(0.0));
        assert_eq!(value(&text, &format!("gost_service_requests_in_flight{labels}")), Some(0.0));
        if cfg!(target_os = "linux") {
            assert!(value(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
            assert!(value(&text, "process_open_fds").is_some_and(|v| v > 0.0));
        }
    }
}
