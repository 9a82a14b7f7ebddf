use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use gost_core::{ConnLimit, ConnLimiter, Error, Result};
use gost_x_matcher::IpTable;

use crate::{PRUNE_ABOVE, Scope, key_ip, split_line};

/// Open connections against a maximum (which a reload may change in place).
#[derive(Debug)]
struct Counter {
    limit: AtomicI64,
    open: AtomicI64,
}

impl Counter {
    fn new(limit: i64) -> Arc<Counter> {
        Arc::new(Counter { limit: AtomicI64::new(limit), open: AtomicI64::new(0) })
    }
}

impl ConnLimit for Counter {
    fn allow(&self, n: i64) -> bool {
        if n <= 0 {
            self.open.fetch_add(n, Ordering::AcqRel);
            return true;
        }
        let limit = self.limit.load(Ordering::Acquire);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                (v + n <= limit).then_some(v + n)
            })
            .is_ok()
    }
    fn limit(&self) -> i64 {
        self.limit.load(Ordering::Acquire)
    }
}

/// All limits that apply to one client: every one must have room.
struct Group(Vec<Arc<Counter>>);

impl ConnLimit for Group {
    fn allow(&self, n: i64) -> bool {
        for (i, c) in self.0.iter().enumerate() {
            if !c.allow(n) {
                for taken in &self.0[..i] {
                    taken.allow(-n);
                }
                return false;
            }
        }
        true
    }
    fn limit(&self) -> i64 {
        self.0.iter().map(|c| c.limit()).min().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Table {
    service: Option<Arc<Counter>>,
    each: i64,
    clients: IpTable<i64>,
}

impl Table {
    /// The per-IP limit for `ip` (0 = none).
    fn per_ip(&self, ip: IpAddr) -> i64 {
        match self.clients.get(ip) {
            Some((n, _)) => *n,
            None => self.each,
        }
    }
}

/// The connection limiter of a service (`climiters`).
#[derive(Debug)]
pub struct ConnLimits {
    table: RwLock<Table>,
    per_ip: Mutex<HashMap<IpAddr, Arc<Counter>>>,
    /// The lines in force (a reload that reads the same lines changes nothing).
    lines: Mutex<Vec<String>>,
}

fn parse_table<S: AsRef<str>>(lines: &[S]) -> Result<Table> {
    let mut table = Table::default();
    for line in lines {
        let line = line.as_ref();
        let (scope, values) = split_line(line)?;
        let n: i64 = match values.as_slice() {
            [v] => v.parse().map_err(|_| {
                Error::config(format!("limit line {line:?}: {v:?} is not a number"))
            })?,
            _ => return Err(Error::config(format!("limit line {line:?}: expected KEY N"))),
        };
        let n = n.max(0);
        match scope {
            Scope::Service => table.service = (n > 0).then(|| Counter::new(n)),
            Scope::Each => table.each = n,
            Scope::Client(k) => {
                table.clients.insert(&k, n);
            }
        }
    }
    Ok(table)
}

impl ConnLimits {
    /// A limiter from `lines` (see the crate documentation).
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<Self> {
        Ok(ConnLimits {
            table: RwLock::new(parse_table(lines)?),
            per_ip: Mutex::default(),
            lines: Mutex::new(crate::owned(lines)),
        })
    }

    /// Replaces the lines; on error the old ones stay. The same lines change nothing. Counters
    /// are kept and their limits changed in place, so the connections open now still count
    /// (a limit that a reload introduces counts the connections opened after it).
    pub fn set_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<()> {
        let mut last = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if crate::same_lines(&last, lines) {
            return Ok(());
        }
        let mut table = parse_table(lines)?;
        let mut current = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let (Some(new), Some(old)) = (&table.service, &current.service) {
            old.limit.store(new.limit(), Ordering::Release);
            table.service = Some(old.clone());
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        per_ip.retain(|ip, counter| {
            let limit = table.per_ip(*ip);
            counter.limit.store(limit, Ordering::Release);
            limit > 0
        });
        *current = table;
        *last = crate::owned(lines);
        Ok(())
    }
}

impl ConnLimiter for ConnLimits {
    fn limiter(&self, key: &str) -> Option<Arc<dyn ConnLimit>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut counters = Vec::with_capacity(2);
        let ip = key_ip(key);
        if let Some(ip) = ip
            && let per_ip = table.per_ip(ip)
            && per_ip > 0
        {
            let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > PRUNE_ABOVE {
                // Only counters with nothing open and no holder: they carry no state.
                map.retain(|_, c| Arc::strong_count(c) > 1 || c.open.load(Ordering::Acquire) > 0);
            }
            counters.push(map.entry(ip).or_insert_with(|| Counter::new(per_ip)).clone());
        }
        if let Some(s) = &table.service {
            counters.push(s.clone());
        }
        match counters.len() {
            0 => None,
            _ => Some(Arc::new(Group(counters))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_and_per_ip_limits() {
        let l = ConnLimits::new(&["$ 3", "$$ 2", "10.0.0.1 1"]).unwrap();
        let a = l.limiter("1.1.1.1").unwrap();
        assert!(a.allow(1));
        assert!(a.allow(1));
        assert!(!a.allow(1), "third from the same IP");
        let b = l.limiter("1.1.1.2:5").unwrap();
        assert!(b.allow(1));
        assert!(!b.allow(1), "service limit of 3 reached");
        a.allow(-1);
        assert!(b.allow(1));
        let c = l.limiter("10.0.0.1").unwrap();
        b.allow(-1);
        assert!(c.allow(1));
        assert!(!c.allow(1));
    }

    #[test]
    fn reloads_keep_the_counts_and_change_limits_in_place() {
        let l = ConnLimits::new(&["$ 3", "$$ 2"]).unwrap();
        let held: Vec<_> = (0..3)
            .map(|i| {
                let c = l.limiter(&format!("10.0.0.{}:1", i % 2 + 1)).unwrap();
                assert!(c.allow(1));
                c
            })
            .collect();
        // Reloads with the same lines, then with a new service limit: open connections count.
        for _ in 0..5 {
            l.set_lines(&["$ 3", "$$ 2"]).unwrap();
        }
        assert!(!l.limiter("10.0.0.3:1").unwrap().allow(1), "service full");
        l.set_lines(&["$ 4", "$$ 2"]).unwrap();
        let fourth = l.limiter("10.0.0.3:9").unwrap();
        assert!(fourth.allow(1), "one more under $ 4");
        assert!(!l.limiter("10.0.0.4:9").unwrap().allow(1), "and no more");
        fourth.allow(-1);
        // Per-IP counts survive too: 10.0.0.1 holds 2.
        assert!(!l.limiter("10.0.0.1:9").unwrap().allow(1));
        for c in &held {
            c.allow(-1);
        }
        assert!(l.limiter("10.0.0.1:9").unwrap().allow(1));
    }

    #[test]
    fn parse_errors_and_no_limits() {
        assert!(ConnLimits::new(&["$ x"]).is_err());
        assert!(ConnLimits::new(&["$ 1 2"]).is_err());
        assert!(ConnLimits::new(&["$ 0"]).unwrap().limiter("1.1.1.1").is_none());
    }
}
