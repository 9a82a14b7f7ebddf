//! SOCKS4 and SOCKS4a (protocols.md §5.4).
//!
//! ```text
//! Request  04 CD PORT(2) IP(4) USERID 00 [HOST 00]    HOST present iff IP = 0.0.0.x, x != 0
//! Reply    00 CODE PORT(2) IP(4)                      gost sends port and IP as zeros
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use gost_core::{Address, Error, Result};

use crate::addr::host_to_address;

/// The SOCKS4 version byte of requests.
pub const VERSION: u8 = 4;

/// Command: CONNECT.
pub const CMD_CONNECT: u8 = 1;
/// Command: BIND.
pub const CMD_BIND: u8 = 2;

/// Reply: request granted.
pub const REP_GRANTED: u8 = 90;
/// Reply: request rejected or failed (gost: dial failure).
pub const REP_REJECTED: u8 = 91;
/// Reply: identd unreachable (gost: refused by bypass).
pub const REP_IDENTD_UNREACHABLE: u8 = 92;
/// Reply: identd user-id mismatch (gost: authentication rejected).
pub const REP_IDENTD_MISMATCH: u8 = 93;

/// The longest USERID or HOST, not counting the terminating NUL.
pub const MAX_FIELD_LEN: usize = 255;

/// The fixed part of a request: VN CD PORT IP.
const HEADER_LEN: usize = 8;

/// Whether `ip` is a SOCKS4a marker address `0.0.0.x` with `x != 0`.
pub fn is_4a_ip(ip: [u8; 4]) -> bool {
    matches!(ip, [0, 0, 0, x] if x != 0)
}

/// Finds a NUL-terminated field at the front of `buf`: `Ok(Some((field, len_with_nul)))`,
/// `Ok(None)` if no NUL yet and the field may still fit, an error once it cannot.
fn c_string<'a>(buf: &'a [u8], what: &str) -> Result<Option<(&'a [u8], usize)>> {
    let window = buf.get(..=MAX_FIELD_LEN).unwrap_or(buf);
    match window.iter().position(|&b| b == 0) {
        Some(p) => Ok(window.get(..p).map(|field| (field, p + 1))),
        None if window.len() > MAX_FIELD_LEN => {
            Err(Error::protocol(format!("socks4 {what} longer than {MAX_FIELD_LEN} bytes")))
        }
        None => Ok(None),
    }
}

/// A SOCKS4/4a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command (`CMD_*`); not validated by the decoder.
    pub cmd: u8,
    /// The destination port.
    pub port: u16,
    /// The destination IPv4 address, or `0.0.0.x` (x != 0) for SOCKS4a.
    pub ip: [u8; 4],
    /// The user id (at most 255 bytes, no NUL).
    pub userid: Vec<u8>,
    /// The SOCKS4a host name (1 to 255 bytes of UTF-8, no NUL); `Some` iff `ip` is `0.0.0.x`.
    pub host: Option<String>,
}

impl Request {
    /// A request for `target`: plain SOCKS4 for an IPv4 address, SOCKS4a for a domain name.
    /// IPv6 cannot be expressed in SOCKS4 and is an error; so is an empty or over-long name.
    pub fn from_target(cmd: u8, target: &Address, userid: Vec<u8>) -> Result<Request> {
        let (ip, host) = match target {
            Address::Ip(SocketAddr::V4(sa)) => (sa.ip().octets(), None),
            Address::Ip(SocketAddr::V6(_)) => {
                return Err(Error::unsupported("socks4 cannot carry an IPv6 address"));
            }
            Address::Domain(name, _) => {
                if name.is_empty() || name.len() > MAX_FIELD_LEN || name.contains('\0') {
                    return Err(Error::protocol(format!("invalid socks4a host name {name:?}")));
                }
                ([0, 0, 0, 1], Some(name.clone()))
            }
        };
        Ok(Request { cmd, port: target.port(), ip, userid, host })
    }

    /// The target: the SOCKS4a host name (an IP literal becomes [`Address::Ip`]) or the IPv4
    /// address.
    pub fn target(&self) -> Address {
        match &self.host {
            Some(host) => host_to_address(host, self.port),
            None => Address::Ip(SocketAddr::new(Ipv4Addr::from(self.ip).into(), self.port)),
        }
    }

