//! gost's gRPC tunnel messages: the bytes of a `GostTunel/Tunnel` call's request and response
//! streams. Each message is gRPC's length-prefixed frame (`flag: u8` = 0, uncompressed;
//! `length: u32` big-endian) around a protobuf `Chunk { bytes data = 1; }`, i.e. the key byte
//! `0x0a`, the data length as a varint, and the data.
//!
//! Unlike this crate's message decoders, [`ChunkDecoder`] is a streaming state machine: a chunk
//! may be megabytes long and is handed out as it arrives, never buffered, so what it holds is a
//! few counters whatever the peer sends. Fields other than `data` are skipped, as protobuf
//! requires; a compressed message (no compression is ever negotiated) or a malformed protobuf
//! is an error.

use gost_core::{Error, ErrorKind, Result};

/// The gRPC frame prefix: compression flag and message length.
pub const PREFIX_LEN: usize = 5;
/// The longest header [`chunk_header`] writes (prefix, key, a 5-byte varint).
pub const MAX_HEADER_LEN: usize = PREFIX_LEN + 1 + 5;

/// The protobuf key of `Chunk.data`: field 1, length-delimited.
const DATA_KEY: u8 = 0x0a;

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// The header of a message carrying `data_len` bytes of data, written to the front of `out`;
/// returns its length (the data follows it on the wire). `data_len` must fit a u32 frame.
pub fn chunk_header(data_len: u32, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
    let body = u64::from(data_len);
    let message_len = 1 + varint_len(body) as u64 + body;
    let message_len = u32::try_from(message_len).unwrap_or(u32::MAX);
    out[0] = 0;
    out[1..5].copy_from_slice(&message_len.to_be_bytes());
    out[5] = DATA_KEY;
    let mut n = 6;
    let mut v = body;
    while v >= 0x80 {
        out[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    out[n] = v as u8;
    n + 1
}

/// How many data bytes (at most `want`) fit with their header in `capacity` bytes.
pub fn data_fitting(capacity: usize, want: usize) -> usize {
    let want = want.min(u32::MAX as usize - MAX_HEADER_LEN);
    want.min(capacity.saturating_sub(PREFIX_LEN + 1 + varint_len(want as u64)))
}

pub use crate::Step;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the 5-byte frame prefix (`got` bytes of it so far).
    Prefix { got: u8 },
    /// Reading a field key varint.
    Key,
    /// Reading the length varint of a length-delimited field (`data`: it is field 1).
    Length { data: bool },
    /// Skipping a varint field.
    SkipVarint,
    /// Inside a field's bytes: `left` more, data or skipped.
    Bytes { data: bool, left: u64 },
}

/// Decodes a stream of messages into data bytes; see the module documentation.
#[derive(Debug, Clone)]
pub struct ChunkDecoder {
    state: State,
    prefix: [u8; PREFIX_LEN],
    /// Bytes left in the current message.
    message_left: u64,
    /// The varint being read and its shift.
    varint: u64,
    shift: u32,
}

impl Default for ChunkDecoder {
    fn default() -> Self {
        ChunkDecoder {
            state: State::Prefix { got: 0 },
            prefix: [0; PREFIX_LEN],
            message_left: 0,
            varint: 0,
            shift: 0,
        }
    }
}

fn malformed(what: &str) -> Error {
    Error::new(ErrorKind::Protocol, format!("grpc: {what}"))
}

impl ChunkDecoder {
    /// Whether the stream may end here (between messages).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Prefix { got: 0 }
    }

    /// What the front of `input` (not empty) is; call again after consuming what it says.
    pub fn step(&mut self, input: &[u8]) -> Result<Step> {
        let Some(&first) = input.first() else {
            return Ok(Step::Framing(0));
        };
        match self.state {
            State::Prefix { got } => {
                let got = usize::from(got);
                let n = (PREFIX_LEN - got).min(input.len());
                self.prefix[got..got + n].copy_from_slice(&input[..n]);
                if got + n < PREFIX_LEN {
                    self.state = State::Prefix { got: (got + n) as u8 };
                    return Ok(Step::Framing(n));
                }
                if self.prefix[0] != 0 {
                    return Err(malformed("a compressed message (no compression was agreed)"));
                }
                let len = u32::from_be_bytes([
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ]);
                self.message_left = u64::from(len);
                self.state = if len == 0 { State::Prefix { got: 0 } } else { State::Key };
                self.varint = 0;
                self.shift = 0;
                Ok(Step::Framing(n))
            }
            State::Key | State::Length { .. } | State::SkipVarint => {
                let Some(value) = self.varint_byte(first)? else {
                    return Ok(Step::Framing(1));
                };
                match self.state {
                    State::Key => {
                        let field = value >> 3;
                        self.state = match value & 7 {
                            0 => State::SkipVarint,
                            1 => State::Bytes { data: false, left: 8 },
                            2 => State::Length { data: field == 1 },
                            5 => State::Bytes { data: false, left: 4 },
                            _ => return Err(malformed("a protobuf field of an unknown wire type")),
                        };
                        if self.message_left == 0 {
                            return Err(malformed("a message ends inside a field"));
                        }
                    }
                    State::Length { data } => {
                        if value > self.message_left {
                            return Err(malformed("a field longer than its message"));
                        }
                        self.state = State::Bytes { data, left: value };
                        self.end_field();
                    }
                    _ => self.end_field(),
                }
                Ok(Step::Framing(1))
            }
            State::Bytes { data, left } => {
                if left > self.message_left {
                    return Err(malformed("a field longer than its message"));
                }
                let n = left.min(input.len() as u64);
                let rest = left - n;
                self.message_left -= n;
                self.state = State::Bytes { data, left: rest };
                if rest == 0 {
                    self.end_field();
                }
                let n = n as usize;
                Ok(if data { Step::Data(n) } else { Step::Framing(n) })
            }
        }
    }

    /// One byte of a varint (counted against the message); the value when it is complete.
    fn varint_byte(&mut self, b: u8) -> Result<Option<u64>> {
        if self.message_left == 0 {
            return Err(malformed("a message ends inside a field"));
        }
        self.message_left -= 1;
        if self.shift >= 64 {
            return Err(malformed("a varint longer than 10 bytes"));
        }
        self.varint |= u64::from(b & 0x7f) << self.shift;
        if b & 0x80 != 0 {
            self.shift += 7;
            return Ok(None);
        }
        let value = self.varint;
        self.varint = 0;
        self.shift = 0;
        Ok(Some(value))
    }

    /// After a field (or a field's length): the next key, or the next message.
    fn end_field(&mut self) {
        match self.state {
            State::Bytes { left, .. } if left > 0 => {}
            _ if self.message_left == 0 => self.state = State::Prefix { got: 0 },
            State::Bytes { .. } | State::SkipVarint => self.state = State::Key,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every data byte of `wire`, fed in pieces of `piece` bytes.
    fn decode_all(wire: &[u8], piece: usize) -> Result<(Vec<u8>, bool)> {
        let mut d = ChunkDecoder::default();
        let mut out = Vec::new();
        for part in wire.chunks(piece) {
            let mut rest = part;
            while !rest.is_empty() {
                match d.step(rest)? {
                    Step::Framing(n) => rest = &rest[n..],
                    Step::Data(n) => {
                        out.extend_from_slice(&rest[..n]);
                        rest = &rest[n..];
                    }
                }
            }
        }
        Ok((out, d.at_boundary()))
    }

    fn message(data: &[u8]) -> Vec<u8> {
        let mut h = [0u8; MAX_HEADER_LEN];
        let n = chunk_header(data.len() as u32, &mut h);
        let mut v = h[..n].to_vec();
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn round_trips_in_any_pieces() {
        let sizes = [1usize, 127, 128, 300, 16383, 16384, 70000];
        let mut wire = Vec::new();
        let mut want = Vec::new();
        for (i, &len) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
            wire.extend(message(&data));
            want.extend(data);
        }
        wire.extend([0, 0, 0, 0, 0]); // an empty Chunk (proto3 omits empty bytes)
        for piece in [1, 2, 3, 5, 7, 4096, wire.len()] {
            let (got, done) = decode_all(&wire, piece).unwrap();
            assert!(got == want, "piece {piece}");
            assert!(done);
        }
        // Go's encoding of a 3-byte chunk, byte for byte.
        assert_eq!(message(b"abc"), [0, 0, 0, 0, 5, 0x0a, 3, b'a', b'b', b'c']);
        assert_eq!(data_fitting(100, 1000), 100 - 5 - 1 - 2);
        assert_eq!(data_fitting(100, 10), 10);
        assert_eq!(data_fitting(3, 10), 0);
    }

    #[test]
    fn skips_unknown_fields_and_refuses_bad_ones() {
        // field 2 varint 300, field 3 fixed64, field 4 bytes "zz", field 5 fixed32, then data.
        let body = [
            0x10, 0xac, 0x02, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x22, 2, b'z', b'z', 0x2d, 1, 2, 3, 4,
            0x0a, 2, b'o', b'k',
        ];
        let mut wire = vec![0, 0, 0, 0, body.len() as u8];
        wire.extend(body);
        for piece in [1, wire.len()] {
            assert_eq!(decode_all(&wire, piece).unwrap().0, b"ok");
        }
        let cases: [&[u8]; 5] = [
            &[1, 0, 0, 0, 1, 0x0a],             // compressed
            &[0, 0, 0, 0, 3, 0x0a, 5, b'a'],    // data longer than the message
            &[0, 0, 0, 0, 1, 0x0b],             // wire type 3
            &[0, 0, 0, 0, 2, 0x08, 0x80, 0x01], // varint past the message
            &[0, 0, 0, 0, 12, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
        ];
        for wire in cases {
            assert!(decode_all(wire, 1).is_err(), "{wire:?}");
            assert!(decode_all(wire, wire.len()).is_err(), "{wire:?}");
        }
        // A stream cut mid-message is not at a boundary.
        let (_, done) = decode_all(&message(b"abcdef")[..8], 3).unwrap();
        assert!(!done);
    }
}
