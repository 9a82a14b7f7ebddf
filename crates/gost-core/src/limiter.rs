//! Limiters: concurrent connections, request rate, and traffic (bandwidth).
//!
//! These are synchronous and runtime-free so that a connection wrapper can consult them inside
//! `poll_read`/`poll_write` without allocating: the traffic limiter is told how many bytes moved
//! and answers with a delay, and the wrapper (in the runtime crate) sleeps.

use std::time::Duration;

/// Limits how many connections are open at once for one key (service, client IP).
pub trait ConnLimit: Send + Sync {
    /// Takes `n` slots (or gives them back with a negative `n`); `false` if that would exceed the
    /// limit, in which case nothing is taken.
    fn allow(&self, n: i64) -> bool;
    /// The maximum number of connections.
    fn limit(&self) -> i64;
}

/// Finds the connection limit that applies to a key (`$` = the service, an IP or CIDR, ...).
pub trait ConnLimiter: Send + Sync {
    /// The limit for `key`, or `None` if no limit applies.
    fn limiter(&self, key: &str) -> Option<std::sync::Arc<dyn ConnLimit>>;
}

/// Limits how many requests (connections) per second one key may make.
pub trait RateLimit: Send + Sync {
    /// Whether `n` more requests may go now.
    fn allow(&self, n: usize) -> bool;
    /// Requests per second.
    fn limit(&self) -> f64;
}

/// Finds the rate limit that applies to a key.
pub trait RateLimiter: Send + Sync {
    /// The limit for `key`, or `None` if no limit applies.
    fn limiter(&self, key: &str) -> Option<std::sync::Arc<dyn RateLimit>>;
}

/// A bandwidth budget, shared by every connection it applies to.
pub trait TrafficLimit: Send + Sync {
    /// Records that `n` bytes moved and returns how long the caller waits before moving more
    /// (zero while the budget lasts).
    fn consume(&self, n: usize) -> Duration;
    /// The most bytes one read or write should move at once.
    fn burst(&self) -> usize;
    /// Bytes per second.
    fn limit(&self) -> u64;
    /// Changes the rate.
    fn set_limit(&self, bytes_per_second: u64);
}

/// Finds the traffic limits that apply to a key, per direction.
pub trait TrafficLimiter: Send + Sync {
    /// The limit on data from the client, or `None`. `key` is the client's `ip:port`: the
    /// limiter combines the service-wide (`$`), per-connection (`$$`) and per-IP limits.
    fn limit_in(&self, key: &str) -> Option<std::sync::Arc<dyn TrafficLimit>>;
    /// The limit on data to the client, or `None`.
    fn limit_out(&self, key: &str) -> Option<std::sync::Arc<dyn TrafficLimit>>;
}
