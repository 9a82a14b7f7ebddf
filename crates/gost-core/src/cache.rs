//! Caches: gost's `caches:` objects, key-value stores with expiry that handlers keep responses
//! in (the HTTP cache of a sniffing forwarder).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::BoxFuture;

/// A stored value and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The value.
    pub data: Arc<[u8]>,
    /// When it stops being fresh; `None`: never.
    pub expires: Option<SystemTime>,
}

impl CacheEntry {
    /// Whether the entry is past its expiry (a stale entry may still be served as a fallback).
    pub fn is_stale(&self) -> bool {
        self.expires.is_some_and(|e| SystemTime::now() >= e)
    }
}

/// A key-value store with expiry.
pub trait Cache: Send + Sync + 'static {
    /// The entry under `key`, fresh or stale, if the store still has it. Cancel safe.
    fn get<'a>(&'a self, key: &'a str) -> impl Future<Output = Option<CacheEntry>> + Send + 'a;

    /// Stores `data` under `key` for `ttl` (`None`: the store's default). Cancel safe.
    fn set<'a>(
        &'a self,
        key: &'a str,
        data: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = ()> + Send + 'a;

    /// Removes `key`. Cancel safe.
    fn delete<'a>(&'a self, key: &'a str) -> impl Future<Output = ()> + Send + 'a;
}

impl<T: Cache> Cache for Arc<T> {
    fn get<'a>(&'a self, key: &'a str) -> impl Future<Output = Option<CacheEntry>> + Send + 'a {
        (**self).get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        data: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = ()> + Send + 'a {
        (**self).set(key, data, ttl)
    }
    fn delete<'a>(&'a self, key: &'a str) -> impl Future<Output = ()> + Send + 'a {
        (**self).delete(key)
    }
}

trait DynCache: Send + Sync + 'static {
    fn dyn_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<CacheEntry>>;
    fn dyn_set<'a>(
        &'a self,
        key: &'a str,
        data: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, ()>;
    fn dyn_delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()>;
}

impl<T: Cache> DynCache for T {
    fn dyn_get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<CacheEntry>> {
        Box::pin(self.get(key))
    }
    fn dyn_set<'a>(
        &'a self,
        key: &'a str,
        data: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.set(key, data, ttl))
    }
    fn dyn_delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.delete(key))
    }
}

/// A type-erased, cheaply cloneable [`Cache`].
#[derive(Clone)]
pub struct BoxCache(Arc<dyn DynCache>);

impl BoxCache {
    /// Erases the type of `cache`.
    pub fn new(cache: impl Cache) -> Self {
        BoxCache(Arc::new(cache))
    }
}

impl Cache for BoxCache {
    fn get<'a>(&'a self, key: &'a str) -> impl Future<Output = Option<CacheEntry>> + Send + 'a {
        self.0.dyn_get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        data: Arc<[u8]>,
        ttl: Option<Duration>,
    ) -> impl Future<Output = ()> + Send + 'a {
        self.0.dyn_set(key, data, ttl)
    }
    fn delete<'a>(&'a self, key: &'a str) -> impl Future<Output = ()> + Send + 'a {
        self.0.dyn_delete(key)
    }
}

impl fmt::Debug for BoxCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxCache")
    }
}
