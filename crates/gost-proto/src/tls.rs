//! The server name (SNI) of a TLS ClientHello, read from the first records a client sends,
//! without terminating TLS (for routing by name). Sans-I/O.

use gost_core::{Error, Result};

/// A ClientHello longer than this (across records) is refused.
pub const MAX_HELLO: usize = 64 * 1024;

/// Reads the ClientHello at the start of `buf` (one or more handshake records): `Ok(None)`
/// while more bytes are needed; then the server name it carries (if any) and how many bytes
/// its records take. Anything that is not a TLS ClientHello is an error.
pub fn client_hello_sni(buf: &[u8]) -> Result<Option<(Option<String>, usize)>> {
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
                return Ok(Some((sni(&hello[4..need])?, at)));
            }
        }
    }
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

fn sni(body: &[u8]) -> Result<Option<String>> {
    let mut c = Cursor(body);
    c.take(2 + 32)?; // version, random
    let n = c.u8()?;
    c.take(n)?; // session id
    let n = c.u16()?;
    c.take(n)?; // cipher suites
    let n = c.u8()?;
    c.take(n)?; // compression methods
    if c.0.is_empty() {
        return Ok(None); // no extensions
    }
    let n = c.u16()?;
    let mut ext = Cursor(c.take(n)?);
    while !ext.0.is_empty() {
        let kind = ext.u16()?;
        let n = ext.u16()?;
        let data = ext.take(n)?;
        if kind != 0 {
            continue;
        }
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
}
