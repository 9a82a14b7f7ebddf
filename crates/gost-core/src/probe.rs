//! Health probes' results: the latest outcome of a node's (or a group entry's) probe, which the
//! fail filter (through the [`crate::Marker`]) and the latency strategies read.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// One probe attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    /// Whether the probe passed.
    pub success: bool,
    /// How long it took (for `tcp`/`http`: until the node was reached).
    pub latency: Duration,
    /// Why it failed.
    pub error: Option<String>,
    /// When it ended.
    pub at: SystemTime,
}

/// The latest [`ProbeResult`] of something probed; empty until its first probe ends.
#[derive(Debug, Default)]
pub struct ProbeRecord(Mutex<Option<ProbeResult>>);

impl ProbeRecord {
    /// An empty record.
    pub fn new() -> Self {
        ProbeRecord::default()
    }

    /// The latest result.
    pub fn get(&self) -> Option<ProbeResult> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a result, replacing the previous one.
    pub fn set(&self, result: ProbeResult) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }
}

/// Candidates whose probe results the latency strategy and filter read.
pub trait Probed {
    /// The latest probe result, `None` when never probed.
    fn probe_result(&self) -> Option<ProbeResult>;
}

impl<T: Probed + ?Sized> Probed for std::sync::Arc<T> {
    fn probe_result(&self) -> Option<ProbeResult> {
        (**self).probe_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keeps_the_latest() {
        let r = ProbeRecord::new();
        assert!(r.get().is_none());
        let at = SystemTime::UNIX_EPOCH;
        r.set(ProbeResult { success: false, latency: Duration::ZERO, error: Some("x".into()), at });
        r.set(ProbeResult { success: true, latency: Duration::from_millis(3), error: None, at });
        assert_eq!(r.get().map(|p| (p.success, p.latency)), Some((true, Duration::from_millis(3))));
    }
}
