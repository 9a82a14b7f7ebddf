//! Health probes (gost 3.3 `probe:`): a task per probed node, chain-group entry or hop-group
//! entry checks it every `interval` (the first time at once), and its result marks or resets the
//! fail marker and is kept as the latest [`ProbeResult`], so that a failing node is skipped
//! before a client meets it and comes back when a probe passes again.
//!
//! * `tcp`: the node is reached (its dialer and handshake; a forward target is connected to).
//! * `http`: reached as `tcp`, then `GET httpPath` (`/`) with `Host: httpHost` (else `addr`), the
//!   `httpHeaders`, and the answer's status must be `expectedStatus` (200).
//! * `cmd`: `sh -c command` must exit 0 within the timeout; a command still running then is
//!   killed with its whole process group.
//!
//! A chain-group entry is probed by connecting through the chain to `addr`; a hop-group entry by
//! reaching a node of the hop. `timeout` (10 s) bounds each attempt, `interval` (30 s) spaces
//! them; `failureThreshold`/`successThreshold` (1, an extension) are how many results in a row
//! flip the state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use gost_core::io::{read_decoded, write_all};
use gost_core::{
    Address, BoxConn, BoxFuture, Error, ErrorKind, Marker, ProbeRecord, ProbeResult, Result,
};
use gost_x_metrics::Metrics;
use tokio::task::JoinHandle;

/// gost's default interval between probes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// gost's default bound of one probe.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an HTTP probe's answer head that is read.
const MAX_HEAD: usize = gost_proto::http::MAX_HEAD;

/// What a probe does.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    /// Reach the node.
    Tcp,
    /// Reach the node, then ask it over HTTP.
    Http {
        /// `httpPath`.
        path: String,
        /// `httpHost`, else the probe's `addr`.
        host: Option<String>,
        /// `httpHeaders`.
        headers: BTreeMap<String, String>,
        /// `expectedStatus`.
        expected_status: u16,
    },
    /// Run a shell command.
    Cmd {
        /// `command`, run by `sh -c`.
        command: String,
    },
}

/// A `probe:` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeConfig {
    /// What the probe does.
    pub kind: ProbeKind,
    /// `addr`: where a chain-group probe connects to; for a node, only the `Host` default.
    pub addr: Option<String>,
    /// Time between probes.
    pub interval: Duration,
    /// Bound of one probe.
    pub timeout: Duration,
    /// Failed probes in a row before the target is down.
    pub failure_threshold: u32,
    /// Passed probes in a row before a down target is up.
    pub success_threshold: u32,
}

impl ProbeConfig {
    /// A probe of `kind` with gost's defaults.
    pub fn new(kind: ProbeKind) -> Self {
        ProbeConfig {
            kind,
            addr: None,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            failure_threshold: 1,
            success_threshold: 1,
        }
    }
}

/// What is probed: how to reach it, and where its results go.
pub trait ProbeTarget: Send + Sync + 'static {
    /// For logs and metrics.
    fn name(&self) -> &str;
    /// Its latest result.
    fn record(&self) -> &ProbeRecord;
    /// Its fail marker.
    fn marker(&self) -> &dyn Marker;
    /// A connection to probe over (`tcp`/`http`). `addr` is the probe's `addr`.
    fn reach<'a>(&'a self, addr: Option<&'a str>) -> BoxFuture<'a, Result<BoxConn>>;
}

/// Where a probe's results are published besides its target.
#[derive(Clone, Default)]
pub struct ProbeReport {
    /// Prometheus series, when metrics are on.
    pub metrics: Option<Arc<Metrics>>,
    /// The board the Web API reads.
    pub board: Option<ProbeBoard>,
    /// The scope the target belongs to (`chain-0/hop-0`, `service-0/forwarder`).
    pub scope: String,
}

/// The latest result of every running probe, by (scope, target), for the Web API.
#[derive(Clone, Default, Debug)]
pub struct ProbeBoard(Arc<std::sync::Mutex<BoardMap>>);

/// (scope, target) → (the probe that wrote it, its latest result).
type BoardMap = BTreeMap<(String, String), (usize, ProbeResult)>;

