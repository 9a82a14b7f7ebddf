//! `ssu`: UDP through a shadowsocks UDP relay (AEAD datagrams, SIP004; see `gost-x-ss`), as Go
//! gost's `-F ssu://aes-256-gcm:password@server:8388` (with the `udp` dialer): each datagram
//! goes sealed with its target; answers come back sealed with their source. SOCKS5 UDP clients
//! at the edge and `udp` forwarders reach their targets this way.
//!
//! Metadata: `key` (the raw master key). Datagrams only (a stream through an ssu node is an
//! error; ssu over a stream transport is not supported yet).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{BoxConn, PacketConn, Read, Write};
use gost_core::{
    Address, BoxConnector, BoxPacketConn, ConnectOptions, Connector, ConnectorOptions, Error,
    Metadata, Network, Result,
};
use gost_x_ss::{Cipher, open_packet, seal_packet};

/// The registry name.
pub const NAME: &str = "ssu";

/// The largest datagram carried.
const MAX_DATAGRAM: usize = 65535;

struct SsuConnector {
    cipher: Cipher,
}

/// Builds the connector; it needs the method (user) and the password.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let method = opts.username.filter(|m| !m.is_empty()).ok_or_else(|| {
        Error::config(
            "ssu connector needs a method and a password (-F ssu://aes-256-gcm:pass@host:port)",
        )
    })?;
    let key = md.get_string(&["key"])?;
    let cipher = Cipher::new(&method, &opts.password.unwrap_or_default(), key.as_deref())?;
    if cipher.method().is_2022() {
        // SIP022's datagrams (separate header, session ids) are not here yet.
        return Err(Error::unsupported("shadowsocks 2022 over UDP (ssu)"));
    }
    Ok(BoxConnector::new(SsuConnector { cipher }))
}

impl Connector for SsuConnector {
    async fn connect(
        &self,
        _conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        Err(Error::unsupported(format!(
            "{network} to {target} through an ssu node (it carries datagrams only)"
        )))
    }

    async fn connect_packet(
        &self,
        conn: BoxConn,
        _target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        Ok(Box::new(SsuPackets {
            conn,
            cipher: self.cipher.clone(),
            out: Vec::with_capacity(1024),
            inbuf: vec![0u8; MAX_DATAGRAM],
        }))
    }
}

/// Datagrams sealed over a datagram connection to the ssu server.
struct SsuPackets {
    conn: BoxConn,
    cipher: Cipher,
    /// The sealed datagram being sent (sealed again on every poll: a send dropped while
    /// pending must not send old bytes on the next call).
    out: Vec<u8>,
    inbuf: Vec<u8>,
}

impl PacketConn for SsuPackets {
    fn poll_recv_from(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        let this = self.get_mut();
        loop {
            let n = match ready!(Pin::new(&mut this.conn).poll_read(cx, &mut this.inbuf)) {
                Ok(n) => n,
                // An ICMP unreachable on the connected socket: the server may come (back).
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Poll::Ready(Err(e)),
            };
            if n == 0 {
                continue; // an empty datagram carries nothing
            }
            match open_packet(&this.cipher, &mut this.inbuf[..n]) {
                Ok((from, payload)) => {
                    let data = &this.inbuf[payload];
                    let len = data.len().min(buf.len());
                    buf[..len].copy_from_slice(&data[..len]);
                    return Poll::Ready(Ok((len, from)));
                }
                // Not from the server with our key (or damaged): dropped, as UDP is.
                Err(e) => tracing::debug!("ssu: dropped a datagram: {e}"),
            }
        }
    }

    fn poll_send_to(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.out.clear();
        seal_packet(&this.cipher, target, buf, &mut this.out)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        ready!(Pin::new(&mut this.conn).poll_write(cx, &this.out))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.conn.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{recv_from, send_to};

    #[tokio::test]
    async fn datagrams_are_sealed_with_their_target_and_answers_opened() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let dialer = gost_x_dialer_udp(server.local_addr().unwrap()).await;
        let mut opts = ConnectorOptions::default();
        opts.username = Some("chacha20-ietf-poly1305".into());
        opts.password = Some("pw".into());
        let c = new(opts, &Metadata::new()).unwrap();
        let mut pc = c.connect_packet(dialer, None).await.unwrap();
        let target = Address::Domain("dns.test".into(), 53);
        send_to(&mut pc, b"query", &target).await.unwrap();
        let cipher = Cipher::new("chacha20-ietf-poly1305", "pw", None).unwrap();
        let mut b = vec![0u8; 2048];
        let (n, from) = server.recv_from(&mut b).await.unwrap();
        let (to, payload) = open_packet(&cipher, &mut b[..n]).unwrap();
        assert_eq!((to, &b[payload]), (target.clone(), &b"query"[..]));
        // Garbage first, then the answer.
        server.send_to(b"junk", from).await.unwrap();
        let mut answer = Vec::new();
        seal_packet(&cipher, &target, b"answer", &mut answer).unwrap();
        server.send_to(&answer, from).await.unwrap();
        let mut got = [0u8; 64];
        let (n, src) = recv_from(&mut pc, &mut got).await.unwrap();
        assert_eq!((&got[..n], src), (&b"answer"[..], target));
    }

    /// A connected UDP socket to `server`, as the `udp` dialer gives.
    async fn gost_x_dialer_udp(server: SocketAddr) -> BoxConn {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(server).await.unwrap();
        Box::new(gost_x_rt::UdpConn::new(s).unwrap())
    }
}
