//! The server name (SNI) of a TLS ClientHello, read from the first records a client sends,
//! without terminating TLS (for routing by name); and gost's `sni` connector's rewrite of it
//! (the name replaced, the real one carried, obfuscated, in extension `0xFFFE`). Sans-I/O.

use gost_core::{Error, Result};

/// A ClientHello longer than this (across records) is refused.
pub const MAX_HELLO: usize = 64 * 1024;

/// Reads the ClientHello at the start of `buf` (one or more handshake records): `Ok(None)`
/// while more bytes are needed; then the server name it carries (if any) and how many bytes
/// its records take. Anything that is not a TLS ClientHello is an error.
pub fn client_hello_sni(buf: &[u8]) -> Result<Option<(Option<String>, usize)>> {
    Ok(client_hello(buf)?.map(|(hello, n)| (hello.server_name, n)))
}

/// What routing needs of a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientHello {
    /// The server name (SNI).
    pub server_name: Option<String>,
    /// The real server name a gost `sni` connector put in extension `0xFFFE` when it replaced
    /// the SNI (decoded; `None` if absent or not valid).
    pub gost_target: Option<String>,
}

/// The private extension gost's `sni` connector carries the real server name in.
pub const GOST_TARGET_EXTENSION: u16 = 0xFFFE;

/// [`client_hello_sni`] with everything routing needs.
pub fn client_hello(buf: &[u8]) -> Result<Option<(ClientHello, usize)>> {
    let mut hello = Vec::new();
    let mut at = 0;
    loop {
        let Some(header) = buf.get(at..at + 5) else { return Ok(None) };
        if header[0] != 22 {
            return Err(Error::protocol("tls: not a handshake record"));
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let Some(fragment) = buf.get(at + 5..at + 5 + len) else {
            return if at + 5 + len > MAX_HELLO + 5 * 16 {
                Err(Error::protocol("tls: ClientHello too long"))
            } else {
                Ok(None)
            };
        };
        hello.extend_from_slice(fragment);
        at += 5 + len;
        if hello.len() >= 4 {
            if hello[0] != 1 {
                return Err(Error::protocol("tls: not a ClientHello"));
            }
            let need = 4
                + (usize::from(hello[1]) << 16
                    | usize::from(hello[2]) << 8
                    | usize::from(hello[3]));
            if need > MAX_HELLO {
                return Err(Error::protocol("tls: ClientHello too long"));
            }
            if hello.len() >= need {
                let (_, extensions) = split_extensions(&hello[4..need])?;
                let mut out = ClientHello::default();
                for (kind, data) in extensions {
                    match kind {
                        0 => out.server_name = server_name(data)?,
                        GOST_TARGET_EXTENSION => {
                            out.gost_target =
                                std::str::from_utf8(data).ok().and_then(decode_server_name);
                        }
                        _ => {}
                    }
                }
                return Ok(Some((out, at)));
            }
        }
    }
}

/// The server name in a ClientHello handshake message without TLS records (as QUIC carries it
/// in CRYPTO frames): `None` when `msg` is not a ClientHello, or is cut before its extensions
/// end.
pub fn handshake_server_name(msg: &[u8]) -> Option<String> {
    if msg.first() != Some(&1) || msg.len() < 4 {
        return None;
    }
    let len = usize::from(msg[1]) << 16 | usize::from(msg[2]) << 8 | usize::from(msg[3]);
    let body = msg.get(4..4 + len)?;
    let (_, extensions) = split_extensions(body).ok()?;
    let (_, data) = extensions.into_iter().find(|(kind, _)| *kind == 0)?;
    server_name(data).ok().flatten()
}

/// gost's `sni` connector's rewrite of a ClientHello that is whole in the first record at the
/// start of `buf`: the server name becomes `host` and the old one goes, obfuscated, into
/// extension `0xFFFE`. `Ok(None)` while the record is incomplete; the rewritten record is
/// followed by what came after it in `buf`.
pub fn rewrite_server_name(buf: &[u8], host: &str) -> Result<Option<Vec<u8>>> {
    rebuild(buf, Some(host))
}

/// The reverse of [`rewrite_server_name`], for the server that routes it: the ClientHello as
/// the client made it (its real server name back in place, extension `0xFFFE` gone), so that
/// the TLS handshake's transcript still matches. Unchanged when it carries no `0xFFFE`.
pub fn restore_server_name(buf: &[u8]) -> Result<Option<Vec<u8>>> {
    rebuild(buf, None)
}

/// `rename`: hide the server name behind `Some(host)`; `None`: restore a hidden one.
fn rebuild(buf: &[u8], rename: Option<&str>) -> Result<Option<Vec<u8>>> {
    let Some(header) = buf.get(..5) else { return Ok(None) };
    if header[0] != 22 {
        return Err(Error::protocol("tls: not a handshake record"));
    }
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let Some(record) = buf.get(5..5 + len) else { return Ok(None) };
    if record.len() < 4 || record[0] != 1 {
        return Err(Error::protocol("tls: not a ClientHello"));
    }
    let need =
        4 + (usize::from(record[1]) << 16 | usize::from(record[2]) << 8 | usize::from(record[3]));
    if need != record.len() {
        return Err(Error::protocol("tls: a ClientHello over several records"));
    }
    let body = &record[4..];
    let (prefix, extensions) = split_extensions(body)?;
    let hidden = extensions
        .iter()
        .find(|(kind, _)| *kind == GOST_TARGET_EXTENSION)
        .and_then(|(_, data)| decode_server_name(std::str::from_utf8(data).ok()?));
    let host = match (rename, &hidden) {
        (Some(host), _) => host,
        (None, Some(real)) => real.as_str(),
        (None, None) => return Ok(Some(buf.to_vec())),
    };
    let mut ext = Vec::with_capacity(body.len() + 64);
    let mut old = None;
    for (kind, data) in &extensions {
        if *kind == 0 {
            old = server_name(data)?;
            let mut list = vec![0u8];
            list.extend_from_slice(&u16_len(host.len())?.to_be_bytes());
            list.extend_from_slice(host.as_bytes());
            push_extension(&mut ext, 0, &[&u16_len(list.len())?.to_be_bytes()[..], &list])?;
        } else if *kind != GOST_TARGET_EXTENSION {
            push_extension(&mut ext, *kind, &[data])?;
        }
    }
    if let (Some(old), Some(_)) = (&old, rename) {
        push_extension(&mut ext, GOST_TARGET_EXTENSION, &[encode_server_name(old).as_bytes()])?;
    }
    let body_len = prefix.len() + 2 + ext.len();
    let mut out = Vec::with_capacity(9 + body_len + buf.len() - 5 - len);
    out.extend_from_slice(&header[..3]);
    out.extend_from_slice(&u16_len(4 + body_len)?.to_be_bytes());
    out.push(1);
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_be_bytes()[1..]);
    out.extend_from_slice(prefix);
    out.extend_from_slice(&u16_len(ext.len())?.to_be_bytes());
    out.extend_from_slice(&ext);
    out.extend_from_slice(&buf[5 + len..]);
    Ok(Some(out))
}

