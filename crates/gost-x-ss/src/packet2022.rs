//! Shadowsocks 2022 datagrams (SIP022 UDP, the AES-GCM methods), as Go gost 3.3.0 frames them.
//! Sans-I/O.
//!
//! A datagram is `AES-ECB(key, session id u64 BE | packet id u64 BE)` (the separate header),
//! then a client's identity headers (one per key but the last: `AES-ECB(key_i, BLAKE3(key_i+1)
//! [..16] XOR separate header)`), then the body sealed with the session subkey
//! `BLAKE3 derive_key("shadowsocks 2022 session subkey", key | session id)` and the nonce
//! `separate header[4..16]`. The body of a request: `type 0 | timestamp u64 | padding length
//! u16 | padding | ATYP ADDR PORT | payload`; of a response: `type 1 | timestamp | client session
//! id u64 | padding length | padding | address | payload`. Timestamps within 30 s.
//!
//! `2022-blake3-chacha20-poly1305` (SIP022's optional method) seals the whole datagram with
//! XChaCha20-Poly1305 under the key itself and a random 24-byte nonce: `nonce | seal(session id
//! | packet id | main header | payload)`, and has no identity headers.
//!
//! Go's session subkey takes the session id as 8 *little-endian* bytes where SIP022 (and
//! sing-box, shadowsocks-rust) take the header's big-endian bytes; we match Go gost (see
//! docs/compat-go.md).

use std::ops::Range;

use gost_core::{Address, Error, ErrorKind, Result};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};

use crate::{Cipher, TAG_LEN, aes_block};

const REQUEST_TYPE: u8 = 0;
const RESPONSE_TYPE: u8 = 1;
const MAX_CLOCK_SKEW: u64 = 30;
const MAX_PADDING: usize = 900;
/// A separate header, or an identity header.
const BLOCK: usize = 16;

/// What an opened datagram says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened2022 {
    /// The sender's session.
    pub session_id: u64,
    /// The sender's packet number in that session.
    pub packet_id: u64,
    /// A response's: the client session it answers (0 in a request).
    pub client_session_id: u64,
    /// A request's: the user its identity header named (a server with users).
    pub user: Option<usize>,
    /// The target (request) or source (response).
    pub addr: Address,
    /// Where the payload is in the datagram.
    pub payload: Range<usize>,
    /// AES: the session subkey took the session id's big-endian bytes (SIP022's, as
    /// shadowsocks-rust and sing-box do) rather than Go gost's little-endian ones.
    pub standard: bool,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn separate_header(session_id: u64, packet_id: u64) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..8].copy_from_slice(&session_id.to_be_bytes());
    h[8..].copy_from_slice(&packet_id.to_be_bytes());
    h
}

/// The AEAD of a session (see the module doc for Go's byte order of the id).
fn session_key(
    cipher: &Cipher,
    key: &[u8],
    session_id: u64,
    standard: bool,
) -> Result<LessSafeKey> {
    let alg = cipher
        .method()
        .algorithm()
        .ok_or_else(|| Error::config("shadowsocks 2022 datagrams need a 2022 method"))?;
    let mut hasher = blake3::Hasher::new_derive_key("shadowsocks 2022 session subkey");
    hasher.update(key);
    hasher.update(&if standard { session_id.to_be_bytes() } else { session_id.to_le_bytes() });
    let mut subkey = [0u8; 32];
    let subkey = &mut subkey[..key.len().min(32)];
    hasher.finalize_xof().fill(subkey);
    let unbound = UnboundKey::new(alg, subkey)
        .map_err(|_| Error::config("shadowsocks 2022: bad key length"))?;
    Ok(LessSafeKey::new(unbound))
}

fn nonce(separate: &[u8; BLOCK]) -> Nonce {
    let mut n = [0u8; 12];
    n.copy_from_slice(&separate[4..]);
    Nonce::assume_unique_for_key(n)
}

