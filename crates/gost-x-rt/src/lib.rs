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
#[cfg(target_os = "linux")]
pub mod tproxy;
mod udp;
mod udp_conn;

pub use compat::{Compat, TokioConn};
pub use limited::LimitedConn;
pub use udp::UdpPacketConn;
pub use udp_conn::UdpConn;

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

/// A connection's read of a message it holds whole (a DNS query that came as one datagram or
/// one HTTP request): the message the first time, then the end. A buffer too small for it is an
/// error (a message is never split).
pub fn read_once(slot: &mut Option<Vec<u8>>, buf: &mut [u8]) -> io::Result<usize> {
    let Some(message) = slot.take() else { return Ok(0) };
    let out = buf
        .get_mut(..message.len())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "message too long"))?;
    out.copy_from_slice(&message);
    Ok(message.len())
}

/// Fills `out` with unpredictable bytes (std's randomly keyed SipHash over a counter): for
/// WebSocket keys and masks, session and tunnel ids, which must be unique and unguessable by
/// intermediaries, not secret keys.
pub fn fill_random(out: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// A random (version 4) UUID.
pub fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    fill_random(&mut u);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// How long a half-closed relay (one side sent EOF, the other has not) may go without moving a
/// byte before it ends. Go gost ends a relay at the first EOF; this one keeps the other
/// direction flowing, but a peer that vanished after half-closing must not hold the relay
/// forever.
pub const HALF_CLOSED_IDLE: Duration = Duration::from_secs(60);

/// Copies both directions between `a` and `b` until both ends reached EOF, passing each EOF on as
/// a half-close. See [`gost_core::io::Relay`]; a buffer kept by a stream that went quiet is
/// given back within about a second (one timer per relay, armed only while that is the case).
/// Once half-closed, a relay that moves nothing for [`HALF_CLOSED_IDLE`] (checked once per
/// period, so it ends between one and two periods after the last byte) ends with `TimedOut`.
pub async fn relay<A, B>(a: &mut A, b: &mut B) -> io::Result<RelayStats>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    relay_with_idle_limit(a, b, HALF_CLOSED_IDLE, None).await
}

/// [`relay`], ended with `TimedOut` once nothing moved either way for `idle` (gost 3.3's
/// `idleTimeout`; checked once per period, so it ends between one and two periods after the last
/// byte). `None` is [`relay`].
pub async fn relay_idle<A, B>(
    a: &mut A,
    b: &mut B,
    idle: Option<Duration>,
) -> io::Result<RelayStats>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    relay_with_idle_limit(a, b, HALF_CLOSED_IDLE, idle.filter(|d| !d.is_zero())).await
}

async fn relay_with_idle_limit<A, B>(
    a: &mut A,
    b: &mut B,
    half_closed_idle: Duration,
    idle: Option<Duration>,
) -> io::Result<RelayStats>
where
    A: Read + Write + Unpin + Send + ?Sized,
    B: Read + Write + Unpin + Send + ?Sized,
{
    let mut relay = gost_core::io::relay(a, b, RELAY_BUFFER);
    let mut release: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    let mut armed = false;
    // Armed once the relay is half-closed: the deadline and the byte count it last saw.
    let mut half_closed: Option<(std::pin::Pin<Box<tokio::time::Sleep>>, RelayStats)> = None;
    // `idleTimeout`: the deadline and the byte count it last saw.
    let mut idle_check = idle.map(|d| (Box::pin(tokio::time::sleep(d)), RelayStats::default(), d));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(done) = std::pin::Pin::new(&mut relay).poll(cx) {
            return std::task::Poll::Ready(done);
        }
        if let Some((timer, seen, period)) = &mut idle_check {
            while timer.as_mut().poll(cx).is_ready() {
                let now = relay.stats();
                if now == *seen {
                    return std::task::Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("relay: idle for {period:?} (idleTimeout)"),
                    )));
                }
                *seen = now;
                timer.as_mut().reset(tokio::time::Instant::now() + *period);
            }
        }
        if relay.is_half_closed() {
            let (timer, seen) = half_closed.get_or_insert_with(|| {
                (Box::pin(tokio::time::sleep(half_closed_idle)), relay.stats())
            });
            while timer.as_mut().poll(cx).is_ready() {
                let now = relay.stats();
                if now == *seen {
                    return std::task::Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("relay: half-closed and idle for {half_closed_idle:?}"),
                    )));
                }
                *seen = now;
                timer.as_mut().reset(tokio::time::Instant::now() + half_closed_idle);
            }
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

#[cfg(test)]
mod tests {
    #[test]
    fn random_uuids_are_version_4_and_differ() {
        let a = super::random_uuid();
        assert_ne!(a, super::random_uuid());
        assert_eq!((a[6] >> 4, a[8] >> 6), (4, 2));
    }

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TokioConn<TcpStream>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, TokioConn::tcp(s))
    }

    #[tokio::test(start_paused = true)]
    async fn a_half_closed_relay_ends_when_idle_but_not_while_data_flows() {
        let (mut client, mut a) = pair().await;
        let (mut target, mut b) = pair().await;
        let limit = Duration::from_secs(60);
        let task =
            tokio::spawn(async move { relay_with_idle_limit(&mut a, &mut b, limit, None).await });
        client.shutdown().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(target.read(&mut buf).await.unwrap(), 0, "the EOF is passed on");
        // The other direction keeps flowing, slowly, for longer than the limit.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(40)).await;
            target.write_all(b"tick").await.unwrap();
            client.read_exact(&mut buf[..4]).await.unwrap();
        }
        assert!(!task.is_finished());
        // Then nothing: the relay ends by itself within two periods.
        tokio::time::sleep(Duration::from_secs(121)).await;
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_open_relay_is_left_alone() {
        let (_client, mut a) = pair().await;
        let (_target, mut b) = pair().await;
        let task = tokio::spawn(async move { relay(&mut a, &mut b).await });
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(!task.is_finished(), "no idle limit while both directions are open");
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_ends_a_quiet_relay_but_not_a_busy_one() {
        let (mut client, mut a) = pair().await;
        let (mut target, mut b) = pair().await;
        let idle = Some(Duration::from_secs(10));
        let task = tokio::spawn(async move { relay_idle(&mut a, &mut b, idle).await });
        let mut buf = [0u8; 4];
        // Traffic every 6 s, one way then the other: longer than the limit in total, never
        // quiet for a whole period.
        for i in 0..6 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            if i % 2 == 0 {
                client.write_all(b"ping").await.unwrap();
                target.read_exact(&mut buf).await.unwrap();
            } else {
                target.write_all(b"pong").await.unwrap();
                client.read_exact(&mut buf).await.unwrap();
            }
        }
        assert!(!task.is_finished());
        tokio::time::sleep(Duration::from_secs(21)).await;
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(client.read(&mut buf).await.unwrap_or(0), 0, "the client's side is closed");
    }
}
