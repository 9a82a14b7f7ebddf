use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use gost_core::{Error, RateLimit, RateLimiter, Result};
use gost_x_matcher::IpTable;

use crate::bucket::TokenBucket;
use crate::{PRUNE_ABOVE, Scope, key_ip, split_line};

/// A rate of `r` per second with bursts of up to `r` (at least 1), gost's setting.
struct Rate {
    /// The rate's `f64` bits (a reload changes it in place).
    rate: AtomicU64,
    bucket: TokenBucket,
}

/// Scales to whole tokens: the bucket counts thousandths so that rates below 1/s work.
const SCALE: f64 = 1000.0;

/// The bucket's rate and burst for a rate of `rate` per second.
fn bucket_of(rate: f64) -> (u64, u64) {
    ((rate * SCALE) as u64, (rate.max(1.0) * SCALE) as u64)
}

impl Rate {
    fn new(rate: f64) -> Arc<Rate> {
        let (per_s, burst) = bucket_of(rate);
        Arc::new(Rate {
            rate: AtomicU64::new(rate.to_bits()),
            bucket: TokenBucket::new(per_s, burst),
        })
    }

    fn set(&self, rate: f64) {
        let (per_s, burst) = bucket_of(rate);
        self.bucket.set(per_s, burst);
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }
}

impl RateLimit for Rate {
    fn allow(&self, n: usize) -> bool {
        self.bucket.try_take((n as f64 * SCALE) as u64)
    }
    fn limit(&self) -> f64 {
        self.rate()
    }
}

struct Group(Vec<Arc<Rate>>);

impl RateLimit for Group {
    fn allow(&self, n: usize) -> bool {
        // Every limit is asked, so a refused request still counts where it was allowed (as
        // gost's rate group does).
        let mut ok = true;
        for r in &self.0 {
            ok &= r.allow(n);
        }
        ok
    }
    fn limit(&self) -> f64 {
        self.0.iter().map(|r| r.rate()).fold(f64::INFINITY, f64::min)
    }
}

#[derive(Default)]
struct Table {
    service: Option<Arc<Rate>>,
    each: f64,
    clients: IpTable<f64>,
}

impl Table {
    /// The per-IP rate for `ip` (0 = none).
    fn per_ip(&self, ip: IpAddr) -> f64 {
        match self.clients.get(ip) {
            Some((r, _)) => *r,
            None => self.each,
        }
    }
}

/// The request-rate limiter of a service (`rlimiters`).
pub struct RateLimits {
    table: RwLock<Table>,
    per_ip: Mutex<HashMap<IpAddr, Arc<Rate>>>,
    /// The lines in force (a reload that reads the same lines changes nothing).
    lines: Mutex<Vec<String>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

fn parse_table<S: AsRef<str>>(lines: &[S]) -> Result<Table> {
    let mut table = Table::default();
    for line in lines {
        let line = line.as_ref();
        let (scope, values) = split_line(line)?;
        let r: f64 = match values.as_slice() {
            [v] => v.parse().ok().filter(|r: &f64| r.is_finite()).ok_or_else(|| {
                Error::config(format!("limit line {line:?}: {v:?} is not a rate"))
            })?,
            _ => return Err(Error::config(format!("limit line {line:?}: expected KEY RATE"))),
        };
        let r = r.max(0.0);
        match scope {
            Scope::Service => table.service = (r > 0.0).then(|| Rate::new(r)),
            Scope::Each => table.each = r,
            Scope::Client(k) => {
                table.clients.insert(&k, r);
            }
        }
    }
    Ok(table)
}

impl RateLimits {
    /// A limiter from `lines` (see the crate documentation).
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<Self> {
        Ok(RateLimits {
            table: RwLock::new(parse_table(lines)?),
            per_ip: Mutex::default(),
            lines: Mutex::new(crate::owned(lines)),
        })
    }

