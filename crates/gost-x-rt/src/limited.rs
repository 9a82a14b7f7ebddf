//! A connection whose reads and writes draw on traffic budgets (`limiters`): after each
//! transfer the budget says how long to wait, and the next transfer waits that long. One read or
//! write moves at most the budget's burst. Connections without a limit are never wrapped, so they
//! keep the plain relay path.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use gost_core::{BoxConn, TrafficLimit};
use tokio::time::{Instant, Sleep};

/// One direction's budget and its pending wait (the timer is allocated once per connection).
struct Budget {
    limit: Arc<dyn TrafficLimit>,
    timer: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl Budget {
    fn new(limit: Arc<dyn TrafficLimit>) -> Self {
        Budget { limit, timer: None, waiting: false }
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.waiting
            && let Some(timer) = &mut self.timer
        {
            ready!(timer.as_mut().poll(cx));
            self.waiting = false;
        }
        Poll::Ready(())
    }

    fn charge(&mut self, n: usize) {
        let wait = self.limit.consume(n);
        if wait.is_zero() {
            return;
        }
        let deadline = Instant::now() + wait;
        match &mut self.timer {
            Some(t) => t.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.waiting = true;
    }

    fn cap(&self, len: usize) -> usize {
        len.min(self.limit.burst().max(1))
    }
}

/// A connection limited by an input budget (data from the peer) and/or an output budget.
pub struct LimitedConn {
    inner: BoxConn,
    input: Option<Budget>,
    output: Option<Budget>,
}

impl LimitedConn {
    /// Wraps `inner`; `None` budgets leave that direction alone.
    pub fn new(
        inner: BoxConn,
        input: Option<Arc<dyn TrafficLimit>>,
        output: Option<Arc<dyn TrafficLimit>>,
    ) -> Self {
        LimitedConn { inner, input: input.map(Budget::new), output: output.map(Budget::new) }
    }
}

impl Read for LimitedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(budget) = &mut this.input else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        ready!(budget.poll_wait(cx));
        let len = budget.cap(buf.len());
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf[..len]))?;
        budget.charge(n);
        Poll::Ready(Ok(n))
    }
}

impl Write for LimitedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(budget) = &mut this.output else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        ready!(budget.poll_wait(cx));
        let len = budget.cap(buf.len());
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..len]))?;
        budget.charge(n);
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
        if self.output.is_none() {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        self.poll_write(cx, first)
    }
    fn is_write_vectored(&self) -> bool {
        self.output.is_none() && self.inner.is_write_vectored()
    }
}

impl Conn for LimitedConn {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// 1000 bytes per second, burst 100, counting charges.
    struct Fixed(Mutex<f64>);
    impl TrafficLimit for Fixed {
        fn consume(&self, n: usize) -> Duration {
            let mut debt = self.0.lock().unwrap();
            *debt += n as f64;
            Duration::from_secs_f64(*debt / 1000.0)
        }
        fn burst(&self) -> usize {
            100
        }
        fn limit(&self) -> u64 {
            1000
        }
        fn set_limit(&self, _: u64) {}
    }

    #[tokio::test(start_paused = true)]
    async fn reads_and_writes_wait_for_the_budget() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let limit: Arc<dyn TrafficLimit> = Arc::new(Fixed(Mutex::new(0.0)));
        let mut conn = LimitedConn::new(
            Box::new(crate::TokioConn::new(a)),
            Some(limit.clone()),
            Some(Arc::new(Fixed(Mutex::new(0.0)))),
        );
        let mut peer = crate::TokioConn::new(b);
        gost_core::io::write_all(&mut peer, &[7u8; 300]).await.unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 1000];
        let mut got = 0;
        while got < 300 {
            let n = gost_core::io::read(&mut conn, &mut buf).await.unwrap();
            assert!(n <= 100, "one read moves at most the burst");
            got += n;
        }
        // Three reads of 100: waits of 0.1 s and 0.2 s before the second and third.
        assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
        let start = Instant::now();
        gost_core::io::write_all(&mut conn, &[1u8; 250]).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300), "{:?}", start.elapsed());
    }
}
