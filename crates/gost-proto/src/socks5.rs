//! SOCKS5 (RFC 1928, RFC 1929) with gost's extensions (protocols.md §5).
//!
//! ```text
//! Greeting         05 NMETHODS METHODS[NMETHODS]
//! MethodSelection  05 METHOD
//! UserPassRequest  01 ULEN UNAME PLEN PASSWD
//! UserPassReply    01 STATUS
//! Request          05 CMD 00 ATYP ADDR PORT
//! Reply            05 REP 00 ATYP ADDR PORT
//! UDP datagram     RSV(2) FRAG ATYP ADDR PORT DATA
//! ```
//!
//! gost's UDP-over-TCP framing (command [`CMD_UDP_TUN`]) lives in [`crate::udp_tun`].

use std::net::{Ipv4Addr, SocketAddr};

use gost_core::{Address, Error, Result};

use crate::addr::{decode_addr, encode_addr};

/// The SOCKS version byte.
pub const VERSION: u8 = 5;

/// Method: no authentication.
pub const METHOD_NO_AUTH: u8 = 0x00;
/// Method: GSSAPI (never selected by gost).
pub const METHOD_GSSAPI: u8 = 0x01;
/// Method: username/password (RFC 1929).
pub const METHOD_USER_PASS: u8 = 0x02;
/// gost method: TLS, then the request inside it.
pub const METHOD_TLS: u8 = 0x80;
/// gost method: TLS, then username/password inside it.
pub const METHOD_TLS_AUTH: u8 = 0x82;
/// gost method: multiplexing (defined, unused by the Go handler).
pub const METHOD_MUX: u8 = 0x88;
/// No acceptable method: the server answers `05 FF` and closes.
pub const METHOD_NO_ACCEPTABLE: u8 = 0xFF;

/// Command: CONNECT.
pub const CMD_CONNECT: u8 = 1;
/// Command: BIND.
pub const CMD_BIND: u8 = 2;
/// Command: UDP ASSOCIATE.
pub const CMD_UDP_ASSOCIATE: u8 = 3;
/// gost command: BIND whose connection turns into an smux session.
pub const CMD_MUX_BIND: u8 = 0xF2;
/// gost command: UDP over the TCP connection (UDP-tun framing).
pub const CMD_UDP_TUN: u8 = 0xF3;

/// Reply: succeeded.
pub const REP_SUCCEEDED: u8 = 0;
/// Reply: general SOCKS server failure.
pub const REP_GENERAL_FAILURE: u8 = 1;
/// Reply: connection not allowed by ruleset.
pub const REP_NOT_ALLOWED: u8 = 2;
/// Reply: network unreachable.
pub const REP_NETWORK_UNREACHABLE: u8 = 3;
/// Reply: host unreachable.
pub const REP_HOST_UNREACHABLE: u8 = 4;
/// Reply: connection refused.
pub const REP_CONNECTION_REFUSED: u8 = 5;
/// Reply: TTL expired.
pub const REP_TTL_EXPIRED: u8 = 6;
/// Reply: command not supported.
pub const REP_COMMAND_NOT_SUPPORTED: u8 = 7;
/// Reply: address type not supported.
pub const REP_ADDRESS_NOT_SUPPORTED: u8 = 8;

/// The username/password sub-negotiation version byte.
pub const USER_PASS_VERSION: u8 = 1;

/// Checks a version byte.
fn check_version(got: u8, want: u8, what: &str) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::protocol(format!("{what}: bad version {got:#04x}, want {want:#04x}")))
    }
}

/// The client's method offer: `05 NMETHODS METHODS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The offered methods (1 to 255 of them).
    pub methods: Vec<u8>,
}