impl ProbeBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, BoardMap> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the latest result of `target` in `scope`, from the probe `owner`.
    pub fn set(&self, scope: &str, target: &str, owner: usize, result: ProbeResult) {
        self.lock().insert((scope.to_owned(), target.to_owned()), (owner, result));
    }

    /// The latest result of `target` in `scope`.
    pub fn get(&self, scope: &str, target: &str) -> Option<ProbeResult> {
        self.lock().get(&(scope.to_owned(), target.to_owned())).map(|(_, r)| r.clone())
    }

    /// Forgets a probe that stopped, unless another (its replacement) wrote since.
    pub fn forget(&self, scope: &str, target: &str, owner: usize) {
        let key = (scope.to_owned(), target.to_owned());
        let mut map = self.lock();
        if map.get(&key).is_some_and(|(o, _)| *o == owner) {
            map.remove(&key);
        }
    }
}

/// Running probe tasks; dropping it stops them (a hop or group that is replaced or deleted takes
/// its probes with it).
#[derive(Default)]
pub struct Probes(Vec<(JoinHandle<()>, ProbeReport, String, usize)>);

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Probes").field(&self.0.len()).finish()
    }
}

impl Probes {
    /// Starts probing `target` (on the current tokio runtime).
    /// Starts probing `target` on the current tokio runtime; outside one (checking a
    /// configuration) nothing starts.
    pub fn start<T: ProbeTarget>(&mut self, target: Arc<T>, cfg: ProbeConfig, report: ProbeReport) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
        let name = target.name().to_owned();
        let owner = owner_of(&target);
        self.0.push((rt.spawn(run(target, cfg, report.clone())), report, name, owner));
    }

    /// Adds the probes of `other` to these.
    pub fn extend(&mut self, mut other: Probes) {
        self.0.append(&mut other.0);
    }

    /// Whether nothing is probed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        for (task, report, name, owner) in &self.0 {
            task.abort();
            if let Some(m) = &report.metrics {
                m.forget_probe(&report.scope, name, *owner);
            }
            if let Some(b) = &report.board {
                b.forget(&report.scope, name, *owner);
            }
        }
    }
}

/// Which probe wrote a result (its target's address, unique while it runs): a replaced hop's
/// probes must not erase what their replacements wrote under the same names.
fn owner_of<T>(target: &Arc<T>) -> usize {
    Arc::as_ptr(target).cast::<()>() as usize
}

