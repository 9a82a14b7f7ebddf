//! Observers receive service status changes and periodic stats.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::Result;
use crate::service::{State, StatsSnapshot};

/// One observed event.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObserverEvent {
    /// A service changed state.
    Status {
        /// The service name.
        service: String,
        /// The new state.
        state: State,
        /// The event message.
        msg: String,
    },
    /// A service's counters (sent periodically when they changed).
    Stats {
        /// The service name.
        service: String,
        /// The counters.
        stats: StatsSnapshot,
    },
}

/// Receives batches of events.
pub trait Observer: Send + Sync + 'static {
    /// Handles `events`. Cancel safe.
    fn observe(&self, events: Vec<ObserverEvent>) -> impl Future<Output = Result<()>> + Send;
}

trait DynObserver: Send + Sync + 'static {
    fn dyn_observe(&self, events: Vec<ObserverEvent>) -> BoxFuture<'_, Result<()>>;
}

impl<T: Observer> DynObserver for T {
    fn dyn_observe(&self, events: Vec<ObserverEvent>) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.observe(events))
    }
}

/// A type-erased, cheaply cloneable [`Observer`].
#[derive(Clone)]
pub struct BoxObserver(Arc<dyn DynObserver>);

impl BoxObserver {
    /// Erases the type of `observer`.
    pub fn new(observer: impl Observer) -> Self {
        BoxObserver(Arc::new(observer))
    }
}

impl Observer for BoxObserver {
    fn observe(&self, events: Vec<ObserverEvent>) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_observe(events)
    }
}

impl fmt::Debug for BoxObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxObserver")
    }
}