    /// Parses a request (version must be 4; the command is not checked). A USERID or HOST longer
    /// than 255 bytes, an empty HOST or a non-UTF-8 HOST is an error.
    pub fn decode(buf: &[u8]) -> Result<Option<(Request, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        if ver != VERSION {
            return Err(Error::protocol(format!("socks4 request: bad version {ver:#04x}")));
        }
        let Some(header) = crate::addr::array_at::<HEADER_LEN>(buf, 0) else {
            return Ok(None);
        };
        let [_, cmd, p0, p1, a, b, c, d] = header;
        let (port, ip) = (u16::from_be_bytes([p0, p1]), [a, b, c, d]);
        let rest = buf.get(HEADER_LEN..).unwrap_or_default();
        let Some((userid, ulen)) = c_string(rest, "user id")? else {
            return Ok(None);
        };
        let mut consumed = HEADER_LEN + ulen;
        let host = if is_4a_ip(ip) {
            let rest = buf.get(consumed..).unwrap_or_default();
            let Some((host, hlen)) = c_string(rest, "host name")? else {
                return Ok(None);
            };
            if host.is_empty() {
                return Err(Error::protocol("socks4a request with an empty host name"));
            }
            let host = std::str::from_utf8(host)
                .map_err(|_| Error::protocol("socks4a host name is not UTF-8"))?;
            consumed += hlen;
            Some(host.to_owned())
        } else {
            None
        };
        Ok(Some((Request { cmd, port, ip, userid: userid.to_vec(), host }, consumed)))
    }

    /// Appends the request. With a `host`, `ip` is written as `0.0.0.1` unless it already is a
    /// SOCKS4a marker; without one, `ip` is written as is (callers must not pass a `0.0.0.x`
    /// marker without a host). Callers keep `userid` and `host` within 255 bytes and free of NUL
    /// bytes ([`Request::from_target`] checks the host).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ip = match &self.host {
            Some(_) if !is_4a_ip(self.ip) => [0, 0, 0, 1],
            _ => self.ip,
        };
        out.extend_from_slice(&[VERSION, self.cmd]);
        out.extend_from_slice(&self.port.to_be_bytes());
        out.extend_from_slice(&ip);
        out.extend_from_slice(&self.userid);
        out.push(0);
        if let Some(host) = &self.host {
            out.extend_from_slice(host.as_bytes());
            out.push(0);
        }
    }
}

/// A SOCKS4 reply: `00 CODE PORT IP` (8 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code (`REP_*`).
    pub code: u8,
    /// The bound port (gost: 0).
    pub port: u16,
    /// The bound address (gost: 0.0.0.0).
    pub ip: [u8; 4],
}

impl Reply {
    /// A reply with port and address zero, as gost sends.
    pub fn new(code: u8) -> Reply {
        Reply { code, port: 0, ip: [0; 4] }
    }

