//! gost 3.3's routing and health blocks: node and group-entry `matcher`s, `probe`s, the
//! `chainGroup` of a handler or listener and the `hopGroup` of a forwarder.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{
    BoxAdmission, BoxAuther, BoxBypass, BoxChainer, BoxHop, BoxMatcher, Error, ErrorKind,
    HttpNodeSettings, Metadata, Node, Registries, Result, Value,
};
use gost_x_auth::Users;
use gost_x_chain::group::{ChainGroup, ChainProbe, GroupEntry, HopGroup, HopProbe};
use gost_x_chain::probe::{self, NodeProbe, ProbeKind, ProbeReport, Probes};
use gost_x_chain::selector::{DEFAULT_FAIL_TIMEOUT, from_metadata};
use gost_x_matcher::rule::{PolicyLookup, RuleMatcher};

use crate::build::{Env, selector_metadata};
use crate::model::{
    AuthConfig, ChainGroupConfig, ConfigValue, HopGroupConfig, HttpNodeConfig, NodeMatcherConfig,
    ProbeConfig,
};
use crate::policy;

/// Finds a rule's `Bypass(name)` and `Admission(name)` among the named objects (late bound).
struct Lookup<'a>(&'a Registries);

impl PolicyLookup for Lookup<'_> {
    fn bypass(&self, name: &str) -> Option<BoxBypass> {
        self.0.bypasses.contains(name).then(|| BoxBypass::new(self.0.bypasses.named(name)))
    }
    fn admission(&self, name: &str) -> Option<BoxAdmission> {
        self.0.admissions.contains(name).then(|| BoxAdmission::new(self.0.admissions.named(name)))
    }
}

/// A `matcher` block: the rule (none when empty) and the priority (gost: 0 means the rule's
/// length, so that longer, more specific rules come first). A rule that does not parse is an
/// error (gost logs it and drops the rule).
pub(crate) fn matcher(
    cfg: Option<&NodeMatcherConfig>,
    r: &Registries,
) -> Result<(Option<BoxMatcher>, i64)> {
    matcher_with_body(cfg, r).map(|(m, p, _)| (m, p))
}

/// gost's default and largest `matcher.bodySize`.
const DEFAULT_BODY_SIZE: usize = 1 << 20;
const MAX_BODY_SIZE: usize = 10 << 20;

/// [`matcher`], and how much of a request body its rule reads (`matcher.bodySize`: 1 MiB by
/// default, 10 MiB at most; 0 when the rule has no body matcher, unlike gost, which reads it for
/// every rule).
pub(crate) fn matcher_with_body(
    cfg: Option<&NodeMatcherConfig>,
    r: &Registries,
) -> Result<(Option<BoxMatcher>, i64, usize)> {
    let Some(cfg) = cfg else { return Ok((None, 0, 0)) };
    let rule = cfg.rule.trim();
    if rule.is_empty() {
        return Ok((None, cfg.priority, 0));
    }
    let m = RuleMatcher::parse(rule, &Lookup(r))?;
    let priority = if cfg.priority == 0 {
        i64::try_from(cfg.rule.len()).unwrap_or(i64::MAX)
    } else {
        cfg.priority
    };
    let body_size = if !m.uses_body() {
        0
    } else if cfg.body_size <= 0 {
        DEFAULT_BODY_SIZE
    } else {
        usize::try_from(cfg.body_size).unwrap_or(MAX_BODY_SIZE).min(MAX_BODY_SIZE)
    };
    Ok((Some(BoxMatcher::new(m)), priority, body_size))
}