/// Appends a client's datagram carrying `payload` to `target`. Padding (random, up to 900
/// bytes) goes only with DNS queries, whose sizes tell most.
pub fn seal_request(
    cipher: &Cipher,
    session_id: u64,
    packet_id: u64,
    target: &Address,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let separate = separate_header(session_id, packet_id);
    let body = start_packet(cipher, cipher.first_key(), &separate, out)?;
    if cipher.method().is_2022_aes() {
        cipher.identity_headers(None, &separate, out)?;
    }
    let body = if cipher.method().is_2022_aes() { out.len() } else { body };
    out.push(REQUEST_TYPE);
    out.extend_from_slice(&now_secs().to_be_bytes());
    let pad = if target.port() == 53 {
        let mut r = [0u8; 2];
        crate::random(&mut r)?;
        usize::from(u16::from_be_bytes(r)) % MAX_PADDING
    } else {
        0
    };
    out.extend_from_slice(&(pad as u16).to_be_bytes());
    let at = out.len();
    out.resize(at + pad, 0);
    crate::random(&mut out[at..])?;
    gost_proto::addr::encode_addr(target, out)?;
    out.extend_from_slice(payload);
    seal_body(cipher, cipher.key(), &separate, out, body, cipher.standard_udp())
}

/// Appends a server's datagram answering client session `client_session_id` with `payload`
/// from `source`, under `user`'s key (or the server's), with the subkey byte order the client
/// used (`standard`: see [`Opened2022::standard`]).
#[allow(clippy::too_many_arguments)]
pub fn seal_response(
    cipher: &Cipher,
    standard: bool,
    user: Option<usize>,
    session_id: u64,
    packet_id: u64,
    client_session_id: u64,
    source: &Address,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let key = cipher.user_key(user);
    let separate = separate_header(session_id, packet_id);
    let body = start_packet(cipher, key, &separate, out)?;
    out.push(RESPONSE_TYPE);
    out.extend_from_slice(&now_secs().to_be_bytes());
    out.extend_from_slice(&client_session_id.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    gost_proto::addr::encode_addr(source, out)?;
    out.extend_from_slice(payload);
    seal_body(cipher, key, &separate, out, body, standard)
}

/// Appends what goes before the main header: the separate header encrypted with `key` (AES),
/// or the random nonce and the plain separate header, which the seal covers (ChaCha). Returns
/// where the sealed part starts.
fn start_packet(
    cipher: &Cipher,
    key: &[u8],
    separate: &[u8; BLOCK],
    out: &mut Vec<u8>,
) -> Result<usize> {
    if cipher.method().is_2022_aes() {
        let mut block = *separate;
        aes_block(key, &mut block, true)?;
        out.extend_from_slice(&block);
        return Ok(out.len());
    }
    let at = out.len();
    out.resize(at + XNONCE, 0);
    crate::random(&mut out[at..])?;
    out.extend_from_slice(separate);
    Ok(at + XNONCE)
}

/// Seals `out[body..]` and appends the tag.
fn seal_body(
    cipher: &Cipher,
    key: &[u8],
    separate: &[u8; BLOCK],
    out: &mut Vec<u8>,
    body: usize,
    standard: bool,
) -> Result<()> {
    if !cipher.method().is_2022_aes() {
        use chacha20poly1305::aead::AeadInPlace;
        let (nonce, sealed) = out.split_at_mut(body);
        let nonce = chacha20poly1305::XNonce::from_slice(&nonce[body - XNONCE..]);
        let tag = xchacha(key)?
            .encrypt_in_place_detached(nonce, b"", sealed)
            .map_err(|_| Error::protocol("shadowsocks 2022: seal failed"))?;
        out.extend_from_slice(&tag);
        return Ok(());
    }
    let session_id = u64::from_be_bytes(separate[..8].try_into().unwrap_or_default());
    let tag = session_key(cipher, key, session_id, standard)?
        .seal_in_place_separate_tag(nonce(separate), Aad::empty(), &mut out[body..])
        .map_err(|_| Error::protocol("shadowsocks 2022: seal failed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// The nonce of a ChaCha datagram.
const XNONCE: usize = 24;

fn xchacha(key: &[u8]) -> Result<chacha20poly1305::XChaCha20Poly1305> {
    use chacha20poly1305::KeyInit;
    chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| Error::config("shadowsocks 2022: a ChaCha key is 32 bytes"))
}

/// Opens a ChaCha datagram in place: its separate header, and where its main header starts
/// and its plaintext ends.
fn open_xchacha(key: &[u8], datagram: &mut [u8]) -> Result<([u8; BLOCK], usize, usize)> {
    use chacha20poly1305::aead::AeadInPlace;
    if datagram.len() < XNONCE + BLOCK + 1 + 8 + 2 + TAG_LEN {
        return Err(short());
    }
    let end = datagram.len() - TAG_LEN;
    let (nonce, rest) = datagram.split_at_mut(XNONCE);
    let (sealed, tag) = rest.split_at_mut(end - XNONCE);
    xchacha(key)?
        .decrypt_in_place_detached(
            chacha20poly1305::XNonce::from_slice(nonce),
            b"",
            sealed,
            chacha20poly1305::Tag::from_slice(tag),
        )
        .map_err(|_| {
            Error::new(ErrorKind::Auth, "shadowsocks 2022: a datagram failed authentication")
        })?;
    let mut separate = [0u8; BLOCK];
    separate.copy_from_slice(&datagram[XNONCE..XNONCE + BLOCK]);
    Ok((separate, XNONCE + BLOCK, end))
}

/// Opens a client's datagram in place (a server's view). A wrong key, an unknown user, a
/// tampered or malformed datagram, or a timestamp off by more than 30 s is an error.
///
/// `known` says which subkey byte order a session uses, once its first datagram told
/// (`Some(standard)`); for a new session both are tried, Go's first.
pub fn open_request(
    cipher: &Cipher,
    datagram: &mut [u8],
    known: impl Fn(u64) -> Option<bool>,
) -> Result<Opened2022> {
    let mut standard = false;
    let (separate, user, body_at, end) = if cipher.method().is_2022_aes() {
        let (separate, rest) = open_separate(cipher.key(), datagram)?;
        let (user, body_at) = if cipher.has_users() {
            let mut id = [0u8; BLOCK];
            id.copy_from_slice(rest.get(..BLOCK).ok_or_else(short)?);
            (Some(cipher.find_user(&id, None, &separate)?), BLOCK * 2)
        } else {
            (None, BLOCK)
        };
        let key = cipher.user_key(user);
        let session_id = u64::from_be_bytes(separate[..8].try_into().unwrap_or_default());
        let plain = match known(session_id) {
            Some(order) => {
                standard = order;
                open_body(cipher, key, &separate, &mut datagram[body_at..], order)?
            }
            None => {
                // A failed open leaves the buffer changed: the second try needs a copy (once
                // per session).
                let copy = datagram[body_at..].to_vec();
                match open_body(cipher, key, &separate, &mut datagram[body_at..], false) {
                    Ok(n) => n,
                    Err(_) => {
                        datagram[body_at..].copy_from_slice(&copy);
                        standard = true;
                        open_body(cipher, key, &separate, &mut datagram[body_at..], true)?
                    }
                }
            }
        };
        (separate, user, body_at, body_at + plain)
    } else {
        let (separate, body_at, end) = open_xchacha(cipher.key(), datagram)?;
        (separate, None, body_at, end)
    };
    let body = &datagram[body_at..end];
    if body.first() != Some(&REQUEST_TYPE) {
        return Err(Error::protocol("shadowsocks 2022: not a request"));
    }
    let (addr, payload) = parse_rest(body, 9)?;
    Ok(Opened2022 {
        session_id: u64::from_be_bytes(separate[..8].try_into().unwrap_or_default()),
        packet_id: u64::from_be_bytes(separate[8..].try_into().unwrap_or_default()),
        client_session_id: 0,
        user,
        addr,
        payload: body_at + payload.start..body_at + payload.end,
        standard,
    })
}

/// Opens a server's datagram in place (a client's view).
pub fn open_response(cipher: &Cipher, datagram: &mut [u8]) -> Result<Opened2022> {
    let (separate, body_at, end) = if cipher.method().is_2022_aes() {
        let (separate, _) = open_separate(cipher.key(), datagram)?;
        let standard = cipher.standard_udp();
        let plain = open_body(cipher, cipher.key(), &separate, &mut datagram[BLOCK..], standard)?;
        (separate, BLOCK, BLOCK + plain)
    } else {
        open_xchacha(cipher.key(), datagram)?
    };
    let body = &datagram[body_at..end];
    if body.first() != Some(&RESPONSE_TYPE) || body.len() < 17 {
        return Err(Error::protocol("shadowsocks 2022: not a response"));
    }
    let client_session_id = u64::from_be_bytes(body[9..17].try_into().unwrap_or_default());
    let (addr, payload) = parse_rest(body, 17)?;
    Ok(Opened2022 {
        session_id: u64::from_be_bytes(separate[..8].try_into().unwrap_or_default()),
        packet_id: u64::from_be_bytes(separate[8..].try_into().unwrap_or_default()),
        client_session_id,
        user: None,
        addr,
        payload: body_at + payload.start..body_at + payload.end,
        standard: cipher.standard_udp(),
    })
}

fn short() -> Error {
    Error::protocol("shadowsocks 2022: a datagram too short")
}

fn open_separate<'a>(key: &[u8], datagram: &'a [u8]) -> Result<([u8; BLOCK], &'a [u8])> {
    if datagram.len() < BLOCK + 1 + 8 + 2 + TAG_LEN {
        return Err(short());
    }
    let mut separate = [0u8; BLOCK];
    separate.copy_from_slice(&datagram[..BLOCK]);
    aes_block(key, &mut separate, false)?;
    Ok((separate, &datagram[BLOCK..]))
}

/// Opens `sealed` in place; the plaintext's length.
fn open_body(
    cipher: &Cipher,
    key: &[u8],
    separate: &[u8; BLOCK],
    sealed: &mut [u8],
    standard: bool,
) -> Result<usize> {
    if sealed.len() < TAG_LEN {
        return Err(short());
    }
    let session_id = u64::from_be_bytes(separate[..8].try_into().unwrap_or_default());
    session_key(cipher, key, session_id, standard)?
        .open_in_place(nonce(separate), Aad::empty(), sealed)
        .map(|p| p.len())
        .map_err(|_| {
            Error::new(ErrorKind::Auth, "shadowsocks 2022: a datagram failed authentication")
        })
}

/// Checks the timestamp at `body[1..9]`, skips the padding whose length is at `body[at..]`,
/// and reads the address: it and where the payload is in `body`.
fn parse_rest(body: &[u8], at: usize) -> Result<(Address, Range<usize>)> {
    let bad = |what: &str| Error::protocol(format!("shadowsocks 2022: {what}"));
    let ts = body.get(1..9).ok_or_else(|| bad("no timestamp"))?;
    let ts = u64::from_be_bytes(ts.try_into().unwrap_or_default());
    if now_secs().abs_diff(ts) > MAX_CLOCK_SKEW {
        return Err(bad("bad timestamp"));
    }
    let pad = body.get(at..at + 2).ok_or_else(|| bad("no padding length"))?;
    let pad = usize::from(u16::from_be_bytes([pad[0], pad[1]]));
    if pad > MAX_PADDING || at + 2 + pad > body.len() {
        return Err(bad("bad padding"));
    }
    let addr_at = at + 2 + pad;
    match gost_proto::addr::decode_addr(&body[addr_at..]) {
        Ok(Some((addr, used))) => Ok((addr, addr_at + used..body.len())),
        _ => Err(bad("a bad address")),
    }
}

/// Packet ids seen of one session: a new one within the last [`ReplayWindow::SIZE`] of the
/// highest passes once; an older one or a repeat does not (SIP022's sliding window).
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    highest: u64,
    /// Bit `i`: `highest - i` was seen.
    seen: [u64; Self::SIZE / 64],
    started: bool,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow { highest: 0, seen: [0; Self::SIZE / 64], started: false }
    }
}

