//! # gost-x-service
//!
//! The service runtime: [`DefaultService`] runs one listener and one handler (an accept loop with
//! back-off on temporary errors, one task per connection, panics contained, gost's status and
//! events), and [`run`] runs a set of services until a shutdown signal, then stops them
//! gracefully.

pub mod hooks;
mod policy;
mod service;
mod stats;

pub use hooks::Hooks;
pub use policy::Policy;
pub use service::{DEFAULT_GRACE, DefaultService, ServiceOptions};
pub use stats::ServiceStats;

use std::future::Future;

use gost_core::{BoxService, Error, ErrorKind, Result, Service};
use tokio::task::JoinSet;

/// Serves every service until `shutdown` completes or one service fails for good; then closes
/// them all and waits for each to finish (each lets its live connections end within its grace
/// period). Returns the first failure, if any.
pub async fn run(services: Vec<BoxService>, shutdown: impl Future<Output = ()>) -> Result<()> {
    if services.is_empty() {
        return Err(Error::config("no service to run (add -L, e.g. -L tcp://:8080/127.0.0.1:80)"));
    }
    let mut running = JoinSet::new();
    for svc in &services {
        let svc = svc.clone();
        running.spawn(async move { svc.serve().await });
    }
    let mut failure = None;
    tokio::select! {
        () = shutdown => tracing::info!("shutting down"),
        Some(res) = running.join_next() => {
            failure = Some(flatten(res));
        }
    }
    for svc in &services {
        svc.close();
    }
    while let Some(res) = running.join_next().await {
        if let Err(err) = flatten(res) {
            failure.get_or_insert(Err(err));
        }
    }
    failure.unwrap_or(Ok(()))
}

fn flatten(res: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    res.map_err(|e| Error::new(ErrorKind::Io, format!("service task failed: {e}")))?
}
