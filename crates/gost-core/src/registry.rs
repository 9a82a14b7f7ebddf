//! Registries: component factories and named objects, looked up by name at build time.
//!
//! There is no global registry: `main` (or a test) builds a [`Registries`] value, each x crate's
//! `register` fills it, and the config builder reads it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use std::net::{IpAddr, SocketAddr};

use crate::addr::{Address, Network};
use crate::admission::{Admission, BoxAdmission};
use crate::auth::{Auther, BoxAuther};
use crate::bypass::{BoxBypass, Bypass};
use crate::cache::{BoxCache, Cache, CacheEntry};
use crate::chain::{BoxChainer, Chainer, Node, Route};
use crate::connector::NewConnector;
use crate::dialer::NewDialer;
use crate::error::{Error, ErrorKind, Result};
use crate::handler::NewHandler;
use crate::hop::{BoxHop, Hop};
use crate::hosts::{BoxHostMapper, HostMapper};
use crate::ingress::{BoxIngress, Ingress, IngressRule};
use crate::limiter::{
    ConnLimit, ConnLimiter, RateLimit, RateLimiter, TrafficLimit, TrafficLimiter,
};
use crate::listener::NewListener;
use crate::observer::BoxObserver;
use crate::recorder::BoxRecorder;
use crate::resolver::{BoxResolver, Resolver};
use crate::routes::{BoxRouteTable, RouteEntry, RouteTable};
use crate::sd::{BoxSd, Sd, SdService};
use crate::selector::SelectRequest;
use crate::service::BoxService;

/// Items of type `T` by name. Thread safe; `get` clones the item (factories are `fn` pointers and
/// objects are `Arc` handles, so that is cheap). A clone of a registry is a handle to the same
/// items, which is what [`Named`] references keep.
pub struct Registry<T> {
    kind: &'static str,
    items: Arc<RwLock<BTreeMap<String, T>>>,
}

impl<T> Clone for Registry<T> {
    fn clone(&self) -> Self {
        Registry { kind: self.kind, items: self.items.clone() }
    }
}

impl<T: Clone> Registry<T> {
    /// An empty registry; `kind` names its items in errors (`"listener"`, `"chain"`).
    pub fn new(kind: &'static str) -> Self {
        Registry { kind, items: Arc::new(RwLock::new(BTreeMap::new())) }
    }

    /// A reference to whatever is registered under `name` at the time of each use: replacing or
    /// removing the item is seen by every holder of the reference (gost's late binding).
    pub fn named(&self, name: &str) -> Named<T> {
        Named { name: name.into(), registry: self.clone() }
    }

    /// Removes every item.
    pub fn clear(&self) -> Vec<(String, T)> {
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *items).into_iter().collect()
    }

    /// Adds `item` under `name`. A name already taken is an error; an empty name is an error too.
    pub fn register(&self, name: &str, item: T) -> Result<()> {
        if name.is_empty() {
            return Err(Error::config(format!("{} name must not be empty", self.kind)));
        }
        let mut items = self.items.write().unwrap_or_else(|e| e.into_inner());
        if items.contains_key(name) {
            return Err(Error::config(format!("{} {name:?} is already registered", self.kind)));
        }
        items.insert(name.to_owned(), item);
        Ok(())
    }

    /// Replaces (or adds) the item under `name`, returning the old one.
    pub fn replace(&self, name: &str, item: T) -> Option<T> {
        self.items.write().unwrap_or_else(|e| e.into_inner()).insert(name.to_owned(), item)
    }

    /// Removes the item under `name`.
    pub fn unregister(&self, name: &str) -> Option<T> {
        self.items.write().unwrap_or_else(|e| e.into_inner()).remove(name)
    }

    /// The item under `name`; a [`ErrorKind::NotFound`] error lists the known names.
    pub fn get(&self, name: &str) -> Result<T> {
        let items = self.items.read().unwrap_or_else(|e| e.into_inner());
        items.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = items.keys().map(String::as_str).collect();
            Error::new(
                ErrorKind::NotFound,
                format!("unknown {} {name:?} (known: {})", self.kind, known.join(", ")),
            )
        })
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.items.read().unwrap_or_else(|e| e.into_inner()).contains_key(name)
    }

    /// Every registered name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.items.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Every item with its name, sorted by name.
    pub fn all(&self) -> Vec<(String, T)> {
        let items = self.items.read().unwrap_or_else(|e| e.into_inner());
        items.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl<T> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = self.items.read().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("Registry").field("kind", &self.kind).field("names", &items.keys()).finish()
    }
}

