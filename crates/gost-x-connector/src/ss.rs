//! `ss`: reaches the next hop through a shadowsocks server (AEAD, SIP004, and Shadowsocks 2022 over TCP, SIP022; see `gost-x-ss`), as
//! Go gost's connector: `-F ss://aes-256-gcm:password@server:8388` (or SIP002's base64
//! userinfo). The target goes first, as its own chunk, sent at once (so that protocols where
//! the server speaks first work too).
//!
//! Metadata: `key` (the raw master key instead of one derived from the password). TCP only for
//! now (UDP through an ss node is `ssu`'s, not here yet).

use gost_core::io::flush;
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, Metadata,
    Network, Result,
};
use gost_x_ss::{Cipher, SsConn};

/// The registry name.
pub const NAME: &str = "ss";

struct SsConnector {
    cipher: Cipher,
}

/// Builds the connector; it needs the method (user) and the password.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let method = opts.username.filter(|m| !m.is_empty()).ok_or_else(|| {
        Error::config(
            "ss connector needs a method and a password (-F ss://aes-256-gcm:pass@host:port)",
        )
    })?;
    let key = md.get_string(&["key"])?;
    let cipher = Cipher::new(&method, &opts.password.unwrap_or_default(), key.as_deref())?;
    Ok(BoxConnector::new(SsConnector { cipher }))
}

impl Connector for SsConnector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported(
                "UDP through an ss node: use an ssu node (-F ssu://method:pass@host:port)",
            ));
        }
        let mut header = Vec::with_capacity(gost_proto::addr::encoded_addr_len(&target));
        gost_proto::addr::encode_addr(&target, &mut header)?;
        let mut ss = SsConn::client(conn, self.cipher.clone(), &header)?;
        flush(&mut ss).await?;
        Ok(Box::new(ss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read_exact, write_all};
    use gost_x_ss::SaltFilter;
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn sends_the_target_first_then_the_stream() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut opts = ConnectorOptions::default();
        opts.username = Some("aes-128-gcm".into());
        opts.password = Some("pw".into());
        let c = new(opts, &Metadata::new()).unwrap();
        let conn: BoxConn =
            Box::new(gost_x_rt::TokioConn::tcp(TcpStream::connect(addr).await.unwrap()));
        let (s, _) = l.accept().await.unwrap();
        let target = Address::Domain("example.com".into(), 443);
        let mut up =
            c.connect(conn, Network::Tcp, target, ConnectOptions::default()).await.unwrap();
        write_all(&mut up, b"data").await.unwrap();
        let cipher = Cipher::new("aes-128-gcm", "pw", None).unwrap();
        let mut server =
            SsConn::server(Box::new(gost_x_rt::TokioConn::tcp(s)), cipher, SaltFilter::default())
                .unwrap();
        let mut got = vec![0u8; 1 + 1 + 11 + 2 + 4];
        read_exact(&mut server, &mut got).await.unwrap();
        assert_eq!(&got[..2], &[3, 11]);
        assert_eq!(&got[2..13], b"example.com");
        assert_eq!(&got[13..15], &443u16.to_be_bytes());
        assert_eq!(&got[15..], b"data");
        let mut none = ConnectorOptions::default();
        none.username = None;
        assert!(new(none, &Metadata::new()).is_err());
    }
}
