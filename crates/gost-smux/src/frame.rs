//! The smux frame format, sans I/O.
//!
//! ```text
//!  0        1        2               4                               8
//! +--------+--------+---------------+-------------------------------+---------
//! |  VER   |  CMD   |  LENGTH (LE)  |        STREAM ID (LE)         | DATA...
//! +--------+--------+---------------+-------------------------------+---------
//! ```
//!
//! Only PSH frames carry `LENGTH` payload bytes. A receiver reads no payload after SYN, FIN and
//! NOP whatever `LENGTH` says, and exactly [`UPDATE_SIZE`] bytes after UPD (that is how Go reads
//! them, so a sender must write `LENGTH` 0 and 8 respectively). [`Header::payload_len`] encodes
//! that rule.

use crate::Error;

/// Size of a frame header.
pub const HEADER_SIZE: usize = 8;
/// Size of an UPD frame's payload (`consumed u32 LE`, `window u32 LE`).
pub const UPDATE_SIZE: usize = 8;
/// Version 2: the window a sender assumes before the peer's first UPD.
pub const INITIAL_PEER_WINDOW: u32 = 262_144;

/// A frame's command byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmd {
    /// Opens a stream. No payload.
    Syn = 0,
    /// Closes a stream (end of data). No payload.
    Fin = 1,
    /// Carries `length` bytes of stream data.
    Psh = 2,
    /// Keepalive; stream id 0. No payload.
    Nop = 3,
    /// Version 2 window update; an 8-byte [`Update`] payload.
    Upd = 4,
}

impl Cmd {
    /// The command for a byte, if it is one.
    pub fn from_u8(b: u8) -> Option<Cmd> {
        Some(match b {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            _ => return None,
        })
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version (1 or 2); a session rejects any other than its own.
    pub version: u8,
    /// The command.
    pub cmd: Cmd,
    /// The `LENGTH` field as sent.
    pub length: u16,
    /// The stream id (0 for NOP).
    pub stream_id: u32,
}

impl Header {
    /// A header.
    pub const fn new(version: u8, cmd: Cmd, length: u16, stream_id: u32) -> Header {
        Header { version, cmd, length, stream_id }
    }

    /// The 8 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE] {
        let mut b = [0u8; HEADER_SIZE];
        b[0] = self.version;
        b[1] = self.cmd as u8;
        b[2..4].copy_from_slice(&self.length.to_le_bytes());
        b[4..8].copy_from_slice(&self.stream_id.to_le_bytes());
        b
    }

