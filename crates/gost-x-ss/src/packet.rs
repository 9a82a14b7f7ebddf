//! Shadowsocks AEAD datagrams (SIP004 UDP): `salt | seal(ATYP ADDR PORT | payload)`, a fresh
//! random salt per datagram and the nonce at zero. Sans-I/O.

use gost_core::{Address, Error, Result};

use crate::Cipher;

/// Appends the datagram carrying `payload` for `addr` (the target, from a client; the source,
/// from a server) to `out`.
pub fn seal_packet(
    cipher: &Cipher,
    addr: &Address,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    let salt_start = out.len();
    out.resize(salt_start + cipher.salt_len(), 0);
    crate::random(&mut out[salt_start..])?;
    let mut sealer = cipher.sealer(&out[salt_start..])?;
    let start = out.len();
    gost_proto::addr::encode_addr(addr, out)?;
    out.extend_from_slice(payload);
    sealer.seal(out, start)
}

/// Opens a datagram in place: its address, and where its payload is in `datagram`. A wrong
/// key or a tampered, short or malformed datagram is an error.
pub fn open_packet(
    cipher: &Cipher,
    datagram: &mut [u8],
) -> Result<(Address, std::ops::Range<usize>)> {
    let salt_len = cipher.salt_len();
    if datagram.len() < salt_len + cipher.method().tag_len() {
        return Err(Error::protocol("shadowsocks: a datagram too short"));
    }
    let (salt, sealed) = datagram.split_at_mut(salt_len);
    let n = cipher.opener(salt)?.open(sealed)?;
    let plain = &sealed[..n];
    let Some((addr, used)) = gost_proto::addr::decode_addr(plain)? else {
        return Err(Error::protocol("shadowsocks: a datagram without a whole address"));
    };
    Ok((addr, salt_len + used..salt_len + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_round_trip_and_bad_ones_are_errors() {
        for method in ["aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305", "none"] {
            let c = Cipher::new(method, "pw", None).unwrap();
            let addr = Address::Domain("dns.test".into(), 53);
            let mut d = Vec::new();
            seal_packet(&c, &addr, b"query", &mut d).unwrap();
            let mut copy = d.clone();
            let (got, range) = open_packet(&c, &mut copy).unwrap();
            assert_eq!((got, &copy[range]), (addr.clone(), &b"query"[..]), "{method}");
            assert!(open_packet(&c, &mut d[..3].to_vec()).is_err());
            if method != "none" {
                let mut tampered = d.clone();
                let last = tampered.len() - 1;
                tampered[last] ^= 1;
                assert!(open_packet(&c, &mut tampered).is_err());
                let wrong = Cipher::new(method, "other", None).unwrap();
                assert!(open_packet(&wrong, &mut d.clone()).is_err());
            }
        }
    }
}
