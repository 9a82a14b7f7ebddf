//! Poll-based I/O traits, the connection types built on them, and runtime-free async helpers.
//!
//! Rust's standard library has no async I/O traits, so gost-core defines its own in the
//! `futures-io` shape (as hyper 1.x does). The data path is poll-based; the tokio glue lives in
//! `gost-x-rt`, which adapts tokio streams to [`Conn`] and back.
//!
//! # Half-close
//!
//! [`Write::poll_shutdown`] is a *half-close*: after it returns `Ready(Ok(()))` the peer reads EOF,
//! but this side can still read what the peer sends. For TCP it is `shutdown(SHUT_WR)`. A wrapper
//! (TLS, WebSocket, a limiter, a stats counter) must forward it, and [`relay`] uses it to pass an EOF
//! from one side on to the other.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::ops::DerefMut;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::addr::Address;

/// Reads bytes asynchronously.
///
/// `poll_read` fills the front of `buf` and returns how many bytes it wrote; `Ready(Ok(0))` means
/// end of stream (when `buf` is not empty). `Pending` registers the waker from `cx`.
pub trait Read {
    /// Attempts to read into `buf`.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>>;
}

/// Writes bytes asynchronously.
pub trait Write {
    /// Attempts to write from `buf`; returns how many bytes were accepted (may be fewer than
    /// `buf.len()`; `0` for a non-empty `buf` means the stream can take no more).
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>>;

    /// Flushes any buffered data to the underlying transport.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Half-closes the write side: flushes, then signals EOF to the peer. Reading stays possible.
    /// Calling it again after it completed is a no-op that returns `Ok(())`.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes from several buffers at once. The default writes the first non-empty one.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }

    /// Whether [`Write::poll_write_vectored`] is better than writing each buffer.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

macro_rules! deref_read {
    () => {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut **self).poll_read(cx, buf)
        }
    };
}

macro_rules! deref_write {
    () => {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut **self).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut **self).poll_shutdown(cx)
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut **self).poll_write_vectored(cx, bufs)
        }
        fn is_write_vectored(&self) -> bool {
            (**self).is_write_vectored()
        }
    };
}

impl<T: ?Sized + Read + Unpin> Read for Box<T> {
    deref_read!();
}
impl<T: ?Sized + Read + Unpin> Read for &mut T {
    deref_read!();
}
impl<T: ?Sized + Write + Unpin> Write for Box<T> {
    deref_write!();
}
impl<T: ?Sized + Write + Unpin> Write for &mut T {
    deref_write!();
}

impl<P> Read for Pin<P>
where
    P: DerefMut + Unpin,
    P::Target: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_read(cx, buf)
    }
}

impl<P> Write for Pin<P>
where
    P: DerefMut + Unpin,
    P::Target: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        (**self).is_write_vectored()
    }
}

/// A byte-stream connection: what listeners accept, dialers return and handlers serve.
///
/// Dropping a `Conn` closes it fully. `Any` lets a fast path recover the concrete type (e.g. a TCP
/// socket for `splice`) through `Box<dyn Conn>` → `Box<dyn Any>` upcasting.
pub trait Conn: Read + Write + Any + Send + Unpin {
    /// The local address of the underlying socket, if there is one.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// The remote address of the underlying socket, if there is one.
    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }
    /// Whether each read gives one whole datagram and each write sends one (a UDP socket or a
    /// UDP session), rather than bytes of a stream: protocols that frame differently over
    /// datagrams (shadowsocks' `ssu`) ask. Wrappers forward it.
    fn is_datagram(&self) -> bool {
        false
    }
}

/// A type-erased connection. Boxed once per connection, never per read.
pub type BoxConn = Box<dyn Conn>;

impl std::fmt::Debug for dyn Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("local_addr", &self.local_addr())
            .field("peer_addr", &self.peer_addr())
            .finish()
    }
}

impl Conn for BoxConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        (**self).local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        (**self).peer_addr()
    }
    fn is_datagram(&self) -> bool {
        (**self).is_datagram()
    }
}