    /// Parses a complete header. The version is not checked (that depends on the session);
    /// an unknown command is [`Error::InvalidCommand`].
    pub fn parse(b: &[u8; HEADER_SIZE]) -> Result<Header, Error> {
        let cmd = Cmd::from_u8(b[1]).ok_or(Error::InvalidCommand(b[1]))?;
        Ok(Header {
            version: b[0],
            cmd,
            length: u16::from_le_bytes([b[2], b[3]]),
            stream_id: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Parses the header at the start of `buf`: `Ok(None)` when fewer than [`HEADER_SIZE`] bytes
    /// are there yet.
    pub fn decode(buf: &[u8]) -> Result<Option<Header>, Error> {
        match buf.first_chunk::<HEADER_SIZE>() {
            Some(b) => Header::parse(b).map(Some),
            None => Ok(None),
        }
    }

    /// How many payload bytes follow this header on the wire, as Go's reader counts them:
    /// `length` for PSH, [`UPDATE_SIZE`] for UPD, none for the rest.
    pub fn payload_len(&self) -> usize {
        match self.cmd {
            Cmd::Psh => usize::from(self.length),
            Cmd::Upd => UPDATE_SIZE,
            Cmd::Syn | Cmd::Fin | Cmd::Nop => 0,
        }
    }
}

/// The payload of a version 2 UPD frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Update {
    /// Total bytes of the stream the receiver's application has read (wraps at 2^32).
    pub consumed: u32,
    /// The receiver's window: how many bytes may be in flight beyond `consumed`.
    pub window: u32,
}

impl Update {
    /// The 8 payload bytes.
    pub fn encode(&self) -> [u8; UPDATE_SIZE] {
        let mut b = [0u8; UPDATE_SIZE];
        b[..4].copy_from_slice(&self.consumed.to_le_bytes());
        b[4..].copy_from_slice(&self.window.to_le_bytes());
        b
    }

    /// Parses the 8 payload bytes.
    pub fn parse(b: &[u8; UPDATE_SIZE]) -> Update {
        Update {
            consumed: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            window: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
}

/// A whole UPD frame (header with `LENGTH` 8, then the payload).
pub fn encode_update(
    version: u8,
    stream_id: u32,
    update: Update,
) -> [u8; HEADER_SIZE + UPDATE_SIZE] {
    let mut b = [0u8; HEADER_SIZE + UPDATE_SIZE];
    b[..HEADER_SIZE]
        .copy_from_slice(&Header::new(version, Cmd::Upd, UPDATE_SIZE as u16, stream_id).encode());
    b[HEADER_SIZE..].copy_from_slice(&update.encode());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples of the wire reference (protocols.md §1.1).
    const SYN3: [u8; 8] = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00];
    const PSH3_HELLO: [u8; 13] =
        [0x01, 0x02, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f];
    const NOP: [u8; 8] = [0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    const UPD3: [u8; 16] = [
        0x02, 0x04, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10,
        0x00,
    ];

    #[test]
    fn golden_encode() {
        assert_eq!(Header::new(1, Cmd::Syn, 0, 3).encode(), SYN3);
        let mut psh = Header::new(1, Cmd::Psh, 5, 3).encode().to_vec();
        psh.extend_from_slice(b"hello");
        assert_eq!(psh, PSH3_HELLO);
        assert_eq!(Header::new(1, Cmd::Nop, 0, 0).encode(), NOP);
        let upd = encode_update(2, 3, Update { consumed: 65536, window: 1 << 20 });
        assert_eq!(upd, UPD3);
    }

    #[test]
    fn golden_decode() {
        assert_eq!(Header::decode(&SYN3).unwrap(), Some(Header::new(1, Cmd::Syn, 0, 3)));
        let h = Header::decode(&PSH3_HELLO).unwrap().unwrap();
        assert_eq!(h, Header::new(1, Cmd::Psh, 5, 3));
        assert_eq!(h.payload_len(), 5);
        assert_eq!(&PSH3_HELLO[HEADER_SIZE..HEADER_SIZE + h.payload_len()], b"hello");
        let h = Header::decode(&NOP).unwrap().unwrap();
        assert_eq!(h, Header::new(1, Cmd::Nop, 0, 0));
        assert_eq!(h.payload_len(), 0);
        let h = Header::decode(&UPD3).unwrap().unwrap();
        assert_eq!(h, Header::new(2, Cmd::Upd, 8, 3));
        assert_eq!(h.payload_len(), 8);
        let body: &[u8; 8] = UPD3[8..].first_chunk().unwrap();
        assert_eq!(Update::parse(body), Update { consumed: 65536, window: 1 << 20 });
    }

    #[test]
    fn truncated_header_needs_more() {
        for cut in 0..HEADER_SIZE {
            assert_eq!(Header::decode(&PSH3_HELLO[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn control_frames_consume_no_payload_whatever_length_says() {
        // Go reads no payload for SYN/FIN/NOP and exactly 8 for UPD, regardless of LENGTH.
        for (cmd, want) in [(Cmd::Syn, 0), (Cmd::Fin, 0), (Cmd::Nop, 0), (Cmd::Upd, 8)] {
            assert_eq!(Header::new(1, cmd, 300, 7).payload_len(), want, "{cmd:?}");
        }
        assert_eq!(Header::new(1, Cmd::Psh, 65535, 7).payload_len(), 65535);
    }

    #[test]
    fn unknown_command_is_an_error() {
        for cmd in 5..=255u8 {
            let b = [1, cmd, 0, 0, 3, 0, 0, 0];
            assert!(matches!(Header::decode(&b), Err(Error::InvalidCommand(c)) if c == cmd));
        }
    }

    #[test]
    fn round_trip() {
        for cmd in [Cmd::Syn, Cmd::Fin, Cmd::Psh, Cmd::Nop, Cmd::Upd] {
            for (len, sid) in [(0u16, 0u32), (1, 2), (65535, u32::MAX), (8, 0x0102_0304)] {
                let h = Header::new(2, cmd, len, sid);
                assert_eq!(Header::parse(&h.encode()).unwrap(), h);
            }
        }
        let u = Update { consumed: u32::MAX, window: 7 };
        assert_eq!(Update::parse(&u.encode()), u);
    }
}
