//! `socks5` (also `socks`): reaches the next address through a SOCKS5 server, with
//! user/password authentication when the node has credentials (`socks5://user:pass@host:port`).
//!
//! Offers no-auth, plus user/password when credentials are set. gost's TLS methods (0x80/0x82)
//! are not offered; Go servers accept the plain methods.
//!
//! UDP (`connect_packet`) uses gost's UDP-over-TCP command 0xF3; standard UDP ASSOCIATE
//! (`relay=udp` in gost) is not offered.
//!
//! Metadata: none.

use gost_core::io::{read_decoded, rewind, write_all};
use std::net::SocketAddr;

use crate::datagram::{FramedPacketConn, Framing};
use gost_core::{
    Address, BoxConn, BoxConnector, BoxPacketConn, ConnectOptions, Connector, ConnectorOptions,
    Error, ErrorKind, Metadata, Network, Result,
};
use gost_proto::socks5::{
    self, Greeting, MethodSelection, Reply, Request, UserPassReply, UserPassRequest,
};

/// The registry name.
pub const NAME: &str = "socks5";
/// gost's other name for it.
pub const ALIAS: &str = "socks";

const MAX_MESSAGE: usize = 1024;

struct Socks5Connector {
    node: String,
    credentials: Option<(String, String)>,
    /// The smux options of MBIND sessions (`mux.*`).
    mux: gost_smux::Config,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let credentials = opts.username.map(|u| (u, opts.password.unwrap_or_default()));
    let mux = gost_x_rt::mux::config(md)?;
    Ok(BoxConnector::new(Socks5Connector { node: opts.node, credentials, mux }))
}

impl Socks5Connector {
    /// Method negotiation, authentication and one request; returns the connection (with any
    /// bytes read past the reply) once the reply said success.
    async fn request(&self, mut conn: BoxConn, cmd: u8, target: &Address) -> Result<BoxConn> {
        let mut out = Vec::with_capacity(300);
        let methods = if self.credentials.is_some() {
            vec![socks5::METHOD_NO_AUTH, socks5::METHOD_USER_PASS]
        } else {
            vec![socks5::METHOD_NO_AUTH]
        };
        Greeting { methods }.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let choice =
            read_decoded(&mut conn, &mut buf, MAX_MESSAGE, MethodSelection::decode).await?;
        match choice.method {
            socks5::METHOD_NO_AUTH => {}
            socks5::METHOD_USER_PASS => {
                let Some((user, pass)) = &self.credentials else {
                    let why = format!("socks5 node {}: server wants a password", self.node);
                    return Err(Error::new(ErrorKind::Auth, why));
                };
                out.clear();
                UserPassRequest {
                    username: user.as_bytes().to_vec(),
                    password: pass.as_bytes().to_vec(),
                }
                .encode(&mut out)?;
                write_all(&mut conn, &out).await?;
                let status =
                    read_decoded(&mut conn, &mut buf, MAX_MESSAGE, UserPassReply::decode).await?;
                if status.status != 0 {
                    let why = format!("socks5 node {}: credentials rejected", self.node);
                    return Err(Error::new(ErrorKind::Auth, why));
                }
            }
            other => {
                let why = format!(
                    "socks5 node {}: no acceptable method (server chose {other:#04x})",
                    self.node
                );
                return Err(Error::new(ErrorKind::Auth, why));
            }
        }
        out.clear();
        Request { cmd, addr: target.clone() }.encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        let reply = read_decoded(&mut conn, &mut buf, MAX_MESSAGE, Reply::decode).await?;
        if reply.rep != socks5::REP_SUCCEEDED {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "socks5 node {}: request for {target} failed (reply {})",
                    self.node, reply.rep
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}

impl Connector for Socks5Connector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported(
                "socks5 connector: datagrams go through connect_packet",
            ));
        }
        self.request(conn, socks5::CMD_CONNECT, &target).await
    }

    /// gost's MBIND (0xF2, rtcp over socks5): the server binds `addr` and carries every
    /// connection to it back over an smux session on `conn`. The server needs `bind=true`.
    async fn bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        _opts: gost_core::BindOptions,
    ) -> Result<gost_core::BoxListener> {
        if network.is_udp() {
            // gost's rudp over socks5: 0xF3 with the port to bind; then UDP-tun frames.
            let conn = self.request(conn, socks5::CMD_UDP_TUN, &addr).await?;
            let packets = Box::new(FramedPacketConn::new(conn, Framing::UdpTun));
            return Ok(crate::udp_bind::listener(packets, addr.as_socket_addr()));
        }
        let conn = self.request(conn, socks5::CMD_MUX_BIND, &addr).await?;
        crate::bind::listener(conn, crate::bind::StreamHeader::Socks5, None, self.mux.clone())
    }

    /// gost's UDP-over-TCP (command 0xF3): the datagrams travel inside this connection, each in
    /// a frame naming its peer. Go servers and ours both need `udp=true`.
    async fn connect_packet(
        &self,
        conn: BoxConn,
        _target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        let any = Address::Ip(SocketAddr::from(([0, 0, 0, 0], 0)));
        let conn = self.request(conn, socks5::CMD_UDP_TUN, &any).await?;
        Ok(Box::new(FramedPacketConn::new(conn, Framing::UdpTun)))
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
    async fn user_pass_and_domain_request_bytes_and_pipelined_payload() {
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, &[5, 2, 0, 2]).await;
            s.write_all(&[5, 2]).await.unwrap();
            expect(&mut s, b"\x01\x05alice\x06secret").await;
            s.write_all(&[1, 0]).await.unwrap();
            expect(&mut s, b"\x05\x01\x00\x03\x0bexample.com\x01\xbb").await;
            // The reply and the first payload bytes in one write.
            s.write_all(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x30\x39early bytes").await.unwrap();
            expect(&mut s, b"from client").await;
        })
        .await;
        let c = new(with_user("alice", "secret"), &Metadata::new()).unwrap();
        let mut conn = connect(&c, conn, Address::Domain("example.com".into(), 443)).await.unwrap();
        assert_eq!(read_conn(&mut conn, 11).await.unwrap(), b"early bytes");
        gost_core::io::write_all(&mut conn, b"from client").await.unwrap();
        finish(server).await;
    }

    #[tokio::test]
    async fn rejected_credentials_are_an_auth_error() {
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, &[5, 2, 0, 2]).await;
            s.write_all(&[5, 2]).await.unwrap();
            expect(&mut s, b"\x01\x05alice\x05wrong").await;
            s.write_all(&[1, 1]).await.unwrap();
        })
        .await;
        let c = new(with_user("alice", "wrong"), &Metadata::new()).unwrap();
        let err = connect(&c, conn, Address::Domain("example.com".into(), 80)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);
        finish(server).await;
    }

    #[tokio::test]
    async fn failure_reply_is_a_connect_error() {
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, &[5, 1, 0]).await;
            s.write_all(&[5, 0]).await.unwrap();
            expect(&mut s, &[5, 1, 0, 1, 192, 0, 2, 1, 0, 80]).await;
            s.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
        })
        .await;
        let c = new(ConnectorOptions::default(), &Metadata::new()).unwrap();
        let target = Address::Ip("192.0.2.1:80".parse().unwrap());
        let err = connect(&c, conn, target).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        finish(server).await;
    }
}
