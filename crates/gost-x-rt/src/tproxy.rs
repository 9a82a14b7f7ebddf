//! UDP for a transparent proxy behind a TPROXY rule (Linux, IPv4): datagrams are received with
//! the destination their client meant (`IP_RECVORIGDSTADDR`), and answered from that address
//! (a transparent socket bound to it and connected to the client).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt};
use tokio::io::Interest;
use tokio::net::UdpSocket;

fn transparent_udp(bind: SocketAddr) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    if !bind.is_ipv4() {
        return Err(io::Error::new(io::ErrorKind::Unsupported, "UDP TPROXY: IPv4 only"));
    }
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_ip_transparent_v4(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A UDP socket on `addr` for a TPROXY rule: transparent, and told each datagram's original
/// destination. Needs `CAP_NET_ADMIN`.
pub fn bind_udp_tproxy(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = transparent_udp(addr)?;
    setsockopt(&socket, sockopt::Ipv4OrigDstAddr, &true).map_err(io::Error::from)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// A socket that sends from `from` (an address of another host, transparently) to `to`.
pub fn reply_socket(from: SocketAddr, to: SocketAddr) -> io::Result<UdpSocket> {
    let socket = transparent_udp(from)?;
    socket.bind(&from.into())?;
    socket.connect(&to.into())?;
    UdpSocket::from_std(socket.into())
}

/// Receives a datagram: its length, its sender and the destination it was sent to (`None` if
/// the kernel did not say: the socket was not set up by [`bind_udp_tproxy`]).
pub async fn recv_with_original_dst(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> io::Result<(usize, SocketAddr, Option<SocketAddr>)> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || recv(socket, buf)) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

fn recv(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, Option<SocketAddr>)> {
    let mut control = nix::cmsg_space!(nix::libc::sockaddr_in);
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg =
        recvmsg::<SockaddrIn>(socket.as_raw_fd(), &mut iov, Some(&mut control), MsgFlags::empty())
            .map_err(io::Error::from)?;
    let from = msg
        .address
        .map(|a| SocketAddr::V4(SocketAddrV4::new(a.ip(), a.port())))
        .ok_or_else(|| io::Error::other("a datagram without a sender"))?;
    let mut original = None;
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::Ipv4OrigDstAddr(a) = c {
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            original = Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(a.sin_port))));
        }
    }
    Ok((msg.bytes, from, original))
}
