//! A UDP socket as a gost-core packet connection.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use gost_core::{Address, PacketConn};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

/// A bound UDP socket. Peers are IP addresses; sending to a domain name is an error (resolve it
/// first: the socket does no lookups on the data path).
#[derive(Debug)]
pub struct UdpPacketConn {
    socket: UdpSocket,
}

impl UdpPacketConn {
    /// Wraps a bound socket.
    pub fn new(socket: UdpSocket) -> Self {
        UdpPacketConn { socket }
    }

    /// The socket.
    pub fn get_ref(&self) -> &UdpSocket {
        &self.socket
    }
}

impl PacketConn for UdpPacketConn {
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        let mut rb = ReadBuf::new(buf);
        let from = ready!(self.socket.poll_recv_from(cx, &mut rb))?;
        Poll::Ready(Ok((rb.filled().len(), Address::Ip(from))))
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>> {
        match target {
            Address::Ip(sa) => self.socket.poll_send_to(cx, buf, *sa),
            Address::Domain(..) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot send a datagram to unresolved {target}"),
            ))),
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test]
    async fn datagrams_round_trip() {
        let a = UdpPacketConn::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b = UdpPacketConn::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let b_addr = Address::Ip(b.local_addr().unwrap());
        let n = poll_fn(|cx| a.poll_send_to(cx, b"datagram", &b_addr)).await.unwrap();
        assert_eq!(n, 8);
        let mut buf = [0u8; 64];
        let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await.unwrap();
        assert_eq!(&buf[..n], b"datagram");
        assert_eq!(from, Address::Ip(a.local_addr().unwrap()));
        let domain = Address::Domain("example.com".into(), 53);
        assert!(poll_fn(|cx| a.poll_send_to(cx, b"x", &domain)).await.is_err());
    }
}
