//! The byte stream over WebSocket frames: a poll state machine with per-connection buffers.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gost_core::BoxConn;
use gost_core::io::{Conn, Read, Write};
use gost_proto::ws::{self, FrameHeader, apply_mask};

/// Which side of the upgrade this is: clients mask what they send, servers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that sent the upgrade request.
    Client,
    /// The side that answered it.
    Server,
}

/// Bytes read from the socket at a time while looking for a frame header.
const READ_CHUNK: usize = 16 * 1024;
/// The largest data frame written: bigger writes are split by the caller's retry.
const MAX_WRITE_FRAME: usize = 64 * 1024;

/// Fills `out` with unpredictable bytes (std's randomly keyed SipHash over a counter): enough
/// for WebSocket keys and masks, which only need to be unguessable by intermediaries.
pub(crate) fn fill_random(out: &mut [u8]) {
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

struct DataFrame {
    remaining: u64,
    mask: Option<[u8; 4]>,
    offset: u64,
}

struct Keepalive {
    every: tokio::time::Interval,
    ttl: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

pub(crate) struct WsConn {
    inner: BoxConn,
    role: Role,
    rng: u64,
    /// Bytes read but not parsed yet start at `rpos`.
    rbuf: Vec<u8>,
    rpos: usize,
    frame: Option<DataFrame>,
    eof: bool,
    /// The data frame being written, and how many payload bytes it carries.
    wbuf: Vec<u8>,
    wpos: usize,
    wlen: usize,
    /// Control frames (Pong, Ping, Close) waiting to be written, before any more data.
    ctrl: Vec<u8>,
    cpos: usize,
    close_sent: bool,
    keepalive: Option<Keepalive>,
}

impl WsConn {
    pub(crate) fn new(
        inner: BoxConn,
        leftover: Vec<u8>,
        role: Role,
        ping: Option<Duration>,
    ) -> Self {
        let mut seed = [0u8; 8];
        fill_random(&mut seed);
        let keepalive = ping.map(|ttl| {
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + ttl, ttl);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            Keepalive { every, ttl, deadline: Box::pin(tokio::time::sleep(ttl * 2)) }
        });
        WsConn {
            inner,
            role,
            rng: u64::from_le_bytes(seed) | 1,
            rbuf: leftover,
            rpos: 0,
            frame: None,
            eof: false,
            wbuf: Vec::new(),
            wpos: 0,
            wlen: 0,
            ctrl: Vec::new(),
            cpos: 0,
            close_sent: false,
            keepalive,
        }
    }

    fn mask_key(&mut self) -> Option<[u8; 4]> {
        if self.role == Role::Server {
            return None;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        Some((self.rng as u32).to_le_bytes())
    }

    fn queue_control(&mut self, opcode: u8, payload: &[u8]) {
        let mask = self.mask_key();
        FrameHeader { fin: true, opcode, mask, len: payload.len() as u64 }.encode(&mut self.ctrl);
        let start = self.ctrl.len();
        self.ctrl.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.ctrl[start..], key, 0);
        }
    }

    /// Writes queued control frames.
    fn poll_control(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.cpos < self.ctrl.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.ctrl[self.cpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.cpos += n;
        }
        self.ctrl.clear();
        self.cpos = 0;
        Poll::Ready(Ok(()))
    }

    /// Queues a due Ping and fails when no Pong came in time; registers the timers' wakers so
    /// an idle connection still pings.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(ka) = self.keepalive.as_mut() else { return Ok(()) };
        if ka.deadline.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "websocket: no pong from the server",
            ));
        }
        let mut due = false;
        while ka.every.poll_tick(cx).is_ready() {
            due = true;
        }
        if due {
            self.queue_control(ws::OP_PING, b"");
        }
        Ok(())
    }

    fn on_control(&mut self, header: &FrameHeader, payload: &[u8]) {
        match header.opcode {
            ws::OP_PING => self.queue_control(ws::OP_PONG, payload),
            ws::OP_PONG => {
                if let Some(ka) = self.keepalive.as_mut() {
                    let next = tokio::time::Instant::now() + ka.ttl * 2;
                    ka.deadline.as_mut().reset(next);
                }
            }
            _ => {
                // Close: answer once with the peer's status code, then the stream has ended.
                if !self.close_sent {
                    self.close_sent = true;
                    let code = payload.get(..2).unwrap_or(&[]).to_vec();
                    self.queue_control(ws::OP_CLOSE, &code);
                }
                self.eof = true;
            }
        }
    }

    /// Reads more bytes into `rbuf`; `Ok(0)` at EOF.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        let old = self.rbuf.len();
        self.rbuf.resize(old + READ_CHUNK, 0);
        let res = Pin::new(&mut self.inner).poll_read(cx, &mut self.rbuf[old..]);
        let n = match &res {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        self.rbuf.truncate(old + n);
        res
    }
}

