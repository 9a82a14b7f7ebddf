//! What a client's first bytes say, without taking them: TLS (its ClientHello: server name, and
//! the real name a gost `sni` client carries), HTTP (its request head: `Host`, and gost's
//! `Gost-Target`), or something else. For the `sni` handler and for `sniffing` (gost's
//! `internal/util/sniffing`).

use gost_core::{Address, Result};
use gost_proto::http::RequestHead;
use gost_proto::tls::ClientHello;

/// The most read before deciding (a ClientHello or a request head).
pub(crate) const MAX_SNIFF: usize = 64 * 1024;

/// What the first bytes are.
#[derive(Debug)]
pub(crate) enum Sniffed {
    Tls(ClientHello),
    Http(Box<RequestHead>),
    Other,
}

const METHODS: &[&str] =
    &["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"];

/// A [`gost_core::io::read_decoded`] decoder: what `buf` starts with, once it can tell. Consumes
/// nothing (the bytes stay for whoever the connection goes to).
pub(crate) fn sniff(buf: &[u8]) -> Result<Option<(Sniffed, usize)>> {
    let Some(&first) = buf.first() else { return Ok(None) };
    if first == 0x16 {
        return Ok(match gost_proto::tls::client_hello(buf) {
            Ok(None) => None,
            Ok(Some((hello, _))) => Some((Sniffed::Tls(hello), 0)),
            Err(_) => Some((Sniffed::Other, 0)),
        });
    }
    let token_end = buf.iter().position(|&b| b == b' ');
    let token = &buf[..token_end.unwrap_or(buf.len())];
    let known = METHODS.iter().any(|m| {
        if token_end.is_some() { m.as_bytes() == token } else { m.as_bytes().starts_with(token) }
    });
    if !known {
        return Ok(Some((Sniffed::Other, 0)));
    }
    if token_end.is_none() {
        return Ok(None);
    }
    Ok(match RequestHead::decode(buf) {
        Ok(None) => None,
        Ok(Some((head, _))) => Some((Sniffed::Http(Box::new(head)), 0)),
        Err(_) => Some((Sniffed::Other, 0)),
    })
}

impl Sniffed {
    /// The host the client wants, with the protocol's port when it names none (443 for TLS,
    /// 80 for HTTP): gost's `Gost-Target` / extension `0xFFFE` first, then SNI or `Host`.
    pub(crate) fn target(&self) -> Option<Address> {
        match self {
            Sniffed::Tls(hello) => {
                host_port(hello.gost_target.as_deref().or(hello.server_name.as_deref())?, 443)
            }
            Sniffed::Http(head) => {
                let hidden = ["Gost-Target", "X-Gost-Target"]
                    .iter()
                    .find_map(|h| head.header_str(h))
                    .and_then(gost_proto::tls::decode_server_name);
                host_port(hidden.as_deref().or(head.header_str("Host"))?, 80)
            }
            Sniffed::Other => None,
        }
    }

    /// The host as the protocol itself names it (TLS SNI, HTTP `Host`), ignoring gost's hidden
    /// target: what a forwarder routes and checks bypasses by (a client could forge the hidden
    /// name to route one host's request as another's, as gost's forwarder does not honour it).
    pub(crate) fn plain_target(&self) -> Option<Address> {
        match self {
            Sniffed::Tls(hello) => host_port(hello.server_name.as_deref()?, 443),
            Sniffed::Http(head) => host_port(head.header_str("Host")?, 80),
            Sniffed::Other => None,
        }
    }

    /// The first bytes `buf` as the client meant them: a gost `sni` client's disguise undone (the
    /// ClientHello restored byte for byte, so that the TLS handshake still verifies; `Host`
    /// back and `Gost-Target` gone), as gost's `sni` handler forwards them.
    pub(crate) fn restore(&self, buf: Vec<u8>) -> Vec<u8> {
        match self {
            Sniffed::Tls(hello) if hello.gost_target.is_some() => {
                match gost_proto::tls::restore_server_name(&buf) {
                    Ok(Some(restored)) => restored,
                    _ => buf,
                }
            }
            Sniffed::Http(head) => {
                let hidden = ["Gost-Target", "X-Gost-Target"]
                    .iter()
                    .find_map(|h| head.header_str(h))
                    .and_then(gost_proto::tls::decode_server_name);
                match hidden {
                    Some(real) => restore_host(&buf, &real),
                    None => buf,
                }
            }
            _ => buf,
        }
    }

