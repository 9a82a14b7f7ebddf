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

/// Copies both directions between `a` and `b` until both ends reached EOF, passing each EOF on as
/// a half-close. See [`gost_core::io::relay`].
pub async fn relay<A, B>(a: &mut A, b: &mut B) -> io::Result<RelayStats>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    gost_core::io::relay(a, b, RELAY_BUFFER).await
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
