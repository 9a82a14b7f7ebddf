//! The SOCKS5-style address (`ATYP ADDR PORT`) shared by SOCKS5 requests and replies, SOCKS5 UDP
//! headers, UDP-tun frames and the relay `Addr` feature.
//!
//! ```text
//! ATYP(1) = 1 | IPv4(4)             | PORT(u16 BE)
//! ATYP(1) = 3 | LEN(1) NAME[LEN]    | PORT(u16 BE)
//! ATYP(1) = 4 | IPv6(16)            | PORT(u16 BE)
//! ```
//!
//! A domain name must be UTF-8. A name that is an IP literal (Go clients send
//! `ATYP=3 "1.2.3.4"` at times) decodes to [`Address::Ip`], and an empty one (Go's empty host,
//! sent for binds and UDP associations) to `0.0.0.0:port`. Encoding an empty name is an error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use gost_core::{Address, Error, Result};

/// Address type: 4-byte IPv4 address.
pub const ATYP_IPV4: u8 = 1;
/// Address type: length-prefixed domain name.
pub const ATYP_DOMAIN: u8 = 3;
/// Address type: 16-byte IPv6 address.
pub const ATYP_IPV6: u8 = 4;

/// The longest domain name the one-byte length prefix can carry.
pub const MAX_DOMAIN_LEN: usize = 255;

/// The largest encoded address: ATYP, LEN, 255-byte name, port.
pub const MAX_ADDR_LEN: usize = 1 + 1 + MAX_DOMAIN_LEN + 2;

/// Appends `ATYP ADDR PORT` for `addr` to `out`.
///
/// Errors (with `out` untouched) if a domain name is empty or longer than 255 bytes.
pub fn encode_addr(addr: &Address, out: &mut Vec<u8>) -> Result<()> {
    match addr {
        Address::Ip(SocketAddr::V4(sa)) => {
            out.push(ATYP_IPV4);
            out.extend_from_slice(&sa.ip().octets());
        }
        Address::Ip(SocketAddr::V6(sa)) => {
            out.push(ATYP_IPV6);
            out.extend_from_slice(&sa.ip().octets());
        }
        Address::Domain(name, _) => {
            let len = check_domain_len(name)?;
            out.push(ATYP_DOMAIN);
            out.push(len);
            out.extend_from_slice(name.as_bytes());
        }
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
    Ok(())
}

/// How many bytes [`encode_addr`] writes for `addr` (for a valid domain).
pub fn encoded_addr_len(addr: &Address) -> usize {
    match addr {
        Address::Ip(SocketAddr::V4(_)) => 1 + 4 + 2,
        Address::Ip(SocketAddr::V6(_)) => 1 + 16 + 2,
        Address::Domain(name, _) => 1 + 1 + name.len() + 2,
    }
}

/// Parses `ATYP ADDR PORT` from the front of `buf`.
///
/// `Ok(None)` if `buf` is too short; an unknown ATYP or a non-UTF-8 domain name is an error
/// (detected as soon as the offending byte is present).
pub fn decode_addr(buf: &[u8]) -> Result<Option<(Address, usize)>> {
    let Some(&atyp) = buf.first() else {
        return Ok(None);
    };
    match atyp {
        ATYP_IPV4 => {
            let Some(ip) = array_at::<4>(buf, 1) else {
                return Ok(None);
            };
            let Some(port) = u16_at(buf, 5) else {
                return Ok(None);
            };
            Ok(Some((Address::Ip(SocketAddr::new(Ipv4Addr::from(ip).into(), port)), 7)))
        }
        ATYP_IPV6 => {
            let Some(ip) = array_at::<16>(buf, 1) else {
                return Ok(None);
            };
            let Some(port) = u16_at(buf, 17) else {
                return Ok(None);
            };
            Ok(Some((Address::Ip(SocketAddr::new(Ipv6Addr::from(ip).into(), port)), 19)))
        }
        ATYP_DOMAIN => {
            let Some(&len) = buf.get(1) else {
                return Ok(None);
            };
            let end = 2 + usize::from(len);
            let Some(name) = buf.get(2..end) else {
                return Ok(None);
            };
            let Some(port) = u16_at(buf, end) else {
                return Ok(None);
            };
            let name = std::str::from_utf8(name)
                .map_err(|_| Error::protocol("domain name in address is not UTF-8"))?;
            // An empty name is Go's empty host (`:port`, any address): Go clients send it for
            // binds and UDP associations.
            if name.is_empty() {
                return Ok(Some((Address::Ip(SocketAddr::from(([0, 0, 0, 0], port))), end + 2)));
            }
            Ok(Some((host_to_address(name, port), end + 2)))
        }
        other => Err(Error::protocol(format!("unknown address type {other:#04x}"))),
    }
}

/// A host name from the wire as an [`Address`]: IP literals become [`Address::Ip`], anything else
/// stays a [`Address::Domain`] (unvalidated beyond UTF-8).
pub(crate) fn host_to_address(name: &str, port: u16) -> Address {
    match name.parse::<IpAddr>() {
        Ok(ip) => Address::Ip(SocketAddr::new(ip, port)),
        Err(_) => Address::Domain(name.to_owned(), port),
    }
}

/// The length byte for a domain name, or an error if it does not fit one byte or is empty.
pub(crate) fn check_domain_len(name: &str) -> Result<u8> {
    if name.is_empty() {
        return Err(Error::protocol("empty domain name in address"));
    }
    u8::try_from(name.len()).map_err(|_| {
        Error::protocol(format!("domain name of {} bytes does not fit in 255", name.len()))
    })
}

/// The big-endian `u16` at `at`, if present.
pub(crate) fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    array_at::<2>(buf, at).map(u16::from_be_bytes)
}

