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
        // A client without an address (a Unix socket, ...) fails closed where a list admits
        // only whom it knows, and still counts against the service-wide limits (the per-IP
        // ones cannot apply).
        let admitted = match (&self.admission, client) {
            (None, _) => true,
            (Some(a), Some(client)) => a.admit(client).await,
            (Some(a), None) => a.admits_unknown(),
        };
        if !admitted {
            return Err("refused by admission");
        }
        let ip = client.map(|c| c.ip().to_canonical().to_string()).unwrap_or_default();
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
                let key = client.map(|c| c.to_string()).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn conn() -> BoxConn {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        Box::new(gost_x_rt::TokioConn::tcp(c))
    }

    #[tokio::test]
    async fn clients_without_an_address_fail_closed_and_count() {
        let white = gost_x_admission::ListAdmission::new(true, &["127.0.0.1"]).unwrap();
        let black = gost_x_admission::ListAdmission::new(false, &["10.0.0.1"]).unwrap();
        let mut p = Policy::default();
        p.admission = Some(BoxAdmission::new(white));
        assert!(
            p.apply(conn().await, None).await.is_err(),
            "a whitelist admits only whom it knows"
        );
        p.admission = Some(BoxAdmission::new(black));
        assert!(p.apply(conn().await, None).await.is_ok(), "a blacklist cannot list them");
        // The service-wide connection limit still counts them.
        p.conn_limiter = Some(Arc::new(gost_x_limiter::ConnLimits::new(&["$ 1"]).unwrap()));
        let first = p.apply(conn().await, None).await.unwrap();
        assert!(p.apply(conn().await, None).await.is_err(), "the second is over the limit");
        drop(first);
        assert!(p.apply(conn().await, None).await.is_ok(), "the slot came back");
    }
}
