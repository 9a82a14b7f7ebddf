//! `http`: reaches the next address through an HTTP proxy with `CONNECT`, sending
//! `Proxy-Authorization: Basic` when the node has credentials (`http://user:pass@host:port`).
//!
//! Datagrams (a UDP chain through this node) use gost's UDP relay over HTTP: `CONNECT` with
//! `X-Gost-Protocol: udp`, then UDP-tun frames on the connection.
//!
//! Metadata: `header` (a map of extra request headers).

use std::collections::BTreeMap;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, BoxPacketConn, ConnectOptions, Connector, ConnectorOptions,
    Error, ErrorKind, Metadata, Network, Result,
};

use crate::datagram::{FramedPacketConn, Framing};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};

/// The registry name.
pub const NAME: &str = "http";

struct HttpConnector {
    node: String,
    authorization: Option<String>,
    headers: BTreeMap<String, String>,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let authorization =
        opts.username.map(|u| wire::basic_auth_encode(&u, opts.password.as_deref().unwrap_or("")));
    Ok(BoxConnector::new(HttpConnector {
        node: opts.node,
        authorization,
        headers: md.get_string_map(&["header"])?.unwrap_or_default(),
    }))
}

impl Connector for HttpConnector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported(
                "http connector: UDP goes through datagrams (connect_packet), not a stream",
            ));
        }
        self.request(conn, &target, false).await
    }

    /// gost's UDP relay over HTTP: `CONNECT` with `X-Gost-Protocol: udp`, then UDP-tun frames
    /// (the server needs `udp=true`).
    async fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        let any = Address::Ip(std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
        let conn = self.request(conn, target.as_ref().unwrap_or(&any), true).await?;
        Ok(Box::new(FramedPacketConn::new(conn, Framing::UdpTun)))
    }
}

impl HttpConnector {
    async fn request(&self, mut conn: BoxConn, target: &Address, udp: bool) -> Result<BoxConn> {
        let authority = target.to_string();
        let mut headers = vec![
            ("Host".to_owned(), authority.as_bytes().to_vec()),
            ("Proxy-Connection".to_owned(), b"keep-alive".to_vec()),
        ];
        if udp {
            headers.push(("X-Gost-Protocol".to_owned(), b"udp".to_vec()));
        }
        if let Some(auth) = &self.authorization {
            headers.push(("Proxy-Authorization".to_owned(), auth.as_bytes().to_vec()));
        }
        for (k, v) in &self.headers {
            headers.push((k.clone(), v.as_bytes().to_vec()));
        }
        let req = RequestHead { method: "CONNECT".into(), target: authority, version: 1, headers };
        let mut out = Vec::with_capacity(256);
        req.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let resp = read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, ResponseHead::decode).await?;
        if resp.status != 200 {
            let kind = if resp.status == 407 { ErrorKind::Auth } else { ErrorKind::Connect };
            let what = if udp { "UDP relay" } else { "CONNECT" };
            return Err(Error::new(
                kind,
                format!(
                    "http node {}: {what} {target} answered {} {}",
                    self.node, resp.status, resp.reason
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{WAIT, expect, fake_server, finish, read_conn, read_head, with_user};
    use tokio::io::AsyncWriteExt;

    async fn connect(c: &BoxConnector, conn: BoxConn, target: Address) -> Result<BoxConn> {
        tokio::time::timeout(WAIT, c.connect(conn, Network::Tcp, target, ConnectOptions::default()))
            .await
            .expect("connect timed out")
    }

    #[tokio::test]
    async fn connect_request_with_credentials_and_pipelined_payload() {
        let (conn, server) = fake_server(|mut s| async move {
            let head = read_head(&mut s).await;
            assert!(head.starts_with("CONNECT example.com:443 HTTP/1.1\r\n"), "{head}");
            assert!(head.contains("\r\nHost: example.com:443\r\n"), "{head}");
            // base64("alice:secret")
            assert!(head.contains("\r\nProxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\n"), "{head}");
            s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\nearly bytes").await.unwrap();
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
    async fn refusals_map_to_error_kinds() {
        let cases = [
            (
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"gost\"\r\nContent-Length: 0\r\n\r\n",
                ErrorKind::Auth,
            ),
            ("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", ErrorKind::Connect),
        ];
        for (answer, kind) in cases {
            let (conn, server) = fake_server(move |mut s| async move {
                read_head(&mut s).await;
                s.write_all(answer.as_bytes()).await.unwrap();
            })
            .await;
            let c = new(ConnectorOptions::default(), &Metadata::new()).unwrap();
            let target = Address::Domain("example.com".into(), 443);
            let err = connect(&c, conn, target).await.unwrap_err();
            assert_eq!(err.kind(), kind, "{answer:?}");
            finish(server).await;
        }
    }

    #[tokio::test]
    async fn datagrams_ask_for_gost_s_udp_relay_and_travel_as_udp_tun_frames() {
        let (conn, server) = fake_server(|mut s| async move {
            let head = read_head(&mut s).await;
            assert!(head.starts_with("CONNECT 0.0.0.0:0 HTTP/1.1\r\n"), "{head}");
            assert!(head.contains("\r\nX-Gost-Protocol: udp\r\n"), "{head}");
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await.unwrap();
            // One frame from the client: length 2, 0xFF (gost's UDP-tun mark), IPv4 192.0.2.1:53, "hi".
            expect(&mut s, &[0, 2, 255, 1, 192, 0, 2, 1, 0, 53, b'h', b'i']).await;
            s.write_all(&[0, 2, 255, 1, 192, 0, 2, 1, 0, 53, b'o', b'k']).await.unwrap();
        })
        .await;
        let c = new(ConnectorOptions::default(), &Metadata::new()).unwrap();
        let mut pc = c.connect_packet(conn, None).await.unwrap();
        let to = Address::parse("192.0.2.1:53").unwrap();
        gost_core::io::send_to(&mut pc, b"hi", &to).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = tokio::time::timeout(WAIT, gost_core::io::recv_from(&mut pc, &mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..n], from), (&b"ok"[..], to));
        finish(server).await;
    }
}
