//! `udp`: reaches a node over UDP (gost's dialer for `ssu` nodes): a socket connected to the
//! node, as a connection whose every read is one datagram from the node and every write one
//! datagram to it. Only the node can answer (the kernel drops other senders).
//!
//! Metadata: none.

use std::net::SocketAddr;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, Error, ErrorKind, Metadata,
    Network, Result,
};
use tokio::net::UdpSocket;

/// The registry name.
pub const NAME: &str = "udp";

/// Bound on resolving the node's name when the caller sets none.
const DEFAULT_RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

struct UdpDialer;

/// Builds the dialer.
pub fn new(_opts: DialerOptions, _md: &Metadata) -> Result<BoxDialer> {
    Ok(BoxDialer::new(UdpDialer))
}

impl Dialer for UdpDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        let limit = opts.timeout.unwrap_or(DEFAULT_RESOLVE_TIMEOUT);
        let what = format!("resolve {addr}");
        let peers =
            gost_x_rt::timeout(limit, &what, gost_x_rt::net::resolve(&addr, Network::Udp)).await?;
        let Some(&peer) = peers.first() else {
            return Err(Error::new(ErrorKind::Dial, format!("no address for {addr}")));
        };
        let any: SocketAddr =
            if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = UdpSocket::bind(any)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Dial, "open a UDP socket", e))?;
        socket
            .connect(peer)
            .await
            .map_err(|e| Error::with_source(ErrorKind::Dial, format!("connect to {peer}"), e))?;
        let conn = gost_x_rt::UdpConn::new(socket)
            .map_err(|e| Error::with_source(ErrorKind::Dial, format!("connect to {peer}"), e))?;
        Ok(Box::new(conn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read, write_all};

    #[tokio::test]
    async fn datagrams_to_the_node_and_back() {
        let node = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let d = new(DialerOptions::default(), &Metadata::new()).unwrap();
        let mut c =
            d.dial(Address::Ip(node.local_addr().unwrap()), DialOptions::default()).await.unwrap();
        write_all(&mut c, b"one").await.unwrap();
        let mut b = [0u8; 16];
        let (n, from) = node.recv_from(&mut b).await.unwrap();
        assert_eq!(&b[..n], b"one");
        node.send_to(b"two", from).await.unwrap();
        let n = read(&mut c, &mut b).await.unwrap();
        assert_eq!(&b[..n], b"two");
        assert_eq!(c.peer_addr(), Some(node.local_addr().unwrap()));
    }
}
