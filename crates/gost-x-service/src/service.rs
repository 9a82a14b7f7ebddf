use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gost_core::{
    BoxHandler, BoxListener, Error, ErrorKind, Event, Handler, Listener, Result, Service, Session,
    State, Status,
};
use gost_core::{Stats, StatsKind};
use tokio::sync::watch;

use gost_x_metrics::Metrics;

use crate::hooks::Hooks;
use crate::policy::Policy;
use crate::stats::{Both, CountedConn, ServiceStats};
use tokio::task::JoinSet;

/// How long live connections may go on after a shutdown before they are cut.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// gost keeps the last 20 status events.
const MAX_EVENTS: usize = 20;

/// Service settings.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The service name (`service-0`, ...), used in events and logs.
    pub name: String,
    /// How long live connections may finish after [`Service::close`].
    pub grace: Duration,
    /// Count connections and bytes (`enableStats`).
    pub enable_stats: bool,
    /// Commands run around the service's life (`preUp`, `postUp`, `preDown`, `postDown`).
    pub hooks: Hooks,
    /// Admission and limiters checked on each accepted connection.
    pub policy: Policy,
    /// Prometheus series to update, when metrics are on.
    pub metrics: Option<Arc<Metrics>>,
}

impl ServiceOptions {
    /// Options for a service named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        ServiceOptions {
            name: name.into(),
            grace: DEFAULT_GRACE,
            enable_stats: false,
            hooks: Hooks::default(),
            policy: Policy::default(),
            metrics: None,
        }
    }
}

struct StatusState {
    state: State,
    events: VecDeque<Event>,
}

/// One listener plus one handler, served by an accept loop.
pub struct DefaultService {
    name: Arc<str>,
    grace: Duration,
    listener: Mutex<Option<BoxListener>>,
    local_addr: Option<SocketAddr>,
    handler: BoxHandler,
    create_time: u64,
    status: Mutex<StatusState>,
    closed: watch::Sender<bool>,
    next_session: AtomicU64,
    stats: Option<Arc<ServiceStats>>,
    hooks: Hooks,
    /// `None` when the service has no admission or limiter.
    policy: Option<Arc<Policy>>,
    metrics: Option<Arc<Metrics>>,
}

/// Completes once the service is closed (or its handle is gone).
async fn closed_signal(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl DefaultService {
    /// A service (state `running`) that will serve `listener` with `handler`.
    /// Runs the `preUp` hooks (blocking) first, as gost does at construction.
    pub fn new(opts: ServiceOptions, listener: BoxListener, handler: BoxHandler) -> Self {
        crate::hooks::run(&opts.name, "preUp", &opts.hooks.pre_up);
        let local_addr = listener.local_addr();
        let svc = DefaultService {
            name: opts.name.into(),
            grace: opts.grace,
            listener: Mutex::new(Some(listener)),
            local_addr,
            handler,
            create_time: unix_now(),
            status: Mutex::new(StatusState { state: State::Running, events: VecDeque::new() }),
            closed: watch::channel(false).0,
            next_session: AtomicU64::new(1),
            stats: opts.enable_stats.then(|| Arc::new(ServiceStats::default())),
            hooks: opts.hooks,
            policy: (!opts.policy.is_empty()).then(|| Arc::new(opts.policy)),
            metrics: opts.metrics,
        };
        svc.event(None, format!("service {} is running", svc.name));
        svc
    }

    /// The service name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records an event, changing the state first if `state` is given.
    fn event(&self, state: Option<State>, msg: String) {
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = state {
            st.state = state;
        }
        if st.events.len() == MAX_EVENTS {
            st.events.pop_front();
        }
        st.events.push_back(Event { time: unix_now(), msg });
    }

    fn state(&self) -> State {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).state
    }

    fn spawn_connection(&self, tasks: &mut JoinSet<()>, conn: gost_core::BoxConn) {
        let id = self.next_session.fetch_add(1, Ordering::Relaxed);
        let mut session = Session::new(id, self.name.clone());
        session.client_addr = conn.peer_addr();
        session.local_addr = conn.local_addr();
        let handler = self.handler.clone();
        let service = self.name.clone();
        let stats = self.stats.clone();
        let policy = self.policy.clone();
        let metrics = self.metrics.clone();
        tasks.spawn(async move {
            let client = session.client_addr;
            let (conn, _slot) = match &policy {
                None => (conn, None),
                Some(p) => match p.apply(conn, client).await {
                    Ok(admitted) => admitted,
                    Err(why) => {
                        // A refused connection still counts as accepted (gost's wrapper order).
                        if let Some(s) = &stats {
                            s.add(StatsKind::TotalConns, 1);
                        }
                        tracing::debug!(%service, sid = id, ?client, "connection {why}");
                        return;
                    }
                },
            };
            // gost counts requests after admission, per client IP.
            let series = metrics.as_ref().map(|m| {
                let ip = client.map(|a| a.ip().to_string()).unwrap_or_default();
                m.client(&service, &ip)
            });
            // One counting wrapper per connection, whichever counters are on.
            let conn: gost_core::BoxConn = match (&stats, &series) {
                (Some(s), Some(m)) => {
                    Box::new(CountedConn::new(conn, Arc::new(Both(s.clone(), m.clone()))))
                }
                (Some(s), None) => Box::new(CountedConn::new(conn, s.clone())),
                (None, Some(m)) => Box::new(CountedConn::new(conn, m.clone())),
                (None, None) => conn,
            };
            let started = std::time::Instant::now();
            let result = handler.handle(conn, session).await;
            if let Some(m) = &metrics {
                m.observe_request(&service, started.elapsed());
            }
            match result {
                Ok(()) => tracing::debug!(%service, sid = id, ?client, "connection closed"),
                Err(err) if err.kind().is_normal_end() => {
                    tracing::debug!(%service, sid = id, ?client, "connection ended: {err}")
                }
                Err(err) => {
                    if let Some(s) = &stats {
                        s.add(StatsKind::TotalErrs, 1);
                    }
                    if let Some(s) = &series {
                        s.add(StatsKind::TotalErrs, 1);
                    }
                    tracing::error!(%service, sid = id, ?client, "{err}")
                }
            }
        });
    }
}

