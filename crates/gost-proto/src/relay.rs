//! The gost relay protocol (protocols.md §3).
//!
//! ```text
//! Request:  VER(1)=0x01 | CMD(1)    | FEALEN(u16) | FEATURES[FEALEN]
//! Response: VER(1)=0x01 | STATUS(1) | FEALEN(u16) | FEATURES[FEALEN]
//! Feature:  TYPE(1) | LEN(u16) | DATA[LEN]
//! ```
//!
//! Feature data:
//!
//! | type | feature | data |
//! |---|---|---|
//! | 1 | [`Feature::UserAuth`] | `ULEN(1) UNAME PLEN(1) PASSWD` |
//! | 2 | [`Feature::Addr`] | `ATYP ADDR PORT` as in SOCKS5 ([`crate::addr`]) |
//! | 3 | [`Feature::Tunnel`] | 20-byte tunnel id (request) or connector id (response) |
//! | 4 | [`Feature::Network`] | `u16` network id (`NETWORK_*`) |
//!
//! Decoding follows the Go implementation: features may come in any order and repeat; a known
//! feature whose data is too short is an error, bytes after the part a known feature uses are
//! ignored; unknown types are kept as [`Feature::Unknown`] (newer Go versions do the same, older
//! ones reject the request, so never *send* them to a Go peer).
//!
//! After a UDP CONNECT the stream carries length-prefixed datagrams (§3.4, §11.3):
//! [`encode_datagram`] / [`decode_datagram_len`].

use gost_core::{Address, Error, Result};

use crate::addr::{decode_addr, encode_addr, u16_at};

/// The protocol version byte.
pub const VERSION: u8 = 1;

/// Command: CONNECT (`0x00` is treated as CONNECT by the Go handler).
pub const CMD_CONNECT: u8 = 0x01;
/// Command: BIND (remote port forwarding).
pub const CMD_BIND: u8 = 0x02;
/// Command: ASSOCIATE (defined, not served by the Go handler).
pub const CMD_ASSOCIATE: u8 = 0x03;
/// Flag: UDP (deprecated in favour of the Network feature, still sent and honoured).
pub const FLAG_UDP: u8 = 0x80;
/// The command bits of the CMD byte.
pub const CMD_MASK: u8 = 0x0F;

/// Status: OK.
pub const STATUS_OK: u8 = 0;
/// Status: bad request.
pub const STATUS_BAD_REQUEST: u8 = 1;
/// Status: unauthorized.
pub const STATUS_UNAUTHORIZED: u8 = 2;
/// Status: forbidden.
pub const STATUS_FORBIDDEN: u8 = 3;

/// The error kind a refusing status stands for (401 → auth, 403 → denied, else connect), for
/// the relay and tunnel connectors.
pub fn status_error_kind(status: u8) -> gost_core::ErrorKind {
    match status {
        STATUS_UNAUTHORIZED => gost_core::ErrorKind::Auth,
        STATUS_FORBIDDEN => gost_core::ErrorKind::Denied,
        _ => gost_core::ErrorKind::Connect,
    }
}
/// Status: timeout.
pub const STATUS_TIMEOUT: u8 = 4;
/// Status: service unavailable.
pub const STATUS_SERVICE_UNAVAILABLE: u8 = 5;
/// Status: host unreachable.
pub const STATUS_HOST_UNREACHABLE: u8 = 6;
/// Status: network unreachable.
pub const STATUS_NETWORK_UNREACHABLE: u8 = 7;
/// Status: internal server error.
pub const STATUS_INTERNAL_SERVER_ERROR: u8 = 8;

/// Feature type: username and password.
pub const FEATURE_USER_AUTH: u8 = 1;
/// Feature type: address.
pub const FEATURE_ADDR: u8 = 2;
/// Feature type: tunnel / connector id.
pub const FEATURE_TUNNEL: u8 = 3;
/// Feature type: network.
pub const FEATURE_NETWORK: u8 = 4;

/// Network: TCP.
pub const NETWORK_TCP: u16 = 0;
/// Network: UDP.
pub const NETWORK_UDP: u16 = 1;
/// Network: IP.
pub const NETWORK_IP: u16 = 2;
/// Network: Unix socket.
pub const NETWORK_UNIX: u16 = 0x10;
/// Network: serial port.
pub const NETWORK_SERIAL: u16 = 0x11;