/// A node's `http` block as the forwarder applies it (with a forward node's older top-level
/// `auth`, which gost moves there). Body rewrites are refused: not supported yet.
pub(crate) fn http_settings(
    cfg: Option<&HttpNodeConfig>,
    legacy_auth: Option<&AuthConfig>,
) -> Result<Option<Arc<HttpNodeSettings>>> {
    let auth = cfg.and_then(|c| c.auth.as_ref()).or(legacy_auth);
    let Some(cfg) = cfg else {
        return Ok(
            auth.map(|a| Arc::new(HttpNodeSettings { auth: users(a), ..Default::default() }))
        );
    };
    for (name, list) in [
        ("rewriteBody", &cfg.rewrite_body),
        ("rewriteRequestBody", &cfg.rewrite_request_body),
        ("rewriteResponseBody", &cfg.rewrite_response_body),
    ] {
        if !list.is_empty() {
            return Err(Error::unsupported(format!("http.{name} is not supported yet")));
        }
    }
    let header = |m: &std::collections::BTreeMap<String, String>| -> Result<Vec<(String, String)>> {
        m.iter()
            .map(|(k, v)| {
                let bad =
                    k.is_empty() || k.contains([':', ' ', '\r', '\n']) || v.contains(['\r', '\n']);
                if bad {
                    Err(Error::config(format!("http: bad header {k:?}: {v:?}")))
                } else {
                    Ok((k.clone(), v.clone()))
                }
            })
            .collect()
    };
    let request = if cfg.request_header.is_empty() { &cfg.header } else { &cfg.request_header };
    let rewrites = if cfg.rewrite_url.is_empty() { &cfg.rewrite } else { &cfg.rewrite_url };
    let host = cfg.host.clone().filter(|h| !h.is_empty());
    if let Some(h) = &host
        && h.contains([' ', '\r', '\n', '/'])
    {
        return Err(Error::config(format!("http.host {h:?} is not a host")));
    }
    Ok(Some(Arc::new(HttpNodeSettings {
        host,
        request_header: header(request)?,
        response_header: header(&cfg.response_header)?,
        rewrite_url: rewrites
            .iter()
            .map(|r| gost_x_matcher::rule::path_rewrite(&r.pattern, &r.replacement))
            .collect::<Result<_>>()?,
        auth: auth.and_then(users),
        fail_codes: fail_codes(cfg.fail_codes.as_deref().unwrap_or(""))?,
    })))
}

fn users(a: &AuthConfig) -> Option<BoxAuther> {
    (!a.username.is_empty())
        .then(|| BoxAuther::new(Users::new([(a.username.clone(), a.password.clone())])))
}

/// `429,5xx`: codes, and classes as their digit (gost's wildcard form).
pub(crate) fn fail_codes(spec: &str) -> Result<Vec<u16>> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let code = match part.strip_suffix("xx").or_else(|| part.strip_suffix("XX")) {
            Some(class) if class.len() == 1 => {
                class.parse::<u16>().ok().filter(|c| (1..=5).contains(c))
            }
            Some(_) => None,
            None => part.parse::<u16>().ok().filter(|c| (100..=599).contains(c)),
        };
        match code {
            Some(c) => out.push(c),
            None => {
                return Err(Error::config(format!(
                    "http.failCodes: {part:?} is not a status or a class like 5xx"
                )));
            }
        }
    }
    Ok(out)
}

fn duration(v: Option<&ConfigValue>, key: &str) -> Result<Option<Duration>> {
    let Some(v) = v else { return Ok(None) };
    let md: Metadata = [(key, Value::from(v))].into_iter().collect();
    Ok(md.get_duration(&[key])?.filter(|d| !d.is_zero()))
}

/// A `probe` block, checked.
pub(crate) fn probe(cfg: &ProbeConfig) -> Result<probe::ProbeConfig> {
    let kind = match cfg.kind.as_str() {
        "" | "tcp" => ProbeKind::Tcp,
        "http" => {
            let expected = if cfg.expected_status == 0 { 200 } else { cfg.expected_status };
            let expected_status =
                u16::try_from(expected).ok().filter(|c| (100..=599).contains(c)).ok_or_else(
                    || Error::config(format!("probe: expectedStatus {expected} is no HTTP status")),
                )?;
            let path =
                cfg.http_path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".into());
            if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::config(format!("probe: httpPath {path:?} is no request path")));
            }
            let host = cfg.http_host.iter().map(|h| ("Host", h.as_str()));
            let headers = cfg.http_headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            for (k, v) in headers.chain(host) {
                let bad_name = k.is_empty() || k.contains([':', ' ', '\r', '\n']);
                if bad_name || v.contains(['\r', '\n']) {
                    return Err(Error::config(format!("probe: bad HTTP header {k:?}: {v:?}")));
                }
            }
            ProbeKind::Http {
                path,
                host: cfg.http_host.clone().filter(|h| !h.is_empty()),
                headers: cfg.http_headers.clone(),
                expected_status,
            }
        }
        "cmd" => match cfg.command.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => ProbeKind::Cmd { command: c.to_owned() },
            None => return Err(Error::config("probe: type cmd needs a command")),
        },
        other => {
            return Err(Error::config(format!(
                "probe: unknown type {other:?} (expected tcp, http or cmd)"
            )));
        }
    };
    let threshold = |n: i64| u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    Ok(probe::ProbeConfig {
        kind,
        addr: cfg.addr.clone().filter(|a| !a.is_empty()),
        interval: duration(cfg.interval.as_ref(), "interval")?.unwrap_or(probe::DEFAULT_INTERVAL),
        timeout: duration(cfg.timeout.as_ref(), "timeout")?.unwrap_or(probe::DEFAULT_TIMEOUT),
        failure_threshold: threshold(cfg.failure_threshold),
        success_threshold: threshold(cfg.success_threshold),
    })
}

