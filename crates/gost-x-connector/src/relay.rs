//! `relay`: reaches the next address through a gost relay server, with user auth when the node
//! has credentials (`relay://user:pass@host:port`).
//!
//! The request is sent at once; by default (`nodelay=false`) the response is read lazily, just
//! before the first read, because a Go server in its default mode holds the response back until
//! the target sends its first bytes. With `nodelay=true` the response is awaited before the
//! connection is returned (errors surface at connect time).
//!
//! Datagrams (`connect_packet`): to a fixed target, CONNECT with the UDP flag and `LEN | payload`
//! frames; to any peer, gost's UDP associate (BIND with the UDP flag; a Go server needs
//! `bind=true` for it) and UDP-tun frames.
//!
//! Metadata: `nodelay` (false).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write, read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, BoxPacketConn, ConnectOptions, Connector, ConnectorOptions,
    Error, Metadata, Network, Result,
};
use gost_proto::relay::{self, Feature, Request, Response};

use crate::datagram::{FramedPacketConn, Framing};

/// The registry name.
pub const NAME: &str = "relay";

/// A response with features is at most 4 + 65535 bytes.
const MAX_RESPONSE: usize = 4 + 65535;

struct RelayConnector {
    node: String,
    credentials: Option<(String, String)>,
    nodelay: bool,
    /// The smux options of BIND sessions (`mux.*`).
    mux: gost_smux::Config,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    Ok(BoxConnector::new(RelayConnector {
        node: opts.node,
        credentials: opts.username.map(|u| (u, opts.password.unwrap_or_default())),
        nodelay: md.get_bool(&["nodelay"])?.unwrap_or(false),
        mux: gost_x_rt::mux::config(md)?,
    }))
}

fn status_error(node: &str, target: &Address, status: u8) -> Error {
    let kind = relay::status_error_kind(status);
    Error::new(kind, format!("relay node {node}: connect to {target} refused (status {status})"))
}

impl RelayConnector {
    fn features(&self, network: Option<u16>, addr: Address) -> Vec<Feature> {
        let mut features = Vec::with_capacity(3);
        if let Some(network) = network {
            features.push(Feature::Network(network));
        }
        if let Some((user, pass)) = &self.credentials {
            features.push(Feature::UserAuth { username: user.clone(), password: pass.clone() });
        }
        features.push(Feature::Addr(addr));
        features
    }

    /// Sends `req`; with `wait`, reads and checks the response before returning, otherwise the
    /// response is checked before the first read.
    async fn send(
        &self,
        mut conn: BoxConn,
        req: Request,
        target: Address,
        wait: bool,
    ) -> Result<BoxConn> {
        let mut out = Vec::with_capacity(64);
        req.encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        if wait {
            let mut buf = Vec::new();
            let resp = read_decoded(&mut conn, &mut buf, MAX_RESPONSE, Response::decode).await?;
            if resp.status != relay::STATUS_OK {
                return Err(status_error(&self.node, &target, resp.status));
            }
            return Ok(rewind(conn, buf));
        }
        Ok(Box::new(LazyResponse {
            inner: conn,
            pending: Some(Vec::new()),
            leftover: Vec::new(),
            pos: 0,
            node: self.node.clone(),
            target,
        }))
    }
}

impl Connector for RelayConnector {
    /// BIND (rtcp over relay): the server binds `addr` and carries every connection to it back
    /// over an smux session on `conn`. The server needs `bind=true`.
    async fn bind(
        &self,
        mut conn: BoxConn,
        network: Network,
        addr: Address,
        _opts: gost_core::BindOptions,
    ) -> Result<gost_core::BoxListener> {
        if network.is_udp() {
            // gost's rudp over relay: BIND with the UDP flag and the address to bind.
            let features = self.features(Some(relay::NETWORK_UDP), addr.clone());
            let req = Request { cmd: relay::CMD_BIND | relay::FLAG_UDP, features };
            let conn = self.send(conn, req, addr.clone(), true).await?;
            let packets = Box::new(FramedPacketConn::new(conn, Framing::UdpTun));
            return Ok(crate::udp_bind::listener(packets, addr.as_socket_addr()));
        }
        let req = Request {
            cmd: relay::CMD_BIND,
            features: self.features(Some(relay::NETWORK_TCP), addr.clone()),
        };
        let mut out = Vec::with_capacity(64);
        req.encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let resp = read_decoded(&mut conn, &mut buf, MAX_RESPONSE, Response::decode).await?;
        if resp.status != relay::STATUS_OK {
            return Err(status_error(&self.node, &addr, resp.status));
        }
        let bound = resp.addr().and_then(Address::as_socket_addr);
        let mux = self.mux.clone();
        crate::bind::listener(rewind(conn, buf), crate::bind::StreamHeader::Relay, bound, mux)
    }