/// The length of a tunnel or connector id.
pub const TUNNEL_ID_LEN: usize = 20;

/// Older Go versions sent 16-byte ids; those are accepted and zero-padded.
const MIN_TUNNEL_ID_LEN: usize = 16;

/// The fixed message header: VER, CMD/STATUS, FEALEN.
const HEADER_LEN: usize = 4;

/// One relay feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// Credentials (each at most 255 bytes; must be UTF-8 here).
    UserAuth {
        /// The username (may be empty).
        username: String,
        /// The password (may be empty).
        password: String,
    },
    /// An address: the target (CONNECT), the bind address (BIND), or in responses the bound or
    /// peer address. A unix path travels as a domain with port 0.
    Addr(Address),
    /// A tunnel id (request) or connector id (response): 16-byte UUID, flag, 2 reserved bytes,
    /// weight.
    Tunnel([u8; TUNNEL_ID_LEN]),
    /// The network (`NETWORK_*`).
    Network(u16),
    /// A feature type this crate does not know, kept verbatim. `kind` must not be one of the
    /// `FEATURE_*` types (it would decode as that feature).
    Unknown {
        /// The feature type byte.
        kind: u8,
        /// The raw feature data (at most 65535 bytes).
        data: Vec<u8>,
    },
}

impl Feature {
    /// The feature type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Feature::UserAuth { .. } => FEATURE_USER_AUTH,
            Feature::Addr(_) => FEATURE_ADDR,
            Feature::Tunnel(_) => FEATURE_TUNNEL,
            Feature::Network(_) => FEATURE_NETWORK,
            Feature::Unknown { kind, .. } => *kind,
        }
    }

    /// Parses the data of a feature of type `kind`.
    fn decode_data(kind: u8, data: &[u8]) -> Result<Feature> {
        match kind {
            FEATURE_USER_AUTH => {
                let short = || Error::protocol("relay user-auth feature too short");
                let ulen = usize::from(*data.first().ok_or_else(short)?);
                let username = data.get(1..1 + ulen).ok_or_else(short)?;
                let plen = usize::from(*data.get(1 + ulen).ok_or_else(short)?);
                let pstart = 2 + ulen;
                let password = data.get(pstart..pstart + plen).ok_or_else(short)?;
                let text = |b: &[u8]| {
                    std::str::from_utf8(b)
                        .map(str::to_owned)
                        .map_err(|_| Error::protocol("relay user-auth feature is not UTF-8"))
                };
                Ok(Feature::UserAuth { username: text(username)?, password: text(password)? })
            }
            FEATURE_ADDR => match decode_addr(data)? {
                Some((addr, _)) => Ok(Feature::Addr(addr)),
                None => Err(Error::protocol("relay addr feature too short")),
            },
            FEATURE_TUNNEL => {
                if data.len() < MIN_TUNNEL_ID_LEN {
                    return Err(Error::protocol("relay tunnel feature too short"));
                }
                let mut id = [0u8; TUNNEL_ID_LEN];
                for (dst, src) in id.iter_mut().zip(data) {
                    *dst = *src;
                }
                Ok(Feature::Tunnel(id))
            }
            FEATURE_NETWORK => match u16_at(data, 0) {
                Some(n) => Ok(Feature::Network(n)),
                None => Err(Error::protocol("relay network feature too short")),
            },
            kind => Ok(Feature::Unknown { kind, data: data.to_vec() }),
        }
    }

    /// Appends the feature data (without TYPE and LEN).
    fn encode_data(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Feature::UserAuth { username, password } => {
                let ulen = u8::try_from(username.len())
                    .map_err(|_| Error::protocol("relay username longer than 255 bytes"))?;
                let plen = u8::try_from(password.len())
                    .map_err(|_| Error::protocol("relay password longer than 255 bytes"))?;
                out.push(ulen);
                out.extend_from_slice(username.as_bytes());
                out.push(plen);
                out.extend_from_slice(password.as_bytes());
                Ok(())
            }
            Feature::Addr(addr) => encode_addr(addr, out),
            Feature::Tunnel(id) => {
                out.extend_from_slice(id);
                Ok(())
            }
            Feature::Network(n) => {
                out.extend_from_slice(&n.to_be_bytes());
                Ok(())
            }
            Feature::Unknown { data, .. } => {
                out.extend_from_slice(data);
                Ok(())
            }
        }
    }
}

