//! Counters of a service (`enableStats`).

use crate::service::StatsSnapshot;

/// Which counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsKind {
    /// Connections accepted.
    TotalConns,
    /// Connections open now.
    CurrentConns,
    /// Bytes read from clients.
    InputBytes,
    /// Bytes written to clients.
    OutputBytes,
    /// Server-side errors.
    TotalErrs,
}

impl StatsSnapshot {
    /// Every counter of `stats`, each read with [`Stats::get`].
    pub fn read(stats: &(impl Stats + ?Sized)) -> Self {
        StatsSnapshot {
            total_conns: stats.get(StatsKind::TotalConns),
            current_conns: stats.get(StatsKind::CurrentConns),
            input_bytes: stats.get(StatsKind::InputBytes),
            output_bytes: stats.get(StatsKind::OutputBytes),
            total_errs: stats.get(StatsKind::TotalErrs),
        }
    }
}

/// Service counters. Updated on the data path, so implementations use atomics, never locks.
pub trait Stats: Send + Sync {
    /// Adds `n` (negative to decrement `CurrentConns`).
    fn add(&self, kind: StatsKind, n: i64);
    /// The current value.
    fn get(&self, kind: StatsKind) -> u64;
    /// Whether anything changed since the last [`Stats::snapshot`] with `mark_seen`.
    fn is_updated(&self) -> bool;
    /// Every counter at once; `mark_seen` clears the updated flag.
    fn snapshot(&self, mark_seen: bool) -> StatsSnapshot;
    /// Resets the byte and connection totals (the observer's `resetTraffic`).
    fn reset(&self);
}
