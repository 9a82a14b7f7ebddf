//! # gost-x-ss
//!
//! Shadowsocks as gost speaks it: the cipher names gost accepts, the keys they derive from a
//! password, and the AEAD byte stream (SIP004) over any gost connection ([`SsConn`]).
//!
//! * Methods: `aes-128-gcm`, `aes-256-gcm`, `chacha20-ietf-poly1305` (also go-shadowsocks2's
//!   `AEAD_AES_128_GCM`, `AEAD_AES_256_GCM`, `AEAD_CHACHA20_POLY1305`, and `chacha20-poly1305`),
//!   and `none` / `dummy` / `plain` (the framing without encryption). Names are case-insensitive.
//! * Key: OpenSSL's `EVP_BytesToKey` with MD5 over the password (no salt), or a `key` given
//!   directly; per direction a random salt (as long as the key; 16 bytes for `none`) and the
//!   subkey HKDF-SHA1(key, salt, `"ss-subkey"`).
//! * Stream: `salt | chunk*`, chunk = `seal(len u16 BE) | seal(payload)`, payload at most 0x3FFF
//!   bytes, nonce a 12-byte little-endian counter from 0, one step per seal. The client's first
//!   plaintext is the target address (`ATYP ADDR PORT`).
//!
//! * Datagrams: `salt | seal(ATYP ADDR PORT | payload)` with a fresh salt each and the nonce
//!   at zero ([`seal_packet`], [`open_packet`]).
//!
//! * Shadowsocks 2022 (SIP022) over TCP: `2022-blake3-aes-128-gcm`, `2022-blake3-aes-256-gcm`;
//!   the password is the base64 key; session subkeys BLAKE3 `derive_key("shadowsocks 2022
//!   session subkey", key | salt)`; the client's request `seal(type 0, timestamp, length) |
//!   seal(ATYP ADDR PORT, padding length, padding)`, the server's response `seal(type 1,
//!   timestamp, request salt, length) | seal(payload)`, then chunks of up to 0xFFFF bytes;
//!   timestamps within 30 s. Identity headers (`iPSK:uPSK` on a client, [`Cipher::with_users`]
//!   on a server) name the user whose key a stream takes.
//! * Shadowsocks 2022 datagrams (SIP022 UDP, as Go gost 3.3.0 frames them): [`seal_request`],
//!   [`open_request`], [`seal_response`], [`open_response`]; sessions and the replay window in
//!   [`UdpServer`] and [`UdpClient`], which speak either framing.
//!
//! The ciphers are `ring`'s (AES-GCM on the CPU's AES instructions), BLAKE3 the `blake3`
//! crate's, and the single AES blocks of SIP022's headers the `aes` crate's.

mod aead;
mod conn;
mod packet;
mod packet2022;
mod udp;

use std::sync::{Arc, Mutex};

use gost_core::{Error, Result};

pub use aead::{Opener, Sealer, TAG_LEN};
pub use conn::SsConn;
pub use packet::{open_packet, seal_packet};
pub use packet2022::{
    Opened2022, ReplayWindow, open_request, open_response, seal_request, seal_response,
};
pub use udp::{MAX_SESSIONS, ReplyTo, SESSION_IDLE, UdpClient, UdpServer};

/// The largest payload of one chunk.
pub const MAX_PAYLOAD: usize = 0x3FFF;

/// A cipher method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `aes-128-gcm`.
    Aes128Gcm,
    /// `aes-256-gcm`.
    Aes256Gcm,
    /// `chacha20-ietf-poly1305`.
    Chacha20Poly1305,
    /// `none`: the framing without encryption.
    None,
    /// `2022-blake3-aes-128-gcm` (SIP022).
    Blake3Aes128Gcm,
    /// `2022-blake3-aes-256-gcm` (SIP022).
    Blake3Aes256Gcm,
    /// `2022-blake3-chacha20-poly1305` (SIP022's optional method; Go gost does not have it).
    Blake3Chacha20Poly1305,
}

