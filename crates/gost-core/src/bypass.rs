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

    /// Whether `resolved`, an address a target name resolved to, is refused on its own: a
    /// blacklist that matches it refuses it; a whitelist says nothing here (the name itself
    /// already passed it). Checked before dialing, so that a name cannot lead to an address the
    /// list forbids. Cancel safe.
    fn refuses_resolved(
        &self,
        network: Network,
        resolved: Address,
    ) -> impl Future<Output = bool> + Send {
        async move { !self.whitelist() && self.contains(network, resolved).await }
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
    fn refuses_resolved(
        &self,
        network: Network,
        resolved: Address,
    ) -> impl Future<Output = bool> + Send {
        (**self).refuses_resolved(network, resolved)
    }
}

trait DynBypass: Send + Sync + 'static {
    fn dyn_contains(&self, network: Network, target: Address) -> BoxFuture<'_, bool>;
    fn dyn_whitelist(&self) -> bool;
    fn dyn_refuses_resolved(&self, network: Network, resolved: Address) -> BoxFuture<'_, bool>;
}

impl<T: Bypass> DynBypass for T {
    fn dyn_contains(&self, network: Network, target: Address) -> BoxFuture<'_, bool> {
        Box::pin(self.contains(network, target))
    }
    fn dyn_whitelist(&self) -> bool {
        self.whitelist()
    }
    fn dyn_refuses_resolved(&self, network: Network, resolved: Address) -> BoxFuture<'_, bool> {
        Box::pin(self.refuses_resolved(network, resolved))
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
    fn refuses_resolved(
        &self,
        network: Network,
        resolved: Address,
    ) -> impl Future<Output = bool> + Send {
        self.0.dyn_refuses_resolved(network, resolved)
    }
}

impl fmt::Debug for BoxBypass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxBypass")
    }
}
