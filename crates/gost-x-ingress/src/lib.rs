//! # gost-x-ingress
//!
//! [`RuleIngress`]: host name → tunnel rules (`ingresses` objects), as gost's local ingress
//! keeps them. A rule's host name `*.example.com` is stored as `.example.com`. A lookup strips
//! a port, then tries the name itself, then `.name`, then each parent domain with a leading dot
//! (`a.b.c` → `.b.c` → `.c`); names are compared as written (gost does not fold case). File
//! and loader lines are `hostname endpoint` (`#` starts a comment; a line with fewer than two
//! fields is skipped).
//!
//! As gost's, this ingress takes no rules at run time ([`Ingress::set_rule`] answers false):
//! its rules come from the configuration, its file, or the Web API replacing the object.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use gost_core::{Ingress, IngressRule};

/// A table of rules.
#[derive(Debug, Default)]
pub struct RuleIngress {
    rules: RwLock<Arc<HashMap<String, IngressRule>>>,
}

/// Parses `hostname endpoint` lines (comments and short lines are skipped, as gost does).
pub fn parse_lines<S: AsRef<str>>(lines: &[S]) -> Vec<IngressRule> {
    lines
        .iter()
        .filter_map(|line| {
            let line = line.as_ref();
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let hostname = fields.next()?;
            let endpoint = fields.next()?;
            Some(IngressRule { hostname: hostname.to_owned(), endpoint: endpoint.to_owned() })
        })
        .collect()
}

fn build(rules: Vec<IngressRule>) -> HashMap<String, IngressRule> {
    let mut map = HashMap::new();
    for rule in rules {
        if rule.hostname.is_empty() || rule.endpoint.is_empty() {
            continue;
        }
        let key = rule.hostname.strip_prefix('*').unwrap_or(&rule.hostname).to_owned();
        map.insert(key, rule);
    }
    map
}

impl RuleIngress {
    /// An ingress with `rules` (a later rule for the same host name wins).
    pub fn new(rules: Vec<IngressRule>) -> Self {
        RuleIngress { rules: RwLock::new(Arc::new(build(rules))) }
    }

    /// Replaces the rules.
    pub fn set_rules(&self, rules: Vec<IngressRule>) {
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(build(rules));
    }

    /// The rule for `host`, as [`Ingress::get_rule`] finds it.
    pub fn lookup(&self, host: &str) -> Option<IngressRule> {
        let rules = self.rules.read().unwrap_or_else(|e| e.into_inner()).clone();
        let host = strip_port(host);
        // No host name is longer than 255 bytes; a longer one would cost a hash per dot.
        if host.is_empty() || host.len() > 255 {
            return None;
        }
        if let Some(rule) = rules.get(host) {
            return Some(rule.clone());
        }
        if let Some(rule) = rules.get(&format!(".{host}")) {
            return Some(rule.clone());
        }
        // `a.b.c`: `.b.c`, then `.c`.
        let mut rest = host;
        while let Some(dot) = rest.find('.').filter(|&i| i > 0) {
            if let Some(rule) = rules.get(&rest[dot..]) {
                return Some(rule.clone());
            }
            rest = &rest[dot + 1..];
        }
        None
    }
}

/// `host:port` → `host` (`[v6]:port` → `v6`); a name without a port is kept.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

impl Ingress for RuleIngress {
    async fn get_rule(&self, host: String) -> Option<IngressRule> {
        self.lookup(&host)
    }

    async fn set_rule(&self, _rule: IngressRule) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(h: &str, e: &str) -> IngressRule {
        IngressRule { hostname: h.into(), endpoint: e.into() }
    }

    #[tokio::test]
    async fn exact_then_dotted_then_parent_domains() {
        let ing = RuleIngress::new(vec![
            rule("example.com", "a"),
            rule("*.example.org", "b"),
            rule(".net", "c"),
            rule("sub.example.com", "d"),
            rule("", "ignored"),
        ]);
        let get = |h: &str| ing.lookup(h).map(|r| r.endpoint);
        assert_eq!(get("example.com"), Some("a".into()));
        assert_eq!(get("example.com:8080"), Some("a".into()), "the port is stripped");
        assert_eq!(get("sub.example.com"), Some("d".into()));
        assert_eq!(get("x.sub.example.com"), None, "no rule for .sub.example.com or .com");
        assert_eq!(get("example.org"), Some("b".into()), "`.example.org` matches itself too");
        assert_eq!(get("a.b.example.org"), Some("b".into()));
        assert_eq!(get("host.net"), Some("c".into()));
        assert_eq!(get("EXAMPLE.com"), None, "names are compared as written");
        assert_eq!(get(""), None);
        assert_eq!(get(&format!("{}.net", "a.".repeat(200))), None, "too long to be a name");
        assert!(!ing.set_rule(rule("new.com", "z")).await, "no rules at run time");
        assert_eq!(
            ing.get_rule("www.example.org".into()).await.map(|r| r.hostname),
            Some("*.example.org".into())
        );
        ing.set_rules(parse_lines(&["new.com  e  # comment", "bad-line", "# only a comment"]));
        assert_eq!(get("new.com"), Some("e".into()));
        assert_eq!(get("example.com"), None);
    }
}