/// The method names this build takes, for error messages.
pub const METHODS: &str = "aes-128-gcm, aes-256-gcm, chacha20-ietf-poly1305, none, \
                           2022-blake3-aes-128-gcm, 2022-blake3-aes-256-gcm, \
                           2022-blake3-chacha20-poly1305";

impl Method {
    /// The method called `name` (case-insensitive), or an error listing the supported ones.
    pub fn parse(name: &str) -> Result<Method> {
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "aes-128-gcm" | "aead_aes_128_gcm" => Method::Aes128Gcm,
            "aes-256-gcm" | "aead_aes_256_gcm" => Method::Aes256Gcm,
            "chacha20-ietf-poly1305" | "chacha20-poly1305" | "aead_chacha20_poly1305" => {
                Method::Chacha20Poly1305
            }
            "none" | "dummy" | "plain" => Method::None,
            "2022-blake3-aes-128-gcm" => Method::Blake3Aes128Gcm,
            "2022-blake3-aes-256-gcm" => Method::Blake3Aes256Gcm,
            "2022-blake3-chacha20-poly1305" => Method::Blake3Chacha20Poly1305,
            other if other.starts_with("2022-") => {
                return Err(Error::unsupported(format!(
                    "shadowsocks method {name:?} (2022) is not supported yet; supported: {METHODS}"
                )));
            }
            _ => {
                return Err(Error::config(format!(
                    "unknown shadowsocks method {name:?}; supported: {METHODS}"
                )));
            }
        })
    }

    /// The key (and salt) length.
    pub fn key_len(self) -> usize {
        match self {
            Method::Aes128Gcm | Method::None | Method::Blake3Aes128Gcm => 16,
            Method::Aes256Gcm
            | Method::Chacha20Poly1305
            | Method::Blake3Aes256Gcm
            | Method::Blake3Chacha20Poly1305 => 32,
        }
    }

    /// Whether this is a Shadowsocks 2022 method.
    pub fn is_2022(self) -> bool {
        matches!(
            self,
            Method::Blake3Aes128Gcm | Method::Blake3Aes256Gcm | Method::Blake3Chacha20Poly1305
        )
    }

    /// Whether this is a 2022 method on AES (identity headers and SIP022's UDP separate
    /// header exist only for those).
    pub fn is_2022_aes(self) -> bool {
        matches!(self, Method::Blake3Aes128Gcm | Method::Blake3Aes256Gcm)
    }

    /// The largest payload of one chunk.
    pub fn max_payload(self) -> usize {
        if self.is_2022() { 0xFFFF } else { MAX_PAYLOAD }
    }

    fn algorithm(self) -> Option<&'static ring::aead::Algorithm> {
        match self {
            Method::Aes128Gcm | Method::Blake3Aes128Gcm => Some(&ring::aead::AES_128_GCM),
            Method::Aes256Gcm | Method::Blake3Aes256Gcm => Some(&ring::aead::AES_256_GCM),
            Method::Chacha20Poly1305 | Method::Blake3Chacha20Poly1305 => {
                Some(&ring::aead::CHACHA20_POLY1305)
            }
            Method::None => None,
        }
    }

    /// The tag length of a sealed chunk (none for `none`).
    pub fn tag_len(self) -> usize {
        if self == Method::None { 0 } else { TAG_LEN }
    }
}

/// A method and its master key.
#[derive(Clone)]
pub struct Cipher {
    method: Method,
    /// This side's key: a client's (user) key, a server's key, or a user's once identified.
    key: Vec<u8>,
    /// 2022, client: every key given (`iPSK:...:uPSK`, the last is `key`); an identity header
    /// goes out for each but the last.
    psks: Arc<Vec<Vec<u8>>>,
    /// 2022, server: the users an identity header may name (`users` metadata).
    users: Arc<Vec<User>>,
    /// 2022 AES datagrams sent with SIP022's subkey (the session id's big-endian bytes) rather
    /// than Go gost's (little-endian).
    standard_udp: bool,
}

