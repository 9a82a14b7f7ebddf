//! # gost-x-service
//!
//! The service runtime: [`DefaultService`] runs one listener and one handler (an accept loop with
//! back-off on temporary errors, one task per connection, panics contained, gost's status and
//! events), and [`run`] runs a set of services until a shutdown signal, then stops them
//! gracefully.

pub mod hooks;
mod policy;
mod service;
mod set;
mod stats;

pub use hooks::Hooks;
pub use policy::Policy;
pub use service::{DEFAULT_GRACE, DefaultService, ServiceOptions};
pub use set::Services;
pub use stats::ServiceStats;

use std::future::Future;

use gost_core::{BoxService, Error, Result};

/// Serves every service (named by position) until `shutdown` completes or one fails for good;
/// see [`Services::run`].
pub async fn run(services: Vec<BoxService>, shutdown: impl Future<Output = ()>) -> Result<()> {
    if services.is_empty() {
        return Err(Error::config("no service to run (add -L, e.g. -L tcp://:8080/127.0.0.1:80)"));
    }
    let set = Services::new();
    for (i, svc) in services.into_iter().enumerate() {
        set.start(&format!("service-{i}"), svc)?;
    }
    set.run(shutdown).await
}