impl Read for WsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.poll_keepalive(cx)?;
        // Answer Pings (and send Pings) even while only reading.
        if let Poll::Ready(Err(e)) = this.poll_control(cx) {
            return Poll::Ready(Err(e));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.eof {
                return Poll::Ready(Ok(0));
            }
            if let Some(frame) = this.frame.as_mut().filter(|f| f.remaining > 0) {
                let want = buf.len().min(usize::try_from(frame.remaining).unwrap_or(usize::MAX));
                let buffered = this.rbuf.len() - this.rpos;
                let n = if buffered > 0 {
                    let n = want.min(buffered);
                    buf[..n].copy_from_slice(&this.rbuf[this.rpos..this.rpos + n]);
                    this.rpos += n;
                    n
                } else {
                    let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf[..want]))?;
                    if n == 0 {
                        // The peer went away mid-message; for a byte stream that is its end.
                        this.eof = true;
                        return Poll::Ready(Ok(0));
                    }
                    n
                };
                if let Some(key) = frame.mask {
                    apply_mask(&mut buf[..n], key, frame.offset);
                }
                frame.remaining -= n as u64;
                frame.offset += n as u64;
                return Poll::Ready(Ok(n));
            }
            this.frame = None;
            match FrameHeader::decode(&this.rbuf[this.rpos..]).map_err(io::Error::from)? {
                Some((header, used)) if header.is_control() => {
                    let len = header.len as usize;
                    let start = this.rpos + used;
                    if this.rbuf.len() < start + len {
                        if ready!(this.poll_fill(cx))? == 0 {
                            this.eof = true;
                        }
                        continue;
                    }
                    let mut payload = [0u8; ws::MAX_CONTROL_PAYLOAD];
                    payload[..len].copy_from_slice(&this.rbuf[start..start + len]);
                    if let Some(key) = header.mask {
                        apply_mask(&mut payload[..len], key, 0);
                    }
                    this.rpos = start + len;
                    this.on_control(&header, &payload[..len]);
                    let _ = this.poll_control(cx)?;
                }
                Some((header, used)) => {
                    this.rpos += used;
                    this.frame =
                        Some(DataFrame { remaining: header.len, mask: header.mask, offset: 0 });
                }
                None => {
                    if ready!(this.poll_fill(cx))? == 0 {
                        this.eof = true;
                    }
                }
            }
        }
    }
}

impl Write for WsConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.poll_keepalive(cx)?;
        ready!(this.poll_control(cx))?;
        if this.wbuf.is_empty() {
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let n = buf.len().min(MAX_WRITE_FRAME);
            let mask = this.mask_key();
            FrameHeader { fin: true, opcode: ws::OP_BINARY, mask, len: n as u64 }
                .encode(&mut this.wbuf);
            let start = this.wbuf.len();
            this.wbuf.extend_from_slice(&buf[..n]);
            if let Some(key) = mask {
                apply_mask(&mut this.wbuf[start..], key, 0);
            }
            this.wpos = 0;
            this.wlen = n;
        }
        while this.wpos < this.wbuf.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.wbuf[this.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.wpos += n;
        }
        this.wbuf.clear();
        Poll::Ready(Ok(this.wlen))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_control(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_control(cx))?;
        // Half-close the carrier without a Close frame, as Go gost does: the peer reads EOF and
        // can still send.
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let buf = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
        self.poll_write(cx, buf)
    }
}

impl Conn for WsConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
}
