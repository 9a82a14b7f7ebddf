//! Addresses as proxy protocols carry them: an IP socket address, or a domain name and a port.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::error::{Error, Result};

/// A target or node address: an IP with a port, or a host name with a port (resolved late, by the
/// router or by the next proxy).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A host name (not an IP literal) and port.
    Domain(String, u16),
}

impl Address {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Address::Ip(sa) => sa.port(),
            Address::Domain(_, port) => *port,
        }
    }

    /// The host part as text: the IP (without brackets) or the name.
    pub fn host(&self) -> String {
        match self {
            Address::Ip(sa) => sa.ip().to_string(),
            Address::Domain(name, _) => name.clone(),
        }
    }

    /// Builds an address from a host (IP literal, bracketed IPv6 or name) and a port.
    pub fn from_host_port(host: &str, port: u16) -> Result<Self> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Address::Ip(SocketAddr::new(ip, port)));
        }
        if bare.is_empty() {
            return Ok(Address::Ip(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port)));
        }
        if bare.len() > 255 || !bare.bytes().all(is_host_byte) {
            return Err(Error::config(format!("invalid host name {host:?}")));
        }
        Ok(Address::Domain(bare.to_owned(), port))
    }

    /// Parses `host:port` as Go's `net.SplitHostPort` does: `[v6]:port`, `name:port`, `:port`
    /// (empty host = unspecified). A missing or bad port is an error.
    pub fn parse(s: &str) -> Result<Self> {
        let (host, port) = split_host_port(s)?;
        let port = parse_port(port, s)?;
        Address::from_host_port(host, port)
    }

    /// The IP socket address, if this is not a domain.
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Ip(sa) => Some(*sa),
            Address::Domain(..) => None,
        }
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'%' | b'*')
}

fn parse_port(port: &str, whole: &str) -> Result<u16> {
    port.parse::<u16>()
        .map_err(|_| Error::config(format!("invalid port {port:?} in address {whole:?}")))
}

/// Splits `host:port` (with `[v6]:port` brackets) without checking either part.
pub fn split_host_port(s: &str) -> Result<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(Error::config(format!("missing ']' in address {s:?}")));
        };
        let Some(port) = after.strip_prefix(':') else {
            return Err(Error::config(format!("missing port in address {s:?}")));
        };
        return Ok((host, port));
    }
    match s.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err(Error::config(format!("too many colons in address {s:?}")))
        }
        Some((host, port)) => Ok((host, port)),
        None => Err(Error::config(format!("missing port in address {s:?}"))),
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Address::parse(s)
    }
}

impl From<SocketAddr> for Address {
    fn from(sa: SocketAddr) -> Self {
        Address::Ip(sa)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(sa) => write!(f, "{sa}"),
            Address::Domain(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

/// The network of a dial, bind or listen, as Go names it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Network {
    /// A TCP stream (any IP version).
    #[default]
    Tcp,
    /// TCP over IPv4 only.
    Tcp4,
    /// TCP over IPv6 only.
    Tcp6,
    /// UDP datagrams (any IP version).
    Udp,
    /// UDP over IPv4 only.
    Udp4,
    /// UDP over IPv6 only.
    Udp6,
    /// A Unix domain stream socket.
    Unix,
}

impl Network {
    /// Go's name for it (`"tcp"`, `"udp4"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tcp4 => "tcp4",
            Network::Tcp6 => "tcp6",
            Network::Udp => "udp",
            Network::Udp4 => "udp4",
            Network::Udp6 => "udp6",
            Network::Unix => "unix",
        }
    }

    /// Whether this is a datagram network.
    pub fn is_udp(self) -> bool {
        matches!(self, Network::Udp | Network::Udp4 | Network::Udp6)
    }
}

impl FromStr for Network {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "tcp" => Network::Tcp,
            "tcp4" => Network::Tcp4,
            "tcp6" => Network::Tcp6,
            "udp" => Network::Udp,
            "udp4" => Network::Udp4,
            "udp6" => Network::Udp6,
            "unix" => Network::Unix,
            other => return Err(Error::config(format!("unknown network {other:?}"))),
        })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_style_host_port() {
        assert_eq!(Address::parse("127.0.0.1:80").unwrap().to_string(), "127.0.0.1:80");
        assert_eq!(Address::parse("[::1]:443").unwrap().to_string(), "[::1]:443");
        assert_eq!(Address::parse(":8080").unwrap().to_string(), "0.0.0.0:8080");
        let a = Address::parse("example.com:53").unwrap();
        assert_eq!(a, Address::Domain("example.com".into(), 53));
        assert_eq!(a.host(), "example.com");
        assert_eq!(a.port(), 53);
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in ["", "example.com", "host:99999", "host:x", "::1:80", "[::1", "[::1]80", "a b:1"]
        {
            assert!(Address::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn network_names_round_trip() {
        for n in ["tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix"] {
            assert_eq!(n.parse::<Network>().unwrap().as_str(), n);
        }
        assert!("sctp".parse::<Network>().is_err());
    }
}
