//! `ssu`: UDP through a shadowsocks UDP relay, as Go gost's `-F ssu://aes-256-gcm:password@
//! server:8388` (with the `udp` dialer): each datagram goes sealed with its target; answers
//! come back sealed with their source. AEAD datagrams (SIP004) or Shadowsocks 2022's (SIP022:
//! one session per connection, identity headers with `iPSK:uPSK`; see `gost-x-ss`). SOCKS5 UDP
//! clients at the edge and `udp` forwarders reach their targets this way.
//!
//! Over a stream transport (`-F ssu+tcp://...`, `ssu+tls`, `ssu+ws`...) it is Go's "UDP over
//! TCP": a shadowsocks stream (its address the first target) carrying gost's UDP-tun frames.
//!
//! Metadata: `key` (the raw master key), `answerAddr` (true; `false` for a Go gost 3.3 ssu
//! server, whose AEAD answers carry no source address: they are taken as from the last target,
//! as Go's client does), `sip022` (false: 2022 AES datagrams derive their subkey as Go gost
//! does; `true` as SIP022 says, for shadowsocks-rust, sing-box or Xray servers; our server takes
//! both). Datagrams only (a stream through an ssu node is an error).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{BoxConn, PacketConn, Read, Write};
use gost_core::{
    Address, BoxConnector, BoxPacketConn, ConnectOptions, Connector, ConnectorOptions, Error,
    Metadata, Network, Result,
};
use gost_x_ss::{Cipher, SsConn, UdpClient};

use crate::datagram::{FramedPacketConn, Framing};

/// The registry name.
pub const NAME: &str = "ssu";

/// The largest datagram carried.
const MAX_DATAGRAM: usize = 65535;

struct SsuConnector {
    cipher: Cipher,
    /// AEAD answers carry their source address (SIP004), or not (a Go gost 3.3 ssu server).
    answer_addr: bool,
}

/// Builds the connector; it needs the method (user) and the password.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let method = opts.username.filter(|m| !m.is_empty()).ok_or_else(|| {
        Error::config(
            "ssu connector needs a method and a password (-F ssu://aes-256-gcm:pass@host:port)",
        )
    })?;
    let key = md.get_string(&["key"])?;
    let mut cipher = Cipher::new(&method, &opts.password.unwrap_or_default(), key.as_deref())?;
    if md.get_bool(&["sip022"])?.unwrap_or(false) {
        cipher = cipher.with_standard_udp();
    }
    let answer_addr = md.get_bool(&["answerAddr"])?.unwrap_or(true);
    Ok(BoxConnector::new(SsuConnector { cipher, answer_addr }))
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
        target: Option<Address>,
    ) -> Result<BoxPacketConn> {
        if !conn.is_datagram() {
            let first = target.unwrap_or(Address::Ip(SocketAddr::from(([0, 0, 0, 0], 0))));
            let mut header = Vec::with_capacity(32);
            gost_proto::addr::encode_addr(&first, &mut header)?;
            let stream = SsConn::client(conn, self.cipher.clone(), &header)?;
            return Ok(Box::new(FramedPacketConn::new(Box::new(stream), Framing::UdpTun)));
        }
        Ok(Box::new(SsuPackets {
            conn,
            client: if self.answer_addr {
                UdpClient::new(self.cipher.clone())?
            } else {
                UdpClient::new(self.cipher.clone())?.without_answer_addr()
            },
            out: Vec::with_capacity(1024),
            inbuf: vec![0u8; MAX_DATAGRAM],
        }))
    }
}

