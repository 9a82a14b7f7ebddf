//! Name resolution used by the router before dialing.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use crate::BoxFuture;
use crate::addr::Network;
use crate::error::Result;

/// Resolves host names to IP addresses.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` suited to `network` (`tcp4` wants IPv4 only, ...), best first.
    /// An unknown host is a [`crate::ErrorKind::Dial`] error. Cancel safe.
    fn resolve(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Result<Vec<IpAddr>>> + Send;
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Resolver> Resolver for Arc<T> {
    fn resolve(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Result<Vec<IpAddr>>> + Send {
        (**self).resolve(network, host)
    }
}

trait DynResolver: Send + Sync + 'static {
    fn dyn_resolve(&self, network: Network, host: String) -> BoxFuture<'_, Result<Vec<IpAddr>>>;
}

impl<T: Resolver> DynResolver for T {
    fn dyn_resolve(&self, network: Network, host: String) -> BoxFuture<'_, Result<Vec<IpAddr>>> {
        Box::pin(self.resolve(network, host))
    }
}

/// A type-erased, cheaply cloneable [`Resolver`].
#[derive(Clone)]
pub struct BoxResolver(Arc<dyn DynResolver>);

impl BoxResolver {
    /// Erases the type of `resolver`.
    pub fn new(resolver: impl Resolver) -> Self {
        BoxResolver(Arc::new(resolver))
    }
}

impl Resolver for BoxResolver {
    fn resolve(
        &self,
        network: Network,
        host: String,
    ) -> impl Future<Output = Result<Vec<IpAddr>>> + Send {
        self.0.dyn_resolve(network, host)
    }
}

impl fmt::Debug for BoxResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxResolver")
    }
}
