//! The byte stream over WebSocket frames: a poll state machine with per-connection buffers.

use std::future::Future;
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

struct DataFrame {
    remaining: u64,
    mask: Option<[u8; 4]>,
    offset: u64,
}

/// A Ping every `ttl`; the connection is dead when a whole `2 × ttl` window passes in which it
/// waited to read and heard nothing at all (any byte counts: a Pong stuck behind data the local
/// reader has not consumed yet must not kill a healthy tunnel).
struct Keepalive {
    every: tokio::time::Interval,
    window: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    heard: bool,
}

/// `now + d`, saturating far in the future instead of overflowing (`ttl` comes from config).
fn after(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
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
    /// The data frame accepted by `poll_write` and not fully sent yet (at most one).
    wbuf: Vec<u8>,
    wpos: usize,
    /// The control frame being written (at most one; encoded only between data frames).
    ctrl: Vec<u8>,
    cpos: usize,
    /// Control frames due, each at most once: RFC 6455 lets an endpoint answer only the latest
    /// Ping, so a peer that floods Pings and never reads costs one Pong, not a queue.
    pong: Option<([u8; ws::MAX_CONTROL_PAYLOAD], usize)>,
    ping_due: bool,
    close_due: Option<([u8; 2], usize)>,
    /// A Close was queued: no data frame may follow it.
    close_sent: bool,
    /// The last write, flush or shutdown returned Pending: the writer's waker is registered
    /// with the socket and the writer drives the output. A reader (maybe another task, as with
    /// an smux session over WebSocket) must not drive it then: the socket keeps one waker per
    /// direction, and taking it over would leave the writer asleep.
    writer_waiting: bool,
    /// `poll_shutdown` completed: the carrier's write side is closed.
    write_shut: bool,
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
        gost_x_rt::fill_random(&mut seed);
        let keepalive = ping.filter(|ttl| !ttl.is_zero()).map(|ttl| {
            let mut every = tokio::time::interval_at(after(ttl), ttl);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let window = ttl.saturating_mul(2);
            Keepalive {
                every,
                window,
                deadline: Box::pin(tokio::time::sleep_until(after(window))),
                heard: false,
            }
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
            ctrl: Vec::new(),
            cpos: 0,
            pong: None,
            ping_due: false,
            close_due: None,
            close_sent: false,
            writer_waiting: false,
            write_shut: false,
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

    fn encode_control(&mut self, opcode: u8, payload: &[u8]) {
        let mask = self.mask_key();
        self.ctrl.clear();
        self.cpos = 0;
        FrameHeader { fin: true, opcode, mask, len: payload.len() as u64 }.encode(&mut self.ctrl);
        let start = self.ctrl.len();
        self.ctrl.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.ctrl[start..], key, 0);
        }
    }

    /// Encodes the next due control frame, if any: Pong, then Ping, then (once no data waits,
    /// since nothing may follow it) Close.
    fn next_control(&mut self, data_waits: bool) -> bool {
        if let Some((payload, len)) = self.pong.take() {
            self.encode_control(ws::OP_PONG, &payload[..len]);
        } else if std::mem::take(&mut self.ping_due) {
            self.encode_control(ws::OP_PING, b"");
        } else if !data_waits && let Some((code, len)) = self.close_due.take() {
            self.encode_control(ws::OP_CLOSE, &code[..len]);
        } else {
            return false;
        }
        true
    }

    /// Writes what is pending: a frame already started finishes first, then due control frames,
    /// then the buffered data frame. Ready when everything is written.
    fn poll_output(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_shut {
            // Half-closed by us: nothing can be written any more (a Pong due is dropped).
            self.pong = None;
            self.ping_due = false;
            self.close_due = None;
            return Poll::Ready(Ok(()));
        }
        loop {
            if self.cpos < self.ctrl.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.ctrl[self.cpos..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.cpos += n;
                continue;
            }
            let data_started = self.wpos > 0 && self.wpos < self.wbuf.len();
            if !data_started && self.next_control(self.wpos < self.wbuf.len()) {
                continue;
            }
            if self.wpos < self.wbuf.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[self.wpos..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.wpos += n;
                continue;
            }
            self.wbuf.clear();
            self.wpos = 0;
            return Poll::Ready(Ok(()));
        }
    }

    /// [`WsConn::poll_output`] on behalf of a reader, unless a waiting writer drives it.
    fn poll_output_from_reader(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.writer_waiting {
            return Poll::Pending;
        }
        self.poll_output(cx)
    }

    /// Records whether a write-side call leaves the writer waiting.
    fn writer_polled<T>(&mut self, p: Poll<T>) -> Poll<T> {
        self.writer_waiting = p.is_pending();
        p
    }

    /// Marks a Ping due when the interval ticked (registers the timer so an idle connection
    /// still pings). Polled by the reader only: the timer keeps one waker, and a reader is
    /// always waiting (a writer task may be parked elsewhere, as smux's is).
    fn poll_ping_timer(&mut self, cx: &mut Context<'_>) {
        let Some(ka) = self.keepalive.as_mut() else { return };
        while ka.every.poll_tick(cx).is_ready() {
            self.ping_due = true;
        }
    }

    /// Called when the socket has nothing to read: fails once a whole window went by in which
    /// nothing at all came from the peer.
    fn check_silence(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(ka) = self.keepalive.as_mut() else { return Ok(()) };
        while ka.deadline.as_mut().poll(cx).is_ready() {
            if !std::mem::take(&mut ka.heard) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "websocket: no pong from the server",
                ));
            }
            ka.deadline.as_mut().reset(after(ka.window));
        }
        Ok(())
    }

    /// Records that bytes came from the peer (it is alive).
    fn heard(&mut self) {
        if let Some(ka) = self.keepalive.as_mut() {
            ka.heard = true;
        }
    }

    /// Reads from the socket into `buf`, tracking liveness.
    fn poll_inner_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.heard();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.check_silence(cx)?;
                Poll::Pending
            }
        }
    }

    fn on_control(&mut self, header: &FrameHeader, payload: &[u8]) {
        match header.opcode {
            ws::OP_PING => {
                if !self.close_sent {
                    let mut copy = [0u8; ws::MAX_CONTROL_PAYLOAD];
                    copy[..payload.len()].copy_from_slice(payload);
                    self.pong = Some((copy, payload.len()));
                }
            }
            ws::OP_PONG => {}
            _ => {
                // Close: answer once with the peer's status code, then the stream has ended.
                if !self.close_sent {
                    self.close_sent = true;
                    self.pong = None;
                    let mut code = [0u8; 2];
                    let len = payload.len().min(2);
                    code[..len].copy_from_slice(&payload[..len]);
                    self.close_due = Some((code, if len == 2 { 2 } else { 0 }));
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
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let res = self.poll_inner_read(cx, &mut rbuf[old..]);
        self.rbuf = rbuf;
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
        this.poll_ping_timer(cx);
        // Keep output moving (Pongs, Pings, a buffered data frame) even while only reading.
        if let Poll::Ready(Err(e)) = this.poll_output_from_reader(cx) {
            return Poll::Ready(Err(e));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.eof {
                return Poll::Ready(Ok(0));
            }
            if let Some(frame) = this.frame.as_ref().filter(|f| f.remaining > 0) {
                let want = buf.len().min(usize::try_from(frame.remaining).unwrap_or(usize::MAX));
                let buffered = this.rbuf.len() - this.rpos;
                let n = if buffered > 0 {
                    let n = want.min(buffered);
                    buf[..n].copy_from_slice(&this.rbuf[this.rpos..this.rpos + n]);
                    this.rpos += n;
                    n
                } else {
                    let n = ready!(this.poll_inner_read(cx, &mut buf[..want]))?;
                    if n == 0 {
                        // The peer went away mid-message; for a byte stream that is its end.
                        this.eof = true;
                        return Poll::Ready(Ok(0));
                    }
                    n
                };
                if let Some(frame) = this.frame.as_mut() {
                    if let Some(key) = frame.mask {
                        apply_mask(&mut buf[..n], key, frame.offset);
                    }
                    frame.remaining -= n as u64;
                    frame.offset += n as u64;
                }
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
                    if let Poll::Ready(Err(e)) = this.poll_output_from_reader(cx) {
                        return Poll::Ready(Err(e));
                    }
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
    /// Takes up to 64 KiB of `buf` as one binary message. Ready as soon as the message is
    /// buffered (it goes out with the next write, flush, shutdown or read); Pending only while
    /// an earlier message is still on its way, and then nothing of `buf` was taken.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.close_sent {
            // Push the Close answer (and what was buffered before it) on, then refuse: the
            // reader may drive what is left, since this writer will not wait.
            let _ = this.poll_output(cx);
            this.writer_waiting = false;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "websocket: the connection is closing (Close frame exchanged)",
            )));
        }
        let out = this.poll_output(cx);
        ready!(this.writer_polled(out))?;
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
        if let Poll::Ready(Err(e)) = this.poll_output(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let out = match this.poll_output(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        };
        this.writer_polled(out)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Half-close the carrier without a Close frame, as Go gost does: the peer reads EOF and
        // can still send.
        let out = match this.poll_output(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        };
        if let Poll::Ready(Ok(())) = out {
            this.write_shut = true;
        }
        this.writer_polled(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{flush, read, read_exact};
    use gost_x_rt::TokioConn;
    use std::future::poll_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const WAIT: Duration = Duration::from_secs(30);

    /// A server-side WsConn and the raw TCP socket of its peer.
    async fn server_and_raw_peer() -> (WsConn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (WsConn::new(Box::new(TokioConn::tcp(s)), Vec::new(), Role::Server, None), peer)
    }

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let key = [9, 8, 7, 6];
        let mut out = Vec::new();
        FrameHeader { fin: true, opcode, mask: Some(key), len: payload.len() as u64 }
            .encode(&mut out);
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], key, 0);
        out
    }

    #[tokio::test]
    async fn a_ping_flood_from_a_peer_that_never_reads_costs_one_pong() {
        let (mut conn, mut peer) = server_and_raw_peer().await;
        // 24 MiB of Pings (far more than both socket buffers hold), then one data frame.
        let ping = masked(ws::OP_PING, &[0x55; 125]);
        let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 4096).collect();
        let writer = tokio::spawn(async move {
            for _ in 0..(24 << 20) / burst.len() {
                peer.write_all(&burst).await.unwrap();
            }
            peer.write_all(&masked(ws::OP_BINARY, b"end")).await.unwrap();
            peer // kept open, never read
        });
        let mut got = [0u8; 3];
        tokio::time::timeout(WAIT, read_exact(&mut conn, &mut got)).await.unwrap().unwrap();
        assert_eq!(&got, b"end");
        // Output is backed up, yet at most one control frame is held.
        assert!(conn.ctrl.len() <= 2 + 125, "control output grew to {} bytes", conn.ctrl.len());
        assert!(conn.ctrl.capacity() < 1024, "control buffer capacity {}", conn.ctrl.capacity());
        assert!(conn.pong.is_some(), "the latest Ping still waits for its Pong");
        drop(writer.await.unwrap());
    }

    #[tokio::test]
    async fn a_write_is_taken_whole_or_not_at_all() {
        let (mut conn, mut peer) = server_and_raw_peer().await;
        // Write distinct 64 KiB messages until the socket is full: each poll either takes the
        // bytes (Ready) or takes nothing (Pending).
        let mut accepted = Vec::new();
        for i in 0u8..=255 {
            let msg = vec![i; 60_000];
            let res = poll_fn(|cx| Poll::Ready(Pin::new(&mut conn).poll_write(cx, &msg))).await;
            match res {
                Poll::Ready(n) => accepted.push((i, n.unwrap())),
                Poll::Pending => break,
            }
        }
        assert!(accepted.len() < 256, "the peer never read, so the socket must fill up");
        // A retry with a different buffer after Pending is not confused with the old bytes.
        let reader = tokio::spawn(async move {
            let mut frames = Vec::new();
            loop {
                let mut head = [0u8; 4];
                if peer.read_exact(&mut head).await.is_err() {
                    return frames;
                }
                assert_eq!(head[0], 0x82);
                assert_eq!(head[1], 126);
                let len = u16::from_be_bytes([head[2], head[3]]) as usize;
                let mut body = vec![0u8; len];
                peer.read_exact(&mut body).await.unwrap();
                frames.push(body);
            }
        });
        let last = vec![0xEEu8; 1000];
        let n = tokio::time::timeout(WAIT, gost_core::io::write_all(&mut conn, &last)).await;
        n.unwrap().unwrap();
        flush(&mut conn).await.unwrap();
        drop(conn);
        let frames = tokio::time::timeout(WAIT, reader).await.unwrap().unwrap();
        assert_eq!(frames.len(), accepted.len() + 1);
        for ((i, n), frame) in accepted.iter().zip(&frames) {
            assert_eq!(frame.len(), *n);
            assert!(frame.iter().all(|b| b == i), "message {i} arrived intact");
        }
        assert_eq!(frames.last().unwrap(), &last);
    }

    #[tokio::test]
    async fn no_data_is_written_after_a_close() {
        let (mut conn, mut peer) = server_and_raw_peer().await;
        peer.write_all(&masked(ws::OP_CLOSE, &[0x03, 0xE8])).await.unwrap();
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(WAIT, read(&mut conn, &mut buf)).await.unwrap().unwrap();
        assert_eq!(n, 0, "a Close ends the stream");
        let err = gost_core::io::write_all(&mut conn, b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        drop(conn);
        let mut sent = Vec::new();
        tokio::time::timeout(WAIT, peer.read_to_end(&mut sent)).await.unwrap().unwrap();
        assert_eq!(sent, [0x88, 2, 0x03, 0xE8], "only the Close answer went out");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_task_answering_pings_never_strands_a_waiting_writer_task() {
        // As an smux session uses its carrier: reads and writes from two tasks.
        let (conn, peer) = server_and_raw_peer().await;
        let (mut rd, mut wr) = tokio::io::split(gost_x_rt::Compat::new(Box::new(conn) as BoxConn));
        const TOTAL: usize = 32 << 20;
        let writer = tokio::spawn(async move {
            let chunk = vec![7u8; 60_000];
            let mut sent = 0;
            while sent < TOTAL {
                wr.write_all(&chunk).await.unwrap();
                sent += chunk.len();
            }
            wr.flush().await.unwrap();
        });
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = rd.read(&mut buf).await;
        });
        // The peer does not read for a while (the writer waits), Pinging all along; then it
        // reads everything while still Pinging.
        let (mut peer_rd, mut peer_wr) = peer.into_split();
        let pinger = tokio::spawn(async move {
            let ping = masked(ws::OP_PING, b"hi");
            for _ in 0..2000 {
                if peer_wr.write_all(&ping).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let drain = tokio::spawn(async move {
            let mut buf = vec![0u8; 1 << 16];
            while peer_rd.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("the writer task was left waiting")
            .unwrap();
        reader.abort();
        pinger.abort();
        drain.abort();
    }

    /// Reads frames (header, unmasked payload) until EOF.
    async fn frames(peer: &mut tokio::net::tcp::OwnedReadHalf) -> Vec<(u8, Vec<u8>)> {
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(WAIT, peer.read_to_end(&mut raw)).await;
        let mut out = Vec::new();
        let mut at = 0;
        while let Ok(Some((h, used))) = FrameHeader::decode(&raw[at..]) {
            let start = at + used;
            let end = start + h.len as usize;
            out.push((h.opcode, raw[start..end.min(raw.len())].to_vec()));
            at = end;
            if at >= raw.len() {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn a_close_answer_waits_for_data_already_accepted() {
        let (mut conn, peer) = server_and_raw_peer().await;
        let (mut peer_rd, mut peer_wr) = peer.into_split();
        let mut accepted = 0;
        for i in 0u8..=255 {
            let msg = vec![i; 60_000];
            let res = poll_fn(|cx| Poll::Ready(Pin::new(&mut conn).poll_write(cx, &msg))).await;
            match res {
                Poll::Ready(n) => {
                    n.unwrap();
                    accepted += 1;
                }
                Poll::Pending => break,
            }
        }
        peer_wr.write_all(&masked(ws::OP_CLOSE, &[0x03, 0xE8])).await.unwrap();
        let mut buf = [0u8; 8];
        let n = tokio::time::timeout(WAIT, read(&mut conn, &mut buf)).await.unwrap().unwrap();
        assert_eq!(n, 0);
        let err = gost_core::io::write_all(&mut conn, b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let reader = tokio::spawn(async move { frames(&mut peer_rd).await });
        tokio::time::timeout(WAIT, flush(&mut conn)).await.unwrap().unwrap();
        drop(conn);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), accepted + 1, "every accepted message, then the Close");
        assert!(got[..accepted].iter().all(|(op, _)| *op == ws::OP_BINARY));
        assert_eq!(got[accepted], (ws::OP_CLOSE, vec![0x03, 0xE8]));
    }

    #[tokio::test]
    async fn after_our_half_close_pings_are_not_answered_and_reading_goes_on() {
        let (mut conn, mut peer) = server_and_raw_peer().await;
        gost_core::io::shutdown(&mut conn).await.unwrap();
        peer.write_all(&masked(ws::OP_PING, b"p")).await.unwrap();
        peer.write_all(&masked(ws::OP_BINARY, b"still")).await.unwrap();
        let mut buf = [0u8; 5];
        tokio::time::timeout(WAIT, read_exact(&mut conn, &mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf, b"still");
    }

    #[test]
    fn huge_ttls_do_not_overflow() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (conn, _peer) = server_and_raw_peer().await;
            let WsConn { inner, .. } = conn;
            let c = WsConn::new(inner, Vec::new(), Role::Client, Some(Duration::MAX));
            assert!(c.keepalive.is_some());
            let WsConn { inner, .. } = c;
            let c = WsConn::new(inner, Vec::new(), Role::Client, Some(Duration::ZERO));
            assert!(c.keepalive.is_none());
        });
    }
}