/// A Shadowsocks 2022 user: a name and its key, known by the key's BLAKE3 hash.
struct User {
    name: String,
    key: Vec<u8>,
    hash: [u8; 16],
}

/// The first 16 bytes of BLAKE3(key): how an identity header names a key.
fn key_hash(key: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&blake3::hash(key).as_bytes()[..16]);
    out
}

/// One AES block (ECB) with a 16- or 32-byte key, in place: SIP022's identity headers and
/// separate headers.
pub(crate) fn aes_block(key: &[u8], block: &mut [u8; 16], encrypt: bool) -> Result<()> {
    use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
    let b = aes::Block::from_mut_slice(block);
    let bad = |_| Error::config("shadowsocks 2022: an AES key is 16 or 32 bytes");
    match key.len() {
        16 => {
            let c = aes::Aes128::new_from_slice(key).map_err(bad)?;
            if encrypt { c.encrypt_block(b) } else { c.decrypt_block(b) }
        }
        _ => {
            let c = aes::Aes256::new_from_slice(key).map_err(bad)?;
            if encrypt { c.encrypt_block(b) } else { c.decrypt_block(b) }
        }
    }
    Ok(())
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher").field("method", &self.method).finish()
    }
}

impl Cipher {
    /// The cipher for `method` with `password`, or with `key` when given (gost's `key`
    /// metadata: the raw master key, as many bytes as the method's key).
    pub fn new(method: &str, password: &str, key: Option<&str>) -> Result<Cipher> {
        let method = Method::parse(method)?;
        let key = match key.filter(|k| !k.is_empty()) {
            Some(_) if method.is_2022() => {
                return Err(Error::config(
                    "a shadowsocks 2022 key is the password (base64), not the `key` metadata",
                ));
            }
            Some(k) if k.len() == method.key_len() => k.as_bytes().to_vec(),
            Some(k) => {
                return Err(Error::config(format!(
                    "shadowsocks key has {} bytes, the method needs {}",
                    k.len(),
                    method.key_len()
                )));
            }
            None if method.is_2022() => {
                let psks = password
                    .split(':')
                    .map(|p| psk_2022(p, method.key_len()))
                    .collect::<Result<Vec<_>>>()?;
                if psks.len() > 1 && !method.is_2022_aes() {
                    return Err(Error::config(
                        "several shadowsocks 2022 keys (identity headers) need an AES method",
                    ));
                }
                let key = psks.last().cloned().unwrap_or_default();
                return Ok(Cipher {
                    method,
                    key,
                    psks: Arc::new(psks),
                    users: Arc::default(),
                    standard_udp: false,
                });
            }
            None => {
                if password.is_empty() && method != Method::None {
                    return Err(Error::config("shadowsocks needs a password (method:password)"));
                }
                bytes_to_key(password.as_bytes(), method.key_len())
            }
        };
        Ok(Cipher {
            method,
            psks: Arc::new(vec![key.clone()]),
            key,
            users: Arc::default(),
            standard_udp: false,
        })
    }

    /// A 2022 server's cipher that takes the users given (name, base64 key), each known by
    /// the identity header its client sends (`users` metadata, as Go gost's): a client
    /// without one of them is refused. Other methods have no users (Go ignores them too):
    /// an error says so, for the caller to report.
    pub fn with_users<'a>(
        mut self,
        users: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Cipher> {
        let mut table = Vec::new();
        for (name, password) in users {
            let key = psk_2022(password, self.method.key_len())
                .map_err(|e| e.wrap(gost_core::ErrorKind::Config, format!("user {name:?}")))?;
            table.push(User { name: name.to_owned(), hash: key_hash(&key), key });
        }
        if !table.is_empty() && !self.method.is_2022_aes() {
            return Err(Error::config(
                "shadowsocks users (identity headers) need a 2022 AES method \
                 (2022-blake3-aes-128-gcm or 2022-blake3-aes-256-gcm)",
            ));
        }
        self.users = Arc::new(table);
        Ok(self)
    }