impl Greeting {
    /// Parses a greeting. A version other than 5 or `NMETHODS = 0` is an error.
    pub fn decode(buf: &[u8]) -> Result<Option<(Greeting, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        check_version(ver, VERSION, "socks5 greeting")?;
        let Some(&n) = buf.get(1) else {
            return Ok(None);
        };
        if n == 0 {
            return Err(Error::protocol("socks5 greeting offers no methods"));
        }
        let end = 2 + usize::from(n);
        let Some(methods) = buf.get(2..end) else {
            return Ok(None);
        };
        Ok(Some((Greeting { methods: methods.to_vec() }, end)))
    }

    /// Appends the greeting. Callers offer 1 to 255 methods; only the first 255 are written.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let methods = self.methods.get(..255).unwrap_or(&self.methods);
        out.push(VERSION);
        out.push(u8::try_from(methods.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(methods);
    }
}

/// The server's method choice: `05 METHOD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSelection {
    /// The chosen method, or [`METHOD_NO_ACCEPTABLE`].
    pub method: u8,
}

impl MethodSelection {
    /// Parses a method selection (version must be 5).
    pub fn decode(buf: &[u8]) -> Result<Option<(MethodSelection, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        check_version(ver, VERSION, "socks5 method selection")?;
        let Some(&method) = buf.get(1) else {
            return Ok(None);
        };
        Ok(Some((MethodSelection { method }, 2)))
    }

    /// Appends `05 METHOD`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[VERSION, self.method]);
    }
}

/// RFC 1929 username/password request: `01 ULEN UNAME PLEN PASSWD`.
///
/// Either field may be empty. The bytes are kept as they are (Go treats them as opaque strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPassRequest {
    /// The username (0 to 255 bytes).
    pub username: Vec<u8>,
    /// The password (0 to 255 bytes).
    pub password: Vec<u8>,
}

impl UserPassRequest {
    /// Parses the sub-negotiation request (version must be 1).
    pub fn decode(buf: &[u8]) -> Result<Option<(UserPassRequest, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        check_version(ver, USER_PASS_VERSION, "socks5 username/password request")?;
        let Some(&ulen) = buf.get(1) else {
            return Ok(None);
        };
        let uend = 2 + usize::from(ulen);
        let Some(username) = buf.get(2..uend) else {
            return Ok(None);
        };
        let Some(&plen) = buf.get(uend) else {
            return Ok(None);
        };
        let pstart = uend + 1;
        let pend = pstart + usize::from(plen);
        let Some(password) = buf.get(pstart..pend) else {
            return Ok(None);
        };
        Ok(Some((
            UserPassRequest { username: username.to_vec(), password: password.to_vec() },
            pend,
        )))
    }

    /// Appends the request; errors (with `out` untouched) if a field is longer than 255 bytes.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let ulen = u8::try_from(self.username.len())
            .map_err(|_| Error::protocol("socks5 username longer than 255 bytes"))?;
        let plen = u8::try_from(self.password.len())
            .map_err(|_| Error::protocol("socks5 password longer than 255 bytes"))?;
        out.push(USER_PASS_VERSION);
        out.push(ulen);
        out.extend_from_slice(&self.username);
        out.push(plen);
        out.extend_from_slice(&self.password);
        Ok(())
    }
}

/// RFC 1929 reply: `01 STATUS` (0 = success, anything else = failure; gost sends 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPassReply {
    /// 0 on success.
    pub status: u8,
}

impl UserPassReply {
    /// Parses the reply (version must be 1).
    pub fn decode(buf: &[u8]) -> Result<Option<(UserPassReply, usize)>> {
        let Some(&ver) = buf.first() else {
            return Ok(None);
        };
        check_version(ver, USER_PASS_VERSION, "socks5 username/password reply")?;
        let Some(&status) = buf.get(1) else {
            return Ok(None);
        };
        Ok(Some((UserPassReply { status }, 2)))
    }

    /// Appends `01 STATUS`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[USER_PASS_VERSION, self.status]);
    }
}