fn report(env: &Env, scope: &str) -> ProbeReport {
    ProbeReport {
        metrics: env.metrics.clone(),
        board: Some(env.probes.clone()),
        scope: scope.to_owned(),
    }
}

/// Starts the probe of `node` (when it has one) into `probes`.
pub(crate) fn probe_node(
    node: &Arc<Node>,
    cfg: Option<&ProbeConfig>,
    scope: &str,
    env: &Env,
    probes: &mut Probes,
) -> Result<()> {
    let Some(cfg) = cfg else { return Ok(()) };
    let cfg = probe(cfg).map_err(|e| e.wrap(ErrorKind::Config, format!("node {}", node.name)))?;
    probes.start(Arc::new(NodeProbe(node.clone())), cfg, report(env, scope));
    Ok(())
}

/// A handler's or listener's chain: `chain` alone, or a `chainGroup` (with `chain`, when both
/// are given, as its first entry, as gost does).
pub(crate) fn chain_group(
    chain: Option<&str>,
    group: &ChainGroupConfig,
    r: &Registries,
    env: &Env,
    scope: &str,
) -> Result<BoxChainer> {
    let mut entries = Vec::new();
    let mut probes = Probes::default();
    if let Some(name) = chain {
        let c = BoxChainer::new(policy::named(&r.chains, "chain", name)?);
        entries.push(GroupEntry::new(name, c, None));
    }
    for e in &group.chains {
        let e = e.parts();
        let at =
            |err: Error| err.wrap(ErrorKind::Config, format!("chainGroup chain {:?}", e.chain));
        if e.chain.is_empty() {
            return Err(Error::config("chainGroup: an entry names no chain"));
        }
        if !e.hop.is_empty() {
            return Err(at(Error::config("`hop` belongs to a forwarder's hopGroup")));
        }
        let c = BoxChainer::new(policy::named(&r.chains, "chain", &e.chain).map_err(at)?);
        let (m, _) = matcher(e.matcher.as_ref(), r).map_err(at)?;
        let entry = GroupEntry::new(e.chain.clone(), c, m);
        if let Some(p) = &e.probe {
            let cfg = probe(p).map_err(at)?;
            if cfg.addr.is_none() && !matches!(cfg.kind, ProbeKind::Cmd { .. }) {
                return Err(at(Error::config(
                    "a tcp or http probe of a chain needs `addr`: the target reached through it",
                )));
            }
            let report = report(env, scope);
            probes.start(Arc::new(ChainProbe(entry.clone())), cfg, report);
        }
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(Error::config("chainGroup has no chains"));
    }
    let md = selector_metadata(group.selector.as_ref(), &Metadata::new());
    let sel = from_metadata(&md, DEFAULT_FAIL_TIMEOUT)?;
    Ok(BoxChainer::new(ChainGroup::new(entries, sel, probes)))
}

