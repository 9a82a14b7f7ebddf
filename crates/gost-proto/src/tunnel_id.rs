//! gost's tunnel and connector ids (relay `Tunnel` feature): `UUID(16) | FLAGS(1) | RSV(2) |
//! WEIGHT(1)`. Tunnel flag 0x80 = private (written `$uuid`); connector flag 0x01 = UDP. Two ids
//! are the same tunnel when their UUIDs are equal. Sans-I/O.

use crate::relay::TUNNEL_ID_LEN;

/// A tunnel (or connector) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TunnelId(pub [u8; TUNNEL_ID_LEN]);

/// The private-tunnel flag.
pub const FLAG_PRIVATE: u8 = 0x80;
/// The UDP-connector flag.
pub const FLAG_UDP: u8 = 0x01;

impl TunnelId {
    /// From a UUID and flags/weight.
    pub fn new(uuid: [u8; 16], flags: u8, weight: u8) -> TunnelId {
        let mut id = [0u8; TUNNEL_ID_LEN];
        id[..16].copy_from_slice(&uuid);
        id[16] = flags;
        id[19] = weight;
        TunnelId(id)
    }

    /// Parses a UUID as gost writes tunnel ids (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, also
    /// 32 hex digits, `{...}` or `urn:uuid:...`), with a leading `$` for a private tunnel.
    pub fn parse(text: &str) -> Option<TunnelId> {
        let text = text.trim();
        let (private, text) = match text.strip_prefix('$') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let text = text.strip_prefix("urn:uuid:").unwrap_or(text);
        let text = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
        let hex: String = match text.len() {
            36 => {
                let dashes = [8, 13, 18, 23];
                if !dashes.iter().all(|&i| text.as_bytes()[i] == b'-') {
                    return None;
                }
                text.chars().filter(|c| *c != '-').collect()
            }
            32 => text.to_owned(),
            _ => return None,
        };
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut uuid = [0u8; 16];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let s = std::str::from_utf8(pair).ok()?;
            *uuid.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
        }
        Some(TunnelId::new(uuid, if private { FLAG_PRIVATE } else { 0 }, 0))
    }

    /// The UUID.
    pub fn uuid(&self) -> [u8; 16] {
        let mut u = [0u8; 16];
        u.copy_from_slice(&self.0[..16]);
        u
    }

    /// Whether the UUID is all zero (no id).
    pub fn is_zero(&self) -> bool {
        self.0[..16].iter().all(|b| *b == 0)
    }

    /// Whether both name the same tunnel (flags and weight aside).
    pub fn same(&self, other: &TunnelId) -> bool {
        self.0[..16] == other.0[..16]
    }

    /// A private tunnel's id.
    pub fn is_private(&self) -> bool {
        self.0[16] & FLAG_PRIVATE != 0
    }

    /// A UDP connector's id.
    pub fn is_udp(&self) -> bool {
        self.0[16] & FLAG_UDP != 0
    }

    /// The weight (byte 19).
    pub fn weight(&self) -> u8 {
        self.0[19]
    }

    /// The lowercase hyphenated UUID (flags and weight are not written).
    pub fn uuid_string(&self) -> String {
        let mut s = String::with_capacity(36);
        for (i, b) in self.0[..16].iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl std::fmt::Display for TunnelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.uuid_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let t = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
        let id = TunnelId::parse(t).unwrap();
        assert_eq!(id.uuid_string(), t);
        assert_eq!(id.0[0], 0x4d);
        assert!(!id.is_private() && !id.is_zero());
        let p = TunnelId::parse(&format!("${t}")).unwrap();
        assert!(p.is_private() && p.same(&id));
        assert_eq!(TunnelId::parse("4D21094EB74C491686C1D9FA36EA677B"), Some(id));
        assert_eq!(TunnelId::parse(&format!("{{{t}}}")), Some(id));
        assert_eq!(TunnelId::parse(&format!("urn:uuid:{t}")), Some(id));
        for bad in [
            "",
            "nope",
            "4d21094e-b74c-4916-86c1-d9fa36ea677",
            "4d21094eb74c-4916-86c1-d9fa36ea677bb",
        ] {
            assert_eq!(TunnelId::parse(bad), None, "{bad}");
        }
        let c = TunnelId::new(id.uuid(), FLAG_UDP, 255);
        assert!(c.is_udp() && c.weight() == 255 && c.same(&id));
    }
}
