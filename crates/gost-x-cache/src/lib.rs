//! # gost-x-cache
//!
//! gost's in-memory cache (`caches: [{name, memory: {...}}]`): entries with a time to live,
//! bounded by count (`maxSize`) and bytes (`maxBytes`), evicting expired entries first, then the
//! oldest (`eviction: oldest`, default) or the least recently used (`lru`). Expired entries stay
//! (served stale by handlers that allow it) until a sweep (`cleanupInterval`, done while storing)
//! or eviction removes them.
//!
//! Unlike gost's, a store is bounded by default (10 000 entries, 64 MiB): a cache keyed by what
//! clients ask for must not grow with every distinct URL a client can make up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use gost_core::{Cache, CacheEntry};

/// Entries kept when `maxSize` is not given.
pub const DEFAULT_MAX_SIZE: usize = 10_000;
/// Bytes kept when `maxBytes` is not given.
pub const DEFAULT_MAX_BYTES: u64 = 64 << 20;

/// Which entry goes first when the store is full (after expired ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eviction {
    /// The one stored first.
    #[default]
    Oldest,
    /// The one read or stored least recently.
    Lru,
}

/// A memory store's settings.
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// `ttl`: when a `set` names none (`None`: entries never expire).
    pub ttl: Option<Duration>,
    /// `maxSize`: the most entries.
    pub max_size: usize,
    /// `maxBytes`: the most bytes of values.
    pub max_bytes: u64,
    /// `cleanupInterval`: how often storing also sweeps expired entries (`None`: only when full).
    pub cleanup_interval: Option<Duration>,
    /// `eviction`.
    pub eviction: Eviction,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            ttl: None,
            max_size: DEFAULT_MAX_SIZE,
            max_bytes: DEFAULT_MAX_BYTES,
            cleanup_interval: None,
            eviction: Eviction::Oldest,
        }
    }
}

struct Slot {
    data: Arc<[u8]>,
    expires: Option<SystemTime>,
    /// Insertion order (oldest) or last use (LRU): a counter, not a clock.
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, Slot>,
    bytes: u64,
    clock: u64,
    last_sweep: Option<Instant>,
}

/// The in-memory store.
pub struct MemoryCache {
    opts: MemoryOptions,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache").field("opts", &self.opts).finish()
    }
}

impl MemoryCache {
    /// An empty store.
    pub fn new(opts: MemoryOptions) -> Self {
        MemoryCache { opts, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many entries and bytes it holds.
    pub fn usage(&self) -> (usize, u64) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= (key.len() + old.data.len()) as u64;
        }
    }

    fn sweep_expired(&mut self) {
        let now = SystemTime::now();
        let expired: Vec<String> = self
            .map
            .iter()
            .filter(|(_, s)| s.expires.is_some_and(|e| now >= e))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.remove(&k);
        }
    }

    fn over(&self, opts: &MemoryOptions) -> bool {
        self.map.len() > opts.max_size || self.bytes > opts.max_bytes
    }
}

impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<CacheEntry> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let lru = self.opts.eviction == Eviction::Lru;
        let slot = inner.map.get_mut(key)?;
        if lru {
            slot.stamp = clock;
        }
        Some(CacheEntry { data: slot.data.clone(), expires: slot.expires })
    }

    async fn set(&self, key: &str, data: Arc<[u8]>, ttl: Option<Duration>) {
        // Keys count too: they come from what clients ask for.
        let len = (key.len() + data.len()) as u64;
        let mut inner = self.lock();
        inner.remove(key);
        if len > self.opts.max_bytes || self.opts.max_size == 0 {
            return;
        }
        let ttl = ttl.filter(|t| !t.is_zero()).or(self.opts.ttl);
        let expires = ttl.and_then(|t| SystemTime::now().checked_add(t));
        inner.clock += 1;
        let stamp = inner.clock;
        inner.map.insert(key.to_owned(), Slot { data, expires, stamp });
        inner.bytes += len;
        let sweep_due = self
            .opts
            .cleanup_interval
            .is_some_and(|i| inner.last_sweep.is_none_or(|t| t.elapsed() >= i));
        if sweep_due {
            inner.sweep_expired();
            inner.last_sweep = Some(Instant::now());
        }
        if inner.over(&self.opts) {
            inner.sweep_expired();
        }
        while inner.over(&self.opts) {
            let Some(victim) =
                inner.map.iter().min_by_key(|(_, s)| s.stamp).map(|(k, _)| k.clone())
            else {
                break;
            };
            inner.remove(&victim);
        }
    }

    async fn delete(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// Parses `eviction` (`oldest`, `lru`; case-insensitive). Anything else is gost's default.
pub fn eviction(name: &str) -> Eviction {
    if name.eq_ignore_ascii_case("lru") { Eviction::Lru } else { Eviction::Oldest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(s: &str) -> Arc<[u8]> {
        Arc::from(s.as_bytes())
    }

    #[tokio::test]
    async fn entries_expire_into_staleness_and_are_kept_until_swept() {
        let c = MemoryCache::new(MemoryOptions::default());
        c.set("a", data("1"), Some(Duration::from_millis(30))).await;
        c.set("forever", data("2"), None).await;
        let e = c.get("a").await.unwrap();
        assert!(!e.is_stale());
        std::thread::sleep(Duration::from_millis(50));
        assert!(c.get("a").await.unwrap().is_stale(), "kept, stale");
        assert!(!c.get("forever").await.unwrap().is_stale());
        c.delete("a").await;
        assert!(c.get("a").await.is_none());
        assert_eq!(c.usage(), (1, 8), "forever + 2");
    }

    #[tokio::test]
    async fn bounded_by_count_and_bytes_oldest_or_lru_first() {
        let opts = MemoryOptions { max_size: 2, max_bytes: 11, ..MemoryOptions::default() };
        let c = MemoryCache::new(opts.clone());
        c.set("a", data("1"), None).await;
        c.set("b", data("2"), None).await;
        c.get("a").await;
        c.set("c", data("3"), None).await;
        assert!(c.get("a").await.is_none(), "oldest goes first");
        let lru = MemoryCache::new(MemoryOptions { eviction: Eviction::Lru, ..opts });
        lru.set("a", data("1"), None).await;
        lru.set("b", data("2"), None).await;
        lru.get("a").await;
        lru.set("c", data("3"), None).await;
        assert!(lru.get("a").await.is_some() && lru.get("b").await.is_none(), "LRU keeps a");
        // Bytes: a value over the bound is not kept; others make room.
        lru.set("big", data("0123456789ABC"), None).await;
        assert!(lru.get("big").await.is_none());
        lru.set("d", data("0123456789"), None).await;
        assert_eq!(lru.usage(), (1, 11));
    }

    #[tokio::test]
    async fn a_flood_of_distinct_keys_stays_bounded() {
        let c = MemoryCache::new(MemoryOptions { max_size: 100, ..MemoryOptions::default() });
        for i in 0..10_000 {
            c.set(&format!("k{i}"), data("xxxxxxxxxx"), None).await;
        }
        assert_eq!(c.usage().0, 100);
        assert!(c.usage().1 <= 100 * 15);
    }
}