fn u16_len(n: usize) -> Result<u16> {
    u16::try_from(n).map_err(|_| Error::protocol("tls: a field longer than 65535 bytes"))
}

fn push_extension(out: &mut Vec<u8>, kind: u16, parts: &[&[u8]]) -> Result<()> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&u16_len(len)?.to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(())
}

/// gost's obfuscation of a server name (its `Gost-Target` header and `0xFFFE` extension):
/// unpadded URL-safe base64 of (the name's CRC-32, big-endian, then the name in unpadded
/// URL-safe base64).
pub fn encode_server_name(name: &str) -> String {
    let mut inner = crc32(name.as_bytes()).to_be_bytes().to_vec();
    inner.extend_from_slice(base64url(name.as_bytes()).as_bytes());
    base64url(&inner)
}

/// The name [`encode_server_name`] encoded, if `s` is one (its checksum matches).
pub fn decode_server_name(s: &str) -> Option<String> {
    let inner = crate::http::base64_decode(s.trim().as_bytes())?;
    let (sum, name) = inner.split_at_checked(4)?;
    let name = crate::http::base64_decode(name)?;
    (crc32(&name).to_be_bytes() == sum).then(|| String::from_utf8(name).ok())?
}

fn base64url(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    crate::http::base64_encode(data, &mut s);
    s.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// CRC-32 (IEEE 802.3), bit by bit: names are short.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A reader over a byte slice that fails instead of panicking.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(Error::protocol("tls: truncated ClientHello"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<usize> {
        Ok(usize::from(self.take(1)?[0]))
    }
    fn u16(&mut self) -> Result<usize> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
}

/// A ClientHello's extensions: (type, data) each.
type Extensions<'a> = Vec<(u16, &'a [u8])>;