/// A forwarder's `hopGroup`.
pub(crate) fn hop_group(
    group: &HopGroupConfig,
    r: &Registries,
    env: &Env,
    scope: &str,
) -> Result<BoxHop> {
    let mut entries = Vec::new();
    let mut probes = Probes::default();
    for e in &group.hops {
        let at = |err: Error| err.wrap(ErrorKind::Config, format!("hopGroup hop {:?}", e.hop));
        if e.hop.is_empty() {
            return Err(Error::config("hopGroup: an entry names no hop"));
        }
        if !e.chain.is_empty() {
            return Err(at(Error::config("`chain` belongs to a chainGroup")));
        }
        let h = BoxHop::new(policy::named(&r.hops, "hop", &e.hop).map_err(at)?);
        let (m, _, body_size) = matcher_with_body(e.matcher.as_ref(), r).map_err(at)?;
        let entry = GroupEntry::with_body_size(e.hop.clone(), h, m, body_size);
        if let Some(p) = &e.probe {
            let report = report(env, scope);
            probes.start(Arc::new(HopProbe(entry.clone())), probe(p).map_err(at)?, report);
        }
        entries.push(entry);
    }
    if entries.is_empty() {
        return Err(Error::config("hopGroup has no hops"));
    }
    let md = selector_metadata(group.selector.as_ref(), &Metadata::new());
    let sel = from_metadata(&md, DEFAULT_FAIL_TIMEOUT)?;
    Ok(BoxHop::new(HopGroup::new(entries, sel, probes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_priority_defaults_to_the_rule_length() {
        let r = Registries::new();
        let cfg = NodeMatcherConfig { rule: "Host(`a.test`)".into(), ..Default::default() };
        let (m, p) = matcher(Some(&cfg), &r).unwrap();
        assert!(m.is_some());
        assert_eq!(p, 14);
        let cfg = NodeMatcherConfig { priority: -1, ..cfg };
        assert_eq!(matcher(Some(&cfg), &r).unwrap().1, -1);
        let bad = NodeMatcherConfig { rule: "Host(`a.test`".into(), ..Default::default() };
        let err = matcher(Some(&bad), &r).unwrap_err().to_string();
        assert!(err.contains("Host(`a.test`"), "{err}");
        let unknown = NodeMatcherConfig { rule: "Bypass(`nope`)".into(), ..Default::default() };
        assert!(matcher(Some(&unknown), &r).is_err());
    }

    #[test]
    fn fail_codes_and_http_settings() {
        assert_eq!(fail_codes("429, 5xx,503").unwrap(), [429, 5, 503]);
        for bad in ["42", "6xx", "50x", "abc", "5xxx"] {
            assert!(fail_codes(bad).is_err(), "{bad}");
        }
        let cfg = HttpNodeConfig {
            host: Some("backend.internal".into()),
            header: [("X-Old".to_owned(), "1".to_owned())].into(),
            rewrite_url: vec![crate::model::UrlRewriteConfig {
                pattern: "^/a/(.*)".into(),
                replacement: "/b/$1".into(),
            }],
            fail_codes: Some("5xx".into()),
            ..Default::default()
        };
        let s = http_settings(Some(&cfg), None).unwrap().unwrap();
        assert_eq!(s.request_header, [("X-Old".to_owned(), "1".to_owned())]);
        assert_eq!((s.rewrite_url[0])("/a/x").as_deref(), Some("/b/x"));
        assert!(s.is_fail_code(502) && !s.is_fail_code(404));
        let body = HttpNodeConfig { rewrite_body: vec!["x".into()], ..Default::default() };
        assert!(
            http_settings(Some(&body), None).unwrap_err().to_string().contains("not supported yet")
        );
        let legacy = AuthConfig { username: "u".into(), password: "p".into(), file: None };
        assert!(http_settings(None, Some(&legacy)).unwrap().unwrap().auth.is_some());
        assert!(http_settings(None, None).unwrap().is_none());
    }

    #[test]
    fn probes_are_checked() {
        let ok = |p: ProbeConfig| probe(&p).unwrap();
        let p = ok(ProbeConfig {
            kind: "http".into(),
            interval: Some("2s".into()),
            ..Default::default()
        });
        assert_eq!(p.interval, Duration::from_secs(2));
        assert_eq!(p.timeout, probe::DEFAULT_TIMEOUT);
        assert!(
            matches!(p.kind, ProbeKind::Http { expected_status: 200, ref path, .. } if path == "/")
        );
        for bad in [
            ProbeConfig { kind: "icmp".into(), ..Default::default() },
            ProbeConfig { kind: "cmd".into(), ..Default::default() },
            ProbeConfig { kind: "http".into(), expected_status: 42, ..Default::default() },
            ProbeConfig {
                kind: "http".into(),
                http_path: Some("/a b".into()),
                ..Default::default()
            },
            ProbeConfig {
                kind: "http".into(),
                http_headers: [("X".into(), "a\r\nB: c".into())].into(),
                ..Default::default()
            },
            ProbeConfig { interval: Some("soon".into()), ..Default::default() },
        ] {
            assert!(probe(&bad).is_err(), "{bad:?}");
        }
    }
}
