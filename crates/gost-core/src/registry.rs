//! Registries: component factories and named objects, looked up by name at build time.
//!
//! There is no global registry: `main` (or a test) builds a [`Registries`] value, each x crate's
//! `register` fills it, and the config builder reads it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use crate::admission::BoxAdmission;
use crate::auth::BoxAuther;
use crate::bypass::BoxBypass;
use crate::chain::BoxChainer;
use crate::connector::NewConnector;
use crate::dialer::NewDialer;
use crate::error::{Error, ErrorKind, Result};
use crate::handler::NewHandler;
use crate::hop::BoxHop;
use crate::hosts::BoxHostMapper;
use crate::limiter::{ConnLimiter, RateLimiter, TrafficLimiter};
use crate::listener::NewListener;
use crate::observer::BoxObserver;
use crate::recorder::BoxRecorder;
use crate::resolver::BoxResolver;
use crate::service::BoxService;

/// Items of type `T` by name. Thread safe; `get` clones the item (factories are `fn` pointers and
/// objects are `Arc` handles, so that is cheap).
pub struct Registry<T> {
    kind: &'static str,
    items: RwLock<BTreeMap<String, T>>,
}

impl<T: Clone> Registry<T> {
    /// An empty registry; `kind` names its items in errors (`"listener"`, `"chain"`).
    pub fn new(kind: &'static str) -> Self {
        Registry { kind, items: RwLock::new(BTreeMap::new()) }
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
            conn_limiters: Registry::new("climiter"),
            rate_limiters: Registry::new("rlimiter"),
            traffic_limiters: Registry::new("limiter"),
            recorders: Registry::new("recorder"),
            observers: Registry::new("observer"),
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
}
