//! Recorders receive copies of selected data (target addresses, handler events) for logging or
//! auditing.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::Result;

/// Stores one record. Must not block the caller for long; slow sinks buffer internally.
pub trait Recorder: Send + Sync + 'static {
    /// Records `data` (what it is depends on the record point, e.g. a target address). Cancel
    /// safe: a dropped call may or may not have recorded.
    fn record(&self, data: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
}

trait DynRecorder: Send + Sync + 'static {
    fn dyn_record(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>>;
}

impl<T: Recorder> DynRecorder for T {
    fn dyn_record(&self, data: Vec<u8>) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.record(data))
    }
}

/// A type-erased, cheaply cloneable [`Recorder`].
#[derive(Clone)]
pub struct BoxRecorder(Arc<dyn DynRecorder>);

impl BoxRecorder {
    /// Erases the type of `recorder`.
    pub fn new(recorder: impl Recorder) -> Self {
        BoxRecorder(Arc::new(recorder))
    }
}

impl Recorder for BoxRecorder {
    fn record(&self, data: Vec<u8>) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_record(data)
    }
}

impl fmt::Debug for BoxRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxRecorder")
    }
}