    /// Replaces the lines; on error the old ones stay. The same lines change nothing; the
    /// buckets are kept and their rates changed in place (a reload never refills them).
    pub fn set_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<()> {
        let mut last = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if crate::same_lines(&last, lines) {
            return Ok(());
        }
        let mut table = parse_table(lines)?;
        let mut current = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let (Some(new), Some(old)) = (&table.service, &current.service) {
            old.set(new.rate());
            table.service = Some(old.clone());
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        per_ip.retain(|ip, rate| {
            let r = table.per_ip(*ip);
            if r > 0.0 {
                rate.set(r);
            }
            r > 0.0
        });
        *current = table;
        *last = crate::owned(lines);
        Ok(())
    }
}

/// Makes room in a full per-IP map by dropping the least recently used bucket that nobody
/// holds. (Dropping every idle bucket at once would let a client with many addresses empty the
/// map, and with it the drained bucket of its main address.)
fn evict_oldest(map: &mut HashMap<IpAddr, Arc<Rate>>) {
    let oldest = map
        .iter()
        .filter(|(_, r)| Arc::strong_count(r) == 1)
        .min_by_key(|(_, r)| r.bucket.last_used())
        .map(|(ip, _)| *ip);
    if let Some(ip) = oldest {
        map.remove(&ip);
    }
}

impl RateLimiter for RateLimits {
    fn limiter(&self, key: &str) -> Option<Arc<dyn RateLimit>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut rates = Vec::with_capacity(2);
        let ip = key_ip(key);
        if let Some(ip) = ip
            && let per_ip = table.per_ip(ip)
            && per_ip > 0.0
        {
            let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= PRUNE_ABOVE && !map.contains_key(&ip) {
                evict_oldest(&mut map);
            }
            rates.push(map.entry(ip).or_insert_with(|| Rate::new(per_ip)).clone());
        }
        if let Some(s) = &table.service {
            rates.push(s.clone());
        }
        match rates.len() {
            0 => None,
            _ => Some(Arc::new(Group(rates))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_above_the_rate_are_refused() {
        let l = RateLimits::new(&["$ 2"]).unwrap();
        let a = l.limiter("1.1.1.1:1").unwrap();
        assert!(a.allow(1));
        assert!(a.allow(1));
        assert!(!a.allow(1));
    }

    #[test]
    fn per_ip() {
        let l = RateLimits::new(&["$$ 1", "10.0.0.0/8 3"]).unwrap();
        let a = l.limiter("1.1.1.1").unwrap();
        assert!(a.allow(1));
        assert!(!l.limiter("1.1.1.1").unwrap().allow(1));
        assert!(l.limiter("1.1.1.2").unwrap().allow(1));
        let b = l.limiter("10.1.1.1").unwrap();
        assert!(b.allow(1) && b.allow(1) && b.allow(1));
        assert!(!b.allow(1));
        assert!(RateLimits::new(&["$ fast"]).is_err());
        assert_eq!(RateLimits::new(&["$ 0.5"]).unwrap().limiter("x").unwrap().limit(), 0.5);
    }

    #[test]
    fn reloads_never_refill_a_drained_bucket() {
        let l = RateLimits::new(&["$ 100", "$$ 1"]).unwrap();
        assert!(l.limiter("1.1.1.1:1").unwrap().allow(1));
        for _ in 0..5 {
            l.set_lines(&["$ 100", "$$ 1"]).unwrap();
            assert!(!l.limiter("1.1.1.1:1").unwrap().allow(1), "same lines: still drained");
        }
        l.set_lines(&["$ 100", "$$ 2"]).unwrap();
        let a = l.limiter("1.1.1.1:1").unwrap();
        assert_eq!(a.limit(), 2.0, "the new rate applies to the kept bucket");
    }

    #[test]
    fn many_addresses_cannot_flush_a_drained_bucket() {
        let l = RateLimits::new(&["$$ 1"]).unwrap();
        assert!(l.limiter("10.0.0.1:1").unwrap().allow(1));
        // More fresh addresses than the map holds, each used once.
        for i in 0..(PRUNE_ABOVE as u32 + 10) {
            let ip = std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | u128::from(i));
            let _ = l.limiter(&format!("[{ip}]:1")).unwrap().allow(1);
            // The drained address keeps trying; it stays recent, so it is never evicted.
            assert!(!l.limiter("10.0.0.1:1").unwrap().allow(1), "after {i} addresses");
        }
        assert!(l.per_ip.lock().unwrap().len() <= PRUNE_ABOVE);
    }
}