    /// A 2022 client's AES datagrams derive their subkey as SIP022 says (the session id's
    /// big-endian bytes: shadowsocks-rust, sing-box, Xray) instead of as Go gost does
    /// (little-endian), which is the default. A server takes both.
    pub fn with_standard_udp(mut self) -> Cipher {
        self.standard_udp = true;
        self
    }

    pub(crate) fn standard_udp(&self) -> bool {
        self.standard_udp
    }

    /// Whether a 2022 server expects identity headers (it has users).
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// The user an identity header names (an index for [`Cipher::for_user`]). `identity` is
    /// the header as received; `salt`: the stream's salt (TCP), or `None` for a datagram,
    /// whose header is XORed with `separate` (its plain separate header).
    pub(crate) fn find_user(
        &self,
        identity: &[u8; 16],
        salt: Option<&[u8]>,
        separate: &[u8; 16],
    ) -> Result<usize> {
        let mut block = *identity;
        match salt {
            Some(salt) => aes_block(&self.identity_subkey(&self.key, salt), &mut block, false)?,
            None => {
                aes_block(&self.key, &mut block, false)?;
                block.iter_mut().zip(separate).for_each(|(b, s)| *b ^= s);
            }
        }
        self.users
            .iter()
            .position(|u| u.hash == block)
            .ok_or_else(|| Error::new(gost_core::ErrorKind::Auth, "shadowsocks 2022: no such user"))
    }

    /// The cipher of a stream from `user` (its key), and the user's name.
    pub(crate) fn for_user(&self, user: usize) -> (Cipher, &str) {
        let mut cipher = self.clone();
        if let Some(u) = self.users.get(user) {
            cipher.key = u.key.clone();
        }
        (cipher, self.users.get(user).map_or("", |u| u.name.as_str()))
    }

    /// The key of `user`, or this side's key.
    pub(crate) fn user_key(&self, user: Option<usize>) -> &[u8] {
        user.and_then(|i| self.users.get(i)).map_or(&self.key, |u| u.key.as_slice())
    }

    /// The identity headers a 2022 client sends (none with one key): for each key but the
    /// last, the next key's hash encrypted with this one (TCP: with a subkey from `salt`; a
    /// datagram: the key itself, over the hash XOR `separate`).
    pub(crate) fn identity_headers(
        &self,
        salt: Option<&[u8]>,
        separate: &[u8; 16],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for pair in self.psks.windows(2) {
            let mut block = key_hash(&pair[1]);
            match salt {
                Some(salt) => aes_block(&self.identity_subkey(&pair[0], salt), &mut block, true)?,
                None => {
                    block.iter_mut().zip(separate).for_each(|(b, s)| *b ^= s);
                    aes_block(&pair[0], &mut block, true)?;
                }
            }
            out.extend_from_slice(&block);
        }
        Ok(())
    }

    /// The first key given (a 2022 client's separate headers are encrypted with it).
    pub(crate) fn first_key(&self) -> &[u8] {
        self.psks.first().map_or(&self.key, |k| k.as_slice())
    }

