//! `socks4` (also `socks4a`): reaches the next address through a SOCKS4 server. Like gost it
//! always uses SOCKS4a (the server resolves names, even IP literals are sent as text) unless
//! `disable4a=true`, which resolves the name here and sends an IPv4 address. The node's user name
//! is sent as the user id.
//!
//! Metadata: `disable4a` (false).

use std::net::IpAddr;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, ErrorKind,
    Metadata, Network, Result,
};
use gost_proto::socks4::{self, Reply, Request};

/// The registry name.
pub const NAME: &str = "socks4";
/// gost's other name for it.
pub const ALIAS: &str = "socks4a";

struct Socks4Connector {
    node: String,
    userid: Vec<u8>,
    disable_4a: bool,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    Ok(BoxConnector::new(Socks4Connector {
        node: opts.node,
        userid: opts.username.unwrap_or_default().into_bytes(),
        disable_4a: md.get_bool(&["disable4a"])?.unwrap_or(false),
    }))
}

impl Connector for Socks4Connector {
    async fn connect(
        &self,
        mut conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported("socks4 connector: SOCKS4 carries no UDP"));
        }
        let (ip, host) = if self.disable_4a {
            let resolved = gost_x_rt::net::resolve(&target, Network::Tcp4).await?;
            match resolved.first().map(|sa| sa.ip()) {
                Some(IpAddr::V4(v4)) => (v4.octets(), None),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Dial,
                        format!("socks4: no IPv4 address for {target}"),
                    ));
                }
            }
        } else {
            ([0, 0, 0, 1], Some(target.host()))
        };
        let req = Request {
            cmd: socks4::CMD_CONNECT,
            port: target.port(),
            ip,
            userid: self.userid.clone(),
            host,
        };
        let mut out = Vec::with_capacity(64);
        req.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let reply = read_decoded(&mut conn, &mut buf, 64, Reply::decode).await?;
        if reply.code != socks4::REP_GRANTED {
            let kind = if reply.code == socks4::REP_IDENTD_MISMATCH {
                ErrorKind::Auth
            } else {
                ErrorKind::Connect
            };
            return Err(Error::new(
                kind,
                format!(
                    "socks4 node {}: connect to {target} refused (code {})",
                    self.node, reply.code
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{WAIT, expect, fake_server, finish, read_conn, with_user};
    use tokio::io::AsyncWriteExt;

    async fn connect(c: &BoxConnector, conn: BoxConn, target: Address) -> Result<BoxConn> {
        tokio::time::timeout(WAIT, c.connect(conn, Network::Tcp, target, ConnectOptions::default()))
            .await
            .expect("connect timed out")
    }

    #[tokio::test]
    async fn sends_4a_and_keeps_pipelined_payload() {
        let (conn, server) = fake_server(|mut s| async move {
            // 04 01 PORT 0.0.0.1 USERID 00 HOST 00
            expect(&mut s, b"\x04\x01\x00\x50\x00\x00\x00\x01alice\x00example.com\x00").await;
            s.write_all(b"\x00\x5a\x00\x00\x00\x00\x00\x00early bytes").await.unwrap();
            expect(&mut s, b"from client").await;
        })
        .await;
        let c = new(with_user("alice", ""), &Metadata::new()).unwrap();
        let mut conn = connect(&c, conn, Address::Domain("example.com".into(), 80)).await.unwrap();
        assert_eq!(read_conn(&mut conn, 11).await.unwrap(), b"early bytes");
        gost_core::io::write_all(&mut conn, b"from client").await.unwrap();
        finish(server).await;
    }

    #[tokio::test]
    async fn rejected_request_is_an_error() {
        let (conn, server) = fake_server(|mut s| async move {
            // Even an IP literal goes as a 4a host name by default.
            expect(&mut s, b"\x04\x01\x00\x50\x00\x00\x00\x01\x00192.0.2.1\x00").await;
            s.write_all(&[0, 91, 0, 0, 0, 0, 0, 0]).await.unwrap();
        })
        .await;
        let c = new(ConnectorOptions::default(), &Metadata::new()).unwrap();
        let target = Address::Ip("192.0.2.1:80".parse().unwrap());
        let err = connect(&c, conn, target).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        finish(server).await;
    }
}
