//! Authentication of clients by user name and password.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::BoxFuture;

/// Checks client credentials. Implementations compare passwords in constant time.
pub trait Auther: Send + Sync + 'static {
    /// Returns the client id (usually the user name) if `user`/`password` are accepted, `None`
    /// otherwise. `client` is the client's address, for authers that care. Cancel safe.
    fn authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> impl Future<Output = Option<String>> + Send;
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Auther> Auther for Arc<T> {
    fn authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> impl Future<Output = Option<String>> + Send {
        (**self).authenticate(user, password, client)
    }
}

trait DynAuther: Send + Sync + 'static {
    fn dyn_authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> BoxFuture<'_, Option<String>>;
}

impl<T: Auther> DynAuther for T {
    fn dyn_authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> BoxFuture<'_, Option<String>> {
        Box::pin(self.authenticate(user, password, client))
    }
}

/// A type-erased, cheaply cloneable [`Auther`].
#[derive(Clone)]
pub struct BoxAuther(Arc<dyn DynAuther>);

impl BoxAuther {
    /// Erases the type of `auther`.
    pub fn new(auther: impl Auther) -> Self {
        BoxAuther(Arc::new(auther))
    }
}

impl Auther for BoxAuther {
    fn authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> impl Future<Output = Option<String>> + Send {
        self.0.dyn_authenticate(user, password, client)
    }
}

impl fmt::Debug for BoxAuther {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxAuther")
    }
}