async fn run<T: ProbeTarget>(target: Arc<T>, cfg: ProbeConfig, report: ProbeReport) {
    let mut state = State::default();
    let mut ticks = tokio::time::interval(cfg.interval.max(Duration::from_millis(100)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let started = Instant::now();
        let (passed, latency, error) = match probe_once(&*target, &cfg).await {
            Ok(reached) => (true, reached.unwrap_or_else(|| started.elapsed()), None),
            Err(e) => (false, started.elapsed(), Some(e.to_string())),
        };
        state.observe(&*target, &cfg, passed, latency, error, &report);
    }
}

/// Runs one probe: `Ok` when it passed, with the time it took to reach the target (`tcp`,
/// `http`).
async fn probe_once<T: ProbeTarget>(target: &T, cfg: &ProbeConfig) -> Result<Option<Duration>> {
    match &cfg.kind {
        ProbeKind::Cmd { command } => run_command(command, cfg.timeout).await.map(|()| None),
        kind => {
            let started = Instant::now();
            let attempt = async {
                let conn = target.reach(cfg.addr.as_deref()).await?;
                let reached = started.elapsed();
                if let ProbeKind::Http { path, host, headers, expected_status } = kind {
                    let host = host.as_deref().or(cfg.addr.as_deref()).unwrap_or("localhost");
                    http_check(conn, path, host, headers, *expected_status).await?;
                }
                Ok::<_, Error>(Some(reached))
            };
            tokio::time::timeout(cfg.timeout, attempt).await.unwrap_or_else(|_| {
                Err(Error::new(ErrorKind::Timeout, format!("no answer within {:?}", cfg.timeout)))
            })
        }
    }
}

/// Consecutive results and the state they set.
#[derive(Default)]
struct State {
    passes: u32,
    failures: u32,
}

impl State {
    fn observe<T: ProbeTarget>(
        &mut self,
        target: &T,
        cfg: &ProbeConfig,
        passed: bool,
        latency: Duration,
        error: Option<String>,
        report: &ProbeReport,
    ) {
        let was_up = target.record().get().is_none_or(|r| r.success);
        let up = if passed {
            self.passes = self.passes.saturating_add(1);
            self.failures = 0;
            was_up || self.passes >= cfg.success_threshold
        } else {
            self.failures = self.failures.saturating_add(1);
            self.passes = 0;
            was_up && self.failures < cfg.failure_threshold
        };
        // A pass resets the marker; a failure that took the target down marks it; a failure
        // below `failureThreshold` leaves it alone (traffic's own marks stand).
        if passed && up {
            target.marker().reset();
        } else if !up {
            target.marker().mark();
        }
        if up != was_up {
            tracing::info!(scope = %report.scope, target = target.name(), up, ?error, "probe: state changed");
        } else {
            tracing::debug!(scope = %report.scope, target = target.name(), passed, ?latency, ?error, "probe");
        }
        let result = ProbeResult { success: up, latency, error, at: SystemTime::now() };
        let owner = std::ptr::from_ref(target).cast::<()>() as usize;
        if let Some(b) = &report.board {
            b.set(&report.scope, target.name(), owner, result.clone());
        }
        target.record().set(result);
        if let Some(m) = &report.metrics {
            m.probe(&report.scope, target.name(), owner, up, latency);
        }
    }
}

/// `GET path` over `conn`; the status must be `expected`.
async fn http_check(
    mut conn: BoxConn,
    path: &str,
    host: &str,
    headers: &BTreeMap<String, String>,
    expected: u16,
) -> Result<()> {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    write_all(&mut conn, req.as_bytes()).await?;
    let mut buf = Vec::new();
    let head = read_decoded(&mut conn, &mut buf, MAX_HEAD, gost_proto::http::ResponseHead::decode)
        .await
        .map_err(|e| e.wrap(ErrorKind::Protocol, "http probe: the answer"))?;
    let status = head.status;
    if status != expected {
        return Err(Error::new(
            ErrorKind::Connect,
            format!("http probe: expected status {expected}, got {status}"),
        ));
    }
    Ok(())
}

/// Runs `sh -c command` in its own process group; kills the group at `timeout`.
async fn run_command(command: &str, timeout: Duration) -> Result<()> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::config(format!("cmd probe: cannot run sh: {e}")))?;
    let pgid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(Error::new(ErrorKind::Connect, format!("cmd probe: {status}"))),
        Ok(Err(e)) => Err(Error::new(ErrorKind::Connect, format!("cmd probe: {e}"))),
        Err(_) => {
            if let Some(pgid) = pgid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
            Err(Error::new(
                ErrorKind::Timeout,
                format!("cmd probe: still running after {timeout:?}, killed"),
            ))
        }
    }
}

/// A node as a probe target: reached with its own dialer and handshake (a forward target, which
/// has none, over plain TCP), as gost's node probes reach it, not through the chain.
pub struct NodeProbe(pub Arc<gost_core::Node>);

impl ProbeTarget for NodeProbe {
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
        Box::pin(reach_node(&self.0))
    }
}

/// A connection to `node` itself: its dialer and handshake, or plain TCP for a forward target.
pub async fn reach_node(node: &gost_core::Node) -> Result<BoxConn> {
    match &node.transport {
        Some(t) => t.dial(&node.addr, gost_core::DialOptions::default()).await,
        None => reach_tcp(&node.addr, DEFAULT_TIMEOUT).await,
    }
}