/// Patches the big-endian `u16` length at `at` with the number of bytes written after `at + 2`.
fn patch_len(out: &mut [u8], at: usize, what: &str) -> Result<()> {
    let len = out.len().saturating_sub(at + 2);
    let len = u16::try_from(len)
        .map_err(|_| Error::protocol(format!("relay {what} of {len} bytes exceeds 65535")))?;
    match out.get_mut(at..at + 2) {
        Some(slot) => {
            slot.copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        None => Err(Error::protocol("relay length slot missing")),
    }
}

/// Appends `VER code FEALEN FEATURES`, leaving `out` untouched on error.
fn encode_message(code: u8, features: &[Feature], out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let res = (|| {
        out.extend_from_slice(&[VERSION, code, 0, 0]);
        for f in features {
            let at = out.len() + 1;
            out.extend_from_slice(&[f.kind(), 0, 0]);
            f.encode_data(out)?;
            patch_len(out, at, "feature")?;
        }
        patch_len(out, start + 2, "feature list")
    })();
    if res.is_err() {
        out.truncate(start);
    }
    res
}

/// Parses `VER code FEALEN FEATURES`; the whole feature list must be present before any
/// feature is parsed.
fn decode_message(buf: &[u8], what: &str) -> Result<Option<(u8, Vec<Feature>, usize)>> {
    let Some(&ver) = buf.first() else {
        return Ok(None);
    };
    if ver != VERSION {
        return Err(Error::protocol(format!("relay {what}: bad version {ver:#04x}")));
    }
    let (Some(&code), Some(fealen)) = (buf.get(1), u16_at(buf, 2)) else {
        return Ok(None);
    };
    let end = HEADER_LEN + usize::from(fealen);
    let Some(mut list) = buf.get(HEADER_LEN..end) else {
        return Ok(None);
    };
    let mut features = Vec::new();
    while let Some((&kind, rest)) = list.split_first() {
        let Some(len) = u16_at(rest, 0) else {
            return Err(Error::protocol(format!("relay {what}: truncated feature header")));
        };
        let data_end = 2 + usize::from(len);
        let Some(data) = rest.get(2..data_end) else {
            return Err(Error::protocol(format!("relay {what}: feature overruns the list")));
        };
        features.push(Feature::decode_data(kind, data)?);
        list = rest.get(data_end..).unwrap_or_default();
    }
    Ok(Some((code, features, end)))
}

fn last_addr(features: &[Feature]) -> Option<&Address> {
    features.iter().rev().find_map(|f| match f {
        Feature::Addr(a) => Some(a),
        _ => None,
    })
}

fn last_user_auth(features: &[Feature]) -> Option<(&str, &str)> {
    features.iter().rev().find_map(|f| match f {
        Feature::UserAuth { username, password } => Some((username.as_str(), password.as_str())),
        _ => None,
    })
}

fn last_network(features: &[Feature]) -> Option<u16> {
    features.iter().rev().find_map(|f| match f {
        Feature::Network(n) => Some(*n),
        _ => None,
    })
}

fn last_tunnel(features: &[Feature]) -> Option<&[u8; TUNNEL_ID_LEN]> {
    features.iter().rev().find_map(|f| match f {
        Feature::Tunnel(id) => Some(id),
        _ => None,
    })
}

/// A client request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The CMD byte: command in the low nibble ([`CMD_MASK`]), [`FLAG_UDP`] in the high bit.
    pub cmd: u8,
    /// The features, in wire order.
    pub features: Vec<Feature>,
}

impl Request {
    /// Parses a request. A version other than 1, a feature overrunning the list or a known
    /// feature with short data is an error.
    pub fn decode(buf: &[u8]) -> Result<Option<(Request, usize)>> {
        Ok(decode_message(buf, "request")?.map(|(cmd, features, n)| (Request { cmd, features }, n)))
    }

