use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gost_core::TrafficLimit;

/// A token bucket of bytes: refills at the rate, holds at most the burst (at least one second's
/// worth), starts full. Going into debt is allowed: the caller then waits until it is repaid.
#[derive(Debug)]
pub struct TokenBucket {
    rate: AtomicU64,
    burst: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket of `rate` bytes per second with room for `burst` bytes (0 = one second's worth).
    pub fn new(rate: u64, burst: u64) -> Self {
        let bucket = TokenBucket {
            rate: AtomicU64::new(rate),
            burst: AtomicU64::new(burst),
            state: Mutex::new(State { tokens: 0.0, last: Instant::now() }),
        };
        bucket.lock().tokens = bucket.capacity() as f64;
        bucket
    }

    fn capacity(&self) -> u64 {
        self.burst.load(Ordering::Relaxed).max(self.rate.load(Ordering::Relaxed)).max(1)
    }

    /// Changes the rate and the burst in place; the tokens held stay (capped to the new burst).
    pub fn set(&self, rate: u64, burst: u64) {
        let mut st = self.refill();
        self.rate.store(rate, Ordering::Relaxed);
        self.burst.store(burst, Ordering::Relaxed);
        st.tokens = st.tokens.min(self.capacity() as f64);
    }

    /// When the bucket was last used.
    pub fn last_used(&self) -> Instant {
        self.lock().last
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `n` tokens if there are that many now (the rate limiter's question).
    pub fn try_take(&self, n: u64) -> bool {
        let mut st = self.refill();
        if st.tokens >= n as f64 {
            st.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    fn refill(&self) -> std::sync::MutexGuard<'_, State> {
        let rate = self.rate.load(Ordering::Relaxed) as f64;
        let cap = self.capacity() as f64;
        let mut st = self.lock();
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(st.last).as_secs_f64();
        st.tokens = (st.tokens + elapsed * rate).min(cap);
        st.last = now;
        st
    }
}

impl TrafficLimit for TokenBucket {
    fn consume(&self, n: usize) -> Duration {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 || n == 0 {
            return Duration::ZERO;
        }
        let mut st = self.refill();
        st.tokens -= n as f64;
        if st.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-st.tokens / rate as f64)
        }
    }

    fn burst(&self) -> usize {
        usize::try_from(self.capacity()).unwrap_or(usize::MAX)
    }

    fn limit(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    fn set_limit(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::Relaxed);
    }
}

/// Several budgets that all apply: a transfer waits for the slowest.
pub(crate) struct Group(pub(crate) Vec<std::sync::Arc<dyn TrafficLimit>>);

impl TrafficLimit for Group {
    fn consume(&self, n: usize) -> Duration {
        self.0.iter().map(|l| l.consume(n)).max().unwrap_or_default()
    }
    fn burst(&self) -> usize {
        self.0.iter().map(|l| l.burst()).min().unwrap_or(usize::MAX)
    }
    fn limit(&self) -> u64 {
        self.0.iter().map(|l| l.limit()).min().unwrap_or(0)
    }
    fn set_limit(&self, bytes_per_second: u64) {
        for l in &self.0 {
            l.set_limit(bytes_per_second);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_full_then_charges_debt() {
        let b = TokenBucket::new(1000, 0);
        assert_eq!(b.burst(), 1000);
        assert_eq!(b.consume(1000), Duration::ZERO);
        let wait = b.consume(500);
        assert!(
            wait > Duration::from_millis(450) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        let wait = b.consume(500);
        assert!(wait > Duration::from_millis(950), "{wait:?}");
    }

    #[test]
    fn unlimited_never_waits_and_rate_changes_apply() {
        let b = TokenBucket::new(0, 0);
        assert_eq!(b.consume(usize::MAX), Duration::ZERO);
        b.set_limit(10);
        assert!(b.consume(100) > Duration::from_secs(8));
    }

    #[test]
    fn try_take() {
        let b = TokenBucket::new(2, 0);
        assert!(b.try_take(1));
        assert!(b.try_take(1));
        assert!(!b.try_take(1));
    }

    #[test]
    fn group_waits_for_the_slowest() {
        let g = Group(vec![
            std::sync::Arc::new(TokenBucket::new(100, 0)),
            std::sync::Arc::new(TokenBucket::new(1000, 0)),
        ]);
        assert_eq!(g.burst(), 100);
        assert_eq!(g.consume(100), Duration::ZERO);
        assert!(g.consume(100) > Duration::from_millis(900));
    }
}
