//! The client side of a remote UDP bind (gost's rudp): the server bound a UDP port and the
//! stream carries its datagrams in UDP-tun frames naming each peer. This listener hands out one
//! connection per peer (reads are its datagrams, writes go back to it), as a local `udp`
//! listener does; a session ends after `ttl` without traffic.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gost_core::io::{Conn, Read, Write, recv_from, send_to};
use gost_core::{Address, BoxConn, BoxListener, BoxPacketConn, Error, ErrorKind, Listener, Result};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// gost's rudp defaults: 5 s session ttl, 1024 datagrams queued per session.
const TTL: Duration = Duration::from_secs(5);
const QUEUE: usize = 1024;
const MAX_DATAGRAM: usize = 65535;

/// The listener of peers over `packets` (the framed stream after a successful UDP bind).
pub(crate) fn listener(packets: BoxPacketConn, bound: Option<SocketAddr>) -> BoxListener {
    let (accept_tx, accept_rx) = mpsc::channel(128);
    let (out_tx, out_rx) = mpsc::channel::<(Vec<u8>, Address)>(QUEUE);
    let pump = tokio::spawn(pump(packets, accept_tx, out_tx, out_rx));
    BoxListener::new(UdpBindListener { sessions: accept_rx, bound, pump })
}

struct UdpBindListener {
    sessions: mpsc::Receiver<BoxConn>,
    bound: Option<SocketAddr>,
    pump: JoinHandle<()>,
}

impl Drop for UdpBindListener {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl Listener for UdpBindListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        self.sessions
            .recv()
            .await
            .ok_or_else(|| Error::new(ErrorKind::Closed, "remote UDP bind ended"))
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.bound
    }
}

/// Moves datagrams between the stream and the sessions until the stream ends.
async fn pump(
    mut packets: BoxPacketConn,
    accept: mpsc::Sender<BoxConn>,
    out_tx: mpsc::Sender<(Vec<u8>, Address)>,
    mut out_rx: mpsc::Receiver<(Vec<u8>, Address)>,
) {
    let mut sessions: HashMap<Address, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        tokio::select! {
            got = recv_from(&mut packets, &mut buf) => {
                let Ok((n, peer)) = got else { return };
                let datagram = buf[..n].to_vec();
                if let Some(tx) = sessions.get(&peer)
                    && !tx.is_closed()
                {
                    let _ = tx.try_send(datagram);
                    continue;
                }
                sessions.retain(|_, tx| !tx.is_closed());
                let (tx, rx) = mpsc::channel(QUEUE);
                let _ = tx.try_send(datagram);
                let conn = PeerSession {
                    peer: peer.clone(),
                    rx,
                    out: out_tx.clone(),
                    idle: Box::pin(tokio::time::sleep(TTL)),
                };
                if accept.try_send(Box::new(conn)).is_ok() {
                    sessions.insert(peer, tx);
                }
            }
            Some((data, peer)) = out_rx.recv() => {
                if send_to(&mut packets, &data, &peer).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One remote peer's datagrams as a connection.
struct PeerSession {
    peer: Address,
    rx: mpsc::Receiver<Vec<u8>>,
    out: mpsc::Sender<(Vec<u8>, Address)>,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl PeerSession {
    fn touch(&mut self) {
        let next = tokio::time::Instant::now() + TTL;
        self.idle.as_mut().reset(next);
    }
}

impl Read for PeerSession {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(d)) => {
                this.touch();
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(None) => Poll::Ready(Ok(0)),
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                Poll::Ready(Ok(0))
            }
        }
    }
}

impl Write for PeerSession {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.touch();
        // A full queue drops the datagram, as a busy UDP socket would.
        let _ = this.out.try_send((buf.to_vec(), this.peer.clone()));
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for PeerSession {
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.as_socket_addr()
    }
    fn is_datagram(&self) -> bool {
        true
    }
}
