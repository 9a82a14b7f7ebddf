//! The server name in a QUIC client's first datagram (its Initial packet, RFC 9000/9001; v1 and
//! v2), for sniffing UDP: the Initial is protected only with keys derived from its destination
//! connection id, so a middlebox can read the ClientHello in its CRYPTO frames. Sans-I/O.

use aes::cipher::{BlockEncrypt, KeyInit};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

const V1: u32 = 1;
const V2: u32 = 0x6b33_43cf;
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// The server name of the ClientHello carried by `datagram`'s first packet, when that is a QUIC
/// v1/v2 client Initial whose CRYPTO frames hold the start of a ClientHello with its SNI.
/// Anything else (another packet, a bad version, a ClientHello spread over several datagrams
/// before its SNI) is `None`.
pub(crate) fn initial_server_name(datagram: &[u8]) -> Option<String> {
    let hello = client_hello(datagram)?;
    gost_proto::tls::handshake_server_name(&hello)
}

/// The CRYPTO stream bytes (from offset 0) of a client Initial.
fn client_hello(d: &[u8]) -> Option<Vec<u8>> {
    let first = *d.first()?;
    if first & 0xC0 != 0xC0 {
        return None; // not a long header with the fixed bit
    }
    let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
    let packet_type = (first >> 4) & 0x03;
    let (salt, labels, initial) = match version {
        V1 => (SALT_V1, ["quic key", "quic iv", "quic hp"], 0),
        V2 => (SALT_V2, ["quicv2 key", "quicv2 iv", "quicv2 hp"], 1),
        _ => return None,
    };
    if packet_type != initial {
        return None;
    }
    let mut at = 5;
    let dcid_len = usize::from(*d.get(at)?);
    if dcid_len > 20 {
        return None;
    }
    let dcid = d.get(at + 1..at + 1 + dcid_len)?;
    at += 1 + dcid_len;
    let scid_len = usize::from(*d.get(at)?);
    at += 1 + scid_len;
    let (token_len, n) = varint(d.get(at..)?)?;
    at += n + usize::try_from(token_len).ok()?;
    let (length, n) = varint(d.get(at..)?)?;
    at += n;
    let pn_offset = at;
    let end = pn_offset.checked_add(usize::try_from(length).ok()?)?;
    if end > d.len() || length < 20 {
        return None;
    }
    // Keys (RFC 9001 5.2).
    let initial_secret = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(dcid);
    let client = expand(&initial_secret, "client in", 32)?;
    let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &client);
    let key = expand(&client, labels[0], 16)?;
    let iv = expand(&client, labels[1], 12)?;
    let hp = expand(&client, labels[2], 16)?;
    // Header protection (5.4): a mask from the sample 4 bytes after the packet number's start.
    let sample: [u8; 16] = d.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
    let cipher = aes::Aes128::new_from_slice(&hp).ok()?;
    let mut mask = aes::Block::from(sample);
    cipher.encrypt_block(&mut mask);
    let first = first ^ (mask[0] & 0x0F);
    let pn_len = usize::from(first & 0x03) + 1;
    let mut header = d.get(..pn_offset + pn_len)?.to_vec();
    header[0] = first;
    let mut pn = 0u64;
    for i in 0..pn_len {
        header[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(header[pn_offset + i]);
    }
    // Payload (5.3): AES-128-GCM, the nonce the IV xor the packet number.
    let mut nonce: [u8; 12] = iv.as_slice().try_into().ok()?;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).ok()?);
    let mut payload = d.get(pn_offset + pn_len..end)?.to_vec();
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(&header), &mut payload)
        .ok()?;
    crypto_stream(plain)
}

/// The CRYPTO frames' data, in order from offset 0 (as far as it is contiguous).
fn crypto_stream(mut frames: &[u8]) -> Option<Vec<u8>> {
    let mut pieces: Vec<(u64, &[u8])> = Vec::new();
    while let Some(&kind) = frames.first() {
        match kind {
            0x00 | 0x01 => frames = &frames[1..], // PADDING, PING
            0x06 => {
                let (offset, a) = varint(&frames[1..])?;
                let (len, b) = varint(&frames[1 + a..])?;
                let start = 1 + a + b;
                let len = usize::try_from(len).ok()?;
                pieces.push((offset, frames.get(start..start + len)?));
                frames = &frames[start + len..];
            }
            _ => break, // ACK, CONNECTION_CLOSE...: what came before is enough
        }
    }
    pieces.sort_by_key(|(offset, _)| *offset);
    let mut out = Vec::new();
    for (offset, data) in pieces {
        let offset = usize::try_from(offset).ok()?;
        if offset > out.len() {
            break;
        }
        let skip = out.len() - offset;
        if skip < data.len() {
            out.extend_from_slice(&data[skip..]);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A QUIC variable-length integer and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let mut v = u64::from(first & 0x3F);
    for &x in b.get(1..len)? {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

/// TLS 1.3's HKDF-Expand-Label with an empty context, `len` bytes.
fn expand(prk: &hkdf::Prk, label: &str, len: usize) -> Option<Vec<u8>> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let full = format!("tls13 {label}");
    let info = [
        &u16::try_from(len).ok()?.to_be_bytes()[..],
        &[u8::try_from(full.len()).ok()?],
        full.as_bytes(),
        &[0u8],
    ];
    let mut out = vec![0u8; len];
    prk.expand(&info, Len(len)).ok()?.fill(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn reads_the_server_name_of_rfc_9001s_client_initial() {
        // RFC 9001, appendix A.2: the protected client Initial for example.com.
        let packet = hex(include_str!("../testdata/rfc9001-a2-client-initial.hex"));
        assert_eq!(packet.len(), 1200);
        assert_eq!(initial_server_name(&packet).as_deref(), Some("example.com"));
        // A byte changed anywhere in the protected part: the AEAD refuses it.
        let mut bad = packet.clone();
        bad[600] ^= 1;
        assert_eq!(initial_server_name(&bad), None);
        // Another version, a short header, garbage, truncation: nothing.
        let mut other = packet.clone();
        other[4] = 2;
        assert_eq!(initial_server_name(&other), None);
        assert_eq!(initial_server_name(&[0x40, 1, 2, 3]), None);
        assert_eq!(initial_server_name(b""), None);
        for cut in [1, 5, 6, 20, 30, 500] {
            assert_eq!(initial_server_name(&packet[..cut]), None, "{cut}");
        }
    }

    #[test]
    fn key_schedule_matches_rfc_9001() {
        let dcid = hex("8394c8f03e515708");
        let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, &SALT_V1).extract(&dcid);
        let client = expand(&initial, "client in", 32).unwrap();
        assert_eq!(client, hex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
        let client = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &client);
        assert_eq!(
            expand(&client, "quic key", 16).unwrap(),
            hex("1f369613dd76d5467730efcbe3b1a22d")
        );
        assert_eq!(expand(&client, "quic iv", 12).unwrap(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(
            expand(&client, "quic hp", 16).unwrap(),
            hex("9f50449e04a0e810283a1e9933adedd2")
        );
    }
}