    /// Tells `req` what the first bytes say, for hop filters and matcher rules: protocol, host,
    /// and for HTTP the method, path, query, header fields and the body bytes that arrived with
    /// the head.
    pub(crate) fn describe(&self, req: &mut gost_core::SelectRequest, first: &[u8]) {
        req.host = self.plain_target().map(|t| t.to_string());
        req.protocol = Some(self.protocol()).filter(|p| !p.is_empty()).map(str::to_owned);
        let Sniffed::Http(head) = self else { return };
        req.method = Some(head.method.clone());
        // An origin-form target, or the path of an absolute one.
        let target = head.target.as_str();
        let path_and_query = match target.find("://").filter(|_| !target.starts_with('/')) {
            Some(i) => target[i + 3..].find('/').map_or("/", |j| &target[i + 3 + j..]),
            None => target,
        };
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        // Rules match the decoded path, as Go's `req.URL.Path` (`/%61dmin` is `/admin`).
        let decoded = gost_proto::http::percent_decode(path)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| path.to_owned());
        req.path = Some(decoded);
        req.query = query.map(str::to_owned);
        req.headers = head
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        if let Some(end) = first.windows(4).position(|w| w == b"\r\n\r\n") {
            req.body = std::sync::Arc::from(&first[end + 4..]);
        }
    }

    /// gost's protocol names (`filter.protocol`): `tls`, `http`, or empty.
    pub(crate) fn protocol(&self) -> &'static str {
        match self {
            Sniffed::Tls(_) => "tls",
            Sniffed::Http(_) => "http",
            Sniffed::Other => "",
        }
    }
}

/// A request head's `Host` set to `real`, its `Gost-Target` / `X-Gost-Target` lines dropped;
/// the rest of `buf` unchanged.
fn restore_host(buf: &[u8], real: &str) -> Vec<u8> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return buf.to_vec();
    };
    let mut out = Vec::with_capacity(buf.len() + real.len());
    for (i, line) in buf[..end].split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        if i > 0 && name.eq_ignore_ascii_case(b"host") {
            out.extend_from_slice(format!("Host: {real}\r\n").as_bytes());
        } else if i > 0
            && (name.eq_ignore_ascii_case(b"gost-target")
                || name.eq_ignore_ascii_case(b"x-gost-target"))
        {
            continue;
        } else {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&buf[end + 4..]);
    out
}

/// `host` (with or without a port, an IPv6 literal in brackets) as an address, `port` when it
/// names none.
pub(crate) fn host_port(host: &str, port: u16) -> Option<Address> {
    let host = host.trim();
    if host.is_empty() {
        return None;
    }
    if let Ok(a) = Address::parse(host) {
        return Some(a);
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Address::from_host_port(bare, port).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_tls_http_and_the_rest_apart() {
        assert!(sniff(b"").unwrap().is_none());
        assert!(sniff(b"GE").unwrap().is_none(), "a method's prefix: wait");
        assert!(sniff(b"GET / HTTP/1.1\r\nHost: a.test").unwrap().is_none());
        let (s, n) = sniff(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n").unwrap().unwrap();
        assert_eq!(n, 0);
        assert_eq!(s.protocol(), "http");
        assert_eq!(s.target(), Some(Address::Domain("a.test".into(), 80)));
        let (s, _) = sniff(b"SSH-2.0-OpenSSH\r\n").unwrap().unwrap();
        assert!(matches!(s, Sniffed::Other));
        let (s, _) = sniff(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00").unwrap().unwrap();
        assert!(matches!(s, Sniffed::Other), "not a ClientHello");
        let hidden = gost_proto::tls::encode_server_name("real.test:8443");
        let head = format!("GET / HTTP/1.1\r\nHost: fake.test\r\nGost-Target: {hidden}\r\n\r\n");
        let (s, _) = sniff(head.as_bytes()).unwrap().unwrap();
        assert_eq!(s.target(), Some(Address::Domain("real.test".into(), 8443)));
        let restored = s.restore(format!("{head}body").into_bytes());
        assert_eq!(restored, b"GET / HTTP/1.1\r\nHost: real.test:8443\r\n\r\nbody");
        assert_eq!(host_port("[::1]", 443).map(|a| a.port()), Some(443));
        assert_eq!(
            host_port("10.0.0.1", 80).map(|a| a.to_string()).as_deref(),
            Some("10.0.0.1:80")
        );
    }

    #[test]
    fn describes_http_requests_for_rules() {
        let first = b"POST http://a.test/api/v1?x=1&y=2 HTTP/1.1\r\nHost: a.test\r\nX-Tier: gold\r\n\r\n{\"k\":1}";
        let (s, _) = sniff(first).unwrap().unwrap();
        let mut req = gost_core::SelectRequest::default();
        s.describe(&mut req, first);
        assert_eq!(req.protocol.as_deref(), Some("http"));
        assert_eq!(req.host.as_deref(), Some("a.test:80"));
        assert_eq!(req.method.as_deref(), Some("POST"));
        assert_eq!(req.path.as_deref(), Some("/api/v1"));
        assert_eq!(req.query.as_deref(), Some("x=1&y=2"));
        assert!(req.headers.contains(&("X-Tier".into(), "gold".into())));
        assert_eq!(&*req.body, b"{\"k\":1}");
    }
}