/// Parses `05 X RSV ATYP ADDR PORT`, the shared layout of requests and replies.
fn decode_cmd_addr(buf: &[u8], what: &str) -> Result<Option<(u8, Address, usize)>> {
    let Some(&ver) = buf.first() else {
        return Ok(None);
    };
    check_version(ver, VERSION, what)?;
    let Some(&code) = buf.get(1) else {
        return Ok(None);
    };
    // RSV (buf[2]) is not checked, as in gosocks5.
    let Some(rest) = buf.get(3..) else {
        return Ok(None);
    };
    Ok(decode_addr(rest)?.map(|(addr, n)| (code, addr, 3 + n)))
}

/// Appends `05 X 00 ATYP ADDR PORT`, leaving `out` untouched on error.
fn encode_cmd_addr(code: u8, addr: &Address, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[VERSION, code, 0]);
    encode_addr(addr, out).inspect_err(|_| out.truncate(start))
}

/// A client request: `05 CMD 00 ATYP ADDR PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command (`CMD_*`); not validated by the decoder.
    pub cmd: u8,
    /// The destination (or bind) address.
    pub addr: Address,
}

impl Request {
    /// Parses a request (version must be 5; RSV is not checked).
    pub fn decode(buf: &[u8]) -> Result<Option<(Request, usize)>> {
        Ok(decode_cmd_addr(buf, "socks5 request")?.map(|(cmd, addr, n)| (Request { cmd, addr }, n)))
    }

    /// Appends the request; errors if the domain does not fit (see [`encode_addr`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_cmd_addr(self.cmd, &self.addr, out)
    }
}

/// A server reply: `05 REP 00 ATYP ADDR PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply code (`REP_*`).
    pub rep: u8,
    /// The bound address (`0.0.0.0:0` when there is none).
    pub addr: Address,
}

impl Reply {
    /// A reply with the address `0.0.0.0:0`, as gost writes replies without an address
    /// (10 bytes on the wire).
    pub fn new(rep: u8) -> Reply {
        Reply { rep, addr: Address::Ip(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0)) }
    }

    /// Parses a reply (version must be 5; RSV is not checked).
    pub fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>> {
        Ok(decode_cmd_addr(buf, "socks5 reply")?.map(|(rep, addr, n)| (Reply { rep, addr }, n)))
    }

    /// Appends the reply; errors if the domain does not fit (see [`encode_addr`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_cmd_addr(self.rep, &self.addr, out)
    }
}

/// The standard SOCKS5 UDP datagram header: `RSV(2) FRAG ATYP ADDR PORT`, followed by the
/// payload.
///
/// RSV is ignored on decode and written as zero. gost ignores FRAG (no reassembly); so may
/// callers. For gost's length-prefixed variant over a stream see [`crate::udp_tun`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpHeader {
    /// The fragment number (0 = standalone datagram).
    pub frag: u8,
    /// The destination (client → relay) or source (relay → client) address.
    pub addr: Address,
}

impl UdpHeader {
    /// Parses the header of a whole datagram and returns it with the payload offset
    /// (`&datagram[offset..]` is the payload). A datagram is always complete, so a short one is
    /// an error.
    pub fn decode(datagram: &[u8]) -> Result<(UdpHeader, usize)> {
        let frag = match datagram.get(2) {
            Some(&frag) => frag,
            None => return Err(Error::protocol("socks5 udp datagram shorter than its header")),
        };
        let rest = datagram.get(3..).unwrap_or_default();
        match decode_addr(rest)? {
            Some((addr, n)) => Ok((UdpHeader { frag, addr }, 3 + n)),
            None => Err(Error::protocol("socks5 udp datagram shorter than its header")),
        }
    }