/// A datagram socket whose peers are [`Address`]es (an IP or a domain name with a port), as
/// UDP-over-proxy protocols carry them: a UDP socket, or datagrams framed inside a proxy stream
/// (SOCKS5 UDP-over-TCP, relay).
///
/// Each `poll_recv_from` yields one whole datagram; one that does not fit in `buf` is truncated
/// (the rest is lost, as with UDP). Each `poll_send_to` sends one whole datagram and returns its
/// length. A domain target is resolved by whoever can (the proxy at the end of a chain, or the
/// direct socket itself). Both methods are cancel safe: a dropped receive loses no datagram, a
/// dropped send may or may not have sent it. Dropping the connection closes it.
pub trait PacketConn: Any + Send + Unpin {
    /// Receives one datagram into `buf`; returns its length and sender.
    fn poll_recv_from(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>>;

    /// Sends `buf` as one datagram to `target`.
    fn poll_send_to(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>>;

    /// The local address, if there is a socket.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

impl<T: ?Sized + PacketConn> PacketConn for Box<T> {
    fn poll_recv_from(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        Pin::new(&mut **self).poll_recv_from(cx, buf)
    }
    fn poll_send_to(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut **self).poll_send_to(cx, buf, target)
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        (**self).local_addr()
    }
}

/// Receives one datagram (see [`PacketConn::poll_recv_from`]). Cancel safe.
pub async fn recv_from<P: PacketConn + ?Sized>(
    p: &mut P,
    buf: &mut [u8],
) -> io::Result<(usize, Address)> {
    poll_fn(|cx| Pin::new(&mut *p).poll_recv_from(cx, buf)).await
}

/// Sends one datagram (see [`PacketConn::poll_send_to`]).
pub async fn send_to<P: PacketConn + ?Sized>(
    p: &mut P,
    buf: &[u8],
    target: &Address,
) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *p).poll_send_to(cx, buf, target)).await
}

/// A type-erased packet connection.
pub type BoxPacketConn = Box<dyn PacketConn>;

/// Reads some bytes into `buf`. Cancel safe: if dropped before completion no data was read.
pub async fn read<R: Read + Unpin + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf)).await
}

/// Fills `buf` completely; an EOF before that is `UnexpectedEof`.
///
/// Not cancel safe: if dropped midway, the bytes read so far are lost.
pub async fn read_exact<R: Read + Unpin + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = read(r, &mut buf[filled..]).await?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "early eof"));
        }
        filled += n;
    }
    Ok(())
}

/// Writes all of `buf`, then flushes: a connection that buffers (TLS, WebSocket) has handed
/// every byte on when this returns, so a reply written just before the connection is dropped
/// is not lost. Not cancel safe: if dropped midway, an unknown prefix was written.
pub async fn write_all<W: Write + Unpin + ?Sized>(w: &mut W, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, buf)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    flush(w).await
}

/// Flushes `w`.
pub async fn flush<W: Write + Unpin + ?Sized>(w: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

/// Half-closes `w` (see [`Write::poll_shutdown`]).
pub async fn shutdown<W: Write + Unpin + ?Sized>(w: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *w).poll_shutdown(cx)).await
}

