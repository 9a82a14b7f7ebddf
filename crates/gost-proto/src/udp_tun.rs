//! gost's UDP-over-TCP frame ("UDP-tun", protocols.md §11.2), used by SOCKS5 command
//! `0xF3`, relay BIND-UDP / associate, HTTP `X-Gost-Protocol: udp` and ssu over a stream.
//!
//! ```text
//! RSV(u16 BE) = payload length | FRAG(1) = 0xFF | ATYP ADDR PORT | DATA[RSV]
//! ```
//!
//! Client → server frames name the destination, server → client frames name the source.
//!
//! Quirk of the Go reader: `RSV = 0` there means "a standard SOCKS5 datagram" and it takes
//! whatever one `read` of the stream returns as the payload. So never *send* an empty datagram in
//! this framing; [`FrameHeader::decode`] itself simply reports `len = 0`.

use gost_core::{Address, Result};

use crate::addr::{decode_addr, encode_addr};

/// The FRAG byte gost writes in UDP-tun frames.
pub const FRAG_TUN: u8 = 0xFF;

/// The largest payload a frame can carry.
pub const MAX_PAYLOAD: usize = u16::MAX as usize;

/// The header of one UDP-tun frame. Exactly `len` payload bytes follow the header on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload length (the RSV field).
    pub len: u16,
    /// The datagram's destination (client → server) or source (server → client).
    pub addr: Address,
}

impl FrameHeader {
    /// Parses a frame header from a stream buffer. The returned count covers the header only;
    /// the `len` payload bytes follow it (and may not have arrived yet). Any FRAG byte is
    /// accepted.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>> {
        let Some(len) = crate::addr::u16_at(buf, 0) else {
            return Ok(None);
        };
        // FRAG (buf[2]) is not checked.
        let Some(rest) = buf.get(3..) else {
            return Ok(None);
        };
        Ok(decode_addr(rest)?.map(|(addr, n)| (FrameHeader { len, addr }, 3 + n)))
    }

    /// Appends `LEN FF ATYP ADDR PORT`; the caller appends the `len` payload bytes. Errors (with
    /// `out` untouched) if the domain does not fit (see [`encode_addr`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(&self.len.to_be_bytes());
        out.push(FRAG_TUN);
        encode_addr(&self.addr, out).inspect_err(|_| out.truncate(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::tests::{assert_prefixes_incomplete, sample_addrs};

    #[test]
    fn round_trip() {
        for addr in sample_addrs() {
            for len in [1, 512, u16::MAX] {
                let h = FrameHeader { len, addr: addr.clone() };
                let mut buf = Vec::new();
                h.encode(&mut buf).unwrap();
                let n = buf.len();
                assert_eq!(buf[2], FRAG_TUN);
                buf.extend_from_slice(b"payload");
                assert_eq!(FrameHeader::decode(&buf).unwrap(), Some((h, n)));
                assert_prefixes_incomplete(&buf[..n], FrameHeader::decode);
            }
        }
    }

    #[test]
    fn protocols_md_example() {
        // §11.2: 4 bytes to 8.8.8.8:53.
        let frame = [0x00, 0x04, 0xff, 0x01, 0x08, 0x08, 0x08, 0x08, 0x00, 0x35, 1, 2, 3, 4];
        let (h, n) = FrameHeader::decode(&frame).unwrap().unwrap();
        assert_eq!(h, FrameHeader { len: 4, addr: Address::Ip("8.8.8.8:53".parse().unwrap()) });
        assert_eq!(n, 10);
        assert_eq!(&frame[n..n + usize::from(h.len)], [1, 2, 3, 4]);
        let mut out = Vec::new();
        h.encode(&mut out).unwrap();
        assert_eq!(out, frame[..10]);
    }

    #[test]
    fn accepts_any_frag() {
        let (h, _) = FrameHeader::decode(&[0, 0, 0, 1, 1, 2, 3, 4, 0, 1]).unwrap().unwrap();
        assert_eq!(h.len, 0);
    }

    #[test]
    fn malformed() {
        assert!(FrameHeader::decode(&[0, 4, 0xFF, 5]).is_err());
        assert_eq!(
            FrameHeader::decode(&[0, 4, 0xFF, 3, 0]).unwrap(),
            None,
            "empty host, port to come"
        );
        assert!(FrameHeader::decode(&[0, 4, 0xFF, 3, 1, 0xFE, 0, 53]).is_err());
        let mut out = Vec::new();
        let h = FrameHeader { len: 1, addr: Address::Domain("d".repeat(300), 53) };
        assert!(h.encode(&mut out).is_err());
        assert!(out.is_empty());
    }
}
