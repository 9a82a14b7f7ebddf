//! Bypass: target addresses that skip (or, in whitelist mode, alone take) a service, hop or node.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::addr::{Address, Network};

/// Matches targets. At service level a matched target is refused; at hop or node level it does
/// not go through that hop or node (gost's meaning).
pub trait Bypass: Send + Sync + 'static {
    /// Whether `target` is bypassed (already accounting for whitelist mode). Cancel safe.
    fn contains(&self, network: Network, target: Address) -> impl Future<Output = bool> + Send;

    /// Whether this is a whitelist (groups combine whitelists and blacklists differently).
    fn whitelist(&self) -> bool {
        false
    }
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Bypass> Bypass for Arc<T> {
    fn contains(&self, network: Network, target: Address) -> impl Future<Output = bool> + Send {
        (**self).contains(network, target)
    }
    fn whitelist(&self) -> bool {
        (**self).whitelist()
    }
}

trait DynBypass: Send + Sync + 'static {
    fn dyn_contains(&self, network: Network, target: Address) -> BoxFuture<'_, bool>;
    fn dyn_whitelist(&self) -> bool;
}

impl<T: Bypass> DynBypass for T {
    fn dyn_contains(&self, network: Network, target: Address) -> BoxFuture<'_, bool> {
        Box::pin(self.contains(network, target))
    }
    fn dyn_whitelist(&self) -> bool {
        self.whitelist()
    }
}

/// A type-erased, cheaply cloneable [`Bypass`].
#[derive(Clone)]
pub struct BoxBypass(Arc<dyn DynBypass>);

impl BoxBypass {
    /// Erases the type of `bypass`.
    pub fn new(bypass: impl Bypass) -> Self {
        BoxBypass(Arc::new(bypass))
    }
}

impl Bypass for BoxBypass {
    fn contains(&self, network: Network, target: Address) -> impl Future<Output = bool> + Send {
        self.0.dyn_contains(network, target)
    }
    fn whitelist(&self) -> bool {
        self.0.dyn_whitelist()
    }
}

impl fmt::Debug for BoxBypass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxBypass")
    }
}