/// Reads one message with a sans-I/O `decode` function (`Ok(None)` = need more bytes), reading
/// into `buf` as needed. The message's bytes are removed from the front of `buf`; bytes read past
/// the message stay in `buf` and belong to whatever follows (wrap the connection in [`Rewind`]
/// to hand them on). A message that does not fit in `max` bytes is a protocol error; EOF first is
/// [`ErrorKind::Closed`](crate::ErrorKind::Closed).
///
/// Cancel safe: if the future is dropped, every byte read so far is in `buf` (and nothing else
/// is), so calling again with the same `buf` resumes where it left off. This is what lets a
/// handler `select!` between reading a stream and other events.
pub async fn read_decoded<R, T, D>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    decode: D,
) -> crate::Result<T>
where
    R: Read + Unpin + ?Sized,
    D: Fn(&[u8]) -> crate::Result<Option<(T, usize)>>,
{
    const CHUNK: usize = 1024;
    loop {
        if let Some((msg, used)) = decode(buf)? {
            buf.drain(..used.min(buf.len()));
            return Ok(msg);
        }
        if buf.len() >= max {
            return Err(crate::Error::protocol(format!("message larger than {max} bytes")));
        }
        let old = buf.len();
        let want = CHUNK.min(max - old);
        // Read into `buf`'s tail, grown and cut back within one poll: a cancelled read leaves
        // `buf` exactly as it was, and no chunk array lives in this future (it would, in every
        // handler's future, for the whole connection).
        let n = poll_fn(|cx| {
            buf.resize(old + want, 0);
            let polled = Pin::new(&mut *r).poll_read(cx, &mut buf[old..]);
            let n = match &polled {
                Poll::Ready(Ok(n)) => (*n).min(want),
                _ => 0,
            };
            buf.truncate(old + n);
            polled.map(|res| res.map(|n| n.min(want)))
        })
        .await?;
        if n == 0 {
            let what = if old == 0 { "connection closed" } else { "connection closed mid-message" };
            return Err(crate::Error::new(crate::ErrorKind::Closed, what));
        }
    }
}

/// A connection that first replays bytes already read from it (a sniffed prefix, or bytes read
/// past a handshake), then reads from the connection itself. Every other method forwards.
#[derive(Debug)]
pub struct Rewind<C> {
    prefix: Vec<u8>,
    pos: usize,
    inner: C,
}

impl<C> Rewind<C> {
    /// `inner`, with `prefix` to be read first.
    pub fn new(inner: C, prefix: Vec<u8>) -> Self {
        Rewind { prefix, pos: 0, inner }
    }

    /// The bytes not replayed yet.
    pub fn remaining(&self) -> &[u8] {
        self.prefix.get(self.pos..).unwrap_or(&[])
    }

    /// The wrapped connection, dropping any bytes not replayed yet.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: Read + Unpin> Read for Rewind<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let rest = this.prefix.get(this.pos..).unwrap_or(&[]);
        if !rest.is_empty() {
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<C: Write + Unpin> Write for Rewind<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<C: Conn> Conn for Rewind<C> {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
    fn is_datagram(&self) -> bool {
        self.inner.is_datagram()
    }
}

/// Wraps `conn` so that `prefix` is read first; returns `conn` itself when `prefix` is empty
/// (no wrapper on the data path when nothing was over-read).
pub fn rewind(conn: BoxConn, prefix: Vec<u8>) -> BoxConn {
    if prefix.is_empty() { conn } else { Box::new(Rewind::new(conn, prefix)) }
}

/// The relay's buffer per direction when the caller does not choose (Go gost copies with 32 KiB).
pub const DEFAULT_RELAY_BUFFER: usize = 32 * 1024;

/// The stack read an idle relay direction waits with (see `OneWay::poll_fill`).
const PROBE: usize = 2048;

/// How far a streaming direction's buffer may grow, as a multiple of the relay's buffer size.
const GROWTH: usize = 8;

/// Bytes moved by [`relay`] in each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Bytes read from `a` and written to `b`.
    pub a_to_b: u64,
    /// Bytes read from `b` and written to `a`.
    pub b_to_a: u64,
}

/// Copies both directions between `a` and `b` until both have reached EOF (see [`Relay`]).
pub fn relay<'a, A, B>(a: &'a mut A, b: &'a mut B, buf_size: usize) -> Relay<'a, A, B>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    let buf_size = buf_size.max(1);
    Relay { a, b, ab: OneWay::new(buf_size), ba: OneWay::new(buf_size) }
}

