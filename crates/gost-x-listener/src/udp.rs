//! `udp`: a UDP port as connections: every client address gets a session whose reads are the
//! datagrams it sends and whose writes are datagrams back to it, as Go gost's UDP listener. A
//! session ends after `ttl` without traffic (or after its first reply with `stateless=true`).
//!
//! Metadata: `ttl` (5s), `readBufferSize` / `udp.readBufferSize` (4096; larger datagrams are
//! truncated), `readQueueSize` / `udp.readQueueSize` (128 datagrams per session; more are
//! dropped, as UDP would), `backlog` (128 new sessions waiting for the service), `stateless`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gost_core::io::{Conn, Read, Write};
use gost_core::{
    BoxConn, BoxListener, Error, ErrorKind, Listener, ListenerOptions, Metadata, Result, ResultExt,
};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The registry name.
pub const NAME: &str = "udp";

const DEFAULT_TTL: Duration = Duration::from_secs(5);

struct Config {
    ttl: Duration,
    read_buffer: usize,
    queue: usize,
    backlog: usize,
    stateless: bool,
}

/// Binds `opts.addr` (UDP). Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let config = Config {
        ttl: md.get_duration(&["ttl"])?.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_TTL),
        read_buffer: md
            .get_usize(&["readBufferSize", "udp.readBufferSize"])?
            .unwrap_or(4096)
            .clamp(512, 65535),
        queue: md.get_usize(&["readQueueSize", "udp.readQueueSize"])?.unwrap_or(128).max(1),
        backlog: md.get_usize(&["backlog"])?.unwrap_or(128).max(1),
        stateless: md.get_bool(&["stateless"])?.unwrap_or(false),
    };
    let addr = gost_core::Address::parse(&opts.addr)?;
    let sa = match addr {
        gost_core::Address::Ip(sa) => sa,
        gost_core::Address::Domain(..) => {
            return Err(Error::config(format!("udp listener needs an IP address, got {addr}")));
        }
    };
    let std_socket = std::net::UdpSocket::bind(sa)
        .with_context(ErrorKind::Bind, || format!("listen on udp {}", opts.addr))?;
    std_socket.set_nonblocking(true).context(ErrorKind::Bind, "udp socket")?;
    let socket = Arc::new(UdpSocket::from_std(std_socket).context(ErrorKind::Bind, "udp socket")?);
    let local = socket.local_addr().ok();
    let (tx, rx) = mpsc::channel(config.backlog);
    let reader = tokio::spawn(demux(Arc::downgrade(&socket), local, config, tx));
    Ok(BoxListener::new(UdpListener { sessions: rx, local, reader, _socket: socket }))
}

/// Owns the only lasting reference to the socket: the reader and the sessions hold weak ones and
/// borrow it per poll, so dropping the listener frees the port at once, even with live sessions
/// (a service can then be restarted on the same port).
struct UdpListener {
    sessions: mpsc::Receiver<BoxConn>,
    local: Option<SocketAddr>,
    reader: JoinHandle<()>,
    _socket: Arc<UdpSocket>,
}

impl Drop for UdpListener {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Listener for UdpListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        self.sessions
            .recv()
            .await
            .ok_or_else(|| Error::new(ErrorKind::Closed, "udp listener closed"))
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}

/// The socket for one poll, or an error once the listener has dropped it.
fn upgrade(socket: &Weak<UdpSocket>) -> io::Result<Arc<UdpSocket>> {
    socket
        .upgrade()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "udp listener closed"))
}