impl Service for DefaultService {
    async fn serve(&self) -> Result<()> {
        let taken = self.listener.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut listener) = taken else {
            return Err(Error::config(format!("service {} is already serving", self.name)));
        };
        let closed = closed_signal(self.closed.subscribe());
        tokio::pin!(closed);
        crate::hooks::run_async(&self.name, "postUp", &self.hooks.post_up).await;
        self.event(Some(State::Ready), format!("service {} is ready", self.name));
        let addr = self.local_addr.map_or_else(|| "?".to_owned(), |a| a.to_string());
        self.event(None, format!("service {} is listening on {addr}", self.name));
        tracing::info!(service = %self.name, "listening on {addr}");

        let up = self.metrics.as_ref().map(|m| m.service_up());
        let mut tasks = JoinSet::new();
        let mut backoff = gost_x_rt::net::AcceptBackoff::default();
        let mut result = Ok(());
        loop {
            tokio::select! {
                biased;
                () = &mut closed => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(err) = done
                        && err.is_panic()
                    {
                        tracing::error!(service = %self.name, "a connection handler panicked; the connection was closed");
                    }
                }
                accepted = listener.accept() => match accepted {
                    Ok(conn) => {
                        if self.state() == State::Failed {
                            self.event(Some(State::Ready), format!("service {} is ready", self.name));
                        }
                        backoff.succeeded();
                        self.spawn_connection(&mut tasks, conn);
                    }
                    Err(err) if err.kind() == ErrorKind::Closed => {
                        result = Err(err.wrap(ErrorKind::Closed, format!("service {}: listener closed", self.name)));
                        break;
                    }
                    Err(err) => {
                        let backoff = backoff.failed();
                        tracing::warn!(service = %self.name, "accept: {err}; retrying in {backoff:?}");
                        self.event(Some(State::Failed), format!("service {} is failed: {err}", self.name));
                        tokio::select! {
                            () = closed_signal(self.closed.subscribe()) => break,
                            () = tokio::time::sleep(backoff) => {}
                        }
                    }
                }
            }
        }
        drop(up);
        crate::hooks::run_async(&self.name, "preDown", &self.hooks.pre_down).await;
        drop(listener);
        self.handler.close();
        self.event(Some(State::Closed), format!("service {} is closed", self.name));
        if !tasks.is_empty() {
            tracing::info!(service = %self.name, live = tasks.len(), grace = ?self.grace, "waiting for live connections");
            let drain = async { while tasks.join_next().await.is_some() {} };
            if tokio::time::timeout(self.grace, drain).await.is_err() {
                tracing::info!(service = %self.name, cut = tasks.len(), "grace period over, closing connections");
            }
            tasks.shutdown().await;
        }
        crate::hooks::run_async(&self.name, "postDown", &self.hooks.post_down).await;
        result
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    fn close(&self) {
        self.closed.send_replace(true);
    }

    fn status(&self) -> Status {
        let st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        Status {
            create_time: self.create_time,
            state: st.state,
            events: st.events.iter().cloned().collect(),
            stats: self.stats.as_ref().map(|s| s.snapshot(false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{BoxConn, ListenerOptions, Metadata, io};
    use std::sync::atomic::AtomicUsize;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Echo;
    impl Handler for Echo {
        async fn handle(&self, mut conn: BoxConn, _s: Session) -> Result<()> {
            let mut buf = [0u8; 1];
            io::read_exact(&mut conn, &mut buf).await?;
            if buf[0] == b'!' {
                panic!("test panic");
            }
            io::write_all(&mut conn, &buf).await?;
            Ok(())
        }
    }

    fn service(grace: Duration) -> Arc<DefaultService> {
        let l = gost_x_listener::tcp::new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new())
            .unwrap();
        let mut opts = ServiceOptions::new("service-0");
        opts.grace = grace;
        Arc::new(DefaultService::new(opts, l, BoxHandler::new(Echo)))
    }

    #[tokio::test]
    async fn serves_reports_status_and_contains_panics() {
        let svc = service(Duration::from_secs(5));
        assert_eq!(svc.status().state, State::Running);
        let addr = svc.local_addr().unwrap();
        let run = tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        // A panicking connection does not take the service down.
        let mut bad = tokio::net::TcpStream::connect(addr).await.unwrap();
        bad.write_all(b"!").await.unwrap();
        let mut rest = Vec::new();
        let _ = bad.read_to_end(&mut rest).await;
        let mut good = tokio::net::TcpStream::connect(addr).await.unwrap();
        good.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        good.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"x");
        let st = svc.status();
        assert_eq!(st.state, State::Ready);
        let msgs: Vec<&str> = st.events.iter().map(|e| e.msg.as_str()).collect();
        assert_eq!(msgs[..2], ["service service-0 is running", "service service-0 is ready"]);
        assert!(msgs[2].starts_with("service service-0 is listening on 127.0.0.1:"));
        svc.close();
        run.await.unwrap().unwrap();
        assert_eq!(svc.status().state, State::Closed);
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        assert!(svc.serve().await.is_err(), "a service serves once");
    }

    #[tokio::test]
    async fn graceful_close_waits_for_live_connections_up_to_the_grace() {
        let svc = service(Duration::from_millis(300));
        let addr = svc.local_addr().unwrap();
        let run = tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = std::time::Instant::now();
        svc.close();
        run.await.unwrap().unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(250), "returned after {waited:?}");
        // The idle connection was cut.
        let mut rest = Vec::new();
        assert_eq!(idle.read_to_end(&mut rest).await.unwrap_or(0), 0);
    }

    #[tokio::test]
    async fn stats_count_connections_bytes_and_errors() {
        let l = gost_x_listener::tcp::new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new())
            .unwrap();
        let mut opts = ServiceOptions::new("s");
        opts.enable_stats = true;
        let svc = Arc::new(DefaultService::new(opts, l, BoxHandler::new(Echo)));
        let addr = svc.local_addr().unwrap();
        let run = tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).await.unwrap();
        drop(c);
        // A client that sends nothing and closes: EOF is not an error.
        drop(tokio::net::TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let st = svc.status().stats.unwrap();
        assert_eq!(
            (st.total_conns, st.current_conns, st.input_bytes, st.output_bytes, st.total_errs),
            (2, 0, 1, 1, 0)
        );
        svc.close();
        run.await.unwrap().unwrap();
        assert!(service(Duration::ZERO).status().stats.is_none(), "off by default");
    }

    struct Flaky(Arc<AtomicUsize>, BoxListener);
    impl Listener for Flaky {
        async fn accept(&mut self) -> Result<gost_core::BoxConn> {
            if self.0.fetch_add(1, Ordering::Relaxed) == 0 {
                return Err(Error::new(ErrorKind::Io, "too many open files"));
            }
            self.1.accept().await
        }
        fn local_addr(&self) -> Option<SocketAddr> {
            self.1.local_addr()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn temporary_accept_error_fails_then_recovers() {
        let inner =
            gost_x_listener::tcp::new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new())
                .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let l = BoxListener::new(Flaky(calls.clone(), inner));
        let svc = Arc::new(DefaultService::new(ServiceOptions::new("s"), l, BoxHandler::new(Echo)));
        let addr = svc.local_addr().unwrap();
        let run = tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        tokio::task::yield_now().await;
        assert_eq!(svc.status().state, State::Failed);
        tokio::time::advance(Duration::from_millis(1100)).await;
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"y").await.unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(svc.status().state, State::Ready);
        assert!(svc.status().events.iter().any(|e| e.msg.starts_with("service s is failed: ")));
        svc.close();
        run.await.unwrap().unwrap();
    }
}
