//! A stream: one bidirectional byte stream inside a session.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::{Cmd, Header};
use crate::session::{Guard, Phase, SHRINK_ABOVE, set_waker};
use crate::{Error, Session};

/// One stream of a [`Session`]; implements tokio's [`AsyncRead`] and [`AsyncWrite`].
///
/// * **Reading** returns the peer's data, then end of file after the peer's FIN. Reads give the
///   bytes back to the session's receive budget and, in version 2, acknowledge them to the
///   peer with UPD frames so its sender may go on.
/// * **Writing** sends PSH frames of at most `max_frame_size` bytes (a write may be partial). In
///   version 2 a write waits while the peer's window is full; that stalls only this stream.
/// * **`poll_flush`** completes once everything written so far is on the carrier and the carrier
///   was flushed.
/// * **`poll_shutdown`** flushes and then sends FIN. Further writes fail, but reading goes on
///   until the peer's FIN, so two `gost-smux` peers get TCP-style half-close. (A Go peer treats
///   FIN as a full close: it forgets the stream, and what is written to it afterwards is
///   discarded.)
/// * **Dropping** sends FIN unless shutdown already did, and forgets the stream: data arriving
///   for it later is discarded.
///
/// When the session ends, reads return what was already received and then an error, and writes
/// fail.
pub struct Stream {
    id: u32,
    guard: Arc<Guard>,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream").field("id", &self.id).finish()
    }
}

impl Stream {
    pub(crate) fn new(id: u32, guard: Arc<Guard>) -> Stream {
        Stream { id, guard }
    }

    /// The stream id (odd for streams a client opened, even for a server's).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Bytes received and not yet read.
    pub fn buffered(&self) -> usize {
        let st = self.guard.shared.lock();
        st.streams.get(&self.id).map_or(0, |s| s.recv.len())
    }
}

fn gone() -> io::Error {
    io::Error::from(Error::Closed)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let shared = &self.guard.shared;
        let mut guard = shared.lock();
        let st = &mut *guard;
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(gone()));
        };
        if !s.recv.is_empty() {
            let (front, back) = s.recv.as_slices();
            let mut n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            let more = back.len().min(buf.remaining());
            buf.put_slice(&back[..more]);
            n += more;
            s.recv.drain(..n);
            if s.recv.is_empty() && s.recv.capacity() > SHRINK_ABOVE {
                s.recv = Default::default();
            }
            let upd = if shared.config.version == 2 {
                // Acknowledge on the first read, then every half window (as Go does), so a
                // reader that keeps up never leaves the sender waiting.
                let n32 = n as u32;
                s.num_read = s.num_read.wrapping_add(n32);
                s.incr = s.incr.wrapping_add(n32);
                let window = shared.config.max_stream_buffer as u32;
                if s.incr >= window / 2 || s.num_read == n32 {
                    s.incr = 0;
                    Some((s.num_read, window))
                } else {
                    None
                }
            } else {
                None
            };
            st.return_tokens(n);
            if let Some((consumed, window)) = upd {
                st.queue_update(self.id, consumed, window);
            }
            return Poll::Ready(Ok(()));
        }
        if s.fin_received {
            return Poll::Ready(Ok(()));
        }
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death().into()));
        }
        set_waker(&mut s.read_waker, cx.waker());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let shared = &self.guard.shared;
        let config = &shared.config;
        let mut guard = shared.lock();
        let st = &mut *guard;
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death().into()));
        }
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Err(gone()));
        };
        if s.fin_sent {
            return Poll::Ready(Err(Error::StreamShutdown.into()));
        }
        let mut n = data.len().min(config.max_frame_size);
        if config.version == 2 {
            // Go's window check, in the same modular u32/i32 arithmetic.
            let inflight = s.num_written.wrapping_sub(s.peer_consumed) as i32;
            if inflight < 0 {
                return Poll::Ready(Err(Error::Consumed.into()));
            }
            let win = (s.peer_window as i32).wrapping_sub(inflight);
            if win <= 0 {
                set_waker(&mut s.write_waker, cx.waker());
                return Poll::Pending;
            }
            n = n.min(win as usize);
        }
        if !st.slot.is_empty() {
            st.slot_wakers.register(cx.waker());
            return Poll::Pending;
        }
        // n <= max_frame_size <= 65535, checked by Config::validate.
        let header = Header::new(config.version, Cmd::Psh, n as u16, self.id);
        st.slot.extend_from_slice(&header.encode());
        st.slot.extend_from_slice(&data[..n]);
        st.slot_owner = Some(self.id);
        st.slot_seq += 1;
        s.last_slot_seq = st.slot_seq;
        s.num_written = s.num_written.wrapping_add(n as u32);
        st.wake_writer();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut guard = self.guard.shared.lock();
        let st = &mut *guard;
        let Some(s) = st.streams.get(&self.id) else {
            return Poll::Ready(Ok(()));
        };
        if s.last_slot_seq <= st.flushed_seq {
            return Poll::Ready(Ok(()));
        }
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death().into()));
        }
        st.flush_wakers.register(cx.waker());
        st.wake_writer();
        Poll::Pending
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let st = self.guard.shared.lock();
            if st.streams.get(&self.id).is_none_or(|s| s.fin_sent) {
                return Poll::Ready(Ok(()));
            }
        }
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        let mut guard = self.guard.shared.lock();
        let st = &mut *guard;
        if st.phase != Phase::Open {
            return Poll::Ready(Err(st.death().into()));
        }
        let Some(s) = st.streams.get_mut(&self.id) else {
            return Poll::Ready(Ok(()));
        };
        if !s.fin_sent {
            s.fin_sent = true;
            st.queue_fin(self.id);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut st = self.guard.shared.lock();
        if let Some(s) = st.streams.remove(&self.id) {
            // Unread bytes no longer count against the receive budget.
            st.return_tokens(s.recv.len());
            if !s.fin_sent && st.phase != Phase::Closed {
                st.queue_fin(self.id);
            }
        }
    }
}

// Compile-time check of the promised auto traits.
const _: () = {
    const fn assert_traits<T: Send + Sync + Unpin + 'static>() {}
    assert_traits::<Stream>();
    assert_traits::<Session>();
};