/// Reaches `addr` over plain TCP (a forward target's probe).
pub async fn reach_tcp(addr: &Address, timeout: Duration) -> Result<BoxConn> {
    let s = gost_x_rt::net::connect_tcp(addr, gost_core::Network::Tcp, timeout).await?;
    Ok(Box::new(gost_x_rt::TokioConn::tcp(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::FailMarker;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Target {
        addr: Address,
        record: ProbeRecord,
        marker: FailMarker,
    }

    impl ProbeTarget for Target {
        fn name(&self) -> &str {
            "t"
        }
        fn record(&self) -> &ProbeRecord {
            &self.record
        }
        fn marker(&self) -> &dyn Marker {
            &self.marker
        }
        fn reach<'a>(&'a self, _: Option<&'a str>) -> BoxFuture<'a, Result<BoxConn>> {
            Box::pin(reach_tcp(&self.addr, Duration::from_secs(2)))
        }
    }

    fn target(addr: Address) -> Arc<Target> {
        Arc::new(Target { addr, record: ProbeRecord::new(), marker: FailMarker::new() })
    }

    async fn wait_for(t: &Target, up: bool) {
        for _ in 0..200 {
            if t.record.get().is_some_and(|r| r.success == up) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("probe never said up={up}: {:?}", t.record.get());
    }

    /// An HTTP origin answering `200` or `503` as `healthy` says.
    async fn origin(healthy: Arc<AtomicBool>) -> Address {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else { return };
                let healthy = healthy.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let ok = healthy.load(Ordering::Relaxed)
                        && head.starts_with("GET /health HTTP/1.1\r\n")
                        && head.contains("Host: svc.test\r\n")
                        && head.contains("X-Probe: 1\r\n");
                    let line = if ok { "200 OK" } else { "503 Unavailable" };
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {line}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
                        )
                        .await;
                });
            }
        });
        addr
    }

    fn fast(kind: ProbeKind) -> ProbeConfig {
        ProbeConfig {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            ..ProbeConfig::new(kind)
        }
    }

    #[tokio::test]
    async fn http_probe_marks_down_and_up() {
        let healthy = Arc::new(AtomicBool::new(true));
        let t = target(origin(healthy.clone()).await);
        let kind = ProbeKind::Http {
            path: "/health".into(),
            host: Some("svc.test".into()),
            headers: [("X-Probe".to_owned(), "1".to_owned())].into(),
            expected_status: 200,
        };
        let mut probes = Probes::default();
        probes.start(t.clone(), fast(kind), ProbeReport::default());
        wait_for(&t, true).await;
        healthy.store(false, Ordering::Relaxed);
        wait_for(&t, false).await;
        assert!(t.marker.fail_count() >= 1);
        assert!(t.record.get().unwrap().error.unwrap().contains("503"));
        healthy.store(true, Ordering::Relaxed);
        wait_for(&t, true).await;
        assert_eq!(t.marker.fail_count(), 0);
        drop(probes);
    }

    #[tokio::test]
    async fn a_node_answering_garbage_forever_fails_bounded() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let junk = [b'x'; 4096];
            // An endless status line.
            while s.write_all(&junk).await.is_ok() {}
        });
        let conn = reach_tcp(&addr, Duration::from_secs(2)).await.unwrap();
        let res = tokio::time::timeout(
            Duration::from_secs(5),
            http_check(conn, "/", "h", &BTreeMap::new(), 200),
        )
        .await
        .expect("bounded, not hanging");
        assert!(res.is_err());
    }

    #[test]
    fn a_stopped_probe_does_not_erase_its_replacement() {
        let board = ProbeBoard::default();
        let r = ProbeResult {
            success: true,
            latency: Duration::ZERO,
            error: None,
            at: SystemTime::now(),
        };
        board.set("hop", "n", 1, r.clone());
        board.set("hop", "n", 2, r); // the replacement wrote
        board.forget("hop", "n", 1); // the old one stops
        assert!(board.get("hop", "n").is_some());
        board.forget("hop", "n", 2);
        assert!(board.get("hop", "n").is_none());
    }

    #[tokio::test]
    async fn tcp_probe_of_a_closed_port_fails() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        drop(l);
        let t = target(addr);
        let mut probes = Probes::default();
        probes.start(t.clone(), fast(ProbeKind::Tcp), ProbeReport::default());
        wait_for(&t, false).await;
    }

    #[tokio::test]
    async fn thresholds_need_results_in_a_row() {
        let healthy = Arc::new(AtomicBool::new(false));
        let t = target(origin(healthy.clone()).await);
        let cfg = ProbeConfig {
            failure_threshold: 3,
            ..fast(ProbeKind::Http {
                path: "/health".into(),
                host: Some("svc.test".into()),
                headers: [("X-Probe".to_owned(), "1".to_owned())].into(),
                expected_status: 200,
            })
        };
        let mut probes = Probes::default();
        probes.start(t.clone(), cfg, ProbeReport::default());
        // The first two failures keep it up; the third takes it down.
        tokio::time::sleep(Duration::from_millis(130)).await;
        assert!(t.record.get().is_some_and(|r| r.success), "{:?}", t.record.get());
        wait_for(&t, false).await;
    }

    #[tokio::test]
    async fn a_hanging_command_is_killed_at_its_timeout() {
        let dir = std::env::temp_dir().join(format!("gost-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("survived");
        let cmd = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let err = run_command(&cmd, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(started.elapsed() < Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the command's children were killed too");
        run_command("exit 0", Duration::from_secs(5)).await.unwrap();
        assert!(run_command("exit 3", Duration::from_secs(5)).await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