/// A by-name reference into a [`Registry`], looked up on every use so that an update through the
/// Web API reaches every user of the name without a restart. What a missing name means is up to
/// each trait's implementation below: a chain or resolver fails the connection, a limiter does not
/// limit, an auther refuses, a bypass matches nothing, an admission admits (gost's meanings,
/// except the auther and chain, which fail closed here).
pub struct Named<T> {
    name: Arc<str>,
    registry: Registry<T>,
}

impl<T> Clone for Named<T> {
    fn clone(&self) -> Self {
        Named { name: self.name.clone(), registry: self.registry.clone() }
    }
}

impl<T: Clone> Named<T> {
    /// The name referred to.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The item registered under the name now, if any.
    pub fn current(&self) -> Option<T> {
        let items = self.registry.items.read().unwrap_or_else(|e| e.into_inner());
        items.get(&*self.name).cloned()
    }

    fn missing(&self) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("{} {:?} is not registered", self.registry.kind, self.name),
        )
    }
}

impl<T> fmt::Debug for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Named({} {:?})", self.registry.kind, self.name)
    }
}

impl Chainer for Named<BoxChainer> {
    async fn route(&self, req: SelectRequest) -> Result<Route> {
        match self.current() {
            Some(chain) => chain.route(req).await,
            None => Err(self.missing()),
        }
    }
}

impl Hop for Named<BoxHop> {
    async fn select(&self, req: SelectRequest) -> Option<Arc<Node>> {
        self.current()?.select(req).await
    }
    fn nodes(&self) -> Vec<Arc<Node>> {
        self.current().map(|h| h.nodes()).unwrap_or_default()
    }
    fn body_size(&self) -> usize {
        self.current().map_or(0, |h| h.body_size())
    }
}

impl Auther for Named<BoxAuther> {
    async fn authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> Option<String> {
        self.current()?.authenticate(user, password, client).await
    }
}

impl Admission for Named<BoxAdmission> {
    async fn admit(&self, client: SocketAddr) -> bool {
        match self.current() {
            Some(a) => a.admit(client).await,
            None => true,
        }
    }
    fn admits_unknown(&self) -> bool {
        self.current().is_none_or(|a| a.admits_unknown())
    }
}

impl Bypass for Named<BoxBypass> {
    async fn contains(&self, network: Network, target: Address) -> bool {
        match self.current() {
            Some(b) => b.contains(network, target).await,
            None => false,
        }
    }
    fn whitelist(&self) -> bool {
        self.current().is_some_and(|b| b.whitelist())
    }
    async fn refuses_resolved(&self, network: Network, resolved: Address) -> bool {
        match self.current() {
            Some(b) => b.refuses_resolved(network, resolved).await,
            None => false,
        }
    }
}

impl Resolver for Named<BoxResolver> {
    async fn resolve(&self, network: Network, host: String) -> Result<Vec<IpAddr>> {
        match self.current() {
            Some(r) => r.resolve(network, host).await,
            None => Err(self.missing()),
        }
    }
}

impl HostMapper for Named<BoxHostMapper> {
    async fn lookup(&self, network: Network, host: String) -> Option<Vec<IpAddr>> {
        self.current()?.lookup(network, host).await
    }
}