    /// Appends the request; errors (with `out` untouched) if a feature or the list exceeds 65535
    /// bytes, a username or password exceeds 255 bytes or a domain does not fit.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_message(self.cmd, &self.features, out)
    }

    /// The last `Addr` feature.
    pub fn addr(&self) -> Option<&Address> {
        last_addr(&self.features)
    }

    /// Every `Addr` feature in wire order (the tunnel handler reads source then destination).
    pub fn addrs(&self) -> impl Iterator<Item = &Address> {
        self.features.iter().filter_map(|f| match f {
            Feature::Addr(a) => Some(a),
            _ => None,
        })
    }

    /// The last `UserAuth` feature as `(username, password)`.
    pub fn user_auth(&self) -> Option<(&str, &str)> {
        last_user_auth(&self.features)
    }

    /// The last `Network` feature.
    pub fn network(&self) -> Option<u16> {
        last_network(&self.features)
    }

    /// The last `Tunnel` feature.
    pub fn tunnel(&self) -> Option<&[u8; TUNNEL_ID_LEN]> {
        last_tunnel(&self.features)
    }
}

/// A server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status (`STATUS_*`).
    pub status: u8,
    /// The features, in wire order.
    pub features: Vec<Feature>,
}

impl Response {
    /// A response without features (`01 STATUS 00 00`).
    pub fn new(status: u8) -> Response {
        Response { status, features: Vec::new() }
    }

    /// Parses a response (same rules as [`Request::decode`]).
    pub fn decode(buf: &[u8]) -> Result<Option<(Response, usize)>> {
        Ok(decode_message(buf, "response")?
            .map(|(status, features, n)| (Response { status, features }, n)))
    }

    /// Appends the response (same errors as [`Request::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        encode_message(self.status, &self.features, out)
    }

    /// The last `Addr` feature.
    pub fn addr(&self) -> Option<&Address> {
        last_addr(&self.features)
    }

    /// The last `UserAuth` feature as `(username, password)`.
    pub fn user_auth(&self) -> Option<(&str, &str)> {
        last_user_auth(&self.features)
    }

    /// The last `Network` feature.
    pub fn network(&self) -> Option<u16> {
        last_network(&self.features)
    }

    /// The last `Tunnel` feature.
    pub fn tunnel(&self) -> Option<&[u8; TUNNEL_ID_LEN]> {
        last_tunnel(&self.features)
    }
}