    /// Parses a reply; the first byte must be 0 (or 4, which some servers send).
    pub fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        if ver != 0 && ver != VERSION {
            return Err(Error::protocol(format!("socks4 reply: bad version {ver:#04x}")));
        }
        let Some([_, code, p0, p1, a, b, c, d]) = crate::addr::array_at::<8>(buf, 0) else {
            return Ok(None);
        };
        Ok(Some((Reply { code, port: u16::from_be_bytes([p0, p1]), ip: [a, b, c, d] }, 8)))
    }

    /// Appends `00 CODE PORT IP`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0, self.code]);
        out.extend_from_slice(&self.port.to_be_bytes());
        out.extend_from_slice(&self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::tests::assert_prefixes_incomplete;

    fn samples() -> Vec<Request> {
        vec![
            Request { cmd: CMD_CONNECT, port: 80, ip: [1, 2, 3, 4], userid: vec![], host: None },
            Request {
                cmd: CMD_BIND,
                port: 65535,
                ip: [10, 0, 0, 1],
                userid: b"alice".to_vec(),
                host: None,
            },
            Request {
                cmd: CMD_CONNECT,
                port: 443,
                ip: [0, 0, 0, 1],
                userid: vec![],
                host: Some("example.com".into()),
            },
            Request {
                cmd: CMD_CONNECT,
                port: 1,
                ip: [0, 0, 0, 255],
                userid: vec![0xFF; 255],
                host: Some("h".repeat(255)),
            },
        ]
    }

    #[test]
    fn request_round_trip() {
        for req in samples() {
            let mut buf = Vec::new();
            req.encode(&mut buf);
            let n = buf.len();
            buf.extend_from_slice(b"GET / HTTP/1.1\r\n");
            assert_eq!(Request::decode(&buf).unwrap(), Some((req, n)));
            assert_prefixes_incomplete(&buf[..n], Request::decode);
        }
    }

    #[test]
    fn fixed_vectors() {
        let mut buf = vec![4, 1, 0, 80, 0, 0, 0, 1];
        buf.extend_from_slice(b"u\0example.com\0");
        let (req, n) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(n, buf.len());
        assert_eq!(req.userid, b"u");
        assert_eq!(req.target(), Address::Domain("example.com".into(), 80));

        let buf = [4, 1, 0x1F, 0x90, 127, 0, 0, 1, 0];
        let (req, n) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(n, 9);
        assert_eq!(req.target(), Address::Ip("127.0.0.1:8080".parse().unwrap()));

        let mut out = Vec::new();
        Reply::new(REP_GRANTED).encode(&mut out);
        assert_eq!(out, [0, 90, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn go_client_sends_ip_literals_as_4a() {
        let mut buf = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        buf.extend_from_slice(b"10.1.2.3\0");
        let (req, _) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(req.target(), Address::Ip("10.1.2.3:80".parse().unwrap()));
    }

    #[test]
    fn from_target() {
        let t: Address = "1.2.3.4:5".parse().unwrap();
        let r = Request::from_target(CMD_CONNECT, &t, b"id".to_vec()).unwrap();
        assert_eq!((r.ip, r.host.clone(), r.target()), ([1, 2, 3, 4], None, t));
        let t = Address::Domain("example.org".into(), 8080);
        let r = Request::from_target(CMD_CONNECT, &t, Vec::new()).unwrap();
        assert_eq!((r.ip, r.target()), ([0, 0, 0, 1], t));
        assert!(Request::from_target(1, &"[::1]:1".parse().unwrap(), Vec::new()).is_err());
        assert!(Request::from_target(1, &Address::Domain("x".repeat(256), 1), vec![]).is_err());
    }

    #[test]
    fn encode_forces_4a_marker_with_host() {
        let req =
            Request { cmd: 1, port: 80, ip: [9, 9, 9, 9], userid: vec![], host: Some("a".into()) };
        let mut buf = Vec::new();
        req.encode(&mut buf);
        assert_eq!(&buf[4..8], [0, 0, 0, 1]);
        assert_eq!(Request::decode(&buf).unwrap().unwrap().0.host.as_deref(), Some("a"));
    }

    #[test]
    fn request_malformed() {
        assert!(Request::decode(&[5]).is_err());
        // User id without NUL past 255 bytes.
        let mut buf = vec![4, 1, 0, 80, 1, 2, 3, 4];
        buf.extend_from_slice(&[b'a'; 255]);
        assert!(Request::decode(&buf).unwrap().is_none());
        buf.push(b'a');
        assert!(Request::decode(&buf).is_err());
        // Host too long.
        let mut buf = vec![4, 1, 0, 80, 0, 0, 0, 1, 0];
        buf.extend_from_slice(&[b'h'; 256]);
        assert!(Request::decode(&buf).is_err());
        // Empty host, non-UTF-8 host.
        assert!(Request::decode(&[4, 1, 0, 80, 0, 0, 0, 1, 0, 0]).is_err());
        assert!(Request::decode(&[4, 1, 0, 80, 0, 0, 0, 1, 0, 0xC3, 0]).is_err());
    }

    #[test]
    fn reply_round_trip() {
        for r in [
            Reply::new(REP_GRANTED),
            Reply { code: REP_REJECTED, port: 1080, ip: [192, 168, 1, 1] },
            Reply::new(REP_IDENTD_MISMATCH),
        ] {
            let mut buf = Vec::new();
            r.encode(&mut buf);
            assert_eq!(buf.len(), 8);
            assert_eq!(Reply::decode(&buf).unwrap(), Some((r, 8)));
            assert_prefixes_incomplete(&buf, Reply::decode);
        }
        assert_eq!(Reply::decode(&[4, 90, 0, 0, 0, 0, 0, 0]).unwrap().unwrap().0.code, 90);
        assert!(Reply::decode(&[5, 90]).is_err());
    }
}
