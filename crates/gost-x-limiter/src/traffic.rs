use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock, Weak};

use gost_core::{Error, Result, TrafficLimit, TrafficLimiter};
use gost_x_matcher::IpTable;

use crate::bucket::{Group, TokenBucket};
use crate::{PRUNE_ABOVE, Scope, key_ip, parse_size, split_line};

/// `IN OUT BURST` of one line, in bytes (0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rates {
    input: u64,
    output: u64,
    burst: u64,
}

#[derive(Debug, Default)]
struct Table {
    service: Rates,
    each: Rates,
    clients: IpTable<Rates>,
}

/// Direction of a lookup.
#[derive(Clone, Copy)]
enum Dir {
    In,
    Out,
}

impl Rates {
    fn get(&self, dir: Dir) -> u64 {
        match dir {
            Dir::In => self.input,
            Dir::Out => self.output,
        }
    }
}

type Shared = Mutex<HashMap<IpAddr, Weak<TokenBucket>>>;

/// The traffic limiter of a service (`limiters`).
#[derive(Debug)]
pub struct TrafficLimits {
    table: RwLock<Table>,
    service_in: Arc<TokenBucket>,
    service_out: Arc<TokenBucket>,
    /// Per-IP budgets shared by every connection from that IP.
    clients_in: Shared,
    clients_out: Shared,
    /// The lines in force (a reload that reads the same lines changes nothing).
    lines: Mutex<Vec<String>>,
}

fn parse_rates(line: &str, values: &[&str]) -> Result<Rates> {
    let size = |i: usize| -> Result<u64> {
        match values.get(i) {
            None => Ok(0),
            // gost: zero or negative is "no limit".
            Some(v) if v.starts_with('-') => Ok(0),
            Some(v) => parse_size(v).ok_or_else(|| {
                Error::config(format!("limit line {line:?}: {v:?} is not a size such as 10MB"))
            }),
        }
    };
    if values.len() > 3 {
        return Err(Error::config(format!("limit line {line:?}: expected KEY IN [OUT [BURST]]")));
    }
    Ok(Rates { input: size(0)?, output: size(1)?, burst: size(2)? })
}

fn parse_table<S: AsRef<str>>(lines: &[S]) -> Result<Table> {
    let mut table = Table::default();
    for line in lines {
        let line = line.as_ref();
        let (scope, values) = split_line(line)?;
        let rates = parse_rates(line, &values)?;
        match scope {
            Scope::Service => table.service = rates,
            Scope::Each => table.each = rates,
            Scope::Client(k) => {
                table.clients.insert(&k, rates);
            }
        }
    }
    Ok(table)
}

impl TrafficLimits {
    /// A limiter from `lines` (see the crate documentation).
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<Self> {
        let table = parse_table(lines)?;
        Ok(TrafficLimits {
            service_in: Arc::new(TokenBucket::new(table.service.input, table.service.burst)),
            service_out: Arc::new(TokenBucket::new(table.service.output, table.service.burst)),
            table: RwLock::new(table),
            clients_in: Mutex::default(),
            clients_out: Mutex::default(),
            lines: Mutex::new(crate::owned(lines)),
        })
    }

    /// Replaces the lines; on error the old ones stay. The same lines change nothing; the
    /// service and per-IP budgets are kept and changed in place, so the connections open now
    /// follow the new limits and a reload never hands out a fresh budget.
    pub fn set_lines<S: AsRef<str>>(&self, lines: &[S]) -> Result<()> {
        let mut last = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if crate::same_lines(&last, lines) {
            return Ok(());
        }
        let table = parse_table(lines)?;
        // Under the table's write lock: a lookup cannot make a bucket with the old rates
        // between the update of the live ones and the swap.
        let mut current = self.table.write().unwrap_or_else(|e| e.into_inner());
        self.service_in.set(table.service.input, table.service.burst);
        self.service_out.set(table.service.output, table.service.burst);
        for (shared, dir) in [(&self.clients_in, Dir::In), (&self.clients_out, Dir::Out)] {
            let mut map = shared.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|ip, bucket| {
                let Some(bucket) = bucket.upgrade() else { return false };
                // An IP without a line any more: its connections go unlimited.
                let rates = table.clients.get(*ip).map(|(r, _)| *r).unwrap_or_default();
                bucket.set(rates.get(dir), rates.burst);
                true
            });
        }
        *current = table;
        *last = crate::owned(lines);
        Ok(())
    }

    fn lookup(&self, key: &str, dir: Dir) -> Option<Arc<dyn TrafficLimit>> {
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        let mut limits: Vec<Arc<dyn TrafficLimit>> = Vec::new();
        let (service, shared) = match dir {
            Dir::In => (&self.service_in, &self.clients_in),
            Dir::Out => (&self.service_out, &self.clients_out),
        };
        if service.limit() > 0 {
            limits.push(service.clone());
        }
        let each = table.each.get(dir);
        if each > 0 {
            limits.push(Arc::new(TokenBucket::new(each, table.each.burst)));
        }
        if let Some(ip) = key_ip(key)
            && let Some((rates, _)) = table.clients.get(ip)
            && rates.get(dir) > 0
        {
            let mut map = shared.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = match map.get(&ip).and_then(Weak::upgrade) {
                Some(b) => b,
                None => {
                    if map.len() > PRUNE_ABOVE {
                        map.retain(|_, w| w.strong_count() > 0);
                    }
                    let b = Arc::new(TokenBucket::new(rates.get(dir), rates.burst));
                    map.insert(ip, Arc::downgrade(&b));
                    b
                }
            };
            limits.push(bucket);
        }
        match limits.len() {
            0 => None,
            1 => limits.pop(),
            _ => Some(Arc::new(Group(limits))),
        }
    }
}

