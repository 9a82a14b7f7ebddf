//! `dns`: the listener of gost's DNS proxy (`-L dns://:53`), each connection one client's
//! queries: `mode=udp` (the default) a datagram connection per query; `mode=tcp` and `mode=tls`
//! (DNS over TLS) a connection per client, its messages unframed (each read one whole query,
//! each write one reply, the 2-byte lengths added and removed here). See the `dns` handler.
//!
//! `mode=https` is DNS over HTTPS (HTTP/2): `POST /dns-query` or `GET /dns-query?dns=...`.
//!
//! Metadata: `mode` (`udp`, `tcp`, `tls`, `https`), `path` (`/dns-query`, for `https`),
//! `backlog` (128), `handshakeTimeout` (15s, TLS), and (`tls`, `https`) every `tls` key.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use gost_core::{
    BoxConn, BoxListener, Error, ErrorKind, Listener, ListenerOptions, Metadata, Result,
};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use tokio::net::UdpSocket;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name.
pub const NAME: &str = "dns";

/// Binds `opts.addr` in the `mode` asked. Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let mode = md.get_string(&["mode"])?.unwrap_or_default().to_ascii_lowercase();
    match mode.as_str() {
        "" | "udp" => udp(&opts.addr),
        "tcp" => stream(opts, md, None),
        "tls" | "dot" => {
            let acceptor = gost_x_tls::TlsAcceptor::from(gost_x_tls::server_config(md)?);
            stream(opts, md, Some(acceptor))
        }
        #[cfg(feature = "h2")]
        "https" | "doh" => doh(opts, md),
        other => Err(Error::config(format!("dns listener: unknown mode {other:?}"))),
    }
}

fn udp(addr: &str) -> Result<BoxListener> {
    let addr = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_owned() };
    let sa = match gost_core::Address::parse(&addr)? {
        gost_core::Address::Ip(sa) => sa,
        other => {
            return Err(Error::config(format!("dns listener needs an IP address, got {other}")));
        }
    };
    let std_socket = std::net::UdpSocket::bind(sa)
        .map_err(|e| Error::with_source(ErrorKind::Bind, format!("listen on udp {addr}"), e))?;
    std_socket
        .set_nonblocking(true)
        .map_err(|e| Error::with_source(ErrorKind::Bind, "udp socket", e))?;
    let socket = UdpSocket::from_std(std_socket)
        .map_err(|e| Error::with_source(ErrorKind::Bind, "udp socket", e))?;
    let local = socket.local_addr().ok();
    Ok(BoxListener::new(UdpQueries {
        socket: Arc::new(socket),
        local,
        buf: vec![0u8; 65535],
        in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
    }))
}

/// Queries over UDP being answered at once; more are dropped (a flood of spoofed queries must
/// not become as many upstream queries and tasks).
const MAX_IN_FLIGHT: usize = 1024;

struct UdpQueries {
    socket: Arc<UdpSocket>,
    local: Option<SocketAddr>,
    buf: Vec<u8>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Listener for UdpQueries {
    async fn accept(&mut self) -> Result<BoxConn> {
        loop {
            // Cancel safe: a datagram is taken whole or not at all.
            let (n, peer) = self
                .socket
                .recv_from(&mut self.buf)
                .await
                .map_err(|e| Error::with_source(ErrorKind::Io, "dns: receive", e))?;
            let Ok(permit) = Arc::clone(&self.in_flight).try_acquire_owned() else {
                tracing::debug!(%peer, "dns: too many queries in flight; one dropped");
                continue;
            };
            return Ok(Box::new(Query {
                query: Some(self.buf[..n].to_vec()),
                socket: Arc::clone(&self.socket),
                local: self.local,
                peer,
                _permit: permit,
            }));
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}

/// One query datagram: read once, answered by one write.
struct Query {
    query: Option<Vec<u8>>,
    socket: Arc<UdpSocket>,
    local: Option<SocketAddr>,
    peer: SocketAddr,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Read for Query {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(gost_x_rt::read_once(&mut self.query, buf))
    }
}

impl Write for Query {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.socket.poll_send_to(cx, buf, self.peer)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for Query {
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

/// DNS over HTTPS: TLS offering ALPN `h2`, queries at `path` (`/dns-query`).
#[cfg(feature = "h2")]
fn doh(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout =
        md.get_duration(&["handshakeTimeout"])?.unwrap_or(std::time::Duration::from_secs(15));
    let path = md.get_string(&["path"])?.filter(|p| p.starts_with('/'));
    let path = path.unwrap_or_else(|| "/dns-query".to_owned());
    let acceptor = crate::h2::h2_acceptor(md)?;
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let (acceptor, path) = (acceptor.clone(), path.clone());
        Box::pin(async move {
            let peer = conn.peer_addr();
            let accept = gost_x_tls::accept(&acceptor, conn);
            match gost_x_rt::timeout(timeout, "doh TLS handshake", accept).await {
                Ok(conn) => {
                    if let Err(e) = gost_x_h2::doh::serve(conn, path, queue).await {
                        tracing::debug!(?peer, "doh: {e}");
                    }
                }
                Err(e) => tracing::debug!(?peer, "doh: {e}"),
            }
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}

fn stream(
    opts: ListenerOptions,
    md: &Metadata,
    tls: Option<gost_x_tls::TlsAcceptor>,
) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout =
        md.get_duration(&["handshakeTimeout"])?.unwrap_or(std::time::Duration::from_secs(15));
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let tls = tls.clone();
        Box::pin(async move {
            let peer = conn.peer_addr();
            let conn = match &tls {
                Some(acceptor) => {
                    let accept = gost_x_tls::accept(acceptor, conn);
                    match gost_x_rt::timeout(timeout, "dns TLS handshake", accept).await {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::debug!(?peer, "dns: {e}");
                            return;
                        }
                    }
                }
                None => conn,
            };
            let _ = queue.send(Box::new(Framed::new(conn)) as BoxConn).await;
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}

/// DNS over a stream: each read one whole message, each write one (2-byte lengths).
struct Framed {
    inner: BoxConn,
    header: [u8; 2],
    got: usize,
    message: Vec<u8>,
    out: Vec<u8>,
    out_at: usize,
}

impl Framed {
    fn new(inner: BoxConn) -> Framed {
        Framed { inner, header: [0; 2], got: 0, message: Vec::new(), out: Vec::new(), out_at: 0 }
    }
}

impl Read for Framed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while this.got < 2 {
            let mut one = [0u8; 2];
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut one[..2 - this.got]))?;
            if n == 0 {
                if this.got == 0 {
                    return Poll::Ready(Ok(0));
                }
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.header[this.got..this.got + n].copy_from_slice(&one[..n]);
            this.got += n;
            this.message.clear();
        }
        let len = usize::from(u16::from_be_bytes(this.header));
        if len > buf.len() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "message too long",
            )));
        }
        while this.message.len() < len {
            let at = this.message.len();
            this.message.resize(len, 0);
            let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut this.message[at..]));
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    this.message.truncate(at);
                    return Poll::Ready(Err(e));
                }
            };
            this.message.truncate(at + n);
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        buf[..len].copy_from_slice(&this.message);
        this.got = 0;
        this.message.clear();
        Poll::Ready(Ok(len))
    }
}

impl Write for Framed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.out.is_empty() {
            let len = u16::try_from(buf.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
            this.out.extend_from_slice(&len.to_be_bytes());
            this.out.extend_from_slice(buf);
            this.out_at = 0;
        }
        while this.out_at < this.out.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.out[this.out_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.out_at += n;
        }
        this.out.clear();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl Conn for Framed {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
}
