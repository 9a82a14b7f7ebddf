//! Static host mappings, consulted by the router before the resolver.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use crate::BoxFuture;
use crate::addr::Network;

/// Maps host names to fixed addresses (like `/etc/hosts`).
pub trait HostMapper: Send + Sync + 'static {
    /// The mapped addresses of `host` for `network`, or `None` if it has no mapping. Cancel safe.
    fn lookup(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Option<Vec<IpAddr>>> + Send;
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: HostMapper> HostMapper for Arc<T> {
    fn lookup(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Option<Vec<IpAddr>>> + Send {
        (**self).lookup(network, host)
    }
}

trait DynHostMapper: Send + Sync + 'static {
    fn dyn_lookup(&self, network: Network, host: String) -> BoxFuture<'_, Option<Vec<IpAddr>>>;
}

impl<T: HostMapper> DynHostMapper for T {
    fn dyn_lookup(&self, network: Network, host: String) -> BoxFuture<'_, Option<Vec<IpAddr>>> {
        Box::pin(self.lookup(network, host))
    }
}

/// A type-erased, cheaply cloneable [`HostMapper`].
#[derive(Clone)]
pub struct BoxHostMapper(Arc<dyn DynHostMapper>);

impl BoxHostMapper {
    /// Erases the type of `mapper`.
    pub fn new(mapper: impl HostMapper) -> Self {
        BoxHostMapper(Arc::new(mapper))
    }
}

impl HostMapper for BoxHostMapper {
    fn lookup(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Option<Vec<IpAddr>>> + Send {
        self.0.dyn_lookup(network, host)
    }
}

impl fmt::Debug for BoxHostMapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxHostMapper")
    }
}