/// `N` bytes at `at`, if present.
pub(crate) fn array_at<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    let end = at.checked_add(N)?;
    buf.get(at..end).and_then(|s| <[u8; N]>::try_from(s).ok())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Asserts that every proper prefix of `bytes` decodes to `Ok(None)`.
    pub(crate) fn assert_prefixes_incomplete<T: std::fmt::Debug>(
        bytes: &[u8],
        decode: impl Fn(&[u8]) -> Result<Option<T>>,
    ) {
        for n in 0..bytes.len() {
            match decode(&bytes[..n]) {
                Ok(None) => {}
                other => panic!("prefix of {n}/{} bytes gave {other:?}", bytes.len()),
            }
        }
    }

    pub(crate) fn sample_addrs() -> Vec<Address> {
        vec![
            Address::Ip("1.2.3.4:80".parse().unwrap()),
            Address::Ip("0.0.0.0:0".parse().unwrap()),
            Address::Ip("[2001:db8::1]:65535".parse().unwrap()),
            Address::Ip("[::ffff:1.2.3.4]:443".parse().unwrap()),
            Address::Domain("example.com".into(), 443),
            Address::Domain("x".repeat(255), 1),
        ]
    }

    #[test]
    fn round_trips() {
        for addr in sample_addrs() {
            let mut buf = vec![0xAA];
            encode_addr(&addr, &mut buf).unwrap();
            assert_eq!(buf.len(), 1 + encoded_addr_len(&addr));
            buf.extend_from_slice(b"tail");
            let (got, n) = decode_addr(&buf[1..]).unwrap().unwrap();
            assert_eq!(got, addr);
            assert_eq!(n, encoded_addr_len(&addr));
            assert_prefixes_incomplete(&buf[1..=n], decode_addr);
        }
    }

    #[test]
    fn fixed_vectors() {
        let (a, n) = decode_addr(&[1, 8, 8, 8, 8, 0, 53]).unwrap().unwrap();
        assert_eq!((a, n), (Address::Ip("8.8.8.8:53".parse().unwrap()), 7));
        let mut out = Vec::new();
        encode_addr(&Address::Domain("ab".into(), 0x0102), &mut out).unwrap();
        assert_eq!(out, [3, 2, b'a', b'b', 1, 2]);
    }

    #[test]
    fn ip_literal_domain_becomes_ip() {
        let mut buf = vec![3, 7];
        buf.extend_from_slice(b"1.2.3.4");
        buf.extend_from_slice(&[0, 80]);
        assert_eq!(
            decode_addr(&buf).unwrap().unwrap().0,
            Address::Ip("1.2.3.4:80".parse().unwrap())
        );
        let mut buf = vec![3, 3];
        buf.extend_from_slice(b"::1");
        buf.extend_from_slice(&[0, 80]);
        assert_eq!(decode_addr(&buf).unwrap().unwrap().0, Address::Ip("[::1]:80".parse().unwrap()));
    }

    #[test]
    fn rejects_malformed() {
        assert!(decode_addr(&[0]).is_err());
        assert!(decode_addr(&[2, 1, 2, 3, 4, 5, 6]).is_err());
        assert!(decode_addr(&[0xFF]).is_err());
        // An empty name is Go's empty host: any address.
        assert_eq!(decode_addr(&[3, 0]).unwrap(), None);
        let any = Address::Ip(SocketAddr::from(([0, 0, 0, 0], 80)));
        assert_eq!(decode_addr(&[3, 0, 0, 80]).unwrap(), Some((any, 4)));
        assert!(decode_addr(&[3, 2, 0xC3, 0x28, 0, 80]).is_err());
        // Errors appear only once the bad bytes are present.
        assert!(decode_addr(&[3, 2, 0xC3, 0x28, 0]).unwrap().is_none());
    }

    #[test]
    fn encode_rejects_bad_domains() {
        let mut out = vec![9];
        assert!(encode_addr(&Address::Domain("x".repeat(256), 1), &mut out).is_err());
        assert!(encode_addr(&Address::Domain(String::new(), 1), &mut out).is_err());
        assert_eq!(out, [9]);
    }
}
