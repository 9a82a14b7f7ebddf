//! # gost-x-rt
//!
//! The only place where gost meets tokio. Everything else in the `gost-x-*` crates uses these
//! adapters instead of touching tokio's I/O traits directly:
//!
//! * [`TokioConn`]: a tokio stream (TCP socket, TLS stream, ...) as a gost-core [`Conn`].
//! * [`Compat`]: a gost-core [`Conn`] as a tokio `AsyncRead + AsyncWrite` (for tokio-based
//!   libraries such as TLS or WebSocket implementations).
//! * [`UdpPacketConn`]: a UDP socket as a gost-core [`PacketConn`].
//! * [`relay`]: the bidirectional copy between two connections, with half-close.
//! * [`timeout`], and TCP helpers in [`net`].
//!
//! [`Conn`]: gost_core::Conn
//! [`PacketConn`]: gost_core::PacketConn

mod compat;
pub mod limited;
pub mod mux;
pub mod net;
mod udp;

pub use compat::{Compat, TokioConn};
pub use limited::LimitedConn;
pub use udp::UdpPacketConn;

use std::future::Future;
use std::io;
use std::time::Duration;

use gost_core::io::{DEFAULT_RELAY_BUFFER, RelayStats};
use gost_core::{Error, ErrorKind, Read, Result, Write};

/// The relay buffer per direction: Go gost's 32 KiB; tens of KiB keep throughput high and
/// per-read overhead low.
pub const RELAY_BUFFER: usize = DEFAULT_RELAY_BUFFER;

/// How long a relay direction that waits for data may keep its buffer (see
/// [`gost_core::io::Relay`]).
const IDLE_BUFFER_RELEASE: Duration = Duration::from_secs(1);

/// Copies both directions between `a` and `b` until both ends reached EOF, passing each EOF on as
/// a half-close. See [`gost_core::io::Relay`]; a buffer kept by a stream that went quiet is
/// given back within about a second (one timer per relay, armed only while that is the case).
pub async fn relay<A, B>(a: &mut A, b: &mut B) -> io::Result<RelayStats>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    let mut relay = gost_core::io::relay(a, b, RELAY_BUFFER);
    let mut release: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut armed = false;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(done) = std::pin::Pin::new(&mut relay).poll(cx) {
            return std::task::Poll::Ready(done);
        }
        if relay.holds_idle_buffers() {
            let deadline = tokio::time::Instant::now() + IDLE_BUFFER_RELEASE;
            let timer = release.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if !armed {
                // At most one reset per period, however often the relay waits.
                timer.as_mut().reset(deadline);
                armed = true;
            }
            if timer.as_mut().poll(cx).is_ready() {
                relay.release_idle_buffers();
                armed = false;
            }
        } else if armed && release.as_ref().is_some_and(|t| t.is_elapsed()) {
            // The period ran out while data flowed: start a fresh one at the next wait.
            armed = false;
        }
        std::task::Poll::Pending
    })
    .await
}

/// Runs `fut` with a deadline; on expiry the future is dropped and a [`ErrorKind::Timeout`] error
/// naming `what` is returned.
pub async fn timeout<T, F>(dur: Duration, what: &str, fut: F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    match tokio::time::timeout(dur, fut).await {
        Ok(res) => res,
        Err(_) => Err(Error::new(ErrorKind::Timeout, format!("{what}: timed out after {dur:?}"))),
    }
}
