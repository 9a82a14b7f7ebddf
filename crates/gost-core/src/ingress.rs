//! Ingress: which tunnel serves a host name (gost's reverse-proxy tunnels route visitors by
//! host through it, and register the names their clients claim).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;

/// A rule: visitors for `hostname` go to the tunnel `endpoint` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngressRule {
    /// The host name as written in the rule: `example.com`, or a suffix pattern
    /// `*.example.com` / `.example.com` (both match any name under `example.com`).
    pub hostname: String,
    /// The tunnel id (a UUID), `$`-prefixed for a private tunnel.
    pub endpoint: String,
}

/// Host name → tunnel rules.
pub trait Ingress: Send + Sync + 'static {
    /// The rule for `host` (a port after `:` is ignored; case-insensitive): an exact rule
    /// first, then the nearest suffix rule (`a.b.c` is matched by `.a.b.c`, `.b.c`, `.c`), or
    /// `None`. Cancel safe.
    fn get_rule(&self, host: String) -> impl Future<Output = Option<IngressRule>> + Send;

    /// Adds or replaces the rule for `rule.hostname`; false when this ingress does not take
    /// rules at run time (one fed only by a loader or a plugin may refuse).
    fn set_rule(&self, rule: IngressRule) -> impl Future<Output = bool> + Send;
}

/// A shared implementation (kept by its owner for updates) is one too.
impl<T: Ingress> Ingress for Arc<T> {
    fn get_rule(&self, host: String) -> impl Future<Output = Option<IngressRule>> + Send {
        (**self).get_rule(host)
    }
    fn set_rule(&self, rule: IngressRule) -> impl Future<Output = bool> + Send {
        (**self).set_rule(rule)
    }
}

trait DynIngress: Send + Sync + 'static {
    fn dyn_get_rule(&self, host: String) -> BoxFuture<'_, Option<IngressRule>>;
    fn dyn_set_rule(&self, rule: IngressRule) -> BoxFuture<'_, bool>;
}

impl<T: Ingress> DynIngress for T {
    fn dyn_get_rule(&self, host: String) -> BoxFuture<'_, Option<IngressRule>> {
        Box::pin(self.get_rule(host))
    }
    fn dyn_set_rule(&self, rule: IngressRule) -> BoxFuture<'_, bool> {
        Box::pin(self.set_rule(rule))
    }
}

/// A type-erased, cheaply cloneable [`Ingress`].
#[derive(Clone)]
pub struct BoxIngress(Arc<dyn DynIngress>);

impl BoxIngress {
    /// Erases the type of `ingress`.
    pub fn new(ingress: impl Ingress) -> Self {
        BoxIngress(Arc::new(ingress))
    }
}

impl Ingress for BoxIngress {
    fn get_rule(&self, host: String) -> impl Future<Output = Option<IngressRule>> + Send {
        self.0.dyn_get_rule(host)
    }
    fn set_rule(&self, rule: IngressRule) -> impl Future<Output = bool> + Send {
        self.0.dyn_set_rule(rule)
    }
}

impl fmt::Debug for BoxIngress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxIngress")
    }
}
