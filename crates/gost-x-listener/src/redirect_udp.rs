//! `redu`: the listener of a transparent UDP proxy behind a TPROXY rule (Linux, IPv4). Each
//! (client, original destination) pair is a session: a datagram connection whose local address
//! is the destination the client meant (the `redu` handler sends there) and whose writes are
//! sent to the client from that destination. See docs/transparent-proxy.md.
//!
//! Metadata: `backlog` (128: sessions waiting for the service), `readQueueSize` (128 datagrams
//! waiting per session; more are dropped).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use gost_core::{
    BoxConn, BoxListener, Error, ErrorKind, Listener, ListenerOptions, Metadata, Result,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// The registry name.
pub const NAME: &str = "redu";

/// Sessions kept at once; past it the oldest closed ones are forgotten first, then new
/// clients wait for room.
const MAX_SESSIONS: usize = 16384;

struct ReduListener {
    sessions: mpsc::Receiver<BoxConn>,
    local: Option<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ReduListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `opts.addr` (UDP, transparent). Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let addr = if opts.addr.starts_with(':') { format!("0.0.0.0{}", opts.addr) } else { opts.addr };
    let sa = match gost_core::Address::parse(&addr)? {
        gost_core::Address::Ip(sa) => sa,
        other => {
            return Err(Error::config(format!("redu listener needs an IP address, got {other}")));
        }
    };
    let socket = gost_x_rt::tproxy::bind_udp_tproxy(sa)
        .map_err(|e| Error::with_source(ErrorKind::Bind, format!("redu: listen on {addr}"), e))?;
    let local = socket.local_addr().ok();
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(128).max(1);
    let queue = md.get_usize(&["readQueueSize"])?.unwrap_or(128).max(1);
    let (tx, rx) = mpsc::channel(backlog);
    let task = tokio::spawn(demux(socket, tx, queue));
    Ok(BoxListener::new(ReduListener { sessions: rx, local, task }))
}

/// Sorts datagrams into sessions by (client, original destination).
async fn demux(socket: UdpSocket, out: mpsc::Sender<BoxConn>, queue: usize) {
    let mut sessions: HashMap<(SocketAddr, SocketAddr), mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, from, dst) =
            match gost_x_rt::tproxy::recv_with_original_dst(&socket, &mut buf).await {
                Ok((n, from, Some(dst))) => (n, from, dst),
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!("redu: receive: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
        let key = (from, dst);
        if let Some(tx) = sessions.get(&key) {
            match tx.try_send(buf[..n].to_vec()) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Full(_)) => continue, // the session is behind: dropped
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    sessions.remove(&key);
                }
            }
        }
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, tx| !tx.is_closed());
            if sessions.len() >= MAX_SESSIONS {
                tracing::debug!(%from, "redu: too many sessions; a datagram dropped");
                continue;
            }
        }
        let reply = match gost_x_rt::tproxy::reply_socket(dst, from) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%from, %dst, "redu: a socket to answer from {dst}: {e}");
                continue;
            }
        };
        let (tx, rx) = mpsc::channel(queue);
        let _ = tx.try_send(buf[..n].to_vec());
        let conn = ReduConn { datagrams: rx, reply, dst, client: from };
        if out.try_send(Box::new(conn)).is_err() {
            tracing::debug!(%from, "redu: the accept queue is full; a session dropped");
            continue;
        }
        sessions.insert(key, tx);
    }
}

impl Listener for ReduListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        self.sessions.recv().await.ok_or_else(|| Error::new(ErrorKind::Closed, "redu: closed"))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}

/// A client's datagrams to one destination; writes go back to it from that destination.
struct ReduConn {
    datagrams: mpsc::Receiver<Vec<u8>>,
    reply: UdpSocket,
    dst: SocketAddr,
    client: SocketAddr,
}

impl Read for ReduConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.datagrams.poll_recv(cx) {
            Poll::Ready(Some(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                return Poll::Ready(Ok(n));
            }
            Poll::Ready(None) => return Poll::Ready(Ok(0)),
            Poll::Pending => {}
        }
        // Once this connected socket exists, TPROXY may hand it the client's next datagrams
        // (it matches their addresses better than the listening socket).
        let mut read = tokio::io::ReadBuf::new(buf);
        ready!(self.reply.poll_recv(cx, &mut read))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl Write for ReduConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.reply.poll_send(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for ReduConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.dst)
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        Some(self.client)
    }
    fn is_datagram(&self) -> bool {
        true
    }
}
