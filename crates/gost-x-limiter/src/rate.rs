use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use gost_core::{Error, RateLimit, RateLimiter, Result};
use gost_x_matcher::IpTable;

use crate::bucket::TokenBucket;
use crate::{PRUNE_ABOVE, Scope, key_ip, split_line};

/// A rate of `r` per second with bursts of up to `r` (at least 1), gost's setting.
struct Rate {
    rate: f64,
    bucket: TokenBucket,
}

/// Scales to whole tokens: the bucket counts thousandths so that rates below 1/s work.
const SCALE: f64 = 1000.0;

impl Rate {
    fn new(rate: f64) -> Arc<Rate> {
        let per_s = (rate * SCALE) as u64;
        Arc::new(Rate { rate, bucket: TokenBucket::new(per_s, (rate.max(1.0) * SCALE) as u64) })
    }
}

impl RateLimit for Rate {
    fn allow(&self, n: usize) -> bool {
        self.bucket.try_take((n as f64 * SCALE) as u64)
    }
    fn limit(&self) -> f64 {
        self.rate
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
        self.0.iter().map(|r| r.rate).fold(f64::INFINITY, f64::min)
    }
}

#[derive(Default)]
struct Table {
    service: Option<Arc<Rate>>,
    each: f64,
    clients: IpTable<f64>,
}

/// The request-rate limiter of a service (`rlimiters`).
pub struct RateLimits {
    table: RwLock<Table>,
    per_ip: Mutex<HashMap<IpAddr, Arc<Rate>>>,
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
        Ok(RateLimits { table: RwLock::new(parse_table(lines)?), per_ip: Mutex::default() })
    }

    /// Replaces the lines; on error the old ones stay.
    pub fn set_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<()> {
        let table = parse_table(lines)?;
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = table;
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }
}

impl RateLimiter for RateLimits {
    fn limiter(&self, key: &str) -> Option<Arc<dyn RateLimit>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut rates = Vec::with_capacity(2);
        let ip = key_ip(key);
        let per_ip = match ip.and_then(|ip| table.clients.get(ip)) {
            Some((r, _)) => *r,
            None => table.each,
        };
        if let Some(ip) = ip
            && per_ip > 0.0
        {
            let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > PRUNE_ABOVE {
                map.retain(|_, r| Arc::strong_count(r) > 1);
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
}