/// Datagrams sealed over a datagram connection to the ssu server.
struct SsuPackets {
    conn: BoxConn,
    client: UdpClient,
    /// The sealed datagram being sent.
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
            match this.client.open(&mut this.inbuf[..n]) {
                Ok((from, payload)) => {
                    let data = &this.inbuf[payload];
                    let len = data.len().min(buf.len());
                    buf[..len].copy_from_slice(&data[..len]);
                    return Poll::Ready(Ok((len, from)));
                }
                // Not from the server with our key (or damaged, or repeated): dropped, as UDP is.
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
        // Sealed again on every poll (a 2022 packet id skipped this way is harmless): a send
        // dropped while pending must not send old bytes on the next call.
        this.out.clear();
        this.client
            .seal(target, buf, &mut this.out)
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
    use gost_core::io::{read, recv_from, send_to, write_all};
    use gost_x_ss::{SaltFilter, UdpServer};

    fn connector(method: &str, password: &str) -> BoxConnector {
        let mut opts = ConnectorOptions::default();
        opts.username = Some(method.into());
        opts.password = Some(password.into());
        new(opts, &Metadata::new()).unwrap()
    }

    #[tokio::test]
    async fn datagrams_are_sealed_with_their_target_and_answers_opened() {
        for (method, password) in [
            ("chacha20-ietf-poly1305", "pw"),
            ("2022-blake3-aes-128-gcm", "MTIzNDU2Nzg5MDEyMzQ1Ng"),
        ] {
            let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let dialer = gost_x_dialer_udp(server.local_addr().unwrap()).await;
            let c = connector(method, password);
            let mut pc = c.connect_packet(dialer, None).await.unwrap();
            let target = Address::Domain("dns.test".into(), 53);
            send_to(&mut pc, b"query", &target).await.unwrap();
            let ss = UdpServer::new(Cipher::new(method, password, None).unwrap());
            let mut b = vec![0u8; 2048];
            let (n, from) = server.recv_from(&mut b).await.unwrap();
            let (to, payload, reply) = ss.open(&mut b[..n]).unwrap();
            assert_eq!((to, &b[payload]), (target.clone(), &b"query"[..]), "{method}");
            // Garbage first, then the answer.
            server.send_to(b"junk", from).await.unwrap();
            let mut answer = Vec::new();
            ss.seal(reply, &target, b"answer", &mut answer).unwrap();
            server.send_to(&answer, from).await.unwrap();
            let mut got = [0u8; 64];
            let (n, src) = recv_from(&mut pc, &mut got).await.unwrap();
            assert_eq!((&got[..n], src), (&b"answer"[..], target), "{method}");
        }
    }

    #[tokio::test]
    async fn over_a_stream_it_is_a_shadowsocks_stream_of_udp_tun_frames() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (accepted, _) = l.accept().await.unwrap();
        let c = connector("aes-256-gcm", "pw");
        let mut pc =
            c.connect_packet(Box::new(gost_x_rt::TokioConn::tcp(tcp)), None).await.unwrap();
        let target = Address::Ip("127.0.0.1:9".parse().unwrap());
        send_to(&mut pc, b"ping", &target).await.unwrap();
        let cipher = Cipher::new("aes-256-gcm", "pw", None).unwrap();
        let mut server = SsConn::server(
            Box::new(gost_x_rt::TokioConn::tcp(accepted)),
            cipher,
            SaltFilter::default(),
        )
        .unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 256];
        // The first address, then one frame: LEN(4) FF 01 127.0.0.1 9 "ping".
        let want = b"\x01\0\0\0\0\0\0\0\x04\xff\x01\x7f\0\0\x01\0\x09ping";
        while got.len() < want.len() {
            let n = read(&mut server, &mut b).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&b[..n]);
        }
        assert_eq!(&got[..], &want[..]);
        write_all(&mut server, b"\0\x04\xff\x01\x7f\0\0\x01\0\x09pong").await.unwrap();
        gost_core::io::flush(&mut server).await.unwrap();
        let (n, from) = recv_from(&mut pc, &mut b).await.unwrap();
        assert_eq!((&b[..n], from), (&b"pong"[..], target));
    }

    /// A connected UDP socket to `server`, as the `udp` dialer gives.
    async fn gost_x_dialer_udp(server: SocketAddr) -> BoxConn {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(server).await.unwrap();
        Box::new(gost_x_rt::UdpConn::new(s).unwrap())
    }
}
