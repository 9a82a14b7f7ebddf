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
    let mut backoff = gost_x_rt::net::AcceptBackoff::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let mut inbound = match accepted {
                    Ok(c) => {
                        backoff.succeeded();
                        c
                    }
                    Err(e) if e.kind() == gost_core::ErrorKind::Closed => return Err(e),
                    Err(e) => {
                        let wait = backoff.failed();
                        tracing::warn!("bind: accept: {e}; retrying in {wait:?}");
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = session.closed() => return Ok(()),
                        }
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
                    if !head.is_empty() && let Err(e) = write_all(&mut stream, &head).await {
                        tracing::debug!("bind: stream header: {e}");
                        return;
                    }
                    match gost_x_rt::relay(&mut stream, &mut inbound).await {
                        Ok(st) => tracing::debug!(?st, "bind: relayed"),
                        Err(e) => tracing::debug!("bind: relay: {e}"),
                    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{Error, ErrorKind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A listener whose every accept fails the way an exhausted descriptor table does.
    struct OutOfFiles(Arc<AtomicUsize>);
    impl Listener for OutOfFiles {
        async fn accept(&mut self) -> Result<BoxConn> {
            self.0.fetch_add(1, Ordering::Relaxed);
            // Yield, so that a loop retrying at once spins without starving the test's timer.
            tokio::task::yield_now().await;
            Err(Error::new(ErrorKind::Io, "accept: too many open files"))
        }
        fn local_addr(&self) -> Option<std::net::SocketAddr> {
            None
        }
    }

    #[tokio::test]
    async fn a_persistent_accept_error_backs_off_instead_of_spinning() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _peer = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let listener = BoxListener::new(OutOfFiles(calls.clone()));
        let conn: BoxConn = Box::new(gost_x_rt::TokioConn::tcp(s));
        let task =
            tokio::spawn(serve(conn, listener, gost_smux::Config::default(), |_| Ok(Vec::new())));
        tokio::time::sleep(Duration::from_millis(500)).await;
        task.abort();
        let n = calls.load(Ordering::Relaxed);
        assert!((1..=2).contains(&n), "{n} accepts in half a second");
    }
}
