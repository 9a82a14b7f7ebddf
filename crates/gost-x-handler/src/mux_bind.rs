//! The server side of gost's multiplexed remote bind (SOCKS5 MBIND `0xF2`, relay BIND): the port
//! is bound here, the control connection becomes an smux session in which *this* side opens a
//! stream per accepted connection (gost: server = smux client), writes a short header naming the
//! peer on it, and pipes the bytes.

use gost_core::io::write_all;
use gost_core::{BoxConn, BoxListener, Listener, Result};

/// Serves `listener` over the session on `conn` until either ends. `header` writes the per-stream
/// header for a peer (empty when the protocol has none).
pub(crate) async fn serve(
    conn: BoxConn,
    mut listener: BoxListener,
    mux: gost_smux::Config,
    header: impl Fn(Option<std::net::SocketAddr>) -> Result<Vec<u8>>,
) -> Result<()> {
    let (session, local, peer) = gost_x_rt::mux::client(conn, mux)?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let mut inbound = match accepted {
                    Ok(c) => c,
                    Err(e) if e.kind() == gost_core::ErrorKind::Closed => return Err(e),
                    Err(e) => {
                        tracing::debug!("bind: accept: {e}");
                        continue;
                    }
                };
                let mut stream = match gost_x_rt::mux::open(&session, local, peer).await {
                    Ok(s) => s,
                    // The client went away: the bind is over.
                    Err(_) => return Ok(()),
                };
                let head = header(inbound.peer_addr())?;
                tokio::spawn(async move {
                    if !head.is_empty() && write_all(&mut stream, &head).await.is_err() {
                        return;
                    }
                    let _ = gost_x_rt::relay(&mut stream, &mut inbound).await;
                });
            }
            () = session.closed() => return Ok(()),
        }
    }
}

/// Binds a UDP port on this host for a remote UDP bind.
pub(crate) async fn bind_udp(addr: &gost_core::Address) -> Result<gost_core::BoxPacketConn> {
    let sa = addr.as_socket_addr().ok_or_else(|| {
        gost_core::Error::config(format!("UDP bind needs an IP address, got {addr}"))
    })?;
    let socket = tokio::net::UdpSocket::bind(sa).await.map_err(|e| {
        gost_core::Error::with_source(gost_core::ErrorKind::Bind, format!("bind udp {sa}"), e)
    })?;
    Ok(Box::new(gost_x_rt::UdpPacketConn::new(socket)))
}