/// The future of [`relay`]: copies both directions between `a` and `b` until both have reached
/// EOF, and completes with the byte counts.
///
/// When one side reads EOF, the other side is flushed and half-closed
/// ([`Write::poll_shutdown`]) and the opposite direction keeps flowing until it ends too. An error
/// on either side ends the relay with that error; the caller then drops (closes) both.
/// Cancel safe in the sense that dropping it drops nothing but its buffers; bytes in flight are
/// lost, as with any closed connection.
///
/// Buffers: a direction that waits for data holds none (it waits with a small read on the
/// stack). Once data flows it gets `buf_size` bytes, doubled each time a read fills it, up to 8 ×
/// `buf_size`. While reads keep filling at least half of it, the direction keeps its buffer
/// through short waits (a stream in full flow would otherwise free and allocate on every
/// wake-up). Such a kept buffer would also be kept by a stream that stops right there, so the
/// runtime layer calls [`Relay::release_idle_buffers`] when [`Relay::holds_idle_buffers`] has
/// stayed true for a while (gost-x-rt: one second). A direction goes back to `buf_size` when it
/// is released that way, and when the first read after a wait is small (under 2 KiB): the burst
/// that grew it is over, and small messages get small buffers again.
pub struct Relay<'a, A: ?Sized, B: ?Sized> {
    a: &'a mut A,
    b: &'a mut B,
    ab: OneWay,
    ba: OneWay,
}

impl<A: ?Sized, B: ?Sized> Relay<'_, A, B> {
    /// Whether a direction is waiting for data while holding a buffer.
    pub fn holds_idle_buffers(&self) -> bool {
        self.ab.waits_with_buffer() || self.ba.waits_with_buffer()
    }

    /// Whether one direction has finished (its EOF passed on as a half-close) and the other
    /// still runs.
    pub fn is_half_closed(&self) -> bool {
        self.ab.done != self.ba.done
    }

    /// The bytes moved so far.
    pub fn stats(&self) -> RelayStats {
        RelayStats { a_to_b: self.ab.total, b_to_a: self.ba.total }
    }

    /// Gives back the buffers of the directions waiting for data; they get a fresh one (of the
    /// size they had grown to) when data comes.
    pub fn release_idle_buffers(&mut self) {
        self.ab.release_if_waiting();
        self.ba.release_if_waiting();
    }
}

impl<A, B> Future for Relay<'_, A, B>
where
    A: Read + Write + Unpin + ?Sized,
    B: Read + Write + Unpin + ?Sized,
{
    type Output = io::Result<RelayStats>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let a_to_b = this.ab.poll_copy(cx, &mut *this.a, &mut *this.b)?;
        let b_to_a = this.ba.poll_copy(cx, &mut *this.b, &mut *this.a)?;
        match (a_to_b, b_to_a) {
            (Poll::Ready(a_to_b), Poll::Ready(b_to_a)) => {
                Poll::Ready(Ok(RelayStats { a_to_b, b_to_a }))
            }
            _ => Poll::Pending,
        }
    }
}

/// One direction of [`relay`]: a reusable buffer and the copy state.
struct OneWay {
    buf: Box<[u8]>,
    /// The size the next allocation gets: doubles (up to `max`) while reads fill the buffer,
    /// and goes back to `base` when the direction goes idle.
    size: usize,
    base: usize,
    max: usize,
    /// The last read filled at least half the buffer: the sender is ahead, keep the buffer
    /// through the next wait instead of giving it back.
    streaming: bool,
    start: usize,
    end: usize,
    eof: bool,
    need_flush: bool,
    done: bool,
    total: u64,
}

impl OneWay {
    fn waits_with_buffer(&self) -> bool {
        !self.buf.is_empty() && self.start == self.end && !self.eof && !self.done
    }

    fn release_if_waiting(&mut self) {
        if self.waits_with_buffer() {
            self.buf = Box::default();
            self.streaming = false;
            self.size = self.base;
        }
    }

    fn new(size: usize) -> Self {
        OneWay {
            buf: Box::default(),
            size,
            base: size,
            max: size.saturating_mul(GROWTH),
            streaming: false,
            start: 0,
            end: 0,
            eof: false,
            need_flush: false,
            done: false,
            total: 0,
        }
    }

