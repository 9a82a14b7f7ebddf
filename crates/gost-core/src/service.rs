//! A service is one listener plus one handler, run by an accept loop, with a status.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::Result;

/// The life-cycle state of a service, with gost's names and transitions: `running` once
/// constructed, `ready` when serving, `failed` after a temporary accept error (back to `ready`
/// when accepting works again), `closed` when the accept loop has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Constructed, not yet serving.
    Running,
    /// Accepting connections.
    Ready,
    /// The last accept failed; the loop is backing off and will retry.
    Failed,
    /// The accept loop ended.
    Closed,
}

impl State {
    /// gost's name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Ready => "ready",
            State::Failed => "failed",
            State::Closed => "closed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One status event: when (unix seconds) and what (`"service service-0 is ready"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix time in seconds.
    pub time: u64,
    /// The message.
    pub msg: String,
}

/// Service counters, present when `enableStats` is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections accepted since start.
    pub total_conns: u64,
    /// Connections being served now.
    pub current_conns: u64,
    /// Bytes read from clients.
    pub input_bytes: u64,
    /// Bytes written to clients.
    pub output_bytes: u64,
    /// Connections whose handler failed with a server-side error.
    pub total_errs: u64,
}

/// What the Web API shows as a service's `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Unix time in seconds when the service was constructed.
    pub create_time: u64,
    /// The current state.
    pub state: State,
    /// The most recent events, oldest first (at most 20).
    pub events: Vec<Event>,
    /// Counters, if enabled.
    pub stats: Option<StatsSnapshot>,
}

/// A runnable service.
pub trait Service: Send + Sync + 'static {
    /// Runs the accept loop until [`Service::close`] is called or the listener fails for good.
    /// Each connection is served in its own task. Returns `Ok` after a close.
    fn serve(&self) -> impl Future<Output = Result<()>> + Send;

    /// The listening address.
    fn local_addr(&self) -> Option<SocketAddr>;

    /// Stops accepting; `serve` returns soon after. Live connections are not cut here (the caller
    /// decides how long they may finish). Idempotent.
    fn close(&self);

    /// The current status.
    fn status(&self) -> Status;
}

trait DynService: Send + Sync + 'static {
    fn dyn_serve(&self) -> BoxFuture<'_, Result<()>>;
    fn dyn_local_addr(&self) -> Option<SocketAddr>;
    fn dyn_close(&self);
    fn dyn_status(&self) -> Status;
}

impl<T: Service> DynService for T {
    fn dyn_serve(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.serve())
    }
    fn dyn_local_addr(&self) -> Option<SocketAddr> {
        self.local_addr()
    }
    fn dyn_close(&self) {
        self.close()
    }
    fn dyn_status(&self) -> Status {
        self.status()
    }
}

/// A type-erased, cheaply cloneable [`Service`].
#[derive(Clone)]
pub struct BoxService(Arc<dyn DynService>);

impl BoxService {
    /// Erases the type of `service`.
    pub fn new(service: impl Service) -> Self {
        BoxService(Arc::new(service))
    }
}

impl Service for BoxService {
    fn serve(&self) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_serve()
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.0.dyn_local_addr()
    }
    fn close(&self) {
        self.0.dyn_close()
    }
    fn status(&self) -> Status {
        self.0.dyn_status()
    }
}

impl fmt::Debug for BoxService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxService").field("local_addr", &self.local_addr()).finish()
    }
}
