//! A UDP socket as a gost-core packet connection.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::{Address, PacketConn};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

type Lookup = Pin<Box<dyn Future<Output = io::Result<Option<SocketAddr>>> + Send>>;

/// A bound UDP socket. Sending to a domain name resolves it with the system resolver (the last
/// answer is cached, so a stream of datagrams to one name costs one lookup). IPv4 targets are
/// mapped when the socket is a dual-stack IPv6 one, and IPv4-mapped sources are reported as IPv4.
///
/// A connected socket ([`UdpPacketConn::connect`]) talks to one peer only: the kernel drops
/// datagrams from anyone else (a third party cannot answer in the target's name), and every
/// datagram goes to that peer whatever address `send_to` names.
pub struct UdpPacketConn {
    socket: UdpSocket,
    v6: bool,
    peer: Option<SocketAddr>,
    cached: Option<(String, u16, SocketAddr)>,
    lookup: Option<(String, u16, Lookup)>,
}

impl std::fmt::Debug for UdpPacketConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpPacketConn").field("socket", &self.socket).finish()
    }
}

impl UdpPacketConn {
    /// Wraps a bound socket.
    pub fn new(socket: UdpSocket) -> Self {
        let v6 = socket.local_addr().is_ok_and(|a| a.is_ipv6());
        UdpPacketConn { socket, v6, peer: None, cached: None, lookup: None }
    }

    /// A socket connected to `peer` (as Go's `net.Dial("udp", ...)`), bound to every interface
    /// of `peer`'s family on a free port.
    pub async fn connect(peer: SocketAddr) -> io::Result<Self> {
        let any: IpAddr = match peer {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await?;
        socket.connect(peer).await?;
        let mut conn = UdpPacketConn::new(socket);
        conn.peer = Some(peer);
        Ok(conn)
    }

    /// A socket on every interface and a free port: dual-stack `[::]:0`, or `0.0.0.0:0` on a
    /// host without IPv6.
    pub async fn bind_any() -> io::Result<Self> {
        let socket =
            match UdpSocket::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).await {
                Ok(s) => s,
                Err(_) => {
                    UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)).await?
                }
            };
        Ok(UdpPacketConn::new(socket))
    }

    /// The socket.
    pub fn get_ref(&self) -> &UdpSocket {
        &self.socket
    }

    fn outgoing(&self, sa: SocketAddr) -> SocketAddr {
        match sa.ip() {
            IpAddr::V4(v4) if self.v6 => {
                SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), sa.port())
            }
            _ => sa,
        }
    }

    /// The socket address of `host:port`, resolving (and caching) as needed.
    fn poll_resolve(
        &mut self,
        cx: &mut Context<'_>,
        host: &str,
        port: u16,
    ) -> Poll<io::Result<SocketAddr>> {
        if let Some((h, p, sa)) = &self.cached
            && h == host
            && *p == port
        {
            return Poll::Ready(Ok(*sa));
        }
        let same = matches!(&self.lookup, Some((h, p, _)) if h == host && *p == port);
        if !same {
            let name = host.to_owned();
            let fut: Lookup = Box::pin(async move {
                Ok(tokio::net::lookup_host((name.as_str(), port)).await?.next())
            });
            self.lookup = Some((host.to_owned(), port, fut));
        }
        let Some((_, _, fut)) = self.lookup.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::Other.into()));
        };
        let found = ready!(fut.as_mut().poll(cx));
        self.lookup = None;
        match found? {
            Some(sa) => {
                self.cached = Some((host.to_owned(), port, sa));
                Poll::Ready(Ok(sa))
            }
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no address for {host}"),
            ))),
        }
    }
}

impl PacketConn for UdpPacketConn {
    fn poll_recv_from(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        let mut rb = ReadBuf::new(buf);
        let from = ready!(self.socket.poll_recv_from(cx, &mut rb))?;
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        Poll::Ready(Ok((rb.filled().len(), Address::Ip(from))))
    }

    fn poll_send_to(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.peer.is_some() {
            return this.socket.poll_send(cx, buf);
        }
        let sa = match target {
            Address::Ip(sa) => *sa,
            Address::Domain(host, port) => match gost_core::addr::numeric_ip(host) {
                Some(ip) => SocketAddr::new(ip, *port),
                None => {
                    if crate::net::refuse_odd_numeric(host).is_err() {
                        let why = format!("{host:?} is not a valid address");
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidInput, why)));
                    }
                    ready!(this.poll_resolve(cx, host, *port))?
                }
            },
        };
        let to = this.outgoing(sa);
        this.socket.poll_send_to(cx, buf, to)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{recv_from, send_to};

    #[tokio::test]
    async fn datagrams_round_trip_by_ip_and_by_name() {
        let mut a = UdpPacketConn::bind_any().await.unwrap();
        // Dual-stack, so "localhost" reaches it whether it resolves to 127.0.0.1 or ::1.
        let mut b = UdpPacketConn::bind_any().await.unwrap();
        let b_port = b.local_addr().unwrap().port();
        let b_addr = Address::Ip(SocketAddr::from(([127, 0, 0, 1], b_port)));
        assert_eq!(send_to(&mut a, b"by ip", &b_addr).await.unwrap(), 5);
        let mut buf = [0u8; 64];
        let (n, from) = recv_from(&mut b, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"by ip");
        // The dual-stack sender is seen as plain IPv4 on the loopback.
        let Address::Ip(from) = from else { panic!("{from:?}") };
        assert!(from.is_ipv4(), "{from}");
        // By name, twice (the second from the cache); and the answer comes back as IPv4.
        let by_name = Address::Domain("localhost".into(), b_port);
        for _ in 0..2 {
            send_to(&mut a, b"by name", &by_name).await.unwrap();
            let (n, _) = recv_from(&mut b, &mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"by name");
        }
        send_to(&mut b, b"back", &Address::Ip(from)).await.unwrap();
        let (n, src) = recv_from(&mut a, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
        assert_eq!(src, b_addr);
        let nowhere = Address::Domain("no-such-host.invalid".into(), 53);
        assert!(send_to(&mut a, b"x", &nowhere).await.is_err());
    }

    #[tokio::test]
    async fn a_connected_socket_hears_only_its_peer() {
        let mut target = UdpPacketConn::bind_any().await.unwrap();
        let target_addr = SocketAddr::from(([127, 0, 0, 1], target.local_addr().unwrap().port()));
        let mut conn = UdpPacketConn::connect(target_addr).await.unwrap();
        let conn_addr = SocketAddr::from(([127, 0, 0, 1], conn.local_addr().unwrap().port()));
        send_to(&mut conn, b"query", &Address::Ip(target_addr)).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = recv_from(&mut target, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"query");
        // A third party answers first, then the target: only the target's answer comes in.
        let mut spoofer = UdpPacketConn::bind_any().await.unwrap();
        send_to(&mut spoofer, b"forged", &Address::Ip(conn_addr)).await.unwrap();
        send_to(&mut target, b"answer", &from).await.unwrap();
        let (n, src) = recv_from(&mut conn, &mut buf).await.unwrap();
        assert_eq!((&buf[..n], src), (&b"answer"[..], Address::Ip(target_addr)));
    }
}