    /// Reads into the buffer. An idle direction holds no buffer: it waits with a small read on
    /// the stack, and only when bytes arrive is the full buffer allocated (and it is released
    /// again when the direction waits, unless it is streaming: see [`Relay`]), so a connection
    /// waiting for data costs no relay memory.
    fn poll_fill<R: Read + Unpin + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
    ) -> Poll<io::Result<usize>> {
        if !self.buf.is_empty() {
            if self.buf.len() < self.size {
                // Grown: the buffer is empty here (every byte was written), so just replace it.
                self.buf = vec![0u8; self.size].into_boxed_slice();
            }
            let n = ready!(Pin::new(&mut *r).poll_read(cx, &mut self.buf))?;
            self.streaming = n >= self.buf.len() / 2;
            if n == self.buf.len() {
                self.size = (self.size * 2).min(self.max).max(self.buf.len());
            }
            return Poll::Ready(Ok(n));
        }
        let mut probe = [0u8; PROBE];
        let n = ready!(Pin::new(&mut *r).poll_read(cx, &mut probe))?;
        if n > 0 {
            if n < PROBE {
                // A small message after a wait: whatever burst grew the buffer is over, and
                // allocating (and zeroing) the grown size for every such message would cost
                // more than the regrowth a new burst pays.
                self.size = self.base;
            }
            self.buf = vec![0u8; self.size.max(PROBE)].into_boxed_slice();
            self.buf[..n].copy_from_slice(&probe[..n]);
        }
        self.streaming = false;
        Poll::Ready(Ok(n))
    }

    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<io::Result<u64>>
    where
        R: Read + Unpin + ?Sized,
        W: Write + Unpin + ?Sized,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(self.total));
            }
            if self.start == self.end && !self.eof {
                match self.poll_fill(cx, r) {
                    Poll::Ready(Ok(0)) => self.eof = true,
                    Poll::Ready(Ok(n)) => {
                        self.start = 0;
                        self.end = n;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Nothing to relay: give the buffer back while waiting, unless data is
                        // streaming in (then the wait is short and the buffer is needed again).
                        if !self.streaming {
                            self.buf = Box::default();
                        }
                        if self.need_flush {
                            ready!(Pin::new(&mut *w).poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.start < self.end {
                let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.buf[self.start..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.start += n;
                self.total += n as u64;
                self.need_flush = true;
            }
            if self.eof {
                ready!(Pin::new(&mut *w).poll_shutdown(cx))?;
                self.done = true;
                self.buf = Box::default();
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! An in-memory duplex pipe for tests, with no runtime.
    use super::*;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::task::Waker;

    #[derive(Default)]
    struct Half {
        data: VecDeque<u8>,
        closed: bool,
        reader: Option<Waker>,
    }

    /// One end of an in-memory byte pipe pair.
    pub struct PipeEnd {
        rx: Arc<Mutex<Half>>,
        tx: Arc<Mutex<Half>>,
        pub shutdowns: usize,
    }

    pub fn pipe() -> (PipeEnd, PipeEnd) {
        let x = Arc::new(Mutex::new(Half::default()));
        let y = Arc::new(Mutex::new(Half::default()));
        (
            PipeEnd { rx: x.clone(), tx: y.clone(), shutdowns: 0 },
            PipeEnd { rx: y, tx: x, shutdowns: 0 },
        )
    }

    impl Read for PipeEnd {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let mut half = self.rx.lock().unwrap();
            if half.data.is_empty() {
                if half.closed {
                    return Poll::Ready(Ok(0));
                }
                half.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = buf.len().min(half.data.len());
            for (i, b) in half.data.drain(..n).enumerate() {
                buf[i] = b;
            }
            Poll::Ready(Ok(n))
        }
    }

    impl Write for PipeEnd {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let mut half = self.tx.lock().unwrap();
            if half.closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            half.data.extend(buf);
            if let Some(w) = half.reader.take() {
                w.wake();
            }
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shutdowns += 1;
            let mut half = self.tx.lock().unwrap();
            half.closed = true;
            if let Some(w) = half.reader.take() {
                w.wake();
            }
            Poll::Ready(Ok(()))
        }
    }

    impl Conn for PipeEnd {}

    /// Runs a future to completion on the current thread (a tiny executor for tests).
    pub fn block_on<F: Future>(fut: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(fut);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park_timeout(std::time::Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn read_exact_and_write_all() {
        let (mut a, mut b) = pipe();
        block_on(async {
            write_all(&mut a, b"hello world").await.unwrap();
            let mut buf = [0u8; 11];
            read_exact(&mut b, &mut buf).await.unwrap();
            assert_eq!(&buf, b"hello world");
            shutdown(&mut a).await.unwrap();
            let err = read_exact(&mut b, &mut buf[..1]).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        });
    }

    #[test]
    fn read_decoded_keeps_the_over_read_bytes() {
        // A toy codec: a length byte then that many bytes.
        let decode = |b: &[u8]| -> crate::Result<Option<(Vec<u8>, usize)>> {
            match b.first() {
                None => Ok(None),
                Some(&0) => Err(crate::Error::protocol("zero length")),
                Some(&n) if b.len() > n as usize => {
                    Ok(Some((b[1..=n as usize].to_vec(), n as usize + 1)))
                }
                Some(_) => Ok(None),
            }
        };
        let (mut a, mut b) = pipe();
        block_on(async {
            write_all(&mut a, &[3, b'a', b'b', b'c', b'x', b'y']).await.unwrap();
            let mut buf = Vec::new();
            let msg = read_decoded(&mut b, &mut buf, 64, decode).await.unwrap();
            assert_eq!(msg, b"abc");
            assert_eq!(buf, b"xy");
            let mut r = Rewind::new(b, std::mem::take(&mut buf));
            write_all(&mut a, b"z").await.unwrap();
            shutdown(&mut a).await.unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 1];
            while read(&mut r, &mut chunk).await.unwrap() == 1 {
                got.push(chunk[0]);
            }
            assert_eq!(got, b"xyz");
        });
        let (mut a, mut b) = pipe();
        block_on(async {
            write_all(&mut a, &[0]).await.unwrap();
            let err = read_decoded(&mut b, &mut Vec::new(), 64, decode).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Protocol);
            let mut big = vec![200u8];
            big.extend_from_slice(&[1u8; 69]);
            write_all(&mut a, &big).await.unwrap();
            let err = read_decoded(&mut b, &mut Vec::new(), 64, decode).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Protocol, "{err}"); // over the 64-byte cap
            let (mut a, mut b) = pipe();
            write_all(&mut a, &[5, 1]).await.unwrap();
            shutdown(&mut a).await.unwrap();
            let err = read_decoded(&mut b, &mut Vec::new(), 64, decode).await.unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Closed, "{err}"); // EOF mid-message
        });
    }

    #[test]
    fn read_decoded_is_cancel_safe() {
        let decode = |b: &[u8]| -> crate::Result<Option<((), usize)>> {
            Ok((b.len() >= 4).then_some(((), 4)))
        };
        let (mut a, mut b) = pipe();
        block_on(async {
            write_all(&mut a, b"ab").await.unwrap();
            let mut buf = Vec::new();
            {
                let fut = read_decoded(&mut b, &mut buf, 64, decode);
                // It lives in every handler's future for the whole connection: no buffer in it.
                assert!(std::mem::size_of_val(&fut) <= 256, "{}", std::mem::size_of_val(&fut));
                let mut fut = std::pin::pin!(fut);
                // Reads "ab", then waits for more: drop it there.
                let pending = poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await;
                assert!(pending);
            }
            assert_eq!(buf, b"ab", "a cancelled read leaves exactly the bytes read");
            write_all(&mut a, b"cdef").await.unwrap();
            read_decoded(&mut b, &mut buf, 64, decode).await.unwrap();
            assert_eq!(buf, b"ef");
        });
    }

    #[test]
    fn relay_propagates_half_close_both_ways() {
        // client <-> (c1, s1) relay (s2, t1) <-> target
        let (mut client, mut c1) = pipe();
        let (mut s2, mut target) = pipe();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        block_on(async {
            write_all(&mut client, &data).await.unwrap();
            shutdown(&mut client).await.unwrap();
            let relay = relay(&mut c1, &mut s2, 4096);
            let mut relay = std::pin::pin!(relay);
            // Drive the relay until the client's EOF reached the target.
            let mut got = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                let _ = poll_fn(|cx| match relay.as_mut().poll(cx) {
                    Poll::Ready(r) => Poll::Ready(Some(r)),
                    Poll::Pending => Poll::Ready(None),
                })
                .await;
                let n = read(&mut target, &mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, data);
            // The other direction still flows after the half-close.
            write_all(&mut target, b"reply").await.unwrap();
            shutdown(&mut target).await.unwrap();
            let stats = relay.await.unwrap();
            assert_eq!(stats, RelayStats { a_to_b: data.len() as u64, b_to_a: 5 });
        });
        let mut buf = Vec::new();
        block_on(async {
            let mut chunk = [0u8; 16];
            loop {
                let n = read(&mut client, &mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        });
        assert_eq!(buf, b"reply");
        assert_eq!(c1.shutdowns, 1);
        assert_eq!(s2.shutdowns, 1);
    }

    #[test]
    fn small_messages_after_a_burst_get_the_base_buffer_again() {
        let (mut client, mut c1) = pipe();
        let (mut s2, mut target) = pipe();
        let poll_once = |relay: &mut Relay<'_, PipeEnd, PipeEnd>| {
            block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut *relay).poll(cx).is_pending())))
        };
        let mut relay = relay(&mut c1, &mut s2, 4096);
        // A burst: every read fills the buffer, which grows to its cap.
        block_on(write_all(&mut client, &vec![1u8; 2048 + 4096 + 8192 + 16384])).unwrap();
        assert!(poll_once(&mut relay));
        assert_eq!(relay.ab.size, 32768);
        // Then small messages: the first lands in the buffer kept from the burst; that one
        // goes back, and the next ones wait with the probe and get a base-size buffer.
        for _ in 0..3 {
            block_on(write_all(&mut client, b"keystroke")).unwrap();
            assert!(poll_once(&mut relay));
            assert!(relay.ab.buf.is_empty());
        }
        assert_eq!(relay.ab.size, 4096);
        drop(relay);
        let mut got = vec![0u8; 2048 + 4096 + 8192 + 16384 + 27];
        block_on(read_exact(&mut target, &mut got)).unwrap();
        assert!(got.ends_with(b"keystrokekeystrokekeystroke"));
    }

    #[test]
    fn a_streaming_direction_keeps_its_buffer_until_released() {
        let (mut client, mut c1) = pipe();
        let (mut s2, mut target) = pipe();
        let poll_once = |relay: &mut Relay<'_, PipeEnd, PipeEnd>| {
            block_on(poll_fn(|cx| Poll::Ready(Pin::new(&mut *relay).poll(cx).is_pending())))
        };
        let mut relay = relay(&mut c1, &mut s2, 4096);
        // A trickle: the direction reads less than half a buffer, then waits without one.
        block_on(write_all(&mut client, b"hi")).unwrap();
        assert!(poll_once(&mut relay));
        assert!(!relay.holds_idle_buffers());
        // A stream: the 2 KiB probe, then a read that fills the buffer; the direction waits
        // holding it (and its next buffer will be twice as big).
        block_on(write_all(&mut client, &[7u8; 2048 + 4096])).unwrap();
        assert!(poll_once(&mut relay));
        assert!(relay.holds_idle_buffers());
        assert_eq!(relay.ab.size, 8192);
        relay.release_idle_buffers();
        assert!(!relay.holds_idle_buffers());
        // Idle: the direction is back to the base size, and grows again with the next burst.
        assert_eq!(relay.ab.size, 4096);
        block_on(write_all(&mut client, &[8u8; 9000])).unwrap();
        assert!(poll_once(&mut relay));
        assert_eq!(relay.ab.size, 8192, "4 KiB, filled, doubled");
        drop(relay);
        let mut got = vec![0u8; 2 + 6144 + 9000];
        block_on(read_exact(&mut target, &mut got)).unwrap();
        assert_eq!(&got[..2], b"hi");
        assert!(got[2..6146].iter().all(|b| *b == 7) && got[6146..].iter().all(|b| *b == 8));
    }
}
