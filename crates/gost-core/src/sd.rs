//! Service discovery: where tunnel connectors live when several tunnel servers share the work
//! (one server registers the tunnels it holds; another looks a tunnel up to forward a visitor).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::Result;

/// A registered service instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdService {
    /// The instance id (unique among the instances of `name`).
    pub id: String,
    /// The service name (for gost's tunnels: the tunnel id).
    pub name: String,
    /// The node (server) that holds it.
    pub node: String,
    /// `tcp` or `udp`.
    pub network: String,
    /// Where that node takes visitors (`host:port`).
    pub address: String,
}

/// A service registry. Registrations expire unless renewed (how soon is the implementation's).
pub trait Sd: Send + Sync + 'static {
    /// Adds (or refreshes) `service`.
    fn register(&self, service: SdService) -> impl Future<Output = Result<()>> + Send;
    /// Removes `service` (by name and id).
    fn deregister(&self, service: SdService) -> impl Future<Output = Result<()>> + Send;
    /// Keeps `service` alive.
    fn renew(&self, service: SdService) -> impl Future<Output = Result<()>> + Send;
    /// The live instances named `name`.
    fn get(&self, name: String) -> impl Future<Output = Result<Vec<SdService>>> + Send;
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Sd> Sd for Arc<T> {
    fn register(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        (**self).register(service)
    }
    fn deregister(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        (**self).deregister(service)
    }
    fn renew(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        (**self).renew(service)
    }
    fn get(&self, name: String) -> impl Future<Output = Result<Vec<SdService>>> + Send {
        (**self).get(name)
    }
}

trait DynSd: Send + Sync + 'static {
    fn dyn_register(&self, service: SdService) -> BoxFuture<'_, Result<()>>;
    fn dyn_deregister(&self, service: SdService) -> BoxFuture<'_, Result<()>>;
    fn dyn_renew(&self, service: SdService) -> BoxFuture<'_, Result<()>>;
    fn dyn_get(&self, name: String) -> BoxFuture<'_, Result<Vec<SdService>>>;
}

impl<T: Sd> DynSd for T {
    fn dyn_register(&self, service: SdService) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.register(service))
    }
    fn dyn_deregister(&self, service: SdService) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.deregister(service))
    }
    fn dyn_renew(&self, service: SdService) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.renew(service))
    }
    fn dyn_get(&self, name: String) -> BoxFuture<'_, Result<Vec<SdService>>> {
        Box::pin(self.get(name))
    }
}

/// A type-erased, cheaply cloneable [`Sd`].
#[derive(Clone)]
pub struct BoxSd(Arc<dyn DynSd>);

impl BoxSd {
    /// Erases the type of `sd`.
    pub fn new(sd: impl Sd) -> Self {
        BoxSd(Arc::new(sd))
    }
}

impl Sd for BoxSd {
    fn register(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_register(service)
    }
    fn deregister(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_deregister(service)
    }
    fn renew(&self, service: SdService) -> impl Future<Output = Result<()>> + Send {
        self.0.dyn_renew(service)
    }
    fn get(&self, name: String) -> impl Future<Output = Result<Vec<SdService>>> + Send {
        self.0.dyn_get(name)
    }
}

impl fmt::Debug for BoxSd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxSd")
    }
}