/// A ClientHello body split at its extensions: what comes before them, and each extension.
fn split_extensions(body: &[u8]) -> Result<(&[u8], Extensions<'_>)> {
    let mut c = Cursor(body);
    c.take(2 + 32)?; // version, random
    let n = c.u8()?;
    c.take(n)?; // session id
    let n = c.u16()?;
    c.take(n)?; // cipher suites
    let n = c.u8()?;
    c.take(n)?; // compression methods
    let prefix = &body[..body.len() - c.0.len()];
    let mut out = Vec::new();
    if c.0.is_empty() {
        return Ok((prefix, out)); // no extensions
    }
    let n = c.u16()?;
    let mut ext = Cursor(c.take(n)?);
    while !ext.0.is_empty() {
        let kind = ext.u16()?;
        let n = ext.u16()?;
        out.push((u16::try_from(kind).unwrap_or(u16::MAX), ext.take(n)?));
    }
    Ok((prefix, out))
}

/// The host name in a `server_name` extension's data.
fn server_name(data: &[u8]) -> Result<Option<String>> {
    let mut list = Cursor(data);
    let n = list.u16()?;
    let mut names = Cursor(list.take(n)?);
    while !names.0.is_empty() {
        let name_type = names.u8()?;
        let n = names.u16()?;
        let name = names.take(n)?;
        if name_type == 0 {
            let name = std::str::from_utf8(name)
                .map_err(|_| Error::protocol("tls: server name is not text"))?;
            return Ok(Some(name.to_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello for `name` (or without SNI), in `records` records.
    fn hello(name: Option<&str>, records: usize) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        body.extend_from_slice(&[1, 0]); // null compression
        let mut ext = Vec::new();
        ext.extend_from_slice(&[0, 10, 0, 2, 0, 0]); // another extension first
        if let Some(name) = name {
            let n = name.len();
            let mut sn = vec![0u8];
            sn.extend_from_slice(&(n as u16).to_be_bytes());
            sn.extend_from_slice(name.as_bytes());
            ext.extend_from_slice(&[0, 0]);
            ext.extend_from_slice(&((sn.len() + 2) as u16).to_be_bytes());
            ext.extend_from_slice(&(sn.len() as u16).to_be_bytes());
            ext.extend_from_slice(&sn);
        }
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(body.len() as u16).to_be_bytes());
        hs.extend_from_slice(&body);
        let mut out = Vec::new();
        for chunk in hs.chunks(hs.len().div_ceil(records)) {
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    #[test]
    fn sni_in_one_or_several_records_and_bad_input() {
        for records in [1, 3] {
            let h = hello(Some("example.com"), records);
            for cut in 0..h.len() {
                assert_eq!(client_hello_sni(&h[..cut]).unwrap(), None, "{records} records, {cut}");
            }
            let mut more = h.clone();
            more.extend_from_slice(b"after");
            assert_eq!(
                client_hello_sni(&more).unwrap(),
                Some((Some("example.com".into()), h.len()))
            );
        }
        assert_eq!(client_hello_sni(&hello(None, 1)).unwrap().unwrap().0, None);
        assert!(client_hello_sni(b"GET / HTTP/1.1\r\n\r\n").is_err());
        let mut bad = hello(Some("a.test"), 1);
        bad[5] = 2; // a ServerHello
        assert!(client_hello_sni(&bad).is_err());
        // A lying extension length does not read past the body.
        let mut lie = hello(Some("a.test"), 1);
        let n = lie.len();
        lie[n - 8] = 0xff; // the name's length
        assert!(client_hello_sni(&lie).is_err());
    }

    #[test]
    fn the_sni_rewrite_round_trips_and_names_obfuscate_as_gost() {
        // Go: encodeServerName("example.com").
        let enc = encode_server_name("example.com");
        assert_eq!(enc, "tvpOuVpYaGhiWEJzWlM1amIyMA");
        assert_eq!(decode_server_name(&enc).as_deref(), Some("example.com"));
        assert_eq!(decode_server_name("bm90LWEtbmFtZQ"), None);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let h = hello(Some("real.example"), 1);
        let mut with_tail = h.clone();
        with_tail.extend_from_slice(b"tail");
        assert_eq!(rewrite_server_name(&h[..h.len() - 1], "x").unwrap(), None);
        let out = rewrite_server_name(&with_tail, "fake.test").unwrap().unwrap();
        assert!(out.ends_with(b"tail"));
        let (parsed, n) = client_hello(&out).unwrap().unwrap();
        assert_eq!(n, out.len() - 4);
        assert_eq!(parsed.server_name.as_deref(), Some("fake.test"));
        assert_eq!(parsed.gost_target.as_deref(), Some("real.example"));
        assert_eq!(restore_server_name(&out).unwrap().unwrap(), with_tail, "restored exactly");
        assert_eq!(restore_server_name(&h).unwrap().unwrap(), h, "nothing hidden: unchanged");
        assert!(rewrite_server_name(&hello(Some("a"), 2), "b").is_err(), "several records");
        assert!(rewrite_server_name(b"GET / HTTP/1.1\r\n", "b").is_err());
    }
}
