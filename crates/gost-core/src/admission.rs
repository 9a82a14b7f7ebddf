//! Admission control: which client addresses may connect at all.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::BoxFuture;

/// Decides, before the handler reads a byte, whether a client may connect.
pub trait Admission: Send + Sync + 'static {
    /// Whether `client` is admitted. A refused connection is closed without a reply. Cancel safe.
    fn admit(&self, client: SocketAddr) -> impl Future<Output = bool> + Send;

    /// Whether a client whose address is unknown (a Unix socket, a listener that cannot say)
    /// is admitted. A whitelist must say no (it admits only whom it knows); the default, for
    /// lists that only refuse, is yes.
    fn admits_unknown(&self) -> bool {
        true
    }
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Admission> Admission for Arc<T> {
    fn admit(&self, client: SocketAddr) -> impl Future<Output = bool> + Send {
        (**self).admit(client)
    }
    fn admits_unknown(&self) -> bool {
        (**self).admits_unknown()
    }
}

trait DynAdmission: Send + Sync + 'static {
    fn dyn_admit(&self, client: SocketAddr) -> BoxFuture<'_, bool>;
    fn dyn_admits_unknown(&self) -> bool;
}

impl<T: Admission> DynAdmission for T {
    fn dyn_admit(&self, client: SocketAddr) -> BoxFuture<'_, bool> {
        Box::pin(self.admit(client))
    }
    fn dyn_admits_unknown(&self) -> bool {
        self.admits_unknown()
    }
}

/// A type-erased, cheaply cloneable [`Admission`].
#[derive(Clone)]
pub struct BoxAdmission(Arc<dyn DynAdmission>);

impl BoxAdmission {
    /// Erases the type of `admission`.
    pub fn new(admission: impl Admission) -> Self {
        BoxAdmission(Arc::new(admission))
    }
}

impl Admission for BoxAdmission {
    fn admit(&self, client: SocketAddr) -> impl Future<Output = bool> + Send {
        self.0.dyn_admit(client)
    }
    fn admits_unknown(&self) -> bool {
        self.0.dyn_admits_unknown()
    }
}

impl fmt::Debug for BoxAdmission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxAdmission")
    }
}
