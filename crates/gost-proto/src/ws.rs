//! WebSocket (RFC 6455) frame headers and masking, as gost's ws/wss/mws/mwss transports use
//! them: binary data frames, continuation frames, and the Close/Ping/Pong control frames.
//!
//! ```text
//! FIN RSV(3) OPCODE(4) | MASK LEN(7) | [LEN16 | LEN64] | [MASK KEY(4)] | payload
//! ```

use gost_core::{Error, Result};

/// Continuation of a fragmented message.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text data.
pub const OP_TEXT: u8 = 0x1;
/// Binary data.
pub const OP_BINARY: u8 = 0x2;
/// Close.
pub const OP_CLOSE: u8 = 0x8;
/// Ping.
pub const OP_PING: u8 = 0x9;
/// Pong.
pub const OP_PONG: u8 = 0xA;

/// The largest header: 2 bytes, 8 of extended length, 4 of mask key.
pub const MAX_HEADER: usize = 14;
/// Control frames carry at most 125 bytes (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The GUID the handshake's accept key is derived with (RFC 6455 §1.3).
pub const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of a message.
    pub fin: bool,
    /// The opcode (`OP_*`).
    pub opcode: u8,
    /// The masking key (clients must mask, servers must not).
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub len: u64,
}

impl FrameHeader {
    /// Whether this is a Close, Ping or Pong frame.
    pub fn is_control(&self) -> bool {
        self.opcode & 0x8 != 0
    }

    /// Parses a header. RSV bits (no extension is negotiated), unknown opcodes, fragmented or
    /// oversized control frames and lengths of 2^63 or more are protocol errors.
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>> {
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else { return Ok(None) };
        if b0 & 0x70 != 0 {
            return Err(Error::protocol(
                "websocket: reserved bits set (no extension was negotiated)",
            ));
        }
        let opcode = b0 & 0x0F;
        if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
            return Err(Error::protocol(format!("websocket: unknown opcode {opcode:#x}")));
        }
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let (len, mut used) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    let len = u64::from_be_bytes(a);
                    if len >> 63 != 0 {
                        return Err(Error::protocol("websocket: frame length too large"));
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            n => (u64::from(n), 2),
        };
        let header = FrameHeader { fin, opcode, mask: None, len };
        if header.is_control() && (!fin || len > MAX_CONTROL_PAYLOAD as u64) {
            return Err(Error::protocol("websocket: fragmented or oversized control frame"));
        }
        let mask = if masked {
            let Some(k) = buf.get(used..used + 4) else { return Ok(None) };
            used += 4;
            Some([k[0], k[1], k[2], k[3]])
        } else {
            None
        };
        Ok(Some((FrameHeader { mask, ..header }, used)))
    }

    /// Appends the header (the payload, masked if `mask` is set, follows it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(if self.fin { 0x80 } else { 0 } | (self.opcode & 0x0F));
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        match self.len {
            0..=125 => out.push(mask_bit | self.len as u8),
            126..=0xFFFF => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(self.len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&self.len.to_be_bytes());
            }
        }
        if let Some(k) = self.mask {
            out.extend_from_slice(&k);
        }
    }
}

/// XORs `data` with `key`, `offset` bytes into the masked payload (so a payload can be unmasked
/// in pieces). Works eight bytes at a time: masking is on every WebSocket byte's path.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let rotated = [key[shift], key[(shift + 1) % 4], key[(shift + 2) % 4], key[(shift + 3) % 4]];
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // Whole words keep the key's phase (8 is a multiple of 4).
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<FrameHeader> {
        let mut out = Vec::new();
        for len in [0, 1, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                out.push(FrameHeader { fin: true, opcode: OP_BINARY, mask, len });
            }
        }
        out.push(FrameHeader { fin: false, opcode: OP_TEXT, mask: None, len: 3 });
        out.push(FrameHeader { fin: true, opcode: OP_CONTINUATION, mask: None, len: 3 });
        out.push(FrameHeader { fin: true, opcode: OP_PING, mask: Some([9, 9, 9, 9]), len: 125 });
        out.push(FrameHeader { fin: true, opcode: OP_CLOSE, mask: None, len: 2 });
        out
    }

    #[test]
    fn round_trip_and_truncation() {
        for h in samples() {
            let mut buf = Vec::new();
            h.encode(&mut buf);
            assert_eq!(FrameHeader::decode(&buf).unwrap(), Some((h, buf.len())), "{h:?}");
            for cut in 0..buf.len() {
                assert_eq!(FrameHeader::decode(&buf[..cut]).unwrap(), None, "{h:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn rfc_example_frames() {
        // RFC 6455 §5.7: unmasked "Hello", and masked "Hello" with key 37 fa 21 3d.
        let (h, n) = FrameHeader::decode(&[0x81, 0x05, 0x48]).unwrap().unwrap();
        assert_eq!((h.fin, h.opcode, h.len, n), (true, OP_TEXT, 5, 2));
        let frame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let (h, n) = FrameHeader::decode(&frame).unwrap().unwrap();
        let mut payload = frame[n..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        // Unmasking in pieces gives the same result.
        let mut a = frame[n..n + 3].to_vec();
        let mut b = frame[n + 3..].to_vec();
        apply_mask(&mut a, h.mask.unwrap(), 0);
        apply_mask(&mut b, h.mask.unwrap(), 3);
        assert_eq!([a, b].concat(), b"Hello");
    }

    #[test]
    fn word_masking_matches_byte_masking() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 100, 1001] {
            for offset in 0..5u64 {
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let mut fast = data.clone();
                apply_mask(&mut fast, key, offset);
                let slow: Vec<u8> = data
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(i + (offset % 4) as usize) % 4])
                    .collect();
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn malformed_headers() {
        assert!(FrameHeader::decode(&[0xC2, 0x00]).is_err(), "RSV1 set");
        assert!(FrameHeader::decode(&[0x83, 0x00]).is_err(), "opcode 3");
        assert!(FrameHeader::decode(&[0x09, 0x00]).is_err(), "fragmented ping");
        assert!(FrameHeader::decode(&[0x89, 126, 0, 200]).is_err(), "oversized ping");
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert!(FrameHeader::decode(&huge).is_err());
    }
}
