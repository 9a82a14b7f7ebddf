//! What a service checks on each accepted connection before its handler sees a byte:
//! admission, the connection limit, the rate limit, then the traffic limits (gost applies the
//! first two as listener wrappers and the rate limit in its handlers; the effect on a client is
//! the same: a refused connection is closed without a reply).

use std::net::SocketAddr;
use std::sync::Arc;

use gost_core::{
    Admission, BoxAdmission, BoxConn, ConnLimit, ConnLimiter, RateLimiter, TrafficLimiter,
};
use gost_x_rt::LimitedConn;

/// A service's admission and limiters (all optional).
#[non_exhaustive]
#[derive(Clone, Default)]
pub struct Policy {
    /// `admission`/`admissions`.
    pub admission: Option<BoxAdmission>,
    /// `climiter`.
    pub conn_limiter: Option<Arc<dyn ConnLimiter>>,
    /// `rlimiter`.
    pub rate_limiter: Option<Arc<dyn RateLimiter>>,
    /// `limiter`.
    pub traffic_limiter: Option<Arc<dyn TrafficLimiter>>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("admission", &self.admission.is_some())
            .field("conn_limiter", &self.conn_limiter.is_some())
            .field("rate_limiter", &self.rate_limiter.is_some())
            .field("traffic_limiter", &self.traffic_limiter.is_some())
            .finish()
    }
}

/// A connection-limit slot, given back when the connection ends.
pub(crate) struct Slot(Arc<dyn ConnLimit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.allow(-1);
    }
}

impl Policy {
    /// Whether nothing is configured (the accept path then skips this entirely).
    pub fn is_empty(&self) -> bool {
        self.admission.is_none()
            && self.conn_limiter.is_none()
            && self.rate_limiter.is_none()
            && self.traffic_limiter.is_none()
    }

    /// The connection to hand to the handler (wrapped if its traffic is limited) and its
    /// connection-limit slot, or `None` (with the reason) if it is refused.
    pub(crate) async fn apply(
        &self,
        conn: BoxConn,
        client: Option<SocketAddr>,
    ) -> Result<(BoxConn, Option<Slot>), &'static str> {
        let Some(client) = client else { return Ok((conn, None)) };
        if let Some(a) = &self.admission
            && !a.admit(client).await
        {
            return Err("refused by admission");
        }
        let ip = client.ip().to_canonical().to_string();
        let mut slot = None;
        if let Some(limiter) = &self.conn_limiter
            && let Some(limit) = limiter.limiter(&ip)
        {
            if !limit.allow(1) {
                return Err("connection limit reached");
            }
            slot = Some(Slot(limit));
        }
        if let Some(limiter) = &self.rate_limiter
            && let Some(limit) = limiter.limiter(&ip)
            && !limit.allow(1)
        {
            return Err("rate limit reached");
        }
        let conn = match &self.traffic_limiter {
            Some(t) => {
                let key = client.to_string();
                match (t.limit_in(&key), t.limit_out(&key)) {
                    (None, None) => conn,
                    (input, output) => Box::new(LimitedConn::new(conn, input, output)),
                }
            }
            None => conn,
        };
        Ok((conn, slot))
    }
}
