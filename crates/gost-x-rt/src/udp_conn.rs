//! A connected UDP socket as a connection of datagrams.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// A connected UDP socket as a connection: every read is one datagram from the peer (the kernel
/// drops other senders), every write one datagram to it. Flush and shutdown have nothing to do.
#[derive(Debug)]
pub struct UdpConn {
    socket: UdpSocket,
    local: Option<SocketAddr>,
    peer: SocketAddr,
}

impl UdpConn {
    /// Wraps a socket already connected to its peer; an unconnected one is an error.
    pub fn new(socket: UdpSocket) -> io::Result<Self> {
        let peer = socket.peer_addr()?;
        Ok(UdpConn { local: socket.local_addr().ok(), peer, socket })
    }
}

impl Read for UdpConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        ready!(self.socket.poll_recv(cx, &mut rb))?;
        Poll::Ready(Ok(rb.filled().len()))
    }
}

impl Write for UdpConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.socket.poll_send(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for UdpConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        Some(self.peer)
    }
    fn is_datagram(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read, write_all};

    #[tokio::test]
    async fn one_datagram_per_read_and_write_and_only_from_the_peer() {
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let unconnected = UdpConn::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        assert!(unconnected.is_err(), "an unconnected socket has no peer");
        s.connect(peer.local_addr().unwrap()).await.unwrap();
        let me = s.local_addr().unwrap();
        let mut c = UdpConn::new(s).unwrap();
        assert_eq!(c.peer_addr(), Some(peer.local_addr().unwrap()));
        assert_eq!(c.local_addr(), Some(me));
        write_all(&mut c, b"one").await.unwrap();
        let mut b = [0u8; 16];
        let (n, from) = peer.recv_from(&mut b).await.unwrap();
        assert_eq!((&b[..n], from), (&b"one"[..], me));
        stranger.send_to(b"spoof", me).await.unwrap();
        peer.send_to(b"two", me).await.unwrap();
        peer.send_to(b"three", me).await.unwrap();
        let n = read(&mut c, &mut b).await.unwrap();
        assert_eq!(&b[..n], b"two", "the stranger's datagram is dropped");
        let n = read(&mut c, &mut b).await.unwrap();
        assert_eq!(&b[..n], b"three", "datagram boundaries are kept");
    }
}
