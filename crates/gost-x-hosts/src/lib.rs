//! # gost-x-hosts
//!
//! [`StaticHosts`]: host name → IP mappings (`hosts` objects), consulted by the router before
//! the resolver. As in gost, a name is looked up exactly, then as `.name`, then by its parent
//! domains written with a leading dot (`.example.com` maps every name under example.com), then
//! `.` (every name). File lines use the `/etc/hosts` form `IP name [alias...]`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use gost_core::{Error, HostMapper, Network, Result};

type Map = HashMap<String, Vec<IpAddr>>;

/// A fixed table of mappings.
#[derive(Debug, Default)]
pub struct StaticHosts {
    map: RwLock<Arc<Map>>,
}

/// Parses `/etc/hosts`-style lines (`#` comments already removed or not).
pub fn parse_lines<S: AsRef<str>>(lines: &[S]) -> Result<Vec<(String, IpAddr)>> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.as_ref();
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next() else { continue };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| Error::config(format!("hosts line {line:?}: {ip:?} is not an IP")))?;
        let names: Vec<&str> = fields.collect();
        if names.is_empty() {
            return Err(Error::config(format!("hosts line {line:?} has no host name")));
        }
        out.extend(names.into_iter().map(|n| (n.to_owned(), ip)));
    }
    Ok(out)
}

fn build(mappings: Vec<(String, IpAddr)>) -> Map {
    let mut map = Map::new();
    for (name, ip) in mappings {
        let ips = map.entry(name.to_ascii_lowercase()).or_default();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    map
}

impl StaticHosts {
    /// A table of `(name, ip)` mappings; a name given twice maps to every IP given.
    pub fn new(mappings: Vec<(String, IpAddr)>) -> Self {
        StaticHosts { map: RwLock::new(Arc::new(build(mappings))) }
    }

    /// Replaces the mappings.
    pub fn set_mappings(&self, mappings: Vec<(String, IpAddr)>) {
        *self.map.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(build(mappings));
    }

    /// The synchronous lookup behind [`HostMapper::lookup`].
    pub fn get(&self, network: Network, host: &str) -> Option<Vec<IpAddr>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner()).clone();
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut found = map.get(&host).or_else(|| map.get(&format!(".{host}")));
        let mut rest = host.as_str();
        while found.is_none()
            && let Some((_, parent)) = rest.split_once('.')
        {
            found = map.get(&format!(".{parent}"));
            rest = parent;
        }
        let ips = found.or_else(|| map.get("."))?;
        let ips: Vec<IpAddr> = ips
            .iter()
            .copied()
            .filter(|ip| match network {
                Network::Tcp4 | Network::Udp4 => ip.is_ipv4(),
                Network::Tcp6 | Network::Udp6 => ip.is_ipv6(),
                _ => true,
            })
            .collect();
        (!ips.is_empty()).then_some(ips)
    }
}

impl HostMapper for StaticHosts {
    async fn lookup(&self, network: Network, host: String) -> Option<Vec<IpAddr>> {
        self.get(network, &host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn exact_suffix_and_catch_all() {
        let h = StaticHosts::new(
            parse_lines(&[
                "127.0.0.1 app.test alias.test # comment",
                "::1 app.test",
                "10.0.0.1 .corp.test",
                "# only a comment",
                "",
            ])
            .unwrap(),
        );
        assert_eq!(h.get(Network::Tcp, "APP.test"), Some(vec![ip("127.0.0.1"), ip("::1")]));
        assert_eq!(h.get(Network::Tcp4, "app.test"), Some(vec![ip("127.0.0.1")]));
        assert_eq!(h.get(Network::Tcp6, "alias.test"), None);
        assert_eq!(h.get(Network::Tcp, "corp.test"), Some(vec![ip("10.0.0.1")]));
        assert_eq!(h.get(Network::Tcp, "a.b.corp.test"), Some(vec![ip("10.0.0.1")]));
        assert_eq!(h.get(Network::Tcp, "other.test"), None);
        h.set_mappings(vec![(".".into(), ip("192.0.2.1"))]);
        assert_eq!(h.get(Network::Tcp, "anything"), Some(vec![ip("192.0.2.1")]));
    }

    #[test]
    fn bad_lines() {
        assert!(parse_lines(&["notanip host"]).is_err());
        assert!(parse_lines(&["127.0.0.1"]).is_err());
    }
}