impl Ingress for Named<BoxIngress> {
    async fn get_rule(&self, host: String) -> Option<IngressRule> {
        self.current()?.get_rule(host).await
    }
    async fn set_rule(&self, rule: IngressRule) -> bool {
        match self.current() {
            Some(i) => i.set_rule(rule).await,
            None => false,
        }
    }
}

/// A missing SD (not defined yet, or removed) fails each call.
impl Sd for Named<BoxSd> {
    async fn register(&self, service: SdService) -> Result<()> {
        self.current().ok_or_else(|| self.missing())?.register(service).await
    }
    async fn deregister(&self, service: SdService) -> Result<()> {
        self.current().ok_or_else(|| self.missing())?.deregister(service).await
    }
    async fn renew(&self, service: SdService) -> Result<()> {
        self.current().ok_or_else(|| self.missing())?.renew(service).await
    }
    async fn get(&self, name: String) -> Result<Vec<SdService>> {
        self.current().ok_or_else(|| self.missing())?.get(name).await
    }
}

/// A missing cache (not defined yet, or removed) holds nothing.
impl Cache for Named<BoxCache> {
    async fn get(&self, key: &str) -> Option<CacheEntry> {
        self.current()?.get(key).await
    }
    async fn set(&self, key: &str, data: Arc<[u8]>, ttl: Option<std::time::Duration>) {
        if let Some(c) = self.current() {
            c.set(key, data, ttl).await;
        }
    }
    async fn delete(&self, key: &str) {
        if let Some(c) = self.current() {
            c.delete(key).await;
        }
    }
}

impl RouteTable for Named<BoxRouteTable> {
    async fn route(&self, dst: &str) -> Option<RouteEntry> {
        self.current()?.route(dst).await
    }
    fn routes(&self) -> Vec<RouteEntry> {
        self.current().map(|t| t.routes()).unwrap_or_default()
    }
}

impl ConnLimiter for Named<Arc<dyn ConnLimiter>> {
    fn limiter(&self, key: &str) -> Option<Arc<dyn ConnLimit>> {
        self.current()?.limiter(key)
    }
}

impl RateLimiter for Named<Arc<dyn RateLimiter>> {
    fn limiter(&self, key: &str) -> Option<Arc<dyn RateLimit>> {
        self.current()?.limiter(key)
    }
}

impl TrafficLimiter for Named<Arc<dyn TrafficLimiter>> {
    fn limit_in(&self, key: &str) -> Option<Arc<dyn TrafficLimit>> {
        self.current()?.limit_in(key)
    }
    fn limit_out(&self, key: &str) -> Option<Arc<dyn TrafficLimit>> {
        self.current()?.limit_out(key)
    }
}

/// Every typed registry gost uses: factories for the four component roles, and named instances
/// of everything a config can refer to by name.
#[derive(Debug)]
pub struct Registries {
    /// Listener factories by type (`tcp`, `tls`, `ws`, ...).
    pub listeners: Registry<NewListener>,
    /// Handler factories by type (`forward`, `http`, `socks5`, ...).
    pub handlers: Registry<NewHandler>,
    /// Dialer factories by type.
    pub dialers: Registry<NewDialer>,
    /// Connector factories by type.
    pub connectors: Registry<NewConnector>,
    /// Running services by name.
    pub services: Registry<BoxService>,
    /// Chains by name.
    pub chains: Registry<BoxChainer>,
    /// Hops by name.
    pub hops: Registry<BoxHop>,
    /// Authers by name.
    pub authers: Registry<BoxAuther>,
    /// Admissions by name.
    pub admissions: Registry<BoxAdmission>,
    /// Bypasses by name.
    pub bypasses: Registry<BoxBypass>,
    /// Resolvers by name.
    pub resolvers: Registry<BoxResolver>,
    /// Host mappers by name.
    pub hosts: Registry<BoxHostMapper>,
    /// Ingresses by name.
    pub ingresses: Registry<BoxIngress>,
    /// Service discoveries by name.
    pub sds: Registry<BoxSd>,
    /// Connection limiters by name.
    pub conn_limiters: Registry<Arc<dyn ConnLimiter>>,
    /// Request rate limiters by name.
    pub rate_limiters: Registry<Arc<dyn RateLimiter>>,
    /// Traffic limiters by name.
    pub traffic_limiters: Registry<Arc<dyn TrafficLimiter>>,
    /// Recorders by name.
    pub recorders: Registry<BoxRecorder>,
    /// Observers by name.
    pub observers: Registry<BoxObserver>,
    /// Route tables (gost's `routers`) by name.
    pub routers: Registry<BoxRouteTable>,
    /// Caches by name.
    pub caches: Registry<BoxCache>,
}