/// Reads every datagram and hands it to its client's session, creating sessions as needed. Ends
/// when the listener is dropped; the sessions then read EOF.
async fn demux(
    socket: Weak<UdpSocket>,
    local: Option<SocketAddr>,
    config: Config,
    new_sessions: mpsc::Sender<BoxConn>,
) {
    let mut sessions: HashMap<SocketAddr, SessionEntry> = HashMap::new();
    let mut buf = vec![0u8; config.read_buffer];
    loop {
        let recv = std::future::poll_fn(|cx| {
            let socket = upgrade(&socket)?;
            let mut read = tokio::io::ReadBuf::new(&mut buf);
            let peer = ready!(socket.poll_recv_from(cx, &mut read))?;
            Poll::Ready(Ok::<_, io::Error>((read.filled().len(), peer)))
        });
        let (n, peer) = tokio::select! {
            got = recv => match got {
                Ok(got) => got,
                Err(err) if err.kind() == io::ErrorKind::NotConnected => return,
                Err(err) => {
                    tracing::debug!("udp: {err}");
                    continue;
                }
            },
            () = new_sessions.closed() => return,
        };
        let datagram = buf[..n].to_vec();
        if let Some(entry) = sessions.get(&peer).filter(|e| !e.done.load(Ordering::Acquire)) {
            match entry.tx.try_send(datagram) {
                Ok(()) => continue,
                // A full queue drops the datagram, as a busy UDP socket would.
                Err(mpsc::error::TrySendError::Full(_)) => continue,
                Err(mpsc::error::TrySendError::Closed(d)) => {
                    sessions.remove(&peer);
                    start_session(&socket, local, &config, peer, d, &mut sessions, &new_sessions);
                }
            }
        } else {
            sessions.retain(|_, e| !e.tx.is_closed() && !e.done.load(Ordering::Acquire));
            start_session(&socket, local, &config, peer, datagram, &mut sessions, &new_sessions);
        }
    }
}

fn start_session(
    socket: &Weak<UdpSocket>,
    local: Option<SocketAddr>,
    config: &Config,
    peer: SocketAddr,
    first: Vec<u8>,
    sessions: &mut HashMap<SocketAddr, SessionEntry>,
    new_sessions: &mpsc::Sender<BoxConn>,
) {
    let (tx, rx) = mpsc::channel(config.queue);
    let _ = tx.try_send(first);
    let done = Arc::new(AtomicBool::new(false));
    let conn = UdpSession {
        socket: socket.clone(),
        sending: None,
        local,
        peer,
        rx,
        pending: None,
        idle: Box::pin(tokio::time::sleep(config.ttl)),
        ttl: config.ttl,
        stateless: config.stateless,
        done: done.clone(),
    };
    if new_sessions.try_send(Box::new(conn)).is_ok() {
        sessions.insert(peer, SessionEntry { tx, done });
    } else {
        tracing::debug!(%peer, "udp: too many new sessions waiting, datagram dropped");
    }
}

/// The demultiplexer's handle on a session: its queue, and whether it has ended (a stateless
/// session that replied), in which case the client's next datagram opens a new one.
struct SessionEntry {
    tx: mpsc::Sender<Vec<u8>>,
    done: Arc<AtomicBool>,
}

/// One client's datagrams as a connection: a read is one datagram from it, a write is one
/// datagram to it.
struct UdpSession {
    socket: Weak<UdpSocket>,
    /// The socket, held while a send waits for room: a dropped socket would never wake it.
    sending: Option<Arc<UdpSocket>>,
    local: Option<SocketAddr>,
    peer: SocketAddr,
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Option<Vec<u8>>,
    idle: Pin<Box<tokio::time::Sleep>>,
    ttl: Duration,
    stateless: bool,
    done: Arc<AtomicBool>,
}

impl UdpSession {
    fn touch(&mut self) {
        // `ttl` is bounded when the config is read; saturate anyway rather than panic.
        let now = tokio::time::Instant::now();
        let next = now.checked_add(self.ttl).unwrap_or(now + Duration::from_secs(86_400 * 365));
        self.idle.as_mut().reset(next);
    }
}