    /// This side's key.
    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }

    fn identity_subkey(&self, key: &[u8], salt: &[u8]) -> Vec<u8> {
        let mut hasher = blake3::Hasher::new_derive_key("shadowsocks 2022 identity subkey");
        hasher.update(key);
        hasher.update(salt);
        let mut out = vec![0u8; key.len()];
        hasher.finalize_xof().fill(&mut out);
        out
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The salt length of a stream.
    pub fn salt_len(&self) -> usize {
        self.method.key_len()
    }

    /// The sealer of a direction that starts with `salt`.
    pub fn sealer(&self, salt: &[u8]) -> Result<Sealer> {
        Sealer::new(self.method, &self.subkey(salt)?)
    }

    /// The opener of a direction that starts with `salt`.
    pub fn opener(&self, salt: &[u8]) -> Result<Opener> {
        Opener::new(self.method, &self.subkey(salt)?)
    }

    fn subkey(&self, salt: &[u8]) -> Result<Vec<u8>> {
        if self.method.is_2022() {
            // SIP022: BLAKE3 derive_key over the key and the salt, as long as the key.
            let mut hasher = blake3::Hasher::new_derive_key("shadowsocks 2022 session subkey");
            hasher.update(&self.key);
            hasher.update(salt);
            let mut out = vec![0u8; self.key.len()];
            hasher.finalize_xof().fill(&mut out);
            return Ok(out);
        }
        struct Len(usize);
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                self.0
            }
        }
        let mut out = vec![0u8; self.key.len()];
        ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA1_FOR_LEGACY_USE_ONLY, salt)
            .extract(&self.key)
            .expand(&[b"ss-subkey"], Len(out.len()))
            .and_then(|okm| okm.fill(&mut out))
            .map_err(|_| Error::protocol("shadowsocks: subkey derivation failed"))?;
        Ok(out)
    }
}

/// A Shadowsocks 2022 key: base64 (standard or URL-safe), exactly as long as the method's key.
fn psk_2022(password: &str, len: usize) -> Result<Vec<u8>> {
    let std_form: String = password
        .trim()
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let padded = format!("{std_form}{}", "=".repeat((4 - std_form.len() % 4) % 4));
    let key = gost_proto::http::base64_decode(padded.as_bytes()).ok_or_else(|| {
        Error::config("a shadowsocks 2022 password is a base64 key (e.g. openssl rand -base64 16)")
    })?;
    if key.len() != len {
        return Err(Error::config(format!(
            "the shadowsocks 2022 key has {} bytes, the method needs {len}",
            key.len()
        )));
    }
    Ok(key)
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and no salt: `D_i = MD5(D_{i-1} | password)`, as many
/// as `len` needs.
fn bytes_to_key(password: &[u8], len: usize) -> Vec<u8> {
    use md5::Digest;
    let mut out = Vec::with_capacity(len + 16);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = md5::Md5::new();
        h.update(&prev);
        h.update(password);
        prev = h.finalize().to_vec();
        out.extend_from_slice(&prev);
    }
    out.truncate(len);
    out
}

/// Fills `out` with random bytes (salts).
pub fn random(out: &mut [u8]) -> Result<()> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(out)
        .map_err(|_| Error::new(gost_core::ErrorKind::Io, "no randomness for a salt"))
}

/// Salts seen recently, so that a recorded stream replayed to the server is refused (as Go's
/// bloom ring does): two generations of a bloom filter, each for [`SALTS_PER_GENERATION`]
/// salts with about one false alarm in a million; when the newer one is full the older one is
/// cleared and takes its place. About 3.6 MB, allocated at the first salt.
///
/// Shadowsocks 2022 requests, whose timestamps are checked, go to an exact record instead
/// ([`SaltFilter::check_and_add_recent`]): SIP022 forbids a filter with false alarms.
#[derive(Clone)]
pub struct SaltFilter(Arc<Mutex<BloomRing>>, Arc<Mutex<RecentSalts>>);

/// 2022 salts seen in the last [`RECENT_SALT_SECS`] seconds (a request's timestamp is within 30 s
/// either way, so an older salt cannot come back), each with when it expires.
#[derive(Default)]
struct RecentSalts {
    expiry: std::collections::HashMap<([u8; 32], u8), u64>,
    swept: u64,
}

/// How long a 2022 salt is remembered (SIP022: 60 s).
pub const RECENT_SALT_SECS: u64 = 60;
/// The 2022 salts remembered at most (about 80 bytes each): a new stream past this is refused
/// until old salts expire (a million new streams a minute).
pub const MAX_RECENT_SALTS: usize = 1 << 20;