impl ReplayWindow {
    /// The ids kept (Go's is 2000).
    pub const SIZE: usize = 2048;

    /// Whether `id` is new (it is recorded).
    pub fn accept(&mut self, id: u64) -> bool {
        if !self.started {
            self.started = true;
            self.highest = id;
            self.seen = [0; Self::SIZE / 64];
            self.seen[0] = 1;
            return true;
        }
        if id > self.highest {
            self.shift(id - self.highest);
            self.highest = id;
            self.seen[0] |= 1;
            return true;
        }
        let back = self.highest - id;
        if back >= Self::SIZE as u64 {
            return false;
        }
        let (word, bit) = ((back / 64) as usize, back % 64);
        if self.seen[word] & (1 << bit) != 0 {
            return false;
        }
        self.seen[word] |= 1 << bit;
        true
    }

    /// Moves every mark `by` places older (marks beyond the window fall off).
    fn shift(&mut self, by: u64) {
        if by >= Self::SIZE as u64 {
            self.seen = [0; Self::SIZE / 64];
            return;
        }
        let (words, bits) = ((by / 64) as usize, by % 64);
        for i in (0..self.seen.len()).rev() {
            let from = i.checked_sub(words);
            let high = from.map_or(0, |f| self.seen[f]);
            let low = from.and_then(|f| f.checked_sub(1)).map_or(0, |f| self.seen[f]);
            self.seen[i] = if bits == 0 { high } else { (high << bits) | (low >> (64 - bits)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_request_any(cipher: &Cipher, d: &mut [u8]) -> Result<Opened2022> {
        open_request(cipher, d, |_| None)
    }

    #[test]
    fn a_server_takes_both_subkey_orders_and_a_client_sends_the_one_it_is_told() {
        let go = Cipher::new(M, K0, None).unwrap();
        let standard = go.clone().with_standard_udp();
        let target = Address::Ip("127.0.0.1:9".parse().unwrap());
        for (client, want) in [(&go, false), (&standard, true)] {
            let mut d = Vec::new();
            seal_request(client, 7, 0, &target, b"x", &mut d).unwrap();
            let o = open_request_any(&go, &mut d.clone()).unwrap();
            assert_eq!(o.standard, want);
            // A known session's order is the only one tried.
            assert!(open_request(&go, &mut d.clone(), |_| Some(!want)).is_err());
            let mut r = Vec::new();
            seal_response(&go, o.standard, None, 9, 0, 7, &target, b"y", &mut r).unwrap();
            assert!(open_response(client, &mut r.clone()).is_ok());
            let other = if want { &go } else { &standard };
            assert!(open_response(other, &mut r).is_err());
        }
    }

    const K0: &str = "AAAAAAAAAAAAAAAAAAAAAA==";
    const K1: &str = "AQEBAQEBAQEBAQEBAQEBAQ==";
    const M: &str = "2022-blake3-aes-128-gcm";

    #[test]
    fn requests_and_responses_round_trip_and_bad_ones_are_errors() {
        let client = Cipher::new(M, K0, None).unwrap();
        let server = client.clone();
        let target = Address::Domain("example.com".into(), 53);
        let mut d = Vec::new();
        seal_request(&client, 7, 3, &target, b"query", &mut d).unwrap();
        let o = open_request_any(&server, &mut d.clone()).unwrap();
        assert_eq!((o.session_id, o.packet_id, o.user, &o.addr), (7, 3, None, &target));
        let mut opened = d.clone();
        let o = open_request_any(&server, &mut opened).unwrap();
        assert_eq!(&opened[o.payload], b"query");
        // Tampered, truncated, the wrong key, or a response where a request is due.
        for i in [0, 20, d.len() - 1] {
            let mut t = d.clone();
            t[i] ^= 1;
            assert!(open_request_any(&server, &mut t).is_err(), "byte {i}");
        }
        assert!(open_request_any(&server, &mut d[..20].to_vec()).is_err());
        let wrong = Cipher::new(M, K1, None).unwrap();
        assert!(open_request_any(&wrong, &mut d.clone()).is_err());
        let mut r = Vec::new();
        let src = Address::Ip("127.0.0.1:53".parse().unwrap());
        seal_response(&server, false, None, 9, 0, 7, &src, b"answer", &mut r).unwrap();
        assert!(open_request_any(&server, &mut r.clone()).is_err());
        let o = open_response(&client, &mut r).unwrap();
        assert_eq!((o.session_id, o.client_session_id, &o.addr), (9, 7, &src));
        assert_eq!(&r[o.payload], b"answer");
    }

    #[test]
    fn chacha_datagrams_are_one_xchacha_seal_with_the_key() {
        let m = "2022-blake3-chacha20-poly1305";
        let key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let cipher = Cipher::new(m, key, None).unwrap();
        let target = Address::Ip("127.0.0.1:9".parse().unwrap());
        let mut d = Vec::new();
        seal_request(&cipher, 7, 3, &target, b"hi", &mut d).unwrap();
        // nonce(24) | seal(16-byte separate header | type, timestamp, padding length, address
        // (7) | payload) | tag
        assert_eq!(d.len(), 24 + 16 + 1 + 8 + 2 + 7 + 2 + 16);
        let o = open_request_any(&cipher, &mut d.clone()).unwrap();
        assert_eq!((o.session_id, o.packet_id, &o.addr), (7, 3, &target));
        let mut t = d.clone();
        t[30] ^= 1;
        assert!(open_request_any(&cipher, &mut t).is_err());
        let mut r = Vec::new();
        seal_response(&cipher, false, None, 9, 1, 7, &target, b"yo", &mut r).unwrap();
        let o = open_response(&cipher, &mut r).unwrap();
        assert_eq!((o.session_id, o.packet_id, o.client_session_id), (9, 1, 7));
        assert_eq!(&r[o.payload], b"yo");
        // No identity headers with ChaCha.
        assert!(Cipher::new(m, &format!("{key}:{key}"), None).is_err());
    }

    #[test]
    fn identity_headers_pick_the_user_and_its_key() {
        let client = Cipher::new(M, &format!("{K0}:{K1}"), None).unwrap();
        let server = Cipher::new(M, K0, None)
            .unwrap()
            .with_users([("other", "AgICAgICAgICAgICAgICAg"), ("alice", K1)])
            .unwrap();
        let target = Address::Ip("127.0.0.1:9".parse().unwrap());
        let mut d = Vec::new();
        seal_request(&client, 1, 0, &target, b"hi", &mut d).unwrap();
        let o = open_request_any(&server, &mut d).unwrap();
        assert_eq!(o.user, Some(1));
        assert_eq!(&d[o.payload], b"hi");
        // The answer goes under alice's key, which the client opens with its last key.
        let mut r = Vec::new();
        seal_response(&server, false, o.user, 5, 0, 1, &target, b"yo", &mut r).unwrap();
        assert!(open_response(&client, &mut r).is_ok());
        // A client whose key is no user's is refused.
        let stranger = Cipher::new(M, &format!("{K0}:AwMDAwMDAwMDAwMDAwMDAw"), None).unwrap();
        let mut d = Vec::new();
        seal_request(&stranger, 1, 0, &target, b"hi", &mut d).unwrap();
        assert_eq!(open_request_any(&server, &mut d).unwrap_err().kind(), ErrorKind::Auth);
    }

    #[test]
    fn the_replay_window_takes_each_id_once_and_forgets_old_ones() {
        let mut w = ReplayWindow::default();
        assert!(w.accept(5));
        assert!(!w.accept(5));
        assert!(w.accept(3), "late but new");
        assert!(!w.accept(3));
        assert!(w.accept(100));
        assert!(w.accept(70));
        assert!(!w.accept(70));
        assert!(!w.accept(5), "still remembered after a shift");
        assert!(w.accept(5000));
        assert!(!w.accept(100), "too old now");
        assert!(w.accept(5000 - 2047));
        assert!(!w.accept(5000 - 2048));
        for id in 5001..5200 {
            assert!(w.accept(id));
        }
        assert!(!w.accept(5100));
    }
}