impl Default for Registries {
    fn default() -> Self {
        Registries::new()
    }
}

impl Registries {
    /// Empty registries.
    pub fn new() -> Self {
        Registries {
            listeners: Registry::new("listener"),
            handlers: Registry::new("handler"),
            dialers: Registry::new("dialer"),
            connectors: Registry::new("connector"),
            services: Registry::new("service"),
            chains: Registry::new("chain"),
            hops: Registry::new("hop"),
            authers: Registry::new("auther"),
            admissions: Registry::new("admission"),
            bypasses: Registry::new("bypass"),
            resolvers: Registry::new("resolver"),
            hosts: Registry::new("hosts"),
            ingresses: Registry::new("ingress"),
            sds: Registry::new("sd"),
            conn_limiters: Registry::new("climiter"),
            rate_limiters: Registry::new("rlimiter"),
            traffic_limiters: Registry::new("limiter"),
            recorders: Registry::new("recorder"),
            observers: Registry::new("observer"),
            routers: Registry::new("router"),
            caches: Registry::new("cache"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_get_and_errors() {
        let r: Registry<u32> = Registry::new("thing");
        r.register("b", 2).unwrap();
        r.register("a", 1).unwrap();
        assert_eq!(r.get("a").unwrap(), 1);
        let dup = r.register("a", 3).unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::Config);
        assert!(r.register("", 3).is_err());
        let missing = r.get("c").unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert!(missing.to_string().contains("known: a, b"), "{missing}");
        assert_eq!(r.names(), ["a", "b"]);
        assert_eq!(r.replace("a", 5), Some(1));
        assert_eq!(r.unregister("a"), Some(5));
        assert!(!r.contains("a"));
    }

    #[test]
    fn named_references_see_replacements_and_removals() {
        let r: Registry<u32> = Registry::new("thing");
        let n = r.named("a");
        assert_eq!(n.current(), None, "a forward reference");
        r.register("a", 1).unwrap();
        assert_eq!(n.current(), Some(1));
        r.replace("a", 2);
        assert_eq!(n.current(), Some(2));
        assert_eq!(r.clear(), [("a".to_owned(), 2)]);
        assert_eq!(n.current(), None);
        assert_eq!(n.missing().kind(), ErrorKind::NotFound);
    }

    #[test]
    fn named_policy_objects_forward_every_question() {
        struct Whitelist;
        impl Admission for Whitelist {
            async fn admit(&self, _: SocketAddr) -> bool {
                true
            }
            fn admits_unknown(&self) -> bool {
                false
            }
        }
        let r: Registry<BoxAdmission> = Registry::new("admission");
        let n = r.named("w");
        assert!(n.admits_unknown(), "nothing registered yet: admits, as admit does");
        r.register("w", BoxAdmission::new(Whitelist)).unwrap();
        assert!(!n.admits_unknown(), "the registered whitelist speaks");

        struct Black;
        impl Bypass for Black {
            async fn contains(&self, _: Network, _: Address) -> bool {
                true
            }
        }
        let r: Registry<BoxBypass> = Registry::new("bypass");
        let n = r.named("b");
        r.register("b", BoxBypass::new(Black)).unwrap();
        let target = Address::Ip(SocketAddr::from(([127, 0, 0, 1], 80)));
        assert!(crate::io::testing::block_on(n.refuses_resolved(Network::Tcp, target)));
    }
}