impl Read for UdpSession {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.done.load(Ordering::Acquire) {
            return Poll::Ready(Ok(0));
        }
        let datagram = loop {
            let datagram = match this.pending.take() {
                Some(d) => d,
                None => match this.rx.poll_recv(cx) {
                    Poll::Ready(Some(d)) => d,
                    Poll::Ready(None) => return Poll::Ready(Ok(0)),
                    Poll::Pending => {
                        // Idle for `ttl`: the session is over.
                        ready!(this.idle.as_mut().poll(cx));
                        return Poll::Ready(Ok(0));
                    }
                },
            };
            // An empty datagram cannot be a read (0 is the end of the session): dropped, so
            // that nobody ends a session (or one in a spoofed client's name) with one.
            if !datagram.is_empty() {
                break datagram;
            }
        };
        this.touch();
        let n = datagram.len().min(buf.len());
        buf[..n].copy_from_slice(&datagram[..n]);
        Poll::Ready(Ok(n))
    }
}

impl Write for UdpSession {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Mark a stateless session done before its reply leaves: the client may answer the reply
        // at once, and that datagram must open a new session, not land in this ending one.
        if this.stateless {
            this.done.store(true, Ordering::Release);
        }
        let socket = match this.sending.take() {
            Some(s) => s,
            None => upgrade(&this.socket)?,
        };
        let n = match socket.poll_send_to(cx, buf, this.peer) {
            Poll::Ready(r) => r?,
            Poll::Pending => {
                this.sending = Some(socket);
                return Poll::Pending;
            }
        };
        this.touch();
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for UdpSession {
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

    #[tokio::test(start_paused = true)]
    async fn sessions_per_client_with_ttl() {
        let md = Metadata::new().with("ttl", "2s");
        let mut l = new(ListenerOptions::new("127.0.0.1:0"), &md).unwrap();
        let addr = l.local_addr().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"a1", addr).await.unwrap();
        let mut sa = l.accept().await.unwrap();
        assert_eq!(sa.peer_addr(), a.local_addr().ok());
        b.send_to(b"b1", addr).await.unwrap();
        let mut sb = l.accept().await.unwrap();
        a.send_to(b"a2", addr).await.unwrap();
        let mut buf = [0u8; 16];
        let n = read(&mut sa, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"a1");
        let n = read(&mut sa, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"a2");
        let n = read(&mut sb, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"b1");
        write_all(&mut sa, b"reply").await.unwrap();
        let mut got = [0u8; 16];
        let (n, from) = a.recv_from(&mut got).await.unwrap();
        assert_eq!((&got[..n], from), (&b"reply"[..], addr));
        // Nothing for 2 s: the session reads EOF.
        assert_eq!(read(&mut sb, &mut buf).await.unwrap(), 0);
        // The client's next datagram opens a new session.
        drop(sb);
        b.send_to(b"b2", addr).await.unwrap();
        let mut sb2 = l.accept().await.unwrap();
        let n = read(&mut sb2, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"b2");
    }

    #[tokio::test]
    async fn an_empty_datagram_does_not_end_a_session() {
        let mut l = new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new()).unwrap();
        let addr = l.local_addr().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"a1", addr).await.unwrap();
        let mut sa = l.accept().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(read(&mut sa, &mut buf).await.unwrap(), 2);
        a.send_to(b"", addr).await.unwrap();
        a.send_to(b"a2", addr).await.unwrap();
        let n = read(&mut sa, &mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"a2", "the empty one was skipped, the session lives on");
    }

    #[tokio::test]
    async fn dropping_the_listener_frees_the_port_with_live_sessions() {
        let mut l = new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new()).unwrap();
        let addr = l.local_addr().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"a1", addr).await.unwrap();
        let mut sa = l.accept().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(read(&mut sa, &mut buf).await.unwrap(), 2);
        drop(l);
        // The session is still alive, yet the port can be bound again at once.
        let again = std::net::UdpSocket::bind(addr);
        assert!(again.is_ok(), "port still held: {again:?}");
        drop(again);
        // The session reads EOF and its writes fail instead of going out of a closed port.
        let eof = tokio::time::timeout(Duration::from_secs(5), read(&mut sa, &mut buf)).await;
        assert_eq!(eof.unwrap().unwrap(), 0);
        assert!(write_all(&mut sa, b"late").await.is_err());
    }
}
