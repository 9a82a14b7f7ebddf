//! Service counters (`enableStats`): lock-free, updated on the data path by a connection wrapper
//! that forwards every method (half-close and vectored writes included).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use gost_core::{BoxConn, Stats, StatsKind, StatsSnapshot};

/// The counters of one service.
#[derive(Debug, Default)]
pub struct ServiceStats {
    total_conns: AtomicU64,
    current_conns: AtomicU64,
    input_bytes: AtomicU64,
    output_bytes: AtomicU64,
    total_errs: AtomicU64,
    updated: AtomicBool,
}

impl ServiceStats {
    fn counter(&self, kind: StatsKind) -> &AtomicU64 {
        match kind {
            StatsKind::TotalConns => &self.total_conns,
            StatsKind::CurrentConns => &self.current_conns,
            StatsKind::InputBytes => &self.input_bytes,
            StatsKind::OutputBytes => &self.output_bytes,
            StatsKind::TotalErrs => &self.total_errs,
        }
    }
}

impl Stats for ServiceStats {
    fn add(&self, kind: StatsKind, n: i64) {
        let c = self.counter(kind);
        if n >= 0 {
            c.fetch_add(n as u64, Ordering::Relaxed);
        } else {
            // Never below zero, even if a decrement races an increment.
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n.unsigned_abs()))
            });
        }
        self.updated.store(true, Ordering::Relaxed);
    }
    fn get(&self, kind: StatsKind) -> u64 {
        self.counter(kind).load(Ordering::Relaxed)
    }
    fn is_updated(&self) -> bool {
        self.updated.load(Ordering::Relaxed)
    }
    fn snapshot(&self, mark_seen: bool) -> StatsSnapshot {
        if mark_seen {
            self.updated.store(false, Ordering::Relaxed);
        }
        StatsSnapshot::read(self)
    }
    fn reset(&self) {
        for kind in [
            StatsKind::TotalConns,
            StatsKind::InputBytes,
            StatsKind::OutputBytes,
            StatsKind::TotalErrs,
        ] {
            self.counter(kind).store(0, Ordering::Relaxed);
        }
    }
}

/// The service's counters and a metrics series, fed by one wrapper.
pub(crate) struct Both<A, B>(pub(crate) Arc<A>, pub(crate) Arc<B>);

impl<A: Stats, B: Stats> Stats for Both<A, B> {
    fn add(&self, kind: StatsKind, n: i64) {
        self.0.add(kind, n);
        self.1.add(kind, n);
    }
    fn get(&self, kind: StatsKind) -> u64 {
        self.0.get(kind)
    }
    fn is_updated(&self) -> bool {
        self.0.is_updated()
    }
    fn snapshot(&self, mark_seen: bool) -> StatsSnapshot {
        self.0.snapshot(mark_seen)
    }
    fn reset(&self) {
        self.0.reset();
    }
}

/// Counts the bytes read from (input) and written to (output) an accepted connection, and its
/// open/close in `currentConns`, into the service's counters or a metrics series.
pub(crate) struct CountedConn<S: Stats + 'static> {
    inner: BoxConn,
    stats: Arc<S>,
}

impl<S: Stats + 'static> CountedConn<S> {
    pub(crate) fn new(inner: BoxConn, stats: Arc<S>) -> Self {
        stats.add(StatsKind::TotalConns, 1);
        stats.add(StatsKind::CurrentConns, 1);
        CountedConn { inner, stats }
    }
}

impl<S: Stats + 'static> Drop for CountedConn<S> {
    fn drop(&mut self) {
        self.stats.add(StatsKind::CurrentConns, -1);
    }
}

impl<S: Stats + 'static> Read for CountedConn<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if n > 0 {
            self.stats.add(StatsKind::InputBytes, n as i64);
        }
        Poll::Ready(Ok(n))
    }
}

impl<S: Stats + 'static> Write for CountedConn<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.stats.add(StatsKind::OutputBytes, n as i64);
        Poll::Ready(Ok(n))
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
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.stats.add(StatsKind::OutputBytes, n as i64);
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<S: Stats + 'static> Conn for CountedConn<S> {
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