    /// With a target: CONNECT with the UDP flag, then `LEN | payload` frames to that target.
    /// Without: gost's UDP "associate" (BIND with the UDP flag, which a Go server only accepts
    /// with `bind=true`), then UDP-tun frames naming each datagram's peer.
    async fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        match target {
            Some(target) => {
                let features = self.features(Some(relay::NETWORK_UDP), target.clone());
                let req = Request { cmd: relay::CMD_CONNECT | relay::FLAG_UDP, features };
                let conn = self.send(conn, req, target.clone(), self.nodelay).await?;
                Ok(Box::new(FramedPacketConn::new(conn, Framing::LengthPrefixed(target))))
            }
            None => {
                let any = Address::Ip(SocketAddr::from(([0, 0, 0, 0], 0)));
                let features = self.features(Some(relay::NETWORK_UDP), any.clone());
                let req = Request { cmd: relay::CMD_BIND | relay::FLAG_UDP, features };
                let conn = self.send(conn, req, any, true).await?;
                Ok(Box::new(FramedPacketConn::new(conn, Framing::UdpTun)))
            }
        }
    }

    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported("relay connector: datagrams go through connect_packet"));
        }
        let req =
            Request { cmd: relay::CMD_CONNECT, features: self.features(None, target.clone()) };
        self.send(conn, req, target, self.nodelay).await
    }
}

/// A relay connection whose response header is read (and checked) before the first read.
struct LazyResponse {
    inner: BoxConn,
    /// The response bytes read so far; `None` once the response was accepted.
    pending: Option<Vec<u8>>,
    /// Payload read together with the response.
    leftover: Vec<u8>,
    pos: usize,
    node: String,
    target: Address,
}

impl Read for LazyResponse {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while let Some(head) = this.pending.as_mut() {
            match Response::decode(head).map_err(io::Error::from)? {
                Some((resp, used)) => {
                    if resp.status != relay::STATUS_OK {
                        return Poll::Ready(Err(status_error(
                            &this.node,
                            &this.target,
                            resp.status,
                        )
                        .into()));
                    }
                    this.leftover = head.split_off(used.min(head.len()));
                    this.pending = None;
                }
                None => {
                    if head.len() >= MAX_RESPONSE {
                        return Poll::Ready(
                            Err(Error::protocol("relay response too large").into()),
                        );
                    }
                    let mut chunk = [0u8; 512];
                    let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("relay node {}: closed before answering", this.node),
                        )));
                    }
                    head.extend_from_slice(&chunk[..n]);
                }
            }
        }
        if this.pos < this.leftover.len() {
            let rest = &this.leftover[this.pos..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            this.pos += n;
            if this.pos == this.leftover.len() {
                this.leftover = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl Write for LazyResponse {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Conn for LazyResponse {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{WAIT, expect, fake_server, finish, read_conn, with_user};
    use gost_core::ErrorKind;
    use tokio::io::AsyncWriteExt;

    /// §3.1's example: CONNECT example.com:80 as u/p.
    const REQUEST: &[u8] = &[
        0x01, 0x01, 0x00, 0x19, 0x01, 0x00, 0x04, 0x01, 0x75, 0x01, 0x70, 0x02, 0x00, 0x0f, 0x03,
        0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x50,
    ];

    async fn connect(c: &BoxConnector, conn: BoxConn) -> Result<BoxConn> {
        let target = Address::Domain("example.com".into(), 80);
        tokio::time::timeout(WAIT, c.connect(conn, Network::Tcp, target, ConnectOptions::default()))
            .await
            .expect("connect timed out")
    }

    #[tokio::test]
    async fn lazy_response_is_read_before_the_first_read() {
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, REQUEST).await;
            // Answer only after the client wrote: connect must not wait for the response.
            expect(&mut s, b"from client").await;
            s.write_all(b"\x01\x00\x00\x00early bytes").await.unwrap();
        })
        .await;
        let c = new(with_user("u", "p"), &Metadata::new()).unwrap();
        let mut conn = connect(&c, conn).await.unwrap();
        gost_core::io::write_all(&mut conn, b"from client").await.unwrap();
        assert_eq!(read_conn(&mut conn, 11).await.unwrap(), b"early bytes");
        finish(server).await;
    }

    #[tokio::test]
    async fn lazy_refusal_fails_the_first_read() {
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, REQUEST).await;
            s.write_all(&[1, 2, 0, 0]).await.unwrap();
        })
        .await;
        let c = new(with_user("u", "p"), &Metadata::new()).unwrap();
        let mut conn = connect(&c, conn).await.unwrap();
        let err = read_conn(&mut conn, 1).await.unwrap_err();
        assert_eq!(Error::from(err).kind(), ErrorKind::Auth);
        finish(server).await;
    }

    #[tokio::test]
    async fn nodelay_checks_the_response_at_connect() {
        let md = Metadata::new().with("nodelay", true);
        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, REQUEST).await;
            s.write_all(&[1, 2, 0, 0]).await.unwrap();
        })
        .await;
        let c = new(with_user("u", "p"), &md).unwrap();
        assert_eq!(connect(&c, conn).await.unwrap_err().kind(), ErrorKind::Auth);
        finish(server).await;

        let (conn, server) = fake_server(|mut s| async move {
            expect(&mut s, REQUEST).await;
            s.write_all(b"\x01\x00\x00\x00early bytes").await.unwrap();
        })
        .await;
        let mut conn = connect(&c, conn).await.unwrap();
        assert_eq!(read_conn(&mut conn, 11).await.unwrap(), b"early bytes");
        finish(server).await;
    }
}
