use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use gost_core::{ConnLimit, ConnLimiter, Error, Result};
use gost_x_matcher::IpTable;

use crate::{PRUNE_ABOVE, Scope, key_ip, split_line};

/// Open connections against a maximum.
#[derive(Debug)]
struct Counter {
    limit: i64,
    open: AtomicI64,
}

impl ConnLimit for Counter {
    fn allow(&self, n: i64) -> bool {
        if n <= 0 {
            self.open.fetch_add(n, Ordering::AcqRel);
            return true;
        }
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                (v + n <= self.limit).then_some(v + n)
            })
            .is_ok()
    }
    fn limit(&self) -> i64 {
        self.limit
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
        self.0.iter().map(|c| c.limit).min().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
struct Table {
    service: Option<Arc<Counter>>,
    each: i64,
    clients: IpTable<i64>,
}

/// The connection limiter of a service (`climiters`).
#[derive(Debug)]
pub struct ConnLimits {
    table: RwLock<Table>,
    per_ip: Mutex<HashMap<IpAddr, Arc<Counter>>>,
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
            Scope::Service => {
                table.service =
                    (n > 0).then(|| Arc::new(Counter { limit: n, open: AtomicI64::new(0) }))
            }
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
        Ok(ConnLimits { table: RwLock::new(parse_table(lines)?), per_ip: Mutex::default() })
    }

    /// Replaces the lines; on error the old ones stay. Connections open now keep counting
    /// against the limits they were admitted under.
    pub fn set_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<()> {
        let mut table = parse_table(lines)?;
        let mut current = self.table.write().unwrap_or_else(|e| e.into_inner());
        if let (Some(new), Some(old)) = (&table.service, &current.service) {
            new.open.store(old.open.load(Ordering::Acquire), Ordering::Release);
        }
        std::mem::swap(&mut *current, &mut table);
        self.per_ip.lock().unwrap_or_else(|e| e.into_inner()).clear();
        Ok(())
    }
}

impl ConnLimiter for ConnLimits {
    fn limiter(&self, key: &str) -> Option<Arc<dyn ConnLimit>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut counters = Vec::with_capacity(2);
        let ip = key_ip(key);
        let per_ip = match ip.and_then(|ip| table.clients.get(ip)) {
            Some((n, _)) => *n,
            None => table.each,
        };
        if let Some(ip) = ip
            && per_ip > 0
        {
            let mut map = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > PRUNE_ABOVE {
                map.retain(|_, c| Arc::strong_count(c) > 1 || c.open.load(Ordering::Acquire) > 0);
            }
            let c = map
                .entry(ip)
                .or_insert_with(|| Arc::new(Counter { limit: per_ip, open: AtomicI64::new(0) }));
            counters.push(c.clone());
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
    fn parse_errors_and_no_limits() {
        assert!(ConnLimits::new(&["$ x"]).is_err());
        assert!(ConnLimits::new(&["$ 1 2"]).is_err());
        assert!(ConnLimits::new(&["$ 0"]).unwrap().limiter("1.1.1.1").is_none());
    }
}
