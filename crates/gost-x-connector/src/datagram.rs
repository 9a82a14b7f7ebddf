//! Datagrams framed inside a proxy stream, as a [`PacketConn`]: SOCKS5's UDP-over-TCP and relay's
//! UDP-tun frames (`LEN | FF | ADDR | payload`), and relay's fixed-target `LEN | payload` frames.
//! One state machine, two framings; buffers are per connection, nothing is allocated per datagram.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{BoxConn, PacketConn, Read, Write};
use gost_core::{Address, Error};
use gost_proto::udp_tun::FrameHeader;

/// How datagrams are framed on the stream.
pub(crate) enum Framing {
    /// `LEN(u16) FF ATYP ADDR PORT payload`: every frame names its peer.
    UdpTun,
    /// `LEN(u16) payload` to and from one fixed peer.
    LengthPrefixed(Address),
}

impl Framing {
    /// `(header length, payload length, peer)` once a whole frame is buffered.
    fn decode(&self, buf: &[u8]) -> io::Result<Option<(usize, usize, Address)>> {
        match self {
            Framing::UdpTun => {
                let Some((header, used)) = FrameHeader::decode(buf).map_err(io::Error::from)?
                else {
                    return Ok(None);
                };
                let len = usize::from(header.len);
                Ok((buf.len() >= used + len).then_some((used, len, header.addr)))
            }
            Framing::LengthPrefixed(peer) => {
                let Some(len) = gost_proto::relay::decode_datagram_len(buf) else {
                    return Ok(None);
                };
                Ok((buf.len() >= 2 + len).then(|| (2, len, peer.clone())))
            }
        }
    }

    fn encode_header(&self, len: usize, target: &Address, out: &mut Vec<u8>) -> io::Result<()> {
        let len = u16::try_from(len).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "datagram larger than 65535 bytes")
        })?;
        match self {
            Framing::UdpTun => {
                FrameHeader { len, addr: target.clone() }.encode(out).map_err(io::Error::from)
            }
            Framing::LengthPrefixed(_) => {
                out.extend_from_slice(&len.to_be_bytes());
                Ok(())
            }
        }
    }
}

/// Datagrams over a stream connection.
pub(crate) struct FramedPacketConn {
    conn: BoxConn,
    framing: Framing,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Length of the datagram `wbuf` carries (what `poll_send_to` reports once it is written).
    wlen: usize,
}

const READ_CHUNK: usize = 8 * 1024;

impl FramedPacketConn {
    pub(crate) fn new(conn: BoxConn, framing: Framing) -> Self {
        FramedPacketConn { conn, framing, rbuf: Vec::new(), wbuf: Vec::new(), wpos: 0, wlen: 0 }
    }
}

impl PacketConn for FramedPacketConn {
    fn poll_recv_from(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        let this = self.get_mut();
        loop {
            if let Some((header, len, peer)) = this.framing.decode(&this.rbuf)? {
                let n = len.min(buf.len());
                buf[..n].copy_from_slice(&this.rbuf[header..header + n]);
                this.rbuf.drain(..header + len);
                return Poll::Ready(Ok((n, peer)));
            }
            if this.rbuf.len() > 262 + 65535 {
                return Poll::Ready(Err(Error::protocol("datagram frame too large").into()));
            }
            let old = this.rbuf.len();
            this.rbuf.resize(old + READ_CHUNK, 0);
            match Pin::new(&mut this.conn).poll_read(cx, &mut this.rbuf[old..]) {
                Poll::Ready(Ok(0)) => {
                    this.rbuf.truncate(old);
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                Poll::Ready(Ok(n)) => this.rbuf.truncate(old + n),
                Poll::Ready(Err(e)) => {
                    this.rbuf.truncate(old);
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {
                    this.rbuf.truncate(old);
                    return Poll::Pending;
                }
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
        if this.wbuf.is_empty() {
            this.framing.encode_header(buf.len(), target, &mut this.wbuf)?;
            this.wbuf.extend_from_slice(buf);
            this.wpos = 0;
            this.wlen = buf.len();
        }
        while this.wpos < this.wbuf.len() {
            let n = ready!(Pin::new(&mut this.conn).poll_write(cx, &this.wbuf[this.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.wpos += n;
        }
        ready!(Pin::new(&mut this.conn).poll_flush(cx))?;
        this.wbuf.clear();
        Poll::Ready(Ok(this.wlen))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.conn.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{recv_from, send_to};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (BoxConn, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (Box::new(gost_x_rt::TokioConn::tcp(c)), s)
    }

    #[tokio::test]
    async fn udp_tun_frames_both_ways() {
        let (conn, mut peer) = pair().await;
        let mut p = FramedPacketConn::new(conn, Framing::UdpTun);
        let to = Address::parse("8.8.8.8:53").unwrap();
        send_to(&mut p, b"abcd", &to).await.unwrap();
        let mut frame = [0u8; 14];
        peer.read_exact(&mut frame).await.unwrap();
        assert_eq!(frame, [0, 4, 0xFF, 1, 8, 8, 8, 8, 0, 53, b'a', b'b', b'c', b'd']);
        // Two frames in one write, the second split over two writes.
        let from = Address::Domain("dns.example".into(), 53);
        let mut out = Vec::new();
        for payload in [&b"one"[..], &b"second"[..]] {
            FrameHeader { len: payload.len() as u16, addr: from.clone() }.encode(&mut out).unwrap();
            out.extend_from_slice(payload);
        }
        let split = out.len() - 3;
        peer.write_all(&out[..split]).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, src) = recv_from(&mut p, &mut buf).await.unwrap();
        assert_eq!((&buf[..n], &src), (&b"one"[..], &from));
        peer.write_all(&out[split..]).await.unwrap();
        let (n, _) = recv_from(&mut p, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
        drop(peer);
        assert!(recv_from(&mut p, &mut buf).await.is_err());
    }

    #[tokio::test]
    async fn length_prefixed_frames_have_a_fixed_peer() {
        let (conn, mut peer) = pair().await;
        let target = Address::parse("10.0.0.1:9").unwrap();
        let mut p = FramedPacketConn::new(conn, Framing::LengthPrefixed(target.clone()));
        send_to(&mut p, b"hi", &target).await.unwrap();
        let mut frame = [0u8; 4];
        peer.read_exact(&mut frame).await.unwrap();
        assert_eq!(frame, [0, 2, b'h', b'i']);
        peer.write_all(&[0, 3, b'y', b'e', b's']).await.unwrap();
        let mut buf = [0u8; 2]; // too small: truncated, as with UDP
        let (n, src) = recv_from(&mut p, &mut buf).await.unwrap();
        assert_eq!((n, &buf[..], src), (2, &b"ye"[..], target));
    }
}