/// Appends one datagram in the UDP-over-CONNECT framing: `LEN(u16 BE) | payload`. A payload
/// over 65535 bytes is an error (`out` untouched).
pub fn encode_datagram(payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| {
        Error::protocol(format!("relay datagram of {} bytes exceeds 65535", payload.len()))
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// The payload length announced by the 2-byte prefix at the front of `buf` (the payload starts
/// at `buf[2]`), or `None` if fewer than 2 bytes are buffered.
pub fn decode_datagram_len(buf: &[u8]) -> Option<usize> {
    u16_at(buf, 0).map(usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::tests::{assert_prefixes_incomplete, sample_addrs};

    /// protocols.md §3.1: CONNECT example.com:80, user `u`, pass `p`.
    const EXAMPLE: [u8; 29] = [
        0x01, 0x01, 0x00, 0x19, 0x01, 0x00, 0x04, 0x01, 0x75, 0x01, 0x70, 0x02, 0x00, 0x0f, 0x03,
        0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x50,
    ];

    fn example_request() -> Request {
        Request {
            cmd: CMD_CONNECT,
            features: vec![
                Feature::UserAuth { username: "u".into(), password: "p".into() },
                Feature::Addr(Address::Domain("example.com".into(), 80)),
            ],
        }
    }

    #[test]
    fn protocols_md_example() {
        let (req, n) = Request::decode(&EXAMPLE).unwrap().unwrap();
        assert_eq!(n, EXAMPLE.len());
        assert_eq!(req, example_request());
        assert_eq!(req.user_auth(), Some(("u", "p")));
        assert_eq!(req.addr(), Some(&Address::Domain("example.com".into(), 80)));
        assert_eq!(req.network(), None);
        let mut out = Vec::new();
        req.encode(&mut out).unwrap();
        assert_eq!(out, EXAMPLE);
        assert_prefixes_incomplete(&EXAMPLE, Request::decode);

        let mut out = Vec::new();
        Response::new(STATUS_OK).encode(&mut out).unwrap();
        assert_eq!(out, [1, 0, 0, 0]);
        let mut out = Vec::new();
        Response::new(STATUS_UNAUTHORIZED).encode(&mut out).unwrap();
        assert_eq!(out, [1, 2, 0, 0]);
    }

    fn sample_features() -> Vec<Vec<Feature>> {
        let mut all = vec![
            vec![],
            vec![Feature::Network(NETWORK_UDP)],
            vec![
                Feature::UserAuth { username: String::new(), password: String::new() },
                Feature::Tunnel(core::array::from_fn(|i| i as u8)),
                Feature::Unknown { kind: 9, data: vec![1, 2, 3] },
                Feature::Unknown { kind: 0xFE, data: vec![] },
            ],
            vec![Feature::UserAuth { username: "ü".repeat(127), password: "p".repeat(255) }],
        ];
        for a in sample_addrs() {
            all.push(vec![Feature::Network(NETWORK_TCP), Feature::Addr(a)]);
        }
        all
    }

    #[test]
    fn round_trips() {
        for features in sample_features() {
            for cmd in [CMD_CONNECT, CMD_BIND | FLAG_UDP, 0] {
                let req = Request { cmd, features: features.clone() };
                let mut buf = vec![0xEE];
                req.encode(&mut buf).unwrap();
                let n = buf.len() - 1;
                buf.extend_from_slice(b"first payload");
                assert_eq!(Request::decode(&buf[1..]).unwrap(), Some((req, n)));
                assert_prefixes_incomplete(&buf[1..=n], Request::decode);
            }
            let resp = Response { status: STATUS_HOST_UNREACHABLE, features };
            let mut buf = Vec::new();
            resp.encode(&mut buf).unwrap();
            assert_eq!(Response::decode(&buf).unwrap(), Some((resp, buf.len())));
            assert_prefixes_incomplete(&buf, Response::decode);
        }
    }

    #[test]
    fn helpers_last_wins() {
        let a1: Address = "1.1.1.1:1".parse().unwrap();
        let a2 = Address::Domain("two".into(), 2);
        let req = Request {
            cmd: CMD_CONNECT,
            features: vec![
                Feature::Addr(a1.clone()),
                Feature::Network(NETWORK_UDP),
                Feature::Addr(a2.clone()),
                Feature::Network(NETWORK_UNIX),
                Feature::UserAuth { username: "a".into(), password: "b".into() },
                Feature::UserAuth { username: "c".into(), password: "d".into() },
            ],
        };
        assert_eq!(req.addr(), Some(&a2));
        assert_eq!(req.addrs().collect::<Vec<_>>(), [&a1, &a2]);
        assert_eq!(req.network(), Some(NETWORK_UNIX));
        assert_eq!(req.user_auth(), Some(("c", "d")));
        let resp = Response { status: 0, features: req.features.clone() };
        assert_eq!(resp.addr(), Some(&a2));
        assert_eq!(resp.network(), Some(NETWORK_UNIX));
        assert_eq!(resp.user_auth(), Some(("c", "d")));
        assert_eq!(resp.tunnel(), None);
    }

    #[test]
    fn lenient_feature_data() {
        // Trailing bytes inside a known feature are ignored, as in Go.
        let buf = [1, 1, 0, 6, 4, 0, 3, 0, 1, 0xAA];
        let (req, _) = Request::decode(&buf).unwrap().unwrap();
        assert_eq!(req.features, [Feature::Network(NETWORK_UDP)]);
        // A 16-byte (older Go) tunnel id is zero-padded.
        let mut buf = vec![1, 0, 0, 19, 3, 0, 16];
        buf.extend_from_slice(&[7; 16]);
        let (resp, _) = Response::decode(&buf).unwrap().unwrap();
        let mut want = [0; 20];
        want[..16].copy_from_slice(&[7; 16]);
        assert_eq!(resp.tunnel(), Some(&want));
    }

    #[test]
    fn malformed() {
        // Bad version.
        assert!(Request::decode(&[2]).is_err());
        assert!(Response::decode(&[0, 0, 0, 0]).is_err());
        // Feature header overruns FEALEN.
        assert!(Request::decode(&[1, 1, 0, 2, 4, 0]).is_err());
        // Feature data overruns FEALEN.
        assert!(Request::decode(&[1, 1, 0, 4, 4, 0, 2, 0]).is_err());
        // Short known features.
        assert!(Request::decode(&[1, 1, 0, 4, 4, 0, 1, 0]).is_err());
        assert!(Request::decode(&[1, 1, 0, 5, 3, 0, 2, 0, 0]).is_err());
        assert!(Request::decode(&[1, 1, 0, 5, 1, 0, 2, 1, b'u']).is_err());
        assert!(Request::decode(&[1, 1, 0, 6, 2, 0, 3, 1, 0, 0]).is_err());
        // Bad ATYP, empty and non-UTF-8 domains.
        assert!(Request::decode(&[1, 1, 0, 10, 2, 0, 7, 9, 0, 0, 0, 0, 0, 0]).is_err());
        // An empty domain is Go's empty host (any address), as Go's UDP associate sends it.
        let (empty, _) = Request::decode(&[1, 1, 0, 7, 2, 0, 4, 3, 0, 0, 80]).unwrap().unwrap();
        assert_eq!(
            empty.addr(),
            Some(&Address::Ip(std::net::SocketAddr::from(([0, 0, 0, 0], 80))))
        );
        assert!(Request::decode(&[1, 1, 0, 8, 2, 0, 5, 3, 1, 0xFF, 0, 80]).is_err());
        // Non-UTF-8 credentials.
        assert!(Request::decode(&[1, 1, 0, 6, 1, 0, 3, 1, 0xFF, 0]).is_err());
    }

    #[test]
    fn encode_errors_leave_out_untouched() {
        let cases = [
            vec![Feature::UserAuth { username: "u".repeat(256), password: String::new() }],
            vec![Feature::UserAuth { username: String::new(), password: "p".repeat(256) }],
            vec![Feature::Addr(Address::Domain("d".repeat(256), 1))],
            vec![Feature::Unknown { kind: 9, data: vec![0; 65536] }],
            vec![
                Feature::Unknown { kind: 9, data: vec![0; 40000] },
                Feature::Unknown { kind: 9, data: vec![0; 40000] },
            ],
        ];
        for features in cases {
            let mut out = vec![0x42];
            assert!(Request { cmd: 1, features: features.clone() }.encode(&mut out).is_err());
            assert!(Response { status: 0, features }.encode(&mut out).is_err());
            assert_eq!(out, [0x42]);
        }
        // The largest feature that fits.
        let mut out = Vec::new();
        let f = vec![Feature::Unknown { kind: 9, data: vec![0; 65535 - 3] }];
        Request { cmd: 1, features: f }.encode(&mut out).unwrap();
        assert_eq!(out.len(), 4 + 65535);
        assert_eq!(&out[2..4], [0xFF, 0xFF]);
    }

    #[test]
    fn datagrams() {
        let mut out = Vec::new();
        encode_datagram(b"abc", &mut out).unwrap();
        encode_datagram(b"", &mut out).unwrap();
        assert_eq!(out, [0, 3, b'a', b'b', b'c', 0, 0]);
        assert_eq!(decode_datagram_len(&out), Some(3));
        assert_eq!(decode_datagram_len(&out[5..]), Some(0));
        assert_eq!(decode_datagram_len(&out[..1]), None);
        assert_eq!(decode_datagram_len(&[]), None);
        let mut out = Vec::new();
        encode_datagram(&vec![7; 65535], &mut out).unwrap();
        assert_eq!(decode_datagram_len(&out), Some(65535));
        let mut out = Vec::new();
        assert!(encode_datagram(&vec![7; 65536], &mut out).is_err());
        assert!(out.is_empty());
    }
}
