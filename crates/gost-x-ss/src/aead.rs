//! One direction's AEAD: a subkey and a nonce counter (12 bytes, little-endian, from 0, one
//! step per seal or open). Sans-I/O: chunks are sealed into and opened in caller buffers.

use gost_core::{Error, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

use crate::Method;

/// The tag an AEAD seal appends.
pub const TAG_LEN: usize = 16;

/// A nonce counter.
#[derive(Debug, Default)]
struct Counter([u8; 12]);

impl Counter {
    /// The current nonce; the counter moves on.
    fn next(&mut self) -> Nonce {
        let nonce = Nonce::assume_unique_for_key(self.0);
        for b in &mut self.0 {
            *b = b.wrapping_add(1);
            if *b != 0 {
                break;
            }
        }
        nonce
    }
}

/// Seals one direction (`None` key: the `none` method, no encryption and no tag).
pub struct Sealer {
    key: Option<LessSafeKey>,
    nonce: Counter,
    max_payload: usize,
}

impl Sealer {
    pub(crate) fn new(method: Method, subkey: &[u8]) -> Result<Sealer> {
        Ok(Sealer {
            key: key(method, subkey)?,
            nonce: Counter::default(),
            max_payload: method.max_payload(),
        })
    }

    /// Seals `out[start..]` in place and appends the tag.
    pub fn seal(&mut self, out: &mut Vec<u8>, start: usize) -> Result<()> {
        let Some(key) = &self.key else { return Ok(()) };
        let nonce = self.nonce.next();
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::empty(), &mut out[start..])
            .map_err(|_| Error::protocol("shadowsocks: seal failed"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Appends `data` sealed as one piece (a header).
    pub fn seal_piece(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(data);
        self.seal(out, start)
    }

    /// Appends one chunk carrying `payload` (at most the method's largest payload: 0x3FFF, or
    /// 0xFFFF for 2022): the sealed length, then the sealed payload.
    pub fn seal_chunk(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let len = u16::try_from(payload.len())
            .ok()
            .filter(|n| usize::from(*n) <= self.max_payload)
            .ok_or_else(|| Error::protocol("shadowsocks: chunk too long"))?;
        let start = out.len();
        out.extend_from_slice(&len.to_be_bytes());
        self.seal(out, start)?;
        let start = out.len();
        out.extend_from_slice(payload);
        self.seal(out, start)
    }
}

/// Opens one direction.
pub struct Opener {
    key: Option<LessSafeKey>,
    nonce: Counter,
}

impl Opener {
    pub(crate) fn new(method: Method, subkey: &[u8]) -> Result<Opener> {
        Ok(Opener { key: key(method, subkey)?, nonce: Counter::default() })
    }

    /// Opens `sealed` (ciphertext and tag) in place; returns the plaintext's length (at the
    /// front of `sealed`). A wrong key or a tampered chunk is an error.
    pub fn open(&mut self, sealed: &mut [u8]) -> Result<usize> {
        let Some(key) = &self.key else { return Ok(sealed.len()) };
        let nonce = self.nonce.next();
        key.open_in_place(nonce, Aad::empty(), sealed)
            .map(|plain| plain.len())
            .map_err(|_| Error::protocol("shadowsocks: a chunk failed authentication"))
    }
}

fn key(method: Method, subkey: &[u8]) -> Result<Option<LessSafeKey>> {
    let Some(alg) = method.algorithm() else { return Ok(None) };
    let key =
        UnboundKey::new(alg, subkey).map_err(|_| Error::config("shadowsocks: bad key length"))?;
    Ok(Some(LessSafeKey::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cipher;

    #[test]
    fn chunks_round_trip_and_tampering_is_caught() {
        for method in ["aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305", "none"] {
            let c = Cipher::new(method, "secret", None).unwrap();
            let salt = vec![7u8; c.salt_len()];
            let mut sealer = c.sealer(&salt).unwrap();
            let mut opener = c.opener(&salt).unwrap();
            let mut out = Vec::new();
            sealer.seal_chunk(b"hello", &mut out).unwrap();
            sealer.seal_chunk(&[9u8; crate::MAX_PAYLOAD], &mut out).unwrap();
            let tag = c.method().tag_len();
            let mut at = 0;
            for want in [&b"hello"[..], &[9u8; crate::MAX_PAYLOAD][..]] {
                let n = opener.open(&mut out[at..at + 2 + tag]).unwrap();
                let len =
                    usize::from(u16::from_be_bytes([out[at], out[at + 1]])) & crate::MAX_PAYLOAD;
                assert_eq!(n, 2);
                at += 2 + tag;
                let n = opener.open(&mut out[at..at + len + tag]).unwrap();
                assert_eq!(&out[at..at + n], want, "{method}");
                at += len + tag;
            }
            assert!(sealer.seal_chunk(&[0u8; crate::MAX_PAYLOAD + 1], &mut out).is_err());
            if method != "none" {
                let mut other = Vec::new();
                let mut s = c.sealer(&salt).unwrap();
                s.seal_chunk(b"x", &mut other).unwrap();
                other[0] ^= 1;
                assert!(c.opener(&salt).unwrap().open(&mut other[..2 + TAG_LEN]).is_err());
                let wrong = Cipher::new(method, "wrong", None).unwrap();
                let mut fresh = Vec::new();
                c.sealer(&salt).unwrap().seal_chunk(b"x", &mut fresh).unwrap();
                assert!(wrong.opener(&salt).unwrap().open(&mut fresh[..2 + TAG_LEN]).is_err());
            }
        }
    }

    #[test]
    fn the_nonce_is_a_little_endian_counter() {
        let mut c = Counter::default();
        for _ in 0..256 {
            c.next();
        }
        assert_eq!(&c.0[..3], &[0, 1, 0]);
    }
}
