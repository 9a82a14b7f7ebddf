//! # gost-x-bypass
//!
//! [`ListBypass`] matches targets against gost's patterns (see `gost-x-matcher`). In blacklist
//! mode (the default) a matching target is bypassed; in whitelist mode every target that does
//! not match is. `network` (`tcp` or `udp`) limits the list to that kind of traffic.
//! What "bypassed" means is the caller's: a service refuses the target, a hop or node lets it
//! skip the rest of the chain.
//!
//! [`BypassGroup`] combines lists as gost does (`bypasses: [a, b]`): the target is bypassed if
//! every whitelist bypasses it, or else if any blacklist does.

use std::sync::{Arc, RwLock};

use gost_core::{Address, BoxBypass, Bypass, Error, Network, Result};
use gost_x_matcher::Matcher;

/// A list of target patterns.
#[derive(Debug)]
pub struct ListBypass {
    whitelist: bool,
    udp: Option<bool>,
    matcher: RwLock<Arc<Matcher>>,
}

impl ListBypass {
    /// A bypass over `patterns`. `network` is `""`, `"tcp"` or `"udp"`.
    pub fn new<S: AsRef<str>>(whitelist: bool, network: &str, patterns: &[S]) -> Result<Self> {
        let udp = match network {
            "" => None,
            "tcp" => Some(false),
            "udp" => Some(true),
            other => {
                return Err(Error::config(format!(
                    "bypass network {other:?}: expected tcp or udp"
                )));
            }
        };
        Ok(ListBypass { whitelist, udp, matcher: RwLock::new(Arc::new(Matcher::new(patterns)?)) })
    }

    /// Replaces the patterns; on error the old ones stay.
    pub fn set_patterns<S: AsRef<str>>(&self, patterns: &[S]) -> Result<()> {
        let m = Arc::new(Matcher::new(patterns)?);
        *self.matcher.write().unwrap_or_else(|e| e.into_inner()) = m;
        Ok(())
    }

    /// Whether this is a whitelist.
    pub fn is_whitelist(&self) -> bool {
        self.whitelist
    }

    /// The synchronous check behind [`Bypass::contains`].
    pub fn bypasses(&self, network: Network, target: &Address) -> bool {
        if let Some(udp) = self.udp
            && udp != network.is_udp()
        {
            return false;
        }
        let m = self.matcher.read().unwrap_or_else(|e| e.into_inner());
        if m.is_empty() {
            // gost: an empty list restricted to a network covers all of that network.
            return self.udp.is_some() && !self.whitelist;
        }
        m.matches(target) != self.whitelist
    }
}

impl Bypass for ListBypass {
    async fn contains(&self, network: Network, target: Address) -> bool {
        self.bypasses(network, &target)
    }
    fn whitelist(&self) -> bool {
        self.whitelist
    }
}

/// Several bypass lists (each says whether it is a whitelist).
#[derive(Debug, Clone)]
pub struct BypassGroup(pub Vec<BoxBypass>);

impl Bypass for BypassGroup {
    async fn contains(&self, network: Network, target: Address) -> bool {
        let mut has_whitelist = false;
        let mut all_whitelists = true;
        for b in &self.0 {
            if !b.whitelist() {
                continue;
            }
            has_whitelist = true;
            if !b.contains(network, target.clone()).await {
                all_whitelists = false;
                break;
            }
        }
        if has_whitelist && all_whitelists {
            return true;
        }
        for b in &self.0 {
            if !b.whitelist() && b.contains(network, target.clone()).await {
                return true;
            }
        }
        false
    }

    /// Only the blacklists speak for a resolved address.
    async fn refuses_resolved(&self, network: Network, resolved: Address) -> bool {
        for b in &self.0 {
            if b.refuses_resolved(network, resolved.clone()).await {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn modes_and_networks() {
        let black = ListBypass::new(false, "", &["*.example.com", "10.0.0.0/8"]).unwrap();
        assert!(black.bypasses(Network::Tcp, &a("www.example.com:443")));
        assert!(black.bypasses(Network::Udp, &a("10.1.1.1:53")));
        assert!(!black.bypasses(Network::Tcp, &a("example.org:443")));
        let white = ListBypass::new(true, "", &[".example.com"]).unwrap();
        assert!(!white.bypasses(Network::Tcp, &a("example.com:80")));
        assert!(white.bypasses(Network::Tcp, &a("example.org:80")));
        let udp_only = ListBypass::new(false, "udp", &["1.1.1.1"]).unwrap();
        assert!(udp_only.bypasses(Network::Udp, &a("1.1.1.1:53")));
        assert!(!udp_only.bypasses(Network::Tcp, &a("1.1.1.1:53")));
        let all_udp = ListBypass::new::<&str>(false, "udp", &[]).unwrap();
        assert!(all_udp.bypasses(Network::Udp4, &a("8.8.8.8:53")));
        assert!(!all_udp.bypasses(Network::Tcp, &a("8.8.8.8:53")));
        assert!(ListBypass::new::<&str>(false, "sctp", &[]).is_err());
    }

    #[tokio::test]
    async fn group_logic() {
        let b = |w: bool, p: &[&str]| BoxBypass::new(ListBypass::new(w, "", p).unwrap());
        let g = BypassGroup(vec![b(false, &["a.com"]), b(true, &["b.com", "c.com"])]);
        assert!(g.contains(Network::Tcp, a("a.com:1")).await, "blacklist match");
        assert!(g.contains(Network::Tcp, a("d.com:1")).await, "outside the whitelist");
        assert!(!g.contains(Network::Tcp, a("b.com:1")).await);
        // A resolved address: only the blacklists speak.
        let g = BypassGroup(vec![b(false, &["127.0.0.0/8"]), b(true, &["b.com"])]);
        assert!(g.refuses_resolved(Network::Tcp, a("127.0.0.1:80")).await);
        assert!(!g.refuses_resolved(Network::Tcp, a("93.184.216.34:80")).await);
        let white = b(true, &["b.com"]);
        assert!(!white.refuses_resolved(Network::Tcp, a("127.0.0.1:80")).await);
        let black = b(false, &["10.0.0.0/8"]);
        assert!(black.refuses_resolved(Network::Tcp, a("10.1.2.3:80")).await);
    }
}
