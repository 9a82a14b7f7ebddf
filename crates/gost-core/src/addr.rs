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

    /// The same address with a numeric host name turned into the IP it stands for, as the
    /// system resolver would read it (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, an
    /// IPv6 literal); other names are left as they are. Checks that match IP rules (bypass
    /// CIDRs) must see what the dial will connect to.
    pub fn resolve_numeric(self) -> Address {
        match &self {
            Address::Domain(host, port) => match numeric_ip(host) {
                Some(ip) => Address::Ip(SocketAddr::new(ip, *port)),
                None => self,
            },
            Address::Ip(_) => self,
        }
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

/// The IP a numeric host name stands for: an IP literal (IPv6 with or without brackets), or an
/// IPv4 address in any form the C library's `inet_aton` (and so `getaddrinfo`) accepts: one to
/// four parts, each decimal, octal (leading `0`) or hex (`0x`), the last one filling the
/// remaining bytes. One trailing dot is ignored. `None` for anything else.
pub fn numeric_ip(host: &str) -> Option<IpAddr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(ip);
    }
    let mut parts = [0u32; 4];
    let mut count = 0;
    for part in host.split('.') {
        let slot = parts.get_mut(count)?;
        *slot = inet_aton_part(part)?;
        count += 1;
    }
    // Every part but the last is one byte; the last fills what is left.
    let (head, last) = parts[..count].split_at(count.checked_sub(1)?);
    let last = *last.first()?;
    let last_bits = 32 - 8 * head.len() as u32;
    if head.iter().any(|b| *b > 0xFF) || (last_bits < 32 && last >> last_bits != 0) {
        return None;
    }
    let mut value = 0u32;
    for (i, b) in head.iter().enumerate() {
        value |= b << (24 - 8 * i as u32);
    }
    Some(IpAddr::from(std::net::Ipv4Addr::from(value | last)))
}

fn inet_aton_part(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// Whether the system resolver might read a host name differently from [`numeric_ip`]: an
/// address-like name it does not parse (`fe80::1%eth0`, `::ffff:127.0.0.1 x`), or one with
/// whitespace or control characters (older C libraries read `127.0.0.1 x` as `127.0.0.1`).
/// Such a name is refused rather than looked up, so that what a check sees and what a dial
/// connects to cannot differ. (IPv4 forms are not in doubt: [`numeric_ip`] reads exactly what
/// `inet_aton` does, and a name it rejects is never read as a number by the resolver either.)
pub fn misreadable_host(host: &str) -> bool {
    numeric_ip(host).is_none()
        && host.chars().any(|c| c == ':' || c == '%' || c.is_whitespace() || c.is_control())
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
    fn numeric_host_names_read_as_inet_aton_does() {
        let v4 = |s: &str| numeric_ip(s).map(|ip| ip.to_string());
        for spelling in [
            "127.0.0.1",
            "127.1",
            "127.0.1",
            "2130706433",
            "0x7f000001",
            "0X7F000001",
            "0177.0.0.1",
            "0x7f.0.0.1",
            "0x7f.1",
            "127.0.0.1.",
            "017700000001",
        ] {
            assert_eq!(v4(spelling).as_deref(), Some("127.0.0.1"), "{spelling}");
        }
        assert_eq!(v4("10.258").as_deref(), Some("10.0.1.2"));
        assert_eq!(v4("[::1]").as_deref(), Some("::1"));
        assert_eq!(v4("::ffff:127.0.0.1").as_deref(), Some("::ffff:127.0.0.1"));
        for bad in [
            "",
            ".",
            "256.0.0.1",
            "1.2.3.4.5",
            "1.2.3.256",
            "1.16777216",
            "1.2.65536",
            "4294967296",
            "0x",
            "08",
            "1..2",
            "example.com",
            "127.0.0.1x",
            "1.2.3.4..",
            "0x1g",
            "-1",
            "+1",
            " 1",
        ] {
            assert_eq!(v4(bad), None, "{bad:?}");
        }
        assert_eq!(v4("1.2.3").as_deref(), Some("1.2.0.3"));
        assert_eq!(v4("4294967295").as_deref(), Some("255.255.255.255"));
        for odd in ["fe80::1%eth0", "127.0.0.1 x", "::ffff:127.0.0.1x", "a\tb", "1:2"] {
            assert!(misreadable_host(odd), "{odd:?}");
        }
        // Ordinary names, also those starting with digits (Docker ids, hosts aliases), and the
        // numeric forms numeric_ip reads.
        for name in ["example.com", "3f4e2a1b9c0d", "1stfloor-printer", "1.2.3.256", "127.1", "::1"]
        {
            assert!(!misreadable_host(name), "{name}");
        }
        let a = Address::Domain("0x7f000001".into(), 80).resolve_numeric();
        assert_eq!(a.to_string(), "127.0.0.1:80");
        let a = Address::Domain("example.com".into(), 80).resolve_numeric();
        assert_eq!(a, Address::Domain("example.com".into(), 80));
    }

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