impl TrafficLimiter for TrafficLimits {
    fn limit_in(&self, key: &str) -> Option<Arc<dyn TrafficLimit>> {
        self.lookup(key, Dir::In)
    }
    fn limit_out(&self, key: &str) -> Option<Arc<dyn TrafficLimit>> {
        self.lookup(key, Dir::Out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn scopes() {
        let t = TrafficLimits::new(&[
            "$ 100KB 200KB",
            "$$ 10KB",
            "192.168.1.1 1KB 2KB",
            "10.0.0.0/8 5KB 5KB 8KB",
        ])
        .unwrap();
        // Service + per connection: the smaller burst applies.
        let a = t.limit_in("1.1.1.1:1000").unwrap();
        assert_eq!(a.limit(), 10 * 1024);
        assert_eq!(t.limit_out("1.1.1.1:1000").unwrap().limit(), 200 * 1024);
        // Per-IP budgets are shared by that IP's connections; per-connection ones are not.
        let x = t.limit_in("192.168.1.1:1").unwrap();
        let y = t.limit_in("192.168.1.1:2").unwrap();
        assert_eq!(x.limit(), 1024);
        assert_eq!(x.consume(1024), Duration::ZERO);
        assert!(y.consume(1024) > Duration::from_millis(900));
        assert_eq!(t.limit_in("10.1.2.3:9").unwrap().burst(), 8 * 1024);
    }

    #[test]
    fn no_lines_no_limit_and_bad_lines_fail() {
        let t = TrafficLimits::new::<&str>(&[]).unwrap();
        assert!(t.limit_in("1.1.1.1:1").is_none());
        assert!(TrafficLimits::new(&["$"]).is_err());
        assert!(TrafficLimits::new(&["$ 10XB"]).is_err());
        assert!(TrafficLimits::new(&["host 10KB"]).is_err());
        assert!(TrafficLimits::new(&["$ 1 2 3 4"]).is_err());
        let t = TrafficLimits::new(&["$ 0 -1"]).unwrap();
        assert!(t.limit_in("1.1.1.1:1").is_none());
    }

    #[test]
    fn reloads_keep_per_ip_budgets_shared_and_change_them_in_place() {
        let t = TrafficLimits::new(&["192.168.1.1 1KB"]).unwrap();
        let old = t.limit_in("192.168.1.1:1").unwrap();
        assert_eq!(old.consume(1024), Duration::ZERO);
        for _ in 0..3 {
            t.set_lines(&["192.168.1.1 1KB"]).unwrap();
        }
        // A new connection from that IP shares the drained budget (no fresh one per reload).
        let new = t.limit_in("192.168.1.1:2").unwrap();
        assert!(new.consume(1024) > Duration::from_millis(900));
        t.set_lines(&["192.168.1.1 4KB"]).unwrap();
        assert_eq!(old.limit(), 4096, "live connections follow the new limit");
    }

    #[test]
    fn reload_changes_the_service_budget_in_place() {
        let t = TrafficLimits::new(&["$ 1KB"]).unwrap();
        let live = t.limit_in("1.1.1.1:1").unwrap();
        t.set_lines(&["$ 2KB"]).unwrap();
        assert_eq!(live.limit(), 2048);
        assert!(t.set_lines(&["bad"]).is_err());
        assert_eq!(t.limit_in("1.1.1.1:1").unwrap().limit(), 2048);
    }
}