impl std::fmt::Debug for SaltFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaltFilter")
    }
}

/// Salts per generation.
const SALTS_PER_GENERATION: usize = 500_000;
/// Bits per generation for a false-alarm rate of 1e-6 (n · ln(1/p) / ln(2)²), and hashes.
const BLOOM_BITS: usize = 14_377_588;
const BLOOM_HASHES: u64 = 20;

struct BloomRing {
    keys: std::collections::hash_map::RandomState,
    generations: [Vec<u64>; 2],
    current: usize,
    count: usize,
}

impl Default for SaltFilter {
    fn default() -> Self {
        SaltFilter(
            Arc::new(Mutex::new(BloomRing {
                keys: std::collections::hash_map::RandomState::new(),
                generations: [Vec::new(), Vec::new()],
                current: 0,
                count: 0,
            })),
            Arc::default(),
        )
    }
}

impl BloomRing {
    /// The bit positions of `salt` (double hashing over a randomly keyed hasher).
    fn positions(&self, salt: &[u8]) -> impl Iterator<Item = usize> {
        use std::hash::{BuildHasher, Hasher};
        let hash = |seed: u8| {
            let mut h = self.keys.build_hasher();
            h.write_u8(seed);
            h.write(salt);
            h.finish()
        };
        let (h1, h2) = (hash(0), hash(1) | 1);
        (0..BLOOM_HASHES)
            .map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % BLOOM_BITS as u64) as usize)
    }

    fn contains(&self, salt: &[u8]) -> bool {
        self.generations.iter().any(|bits| {
            !bits.is_empty() && self.positions(salt).all(|p| bits[p / 64] & (1 << (p % 64)) != 0)
        })
    }

    fn insert(&mut self, salt: &[u8]) {
        if self.count >= SALTS_PER_GENERATION {
            self.current ^= 1;
            self.generations[self.current].iter_mut().for_each(|w| *w = 0);
            self.count = 0;
        }
        let positions: Vec<usize> = self.positions(salt).collect();
        let bits = &mut self.generations[self.current];
        if bits.is_empty() {
            bits.resize(BLOOM_BITS.div_ceil(64), 0);
        }
        for p in positions {
            bits[p / 64] |= 1 << (p % 64);
        }
        self.count += 1;
    }
}

impl SaltFilter {
    /// Records a 2022 `salt` (at most 32 bytes) for [`RECENT_SALT_SECS`]; false when it was
    /// seen in that time, or when [`MAX_RECENT_SALTS`] are remembered already.
    pub fn check_and_add_recent(&self, salt: &[u8]) -> bool {
        let mut key = [0u8; 32];
        let len = salt.len().min(32);
        key[..len].copy_from_slice(&salt[..len]);
        let key = (key, len as u8);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut recent = self.1.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_sub(recent.swept) >= 10 || recent.expiry.len() >= MAX_RECENT_SALTS {
            recent.expiry.retain(|_, expires| *expires > now);
            recent.swept = now;
        }
        if recent.expiry.get(&key).is_some_and(|expires| *expires > now) {
            return false;
        }
        if recent.expiry.len() >= MAX_RECENT_SALTS {
            return false;
        }
        recent.expiry.insert(key, now + RECENT_SALT_SECS);
        true
    }

