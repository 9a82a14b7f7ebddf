//! # gost-x-matcher
//!
//! The address patterns of gost's admission, bypass and limiter lists, classified as gost does:
//!
//! * `10.0.0.0/8`, `fd00::/8`: a CIDR block;
//! * `192.168.1.10-192.168.1.20`: an IP range;
//! * `*.example.com`, `api?.example.com` (optionally `:443` or `:8000-9000`): a wildcard, where
//!   `*` is any run of characters (dots included) and `?` one character;
//! * `example.com` (exactly that name), `.example.com` (the name and every subdomain), `1.2.3.4`,
//!   each optionally with `:port` or `:min-max`.
//!
//! Host names compare case-insensitively. A pattern with a `/` that is not a valid CIDR is an
//! error rather than a name nobody can match.

pub mod rule;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gost_core::{Address, Error, Result};

/// An inclusive port range; a single port is `p-p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    min: u16,
    max: u16,
}

impl PortRange {
    /// Parses `80` or `8000-9000`; `None` if `s` is neither.
    pub fn parse(s: &str) -> Option<PortRange> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let (min, max) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (min <= max).then_some(PortRange { min, max })
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix`; `None` if `s` is not one.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (ip, prefix) = s.split_once('/')?;
        let net: IpAddr = ip.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if net.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Cidr { net, prefix })
    }

    /// Whether `ip` is inside the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// The prefix length (more is more specific).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

fn ip_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Splits `host:port`, `[v6]:port`, a bare host, or a bare IPv6 address.
fn split_pattern(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        return (host, tail.strip_prefix(':'));
    }
    match s.rsplit_once(':') {
        // More than one colon without brackets: an IPv6 address, no port.
        Some((host, _)) if host.contains(':') => (s, None),
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    }
}

/// Matches `text` against a glob where `*` is any run of bytes and `?` one byte.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn ports_match(ranges: &[Option<PortRange>], port: u16) -> bool {
    ranges.iter().any(|r| r.is_none_or(|r| r.contains(port)))
}

/// A compiled list of patterns.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    cidrs: Vec<Cidr>,
    ranges: Vec<(u128, u128)>,
    /// Exact names and IPs, and `.suffix` entries, each with the ports they apply to.
    addrs: HashMap<String, Vec<Option<PortRange>>>,
    wildcards: Vec<(String, Option<PortRange>)>,
    /// Plain IPs with no port, for [`Matcher::matches_ip`].
    ips: HashSet<u128>,
    len: usize,
}

impl Matcher {
    /// Compiles `patterns` (see the crate documentation).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher> {
        let mut m = Matcher::default();
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            if pattern.is_empty() {
                continue;
            }
            m.len += 1;
            if pattern.contains('/') {
                let cidr = Cidr::parse(pattern)
                    .ok_or_else(|| Error::config(format!("invalid CIDR {pattern:?}")))?;
                m.cidrs.push(cidr);
                continue;
            }
            let (host, port) = split_pattern(pattern);
            let ports = match port {
                None => None,
                Some(p) => Some(PortRange::parse(p).ok_or_else(|| {
                    Error::config(format!("invalid port or port range in {pattern:?}"))
                })?),
            };
            if host.contains(['*', '?']) {
                m.wildcards.push((host.to_ascii_lowercase(), ports));
                continue;
            }
            if let Some((a, b)) = pattern.split_once('-')
                && let (Ok(a), Ok(b)) = (a.trim().parse::<IpAddr>(), b.trim().parse::<IpAddr>())
            {
                m.ranges.push((ip_key(a), ip_key(b)));
                continue;
            }
            if let Ok(ip) = host.parse::<IpAddr>() {
                if ports.is_none() {
                    m.ips.insert(ip_key(ip));
                }
                m.addrs.entry(ip.to_canonical().to_string()).or_default().push(ports);
                continue;
            }
            m.addrs.entry(host.to_ascii_lowercase()).or_default().push(ports);
        }
        Ok(m)
    }

    /// How many patterns were given.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a client IP matches an IP, CIDR or IP-range pattern (what admission checks).
    pub fn matches_ip(&self, ip: IpAddr) -> bool {
        let key = ip_key(ip);
        self.ips.contains(&key)
            || self.cidrs.iter().any(|c| c.contains(ip))
            || self.ranges.iter().any(|&(a, b)| (a..=b).contains(&key))
    }

    /// Whether a target matches any pattern (what bypass checks).
    /// A numeric host name (`127.1`, `0x7f000001`, ...) is matched as the address it stands
    /// for, since that is what a dial connects to.
    pub fn matches(&self, target: &Address) -> bool {
        let sa = match target {
            Address::Ip(sa) => *sa,
            Address::Domain(host, port) => match gost_core::addr::numeric_ip(host) {
                Some(ip) => SocketAddr::new(ip, *port),
                None => {
                    let host = host.trim_end_matches('.').to_ascii_lowercase();
                    return self.matches_host(&host, *port);
                }
            },
        };
        if self.matches_sa(sa) {
            return true;
        }
        // Connecting to the unspecified address (of either family) reaches this host's own
        // listeners: for what a rule forbids it is loopback, of both families.
        if sa.ip().to_canonical().is_unspecified() {
            return [IpAddr::from(Ipv4Addr::LOCALHOST), IpAddr::from(Ipv6Addr::LOCALHOST)]
                .into_iter()
                .any(|lo| self.matches_sa(SocketAddr::new(lo, sa.port())));
        }
        false
    }

    fn matches_sa(&self, sa: SocketAddr) -> bool {
        let ip = sa.ip();
        let key = ip_key(ip);
        if self.cidrs.iter().any(|c| c.contains(ip))
            || self.ranges.iter().any(|&(a, b)| (a..=b).contains(&key))
        {
            return true;
        }
        self.matches_host(&ip.to_canonical().to_string(), sa.port())
    }

    fn matches_host(&self, host: &str, port: u16) -> bool {
        let hit = |key: &str| self.addrs.get(key).is_some_and(|r| ports_match(r, port));
        if hit(host) {
            return true;
        }
        // `.example.com` covers example.com itself and every name under it.
        let mut rest = host;
        let mut dotted = String::with_capacity(host.len() + 1);
        loop {
            dotted.clear();
            dotted.push('.');
            dotted.push_str(rest);
            if hit(&dotted) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, tail)) if !tail.is_empty() => rest = tail,
                _ => break,
            }
        }
        self.wildcards.iter().any(|(g, ports)| {
            glob_match(g.as_bytes(), host.as_bytes()) && ports.is_none_or(|r| r.contains(port))
        })
    }
}

/// Values keyed by exact IP or by CIDR block (the most specific block wins), as the limiters'
/// per-client lines are.
#[derive(Debug, Clone)]
pub struct IpTable<T> {
    exact: HashMap<u128, T>,
    blocks: Vec<(Cidr, T)>,
}

impl<T> Default for IpTable<T> {
    fn default() -> Self {
        IpTable { exact: HashMap::new(), blocks: Vec::new() }
    }
}

impl<T> IpTable<T> {
    /// Adds `key` (an IP or a CIDR) with `value`; `false` if `key` is neither.
    pub fn insert(&mut self, key: &str, value: T) -> bool {
        if let Ok(ip) = key.parse::<IpAddr>() {
            self.exact.insert(ip_key(ip), value);
            return true;
        }
        match Cidr::parse(key) {
            Some(c) => {
                self.blocks.push((c, value));
                self.blocks.sort_by_key(|(c, _)| std::cmp::Reverse(c.prefix()));
                true
            }
            None => false,
        }
    }

    /// The value for `ip`: its exact entry, else the most specific block containing it.
    /// The flag says whether the match was exact.
    pub fn get(&self, ip: IpAddr) -> Option<(&T, bool)> {
        if let Some(v) = self.exact.get(&ip_key(ip)) {
            return Some((v, true));
        }
        self.blocks.iter().find(|(c, _)| c.contains(ip)).map(|(_, v)| (v, false))
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.blocks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &[&str]) -> Matcher {
        Matcher::new(p).unwrap()
    }
    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn domains_suffixes_and_ports() {
        let x = m(&["example.com", ".example.org", "api.test:443", "web.test:8000-8010"]);
        assert!(x.matches(&a("example.com:80")));
        assert!(x.matches(&a("EXAMPLE.com:1")));
        assert!(!x.matches(&a("www.example.com:80")));
        assert!(x.matches(&a("example.org:80")));
        assert!(x.matches(&a("a.b.example.org:80")));
        assert!(!x.matches(&a("badexample.org:80")));
        assert!(x.matches(&a("api.test:443")));
        assert!(!x.matches(&a("api.test:80")));
        assert!(x.matches(&a("web.test:8005")));
        assert!(!x.matches(&a("web.test:8011")));
    }

    #[test]
    fn wildcards() {
        let x = m(&["*.example.com", "db?.local:5432"]);
        assert!(x.matches(&a("www.example.com:80")));
        assert!(x.matches(&a("a.b.example.com:80")));
        assert!(!x.matches(&a("example.com:80")));
        assert!(x.matches(&a("db1.local:5432")));
        assert!(!x.matches(&a("db12.local:5432")));
        assert!(!x.matches(&a("db1.local:80")));
        assert!(glob_match(b"*a*b", b"xxaxxb"));
        assert!(!glob_match(b"*a*b", b"xxaxxbc"));
        assert!(glob_match(b"**", b""));
    }

    #[test]
    fn ips_cidrs_and_ranges() {
        let x = m(&["10.0.0.0/8", "192.168.1.10-192.168.1.20", "1.2.3.4", "::1", "fd00::/8"]);
        assert!(x.matches(&a("10.9.8.7:80")));
        assert!(!x.matches(&a("11.0.0.1:80")));
        assert!(x.matches(&a("192.168.1.15:80")));
        assert!(!x.matches(&a("192.168.1.21:80")));
        assert!(x.matches(&a("1.2.3.4:9")));
        assert!(x.matches(&a("[::1]:80")));
        assert!(x.matches(&a("[fd12::1]:80")));
        assert!(x.matches_ip("10.1.1.1".parse().unwrap()));
        assert!(x.matches_ip("::ffff:10.1.1.1".parse().unwrap()));
        assert!(x.matches_ip("1.2.3.4".parse().unwrap()));
        assert!(!x.matches_ip("1.2.3.5".parse().unwrap()));
        let y = m(&["0.0.0.0/0"]);
        assert!(y.matches_ip("8.8.8.8".parse().unwrap()));
        assert!(!y.matches_ip("::2".parse().unwrap()));
    }

    #[test]
    fn numeric_host_names_match_ip_rules() {
        let m = m(&["127.0.0.0/8", "10.0.0.1", "192.168.0.1-192.168.0.9"]);
        for spelling in ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.0.0.1."] {
            assert!(m.matches(&Address::Domain(spelling.into(), 80)), "{spelling}");
        }
        assert!(m.matches(&Address::Domain("012.0.0.1".into(), 80)), "octal 10.0.0.1");
        assert!(m.matches(&Address::Domain("0xc0a80005".into(), 80)), "in the range");
        assert!(!m.matches(&Address::Domain("128.1".into(), 80)));
        assert!(!m.matches(&Address::Domain("example.com".into(), 80)));
        // The unspecified address (any spelling) reaches loopback.
        for spelling in ["0", "0.0.0.0", "0x0", "::", "::ffff:0.0.0.0"] {
            assert!(m.matches(&Address::Domain(spelling.into(), 80)), "{spelling}");
        }
        assert!(m.matches(&a("0.0.0.0:80")));
        assert!(!self::m(&["10.0.0.0/8"]).matches(&a("0.0.0.0:80")));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::new(&["10.0.0.0/33"]).is_err());
        assert!(Matcher::new(&["example.com:http"]).is_err());
        assert!(Matcher::new(&["example.com:90-80"]).is_err());
        assert_eq!(m(&["", " a.com "]).len(), 1);
    }

    #[test]
    fn ip_table_prefers_exact_then_most_specific() {
        let mut t = IpTable::default();
        assert!(t.insert("10.0.0.0/8", 1));
        assert!(t.insert("10.1.0.0/16", 2));
        assert!(t.insert("10.1.2.3", 3));
        assert!(!t.insert("nope", 4));
        let get = |s: &str| t.get(s.parse().unwrap()).map(|(v, e)| (*v, e));
        assert_eq!(get("10.1.2.3"), Some((3, true)));
        assert_eq!(get("10.1.9.9"), Some((2, false)));
        assert_eq!(get("10.9.9.9"), Some((1, false)));
        assert_eq!(get("11.0.0.1"), None);
    }
}
