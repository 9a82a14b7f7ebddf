//! # gost-x-admission
//!
//! [`ListAdmission`] admits or refuses a client by its IP before the handler reads a byte:
//! patterns are IPs, CIDR blocks and IP ranges (gost matches nothing else against a client;
//! other patterns are accepted and never match). In blacklist mode (the default) a matching
//! client is refused; in whitelist mode only matching clients are admitted.
//! [`AdmissionGroup`] admits a client only if every member does (`admissions: [a, b]`).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use gost_core::{Admission, BoxAdmission, Result};
use gost_x_matcher::Matcher;

/// A list of client patterns, blacklist or whitelist.
#[derive(Debug)]
pub struct ListAdmission {
    whitelist: bool,
    matcher: RwLock<Arc<Matcher>>,
}

impl ListAdmission {
    /// An admission over `patterns`; `whitelist` admits only matching clients.
    pub fn new<S: AsRef<str>>(whitelist: bool, patterns: &[S]) -> Result<Self> {
        Ok(ListAdmission { whitelist, matcher: RwLock::new(Arc::new(Matcher::new(patterns)?)) })
    }

    /// Replaces the patterns; on error the old ones stay.
    pub fn set_patterns<S: AsRef<str>>(&self, patterns: &[S]) -> Result<()> {
        let m = Arc::new(Matcher::new(patterns)?);
        *self.matcher.write().unwrap_or_else(|e| e.into_inner()) = m;
        Ok(())
    }

    /// The synchronous check behind [`Admission::admit`].
    pub fn admits(&self, client: SocketAddr) -> bool {
        let matched =
            self.matcher.read().unwrap_or_else(|e| e.into_inner()).matches_ip(client.ip());
        matched == self.whitelist
    }
}

impl Admission for ListAdmission {
    async fn admit(&self, client: SocketAddr) -> bool {
        self.admits(client)
    }
    fn admits_unknown(&self) -> bool {
        !self.whitelist
    }
}

/// Several admissions that must all admit a client.
#[derive(Debug, Clone)]
pub struct AdmissionGroup(pub Vec<BoxAdmission>);

impl Admission for AdmissionGroup {
    async fn admit(&self, client: SocketAddr) -> bool {
        for a in &self.0 {
            if !a.admit(client).await {
                return false;
            }
        }
        true
    }
    fn admits_unknown(&self) -> bool {
        self.0.iter().all(Admission::admits_unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blacklist_and_whitelist() {
        let black = ListAdmission::new(false, &["127.0.0.2", "10.0.0.0/8", "example.com"]).unwrap();
        assert!(black.admits(sa("127.0.0.1:5")));
        assert!(!black.admits(sa("127.0.0.2:5")));
        assert!(!black.admits(sa("10.2.3.4:5")));
        let white = ListAdmission::new(true, &["127.0.0.0/30"]).unwrap();
        assert!(white.admits(sa("127.0.0.3:1")));
        assert!(!white.admits(sa("127.0.0.4:1")));
        let nobody = ListAdmission::new::<&str>(true, &[]).unwrap();
        assert!(!nobody.admits(sa("127.0.0.1:1")));
        white.set_patterns(&["127.0.0.4"]).unwrap();
        assert!(white.admits(sa("127.0.0.4:1")));
        assert!(white.set_patterns(&["1.2.3.4/99"]).is_err());
        assert!(white.admits(sa("127.0.0.4:1")), "a bad update keeps the old patterns");
    }

    #[tokio::test]
    async fn group_needs_every_member() {
        let g = AdmissionGroup(vec![
            BoxAdmission::new(ListAdmission::new(false, &["127.0.0.2"]).unwrap()),
            BoxAdmission::new(ListAdmission::new(true, &["127.0.0.0/8"]).unwrap()),
        ]);
        assert!(g.admit(sa("127.0.0.1:1")).await);
        assert!(!g.admit(sa("127.0.0.2:1")).await);
        assert!(!g.admit(sa("10.0.0.1:1")).await);
    }
}