    /// Appends `00 00 FRAG ATYP ADDR PORT` (the caller appends the payload); errors if the domain
    /// does not fit (see [`encode_addr`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(&[0, 0, self.frag]);
        encode_addr(&self.addr, out).inspect_err(|_| out.truncate(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::tests::{assert_prefixes_incomplete, sample_addrs};

    #[test]
    fn greeting_round_trip() {
        for methods in [vec![0], vec![0, 2, 0x80, 0x82], (0..=254).collect::<Vec<u8>>()] {
            let g = Greeting { methods };
            let mut buf = Vec::new();
            g.encode(&mut buf);
            assert_eq!(Greeting::decode(&buf).unwrap(), Some((g.clone(), buf.len())));
            assert_prefixes_incomplete(&buf, Greeting::decode);
        }
        let mut buf = Vec::new();
        Greeting { methods: vec![0, 2] }.encode(&mut buf);
        assert_eq!(buf, [5, 2, 0, 2]);
    }

    #[test]
    fn greeting_malformed() {
        assert!(Greeting::decode(&[4]).is_err());
        assert!(Greeting::decode(&[5, 0]).is_err());
        assert!(Greeting::decode(&[5, 0, 0]).is_err());
    }

    #[test]
    fn greeting_encode_caps_at_255() {
        let mut buf = Vec::new();
        Greeting { methods: vec![0; 300] }.encode(&mut buf);
        assert_eq!(buf.len(), 2 + 255);
        assert_eq!(Greeting::decode(&buf).unwrap().unwrap().0.methods.len(), 255);
    }

    #[test]
    fn method_selection_round_trip() {
        for method in [METHOD_NO_AUTH, METHOD_USER_PASS, METHOD_TLS, METHOD_NO_ACCEPTABLE] {
            let m = MethodSelection { method };
            let mut buf = Vec::new();
            m.encode(&mut buf);
            assert_eq!(buf, [5, method]);
            assert_eq!(MethodSelection::decode(&buf).unwrap(), Some((m, 2)));
            assert_prefixes_incomplete(&buf, MethodSelection::decode);
        }
        assert!(MethodSelection::decode(&[1, 0]).is_err());
    }

    #[test]
    fn user_pass_round_trip() {
        let cases = [
            (b"user".to_vec(), b"pass".to_vec()),
            (Vec::new(), Vec::new()),
            (Vec::new(), b"p".to_vec()),
            (vec![0xFF; 255], vec![0x00; 255]),
        ];
        for (username, password) in cases {
            let r = UserPassRequest { username, password };
            let mut buf = Vec::new();
            r.encode(&mut buf).unwrap();
            buf.push(0xEE);
            let n = buf.len() - 1;
            assert_eq!(UserPassRequest::decode(&buf).unwrap(), Some((r.clone(), n)));
            assert_prefixes_incomplete(&buf[..n], UserPassRequest::decode);
        }
        let mut buf = Vec::new();
        UserPassRequest { username: b"u".to_vec(), password: b"pw".to_vec() }
            .encode(&mut buf)
            .unwrap();
        assert_eq!(buf, [1, 1, b'u', 2, b'p', b'w']);
    }

    #[test]
    fn user_pass_malformed() {
        assert!(UserPassRequest::decode(&[5, 1, b'u', 1, b'p']).is_err());
        let mut out = vec![7];
        let too_long = UserPassRequest { username: vec![b'a'; 256], password: Vec::new() };
        assert!(too_long.encode(&mut out).is_err());
        let too_long = UserPassRequest { username: Vec::new(), password: vec![b'a'; 256] };
        assert!(too_long.encode(&mut out).is_err());
        assert_eq!(out, [7]);
    }

    #[test]
    fn user_pass_reply_round_trip() {
        for status in [0, 1] {
            let r = UserPassReply { status };
            let mut buf = Vec::new();
            r.encode(&mut buf);
            assert_eq!(buf, [1, status]);
            assert_eq!(UserPassReply::decode(&buf).unwrap(), Some((r, 2)));
            assert_prefixes_incomplete(&buf, UserPassReply::decode);
        }
        assert!(UserPassReply::decode(&[5, 0]).is_err());
    }

    #[test]
    fn request_and_reply_round_trip() {
        for addr in sample_addrs() {
            for cmd in [CMD_CONNECT, CMD_BIND, CMD_UDP_ASSOCIATE, CMD_MUX_BIND, CMD_UDP_TUN] {
                let req = Request { cmd, addr: addr.clone() };
                let mut buf = Vec::new();
                req.encode(&mut buf).unwrap();
                let n = buf.len();
                buf.extend_from_slice(b"payload");
                assert_eq!(Request::decode(&buf).unwrap(), Some((req, n)));
                assert_prefixes_incomplete(&buf[..n], Request::decode);
            }
            let rep = Reply { rep: REP_HOST_UNREACHABLE, addr: addr.clone() };
            let mut buf = Vec::new();
            rep.encode(&mut buf).unwrap();
            assert_eq!(Reply::decode(&buf).unwrap(), Some((rep, buf.len())));
            assert_prefixes_incomplete(&buf, Reply::decode);
        }
    }

    #[test]
    fn fixed_vectors() {
        // The Go client's UDP-tun request.
        let buf = [5, 0xF3, 0, 1, 0, 0, 0, 0, 0, 0];
        let (req, n) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(n, 10);
        assert_eq!(
            req,
            Request { cmd: CMD_UDP_TUN, addr: Address::Ip("0.0.0.0:0".parse().unwrap()) }
        );
        // A reply without an address is 10 bytes.
        let mut out = Vec::new();
        Reply::new(REP_COMMAND_NOT_SUPPORTED).encode(&mut out).unwrap();
        assert_eq!(out, [5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
        // CONNECT example.com:80
        let mut buf = vec![5, 1, 0, 3, 11];
        buf.extend_from_slice(b"example.com");
        buf.extend_from_slice(&[0, 80]);
        let (req, _) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(req.addr, Address::Domain("example.com".into(), 80));
    }

    #[test]
    fn request_malformed() {
        assert!(Request::decode(&[4, 1, 0, 1]).is_err());
        assert!(Request::decode(&[5, 1, 0, 2, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Request::decode(&[5, 1, 0, 3, 0, 0, 80]).unwrap().is_some(), "empty host = any");
        assert!(Request::decode(&[5, 1, 0, 3, 1, 0x80, 0, 80]).is_err());
        assert!(Reply::decode(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Reply::decode(&[5, 0, 0, 9]).is_err());
        let mut out = vec![1];
        let long = Request { cmd: 1, addr: Address::Domain("a".repeat(256), 80) };
        assert!(long.encode(&mut out).is_err());
        assert_eq!(out, [1]);
    }

    #[test]
    fn udp_header_round_trip() {
        for addr in sample_addrs() {
            for frag in [0, 1, 0xFF] {
                let h = UdpHeader { frag, addr: addr.clone() };
                let mut buf = Vec::new();
                h.encode(&mut buf).unwrap();
                let n = buf.len();
                buf.extend_from_slice(b"data");
                let (got, off) = UdpHeader::decode(&buf).unwrap();
                assert_eq!((got, off), (h.clone(), n));
                assert_eq!(&buf[off..], b"data");
                // A header with an empty payload is fine; a short header is not.
                assert_eq!(UdpHeader::decode(&buf[..n]).unwrap().1, n);
                for cut in 0..n {
                    assert!(UdpHeader::decode(&buf[..cut]).is_err(), "cut {cut}");
                }
            }
        }
    }

    #[test]
    fn udp_header_fixed_vector() {
        let dgram = [0, 0, 0, 1, 8, 8, 8, 8, 0, 53, 0xAB, 0xCD];
        let (h, off) = UdpHeader::decode(&dgram).unwrap();
        assert_eq!(h, UdpHeader { frag: 0, addr: Address::Ip("8.8.8.8:53".parse().unwrap()) });
        assert_eq!(&dgram[off..], [0xAB, 0xCD]);
        assert!(UdpHeader::decode(&[0, 0, 0, 7, 1, 2, 3, 4, 0, 0]).is_err());
    }
}