    /// Records `salt`; false when it was seen already.
    pub fn check_and_add(&self, salt: &[u8]) -> bool {
        let mut ring = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if ring.contains(salt) {
            return false;
        }
        ring.insert(salt);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_keys() {
        assert_eq!(Method::parse("AES-256-GCM").unwrap(), Method::Aes256Gcm);
        assert_eq!(Method::parse("AEAD_CHACHA20_POLY1305").unwrap(), Method::Chacha20Poly1305);
        let err = Method::parse("rc4-md5").unwrap_err();
        assert!(err.to_string().contains("aes-256-gcm"), "{err}");
        assert_eq!(
            Method::parse("2022-blake3-chacha20-poly1305").unwrap(),
            Method::Blake3Chacha20Poly1305
        );
        assert_eq!(
            Method::parse("2022-blake3-chacha8-poly1305").unwrap_err().kind(),
            gost_core::ErrorKind::Unsupported
        );
        assert!(Method::parse("2022-blake3-aes-128-gcm").unwrap().is_2022());
        // 2022 keys are base64 of the right length.
        assert!(Cipher::new("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA==", None).is_ok());
        assert!(Cipher::new("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA", None).is_ok());
        assert!(Cipher::new("2022-blake3-aes-256-gcm", "AAAAAAAAAAAAAAAAAAAAAA==", None).is_err());
        assert!(Cipher::new("2022-blake3-aes-128-gcm", "not base64!", None).is_err());
        assert!(Cipher::new("2022-blake3-aes-128-gcm", "a:b", None).is_err());
        let two = "AAAAAAAAAAAAAAAAAAAAAA==:AQEBAQEBAQEBAQEBAQEBAQ==";
        let c = Cipher::new("2022-blake3-aes-128-gcm", two, None).unwrap();
        assert_eq!((c.first_key(), c.key()), (&[0u8; 16][..], &[1u8; 16][..]));
        // Users are for 2022 servers; their keys are checked.
        let server =
            Cipher::new("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA", None).unwrap();
        assert!(server.clone().with_users([("u", "AQEBAQEBAQEBAQEBAQEBAQ")]).is_ok());
        assert!(server.with_users([("u", "AQEB")]).is_err());
        let aead = Cipher::new("aes-128-gcm", "pw", None).unwrap();
        assert!(aead.with_users([("u", "AQEBAQEBAQEBAQEBAQEBAQ")]).is_err());
        // EVP_BytesToKey(MD5, "password"): MD5("password") = 5f4dcc3b5aa765d61d8327deb882cf99.
        let k = bytes_to_key(b"password", 32);
        assert_eq!(&k[..4], &[0x5f, 0x4d, 0xcc, 0x3b]);
        assert_eq!(k.len(), 32);
        assert!(Cipher::new("aes-128-gcm", "", None).is_err());
        assert!(Cipher::new("aes-128-gcm", "", Some("0123456789abcdef")).is_ok());
        assert!(Cipher::new("aes-128-gcm", "", Some("short")).is_err());
    }

    #[test]
    fn recent_salts_are_exact() {
        let f = SaltFilter::default();
        for i in 0..10_000u64 {
            assert!(f.check_and_add_recent(&i.to_le_bytes()), "no false alarm");
        }
        assert!(!f.check_and_add_recent(&7u64.to_le_bytes()));
        // A 16-byte salt and a 32-byte one that starts with it are different salts.
        assert!(f.check_and_add_recent(&[1u8; 16]));
        let mut long = [0u8; 32];
        long[..16].copy_from_slice(&[1u8; 16]);
        assert!(f.check_and_add_recent(&long));
    }

    #[test]
    fn salt_filter_refuses_repeats_and_forgets_old_generations() {
        let f = SaltFilter::default();
        assert!(f.check_and_add(b"one"));
        assert!(!f.check_and_add(b"one"));
        let mut false_alarms = 0;
        for i in 0..SALTS_PER_GENERATION as u64 + 10 {
            if !f.check_and_add(&i.to_le_bytes()) {
                false_alarms += 1;
            }
        }
        assert!(false_alarms < 5, "{false_alarms} false alarms");
        assert!(!f.check_and_add(b"one"), "still in the older generation");
        for i in 0..SALTS_PER_GENERATION as u64 {
            f.check_and_add(&(i + (1 << 40)).to_le_bytes());
        }
        assert!(f.check_and_add(b"one"), "forgotten two generations later");
    }
}
