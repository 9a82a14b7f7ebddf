//! Matchers: whether a connection or request matches a routing rule (gost's `routing.Matcher`).
//! A node, a chain of a chain group or a hop of a hop group with a matcher takes only what it
//! matches.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::selector::SelectRequest;

/// Decides whether a request matches a rule. Rules read what the handler knew when it selected
/// (target, sniffed host and protocol, client address, HTTP method, path, headers): a rule about
/// something the request does not carry does not match.
pub trait Matcher: Send + Sync + 'static {
    /// Whether `req` matches. Cancel safe.
    fn matches<'a>(&'a self, req: &'a SelectRequest) -> impl Future<Output = bool> + Send + 'a;
}

impl<T: Matcher> Matcher for Arc<T> {
    fn matches<'a>(&'a self, req: &'a SelectRequest) -> impl Future<Output = bool> + Send + 'a {
        (**self).matches(req)
    }
}

trait DynMatcher: Send + Sync + 'static {
    fn dyn_matches<'a>(&'a self, req: &'a SelectRequest) -> BoxFuture<'a, bool>;
}

impl<T: Matcher> DynMatcher for T {
    fn dyn_matches<'a>(&'a self, req: &'a SelectRequest) -> BoxFuture<'a, bool> {
        Box::pin(self.matches(req))
    }
}

/// A type-erased, cheaply cloneable [`Matcher`].
#[derive(Clone)]
pub struct BoxMatcher(Arc<dyn DynMatcher>);

impl BoxMatcher {
    /// Erases the type of `matcher`.
    pub fn new(matcher: impl Matcher) -> Self {
        BoxMatcher(Arc::new(matcher))
    }
}

impl Matcher for BoxMatcher {
    fn matches<'a>(&'a self, req: &'a SelectRequest) -> impl Future<Output = bool> + Send + 'a {
        self.0.dyn_matches(req)
    }
}

impl fmt::Debug for BoxMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxMatcher")
    }
}
