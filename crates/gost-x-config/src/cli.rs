//! gost's command-line rules: `-L` URLs become services, all `-F` URLs together become the chain
//! `chain-0` (one hop per `-F`, one node per comma-separated address).
//!
//! `-L [handler[+listener]://][user:pass@]host:port[/target,...][?key=value&...]`
//! `-F [connector[+dialer]://][user:pass@]host:port[,host:port...][?key=value&...]`
//!
//! Not yet here (the Configuration issue): port ranges, `auth=base64`, and the keys that create
//! named objects (`bypass`, `admission`, `resolver`, `hosts`, limiters).

use gost_core::{Address, Error, Metadata, Result};

use crate::model::{ConfigValue, MetadataConfig, to_metadata};

use std::collections::BTreeMap;

use crate::model::{
    AuthConfig, ChainConfig, Config, ConnectorConfig, DialerConfig, ForwardNodeConfig,
    ForwarderConfig, HandlerConfig, HopConfig, HostsConfig, LimiterConfig, ListenerConfig,
    MatcherListConfig, NodeConfig, ResolverConfig, SelectorConfig, ServiceConfig, TlsConfig,
};
use crate::names;
use crate::url::GostUrl;

/// The chain every `-F` goes into.
pub const CLI_CHAIN: &str = "chain-0";
/// The fail timeout the command line gives selectors (the code default is 10 s).
const CLI_FAIL_TIMEOUT: &str = "30s";

/// A configuration built from the command line, with warnings about gost's silent fallbacks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    /// The configuration.
    pub config: Config,
    /// Things gost does silently that the user probably did not mean (an unknown scheme).
    pub warnings: Vec<String>,
}

/// Builds a configuration from the `-L` values (`services`) and `-F` values (`nodes`).
pub fn parse_cli(services: &[String], nodes: &[String]) -> Result<Parsed> {
    let mut ctx =
        Ctx { parsed: Parsed::default(), has_chain: !nodes.is_empty(), counters: BTreeMap::new() };
    // gost builds the chain before the services, so `-F` objects are numbered first.
    let mut chain = ChainConfig { name: CLI_CHAIN.to_owned(), ..ChainConfig::default() };
    for (i, spec) in nodes.iter().enumerate() {
        let hop =
            parse_hop(i, spec, &mut ctx).map_err(|e| Error::config(format!("-F {spec}: {e}")))?;
        chain.hops.push(hop);
    }
    let mut next_service = 0;
    for spec in services {
        let svcs = parse_service(&mut next_service, spec, &mut ctx)
            .map_err(|e| Error::config(format!("-L {spec}: {e}")))?;
        ctx.parsed.config.services.extend(svcs);
    }
    if !nodes.is_empty() {
        ctx.parsed.config.chains.push(chain);
    }
    Ok(ctx.parsed)
}

/// What parsing the command line accumulates: the config, warnings, and counters for the names
/// of generated objects (`bypass-0`, `limiter-1`, ...).
struct Ctx {
    parsed: Parsed,
    has_chain: bool,
    counters: BTreeMap<&'static str, usize>,
}

impl Ctx {
    fn next_name(&mut self, kind: &'static str) -> String {
        let n = self.counters.entry(kind).or_default();
        let name = format!("{kind}-{n}");
        *n += 1;
        name
    }
}

/// The named objects a URL's query creates, by the field that refers to them.
#[derive(Default)]
struct NamedRefs {
    admission: Option<String>,
    bypass: Option<String>,
    resolver: Option<String>,
    hosts: Option<String>,
    limiter: Option<String>,
    climiter: Option<String>,
    rlimiter: Option<String>,
}

fn query_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

fn split_list(v: &str) -> Vec<String> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// A matcher list (`~` prefix = whitelist), as gost's `bypass=`/`admission=` keys build them.
fn matcher_list(name: String, v: &str) -> MatcherListConfig {
    let (whitelist, v) = match v.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    MatcherListConfig { name, whitelist, matchers: split_list(v), ..MatcherListConfig::default() }
}

/// Creates the objects gost makes from query keys (`bypass`, `admission`, `resolver`, `hosts`,
/// `limiter.*`, `climiter`, `rlimiter`); `service` says whether this is a `-L` (all of them) or a
/// `-F` (bypass, resolver, hosts).
fn named_objects(pairs: &[(String, String)], service: bool, ctx: &mut Ctx) -> NamedRefs {
    let mut refs = NamedRefs::default();
    if service && let Some(v) = query_value(pairs, "admission") {
        let name = ctx.next_name("admission");
        ctx.parsed.config.admissions.push(matcher_list(name.clone(), v));
        refs.admission = Some(name);
    }
    if let Some(v) = query_value(pairs, "bypass") {
        let name = ctx.next_name("bypass");
        ctx.parsed.config.bypasses.push(matcher_list(name.clone(), v));
        refs.bypass = Some(name);
    }
    if let Some(v) = query_value(pairs, "resolver") {
        let name = ctx.next_name("resolver");
        let prefer = query_value(pairs, "prefer").filter(|_| service);
        let nameservers = split_list(v)
            .into_iter()
            .map(|addr| {
                let mut ns = BTreeMap::from([("addr".to_owned(), ConfigValue::Str(addr))]);
                if let Some(p) = prefer {
                    ns.insert("prefer".to_owned(), ConfigValue::from(p));
                }
                ConfigValue::Map(ns)
            })
            .collect();
        ctx.parsed.config.resolvers.push(ResolverConfig {
            name: name.clone(),
            nameservers,
            plugin: None,
        });
        refs.resolver = Some(name);
    }
    if let Some(v) = query_value(pairs, "hosts") {
        let name = ctx.next_name("hosts");
        let mappings = split_list(v)
            .into_iter()
            .filter_map(|m| {
                let (host, ip) = m.split_once(':')?;
                Some(ConfigValue::Map(BTreeMap::from([
                    ("hostname".to_owned(), ConfigValue::from(host)),
                    ("ip".to_owned(), ConfigValue::from(ip)),
                ])))
            })
            .collect();
        ctx.parsed.config.hosts.push(HostsConfig {
            name: name.clone(),
            mappings,
            ..HostsConfig::default()
        });
        refs.hosts = Some(name);
    }
    if !service {
        return refs;
    }
    let (lin, lout) = (query_value(pairs, "limiter.in"), query_value(pairs, "limiter.out"));
    let (cin, cout) =
        (query_value(pairs, "limiter.conn.in"), query_value(pairs, "limiter.conn.out"));
    if lin.is_some() || lout.is_some() || cin.is_some() || cout.is_some() {
        let name = ctx.next_name("limiter");
        let mut limits = Vec::new();
        // gost writes an empty IN when only OUT is given, which its own parser then reads as
        // IN; "0" (no limit) keeps OUT where it belongs.
        if lin.is_some() || lout.is_some() {
            limits.push(
                format!("$ {} {}", lin.unwrap_or("0"), lout.unwrap_or("")).trim_end().to_owned(),
            );
        }
        if cin.is_some() || cout.is_some() {
            limits.push(
                format!("$$ {} {}", cin.unwrap_or("0"), cout.unwrap_or("")).trim_end().to_owned(),
            );
        }
        ctx.parsed.config.limiters.push(LimiterConfig {
            name: name.clone(),
            limits,
            ..LimiterConfig::default()
        });
        refs.limiter = Some(name);
    }
    if let Some(v) = query_value(pairs, "climiter") {
        let name = ctx.next_name("climiter");
        let limits = vec![format!("$ {v}")];
        ctx.parsed.config.climiters.push(LimiterConfig {
            name: name.clone(),
            limits,
            ..LimiterConfig::default()
        });
        refs.climiter = Some(name);
    }
    if let Some(v) = query_value(pairs, "rlimiter") {
        let name = ctx.next_name("rlimiter");
        let limits = vec![format!("$ {v}")];
        ctx.parsed.config.rlimiters.push(LimiterConfig {
            name: name.clone(),
            limits,
            ..LimiterConfig::default()
        });
        refs.rlimiter = Some(name);
    }
    refs
}

/// Expands a port range in `host:8000-8002` (or a plain `host:port`) into addresses.
fn expand_ports(addr: &str) -> Result<Vec<String>> {
    let (host, port) = gost_core::addr::split_host_port(addr)?;
    let Some((from, to)) = port.split_once('-') else {
        check_host_port(addr)?;
        return Ok(vec![addr.to_owned()]);
    };
    let bad = || Error::config(format!("invalid port range {port:?} in {addr:?}"));
    let from: u16 = from.parse().map_err(|_| bad())?;
    let to: u16 = to.parse().map_err(|_| bad())?;
    if from > to {
        return Err(bad());
    }
    let host = if addr.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    Ok((from..=to).map(|p| format!("{host}:{p}")).collect())
}

/// Splits `a+b` into its two names (`a+b+c` keeps `b+c`, which no component is called, so it
/// falls back like any unknown name, as in gost).
fn split_scheme(scheme: &str) -> (String, Option<String>) {
    let scheme = if scheme == "https" { "http+tls" } else { scheme };
    match scheme.split_once('+') {
        Some((a, b)) => (a.to_owned(), Some(b.to_owned())),
        None => (scheme.to_owned(), None),
    }
}

/// The two component roles a scheme names, with gost's fallbacks.
struct Roles {
    flag: &'static str,
    first: &'static str,
    second: &'static str,
    is_first: fn(&str) -> bool,
    is_second: fn(&str) -> bool,
    first_fallback: &'static str,
    second_fallback: &'static str,
}

const SERVICE_ROLES: Roles = Roles {
    flag: "-L",
    first: "handler",
    second: "listener",
    is_first: names::is_handler,
    is_second: names::is_listener,
    first_fallback: "auto",
    second_fallback: "tcp",
};

// `-F :8080` (auto) means an http node, as in gost.
const NODE_ROLES: Roles = Roles {
    flag: "-F",
    first: "connector",
    second: "dialer",
    is_first: names::is_connector,
    is_second: names::is_dialer,
    first_fallback: "http",
    second_fallback: "tcp",
};

/// Resolves `a+b` or a single `x` into the two component names as gost does: a single name
/// fills each role it is known for, the other role takes its default; unknown names fall back
/// to the defaults with a warning. `ssu` alone defaults its transport to `udp`.
fn resolve_scheme(
    spec: &str,
    scheme: &str,
    roles: &Roles,
    warnings: &mut Vec<String>,
) -> (String, String) {
    let (first, second) = split_scheme(scheme);
    let flag = roles.flag;
    let Some(second) = second else {
        let (known_first, known_second) = ((roles.is_first)(&first), (roles.is_second)(&first));
        // No scheme written (`auto`) is gost's documented default, not a mistake.
        if !known_first && !known_second && first != "auto" {
            warnings.push(format!(
                "{flag} {spec}: unknown scheme {first:?}, using \"{}+{}\" (as gost does)",
                roles.first_fallback, roles.second_fallback
            ));
        }
        let second = match (known_second, first.as_str()) {
            (true, _) => first.clone(),
            (false, "ssu") => "udp".to_owned(),
            (false, _) => roles.second_fallback.to_owned(),
        };
        let first = if known_first { first } else { roles.first_fallback.to_owned() };
        return (first, second);
    };
    let mut pick = |name: String, role: &str, known: fn(&str) -> bool, fallback: &str| {
        if known(&name) {
            name
        } else {
            warnings.push(format!(
                "{flag} {spec}: unknown {role} {name:?}, using \"{fallback}\" (as gost does)"
            ));
            fallback.to_owned()
        }
    };
    let first = pick(first, roles.first, roles.is_first, roles.first_fallback);
    // gost: ssu's transport defaults to udp.
    let second_fallback = if first == "ssu" { "udp" } else { roles.second_fallback };
    let second = pick(second, roles.second, roles.is_second, second_fallback);
    (first, second)
}

/// Scoped query keys: `prefix.key` applies only to that scope; unprefixed keys to every scope.
struct Scoped<'a> {
    pairs: &'a [(String, String)],
}

impl Scoped<'_> {
    fn metadata(&self, scope: &str, all_scopes: &[&str]) -> MetadataConfig {
        let mut md = MetadataConfig::new();
        for (k, v) in self.pairs {
            match k.split_once('.') {
                Some((prefix, key)) if all_scopes.contains(&prefix) => {
                    if prefix == scope {
                        md.insert(key.to_owned(), ConfigValue::from(v.as_str()));
                    }
                }
                _ => {
                    md.insert(k.clone(), ConfigValue::from(v.as_str()));
                }
            }
        }
        md
    }
}

/// Query keys gost turns into other settings (auth, TLS blocks, named objects, selectors) and
/// removes from every metadata block.
const CONSUMED_L: &[&str] = &[
    "auth",
    "certFile",
    "cert",
    "tls.certFile",
    "keyFile",
    "key",
    "tls.keyFile",
    "caFile",
    "ca",
    "tls.caFile",
    "strategy",
    "maxFails",
    "max_fails",
    "failTimeout",
    "fail_timeout",
];
/// Keys that create named objects: gost removes them from the handler's metadata only.
const NAMED_L: &[&str] = &[
    "admission",
    "bypass",
    "resolver",
    "hosts",
    "limiter.in",
    "limiter.out",
    "limiter.conn.in",
    "limiter.conn.out",
    "climiter",
    "rlimiter",
];
const CONSUMED_F: &[&str] = &[
    "auth",
    "certFile",
    "cert",
    "tls.certFile",
    "keyFile",
    "key",
    "tls.keyFile",
    "caFile",
    "ca",
    "tls.caFile",
    "secure",
    "tls.secure",
    "serverName",
    "servername",
    "tls.serverName",
    "tls.servername",
    "bypass",
    "resolver",
    "hosts",
    "strategy",
    "maxFails",
    "max_fails",
    "failTimeout",
    "fail_timeout",
];
/// Keys gost moves to the service (`-L`) or hop (`-F`) metadata only.
const SERVICE_ONLY: &[&str] = &["interface", "so_mark", "proxyProtocol", "netns"];
const HOP_ONLY: &[&str] = &["interface", "so_mark", "proxyProtocol"];
/// Of those, the ones gost stores as numbers.
const NUMERIC: &[&str] = &["so_mark", "proxyProtocol"];

fn strip(md: &mut MetadataConfig, keys: &[&str]) {
    md.retain(|k, _| !keys.iter().any(|c| c.eq_ignore_ascii_case(k)));
}

fn numbers(md: &mut MetadataConfig) {
    for (k, v) in md.iter_mut() {
        if NUMERIC.iter().any(|n| n.eq_ignore_ascii_case(k))
            && let ConfigValue::Str(s) = v
            && let Ok(i) = s.trim().parse::<i64>()
        {
            *v = ConfigValue::Int(i);
        }
    }
}

fn first_value<'a>(pairs: &'a [(String, String)], keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| query_value(pairs, k))
}

/// The selector gost builds when any selector key is given (with the command line's defaults
/// for the others); none otherwise.
fn selector_of(pairs: &[(String, String)]) -> Result<Option<SelectorConfig>> {
    let keys = ["strategy", "maxFails", "max_fails", "failTimeout", "fail_timeout"];
    if !keys.iter().any(|k| query_value(pairs, k).is_some()) {
        return Ok(None);
    }
    let md: MetadataConfig =
        pairs.iter().map(|(k, v)| (k.clone(), ConfigValue::from(v.as_str()))).collect();
    selector(&md).map(Some)
}

/// The URL host without its port (Go's `url.Hostname()`), for the default TLS server name.
fn hostname(host: &str) -> &str {
    let without_port = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    without_port.trim_start_matches('[').trim_end_matches(']')
}

/// The credentials of a URL: its user info, else gost's `auth=base64(user:pass)` query key. For
/// shadowsocks schemes, a user part alone is SIP002's `base64(method:password)`.
fn auth(url: &GostUrl) -> Result<Option<AuthConfig>> {
    if url.scheme.starts_with("ss")
        && url.password.is_none()
        && let Some(user) = &url.user
        && let Some(decoded) =
            gost_proto::http::base64_decode(user.as_bytes()).and_then(|b| String::from_utf8(b).ok())
        && let Some((method, password)) = decoded.split_once(':')
    {
        return Ok(Some(AuthConfig {
            username: method.to_owned(),
            password: password.to_owned(),
            file: None,
        }));
    }
    if let Some(username) = &url.user {
        let password = url.password.clone().unwrap_or_default();
        return Ok(Some(AuthConfig { username: username.clone(), password, file: None }));
    }
    let Some((_, encoded)) = url.query.iter().find(|(k, _)| k == "auth") else {
        return Ok(None);
    };
    let decoded = gost_proto::http::base64_decode(encoded.trim().as_bytes())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::config(format!("auth={encoded:?} is not base64 of user:pass")))?;
    let (username, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
    Ok(Some(AuthConfig {
        username: username.to_owned(),
        password: password.to_owned(),
        file: None,
    }))
}

fn selector(md: &MetadataConfig) -> Result<SelectorConfig> {
    let md: Metadata = to_metadata(md);
    let fail_timeout = md
        .get_string(&["failTimeout", "fail_timeout"])?
        .unwrap_or_else(|| CLI_FAIL_TIMEOUT.to_owned());
    Ok(SelectorConfig {
        strategy: md.get_string(&["strategy"])?.unwrap_or_else(|| "round".to_owned()),
        max_fails: md.get_int(&["maxFails", "max_fails"])?.unwrap_or(1),
        fail_timeout: Some(ConfigValue::Str(fail_timeout)),
        max_latency: None,
    })
}

fn parse_service(next: &mut usize, spec: &str, ctx: &mut Ctx) -> Result<Vec<ServiceConfig>> {
    let url = GostUrl::parse(spec)?;
    let (mut handler, listener) =
        resolve_scheme(spec, &url.scheme, &SERVICE_ROLES, &mut ctx.parsed.warnings);

    if url.host.contains(',') {
        return Err(Error::config("a service listens on one address (use one -L per address)"));
    }
    let addrs = expand_ports(&url.host)?;

    let scoped = Scoped { pairs: &url.query };
    let scopes = ["service", "listener", "handler"];
    let mut service_md = scoped.metadata("service", &scopes);
    let mut listener_md = scoped.metadata("listener", &scopes);
    let mut handler_md = scoped.metadata("handler", &scopes);
    let retries = to_metadata(&handler_md).get_int(&["retries"])?.unwrap_or(0);
    let selector = selector_of(&url.query)?;
    for md in [&mut service_md, &mut listener_md, &mut handler_md] {
        strip(md, CONSUMED_L);
    }
    strip(&mut handler_md, &["retries"]);
    strip(&mut handler_md, NAMED_L);
    strip(&mut listener_md, SERVICE_ONLY);
    strip(&mut handler_md, SERVICE_ONLY);
    numbers(&mut service_md);
    // gost: `dns=a,b` (the dns handler's upstreams) is a list.
    for md in [&mut service_md, &mut listener_md, &mut handler_md] {
        if let Some(ConfigValue::Str(v)) = md.get("dns").cloned() {
            let list = split_list(&v).into_iter().map(ConfigValue::Str).collect();
            md.insert("dns".to_owned(), ConfigValue::List(list));
        }
    }
    let tls =
        first_value(&url.query, &["certFile", "cert", "tls.certFile"]).map(|cert| TlsConfig {
            cert_file: Some(cert.to_owned()),
            key_file: first_value(&url.query, &["keyFile", "key", "tls.keyFile"])
                .map(str::to_owned),
            ca_file: first_value(&url.query, &["caFile", "ca", "tls.caFile"]).map(str::to_owned),
            ..TlsConfig::default()
        });

    let mut targets = Vec::new();
    if let Some(path) = &url.path {
        // gost: a forward path turns the service into a forwarder.
        if handler != "relay" {
            handler = if names::FORWARD_LISTENERS.contains(&listener.as_str()) {
                listener.clone()
            } else {
                "forward".to_owned()
            };
        }
        for target in path.split(',').filter(|t| !t.is_empty()) {
            targets.extend(expand_ports(target)?);
        }
    }
    let forwarder = |targets: &[(usize, String)]| {
        (!targets.is_empty()).then(|| ForwarderConfig {
            nodes: targets
                .iter()
                .map(|(i, t)| ForwardNodeConfig {
                    name: format!("target-{i}"),
                    addr: t.clone(),
                    ..ForwardNodeConfig::default()
                })
                .collect(),
            selector: selector.clone(),
            ..ForwarderConfig::default()
        })
    };

    // gost keeps the chain on an `ignoreChain` service; the service drops it when it starts.
    to_metadata(&service_md).get_bool(&["ignoreChain"])?;
    let chain = ctx.has_chain.then(|| CLI_CHAIN.to_owned());
    let binds_through_chain = matches!(listener.as_str(), "rtcp" | "rudp" | "runix");
    let (handler_chain, listener_chain) =
        if binds_through_chain { (None, chain) } else { (chain, None) };
    let auth = auth(&url)?;
    let ssh_listener = matches!(listener.as_str(), "ssh" | "sshd");
    let targets: Vec<(usize, String)> = targets.into_iter().enumerate().collect();

    let mut out = Vec::with_capacity(addrs.len());
    for (i, addr) in addrs.iter().enumerate() {
        // gost: one service takes every target; several services share a single target, or
        // pair up with as many (extra services get none).
        let fwd = match (addrs.len(), targets.len()) {
            (1, _) => forwarder(&targets),
            (_, 1) => forwarder(&targets),
            _ => forwarder(targets.get(i).map(std::slice::from_ref).unwrap_or(&[])),
        };
        // Each service gets its own objects, as gost creates them per service.
        let refs = named_objects(&url.query, true, ctx);
        out.push(ServiceConfig {
            name: format!("service-{}", *next),
            addr: addr.clone(),
            admission: refs.admission.clone(),
            bypass: refs.bypass.clone(),
            resolver: refs.resolver.clone(),
            hosts: refs.hosts.clone(),
            limiter: refs.limiter.clone(),
            climiter: refs.climiter.clone(),
            rlimiter: refs.rlimiter.clone(),
            handler: HandlerConfig {
                kind: handler.clone(),
                retries,
                chain: handler_chain.clone(),
                auth: if ssh_listener { None } else { auth.clone() },
                metadata: handler_md.clone(),
                ..HandlerConfig::default()
            },
            listener: ListenerConfig {
                kind: listener.clone(),
                chain: listener_chain.clone(),
                // gost: ssh/sshd listeners authenticate themselves.
                auth: if ssh_listener { auth.clone() } else { None },
                tls: tls.clone(),
                metadata: listener_md.clone(),
                ..ListenerConfig::default()
            },
            forwarder: fwd,
            metadata: service_md.clone(),
            ..ServiceConfig::default()
        });
        *next += 1;
    }
    Ok(out)
}

fn parse_hop(index: usize, spec: &str, ctx: &mut Ctx) -> Result<HopConfig> {
    let url = GostUrl::parse(spec)?;
    let (connector, dialer) =
        resolve_scheme(spec, &url.scheme, &NODE_ROLES, &mut ctx.parsed.warnings);
    let refs = named_objects(&url.query, false, ctx);

    let scoped = Scoped { pairs: &url.query };
    let scopes = ["hop", "node", "connector", "dialer"];
    let mut hop_md = scoped.metadata("hop", &scopes);
    let mut node_md = scoped.metadata("node", &scopes);
    let mut connector_md = scoped.metadata("connector", &scopes);
    let mut dialer_md = scoped.metadata("dialer", &scopes);
    let selector = selector_of(&url.query)?;
    for md in [&mut node_md, &mut connector_md, &mut dialer_md] {
        strip(md, CONSUMED_F);
    }
    // gost leaves `auth`, `secure` and `serverName` in the hop's own metadata.
    let kept = [
        "auth",
        "secure",
        "tls.secure",
        "serverName",
        "servername",
        "tls.serverName",
        "tls.servername",
    ];
    let hop_consumed: Vec<&str> =
        CONSUMED_F.iter().copied().filter(|k| !kept.contains(k)).collect();
    strip(&mut hop_md, &hop_consumed);
    for md in [&mut node_md, &mut connector_md, &mut dialer_md] {
        strip(md, HOP_ONLY);
    }
    numbers(&mut hop_md);
    let secure = to_metadata(
        &url.query.iter().map(|(k, v)| (k.clone(), ConfigValue::from(v.as_str()))).collect(),
    )
    .get_bool(&["secure", "tls.secure"])?
    .unwrap_or(false);
    let server_name =
        first_value(&url.query, &["serverName", "servername", "tls.serverName", "tls.servername"])
            .map(str::to_owned)
            // gost's default is the URL's host name; a comma list of nodes has none worth sending.
            .or_else(|| {
                Some(hostname(&url.host).to_owned())
                    .filter(|h| !h.is_empty() && !url.host.contains(','))
            });
    let dialer_tls = TlsConfig {
        secure,
        server_name,
        cert_file: first_value(&url.query, &["certFile", "cert", "tls.certFile"])
            .map(str::to_owned),
        key_file: first_value(&url.query, &["keyFile", "key", "tls.keyFile"]).map(str::to_owned),
        ca_file: first_value(&url.query, &["caFile", "ca", "tls.caFile"]).map(str::to_owned),
        ..TlsConfig::default()
    };
    let dialer_tls = (dialer_tls != TlsConfig::default()).then_some(dialer_tls);

    let node_auth = auth(&url)?;
    let ssh_dialer = matches!(dialer.as_str(), "ssh" | "sshd");
    let mut nodes = Vec::new();
    for (i, addr) in url.host.split(',').enumerate() {
        check_host_port(addr)?;
        nodes.push(NodeConfig {
            name: format!("node-{i}"),
            addr: addr.to_owned(),
            connector: ConnectorConfig {
                kind: connector.clone(),
                // gost: ssh/sshd dialers carry the credentials themselves.
                auth: if ssh_dialer { None } else { node_auth.clone() },
                metadata: connector_md.clone(),
                ..ConnectorConfig::default()
            },
            dialer: DialerConfig {
                kind: dialer.clone(),
                auth: if ssh_dialer { node_auth.clone() } else { None },
                tls: dialer_tls.clone(),
                metadata: dialer_md.clone(),
            },
            metadata: node_md.clone(),
            ..NodeConfig::default()
        });
    }
    Ok(HopConfig {
        name: format!("hop-{index}"),
        bypass: refs.bypass,
        resolver: refs.resolver,
        hosts: refs.hosts,
        nodes,
        selector,
        metadata: hop_md,
        ..HopConfig::default()
    })
}

/// `host:port` with a valid port (the host may be empty).
fn check_host_port(s: &str) -> Result<()> {
    Address::parse(s).map(|_| ()).map_err(|e| Error::config(e.context().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(l: &str) -> ServiceConfig {
        parse_cli(&[l.to_owned()], &[]).unwrap().config.services.remove(0)
    }

    #[test]
    fn tcp_forwarding() {
        let s = one("tcp://:8080/127.0.0.1:80,127.0.0.1:81/?strategy=fifo");
        assert_eq!(s.name, "service-0");
        assert_eq!(s.addr, ":8080");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("tcp", "tcp"));
        let fwd = s.forwarder.unwrap();
        assert_eq!(
            fwd.nodes[1],
            ForwardNodeConfig {
                name: "target-1".into(),
                addr: "127.0.0.1:81".into(),
                ..ForwardNodeConfig::default()
            }
        );
        assert_eq!(fwd.selector.unwrap().strategy, "fifo");
    }

    #[test]
    fn path_overrides_the_handler_as_gost_does() {
        // `forward` is no listener, so the listener is tcp and gost names the handler after it.
        assert_eq!(one("forward://:8080/host:80").handler.kind, "tcp");
        assert_eq!(one("http://:8080/host:80").handler.kind, "tcp");
        assert_eq!(one("ws://:8080/host:80").handler.kind, "forward");
        assert_eq!(one("relay+ws://:8080/host:80").handler.kind, "relay");
        assert_eq!(one("forward+ws://:8080/host:80").listener.kind, "ws");
    }

    #[test]
    fn scheme_defaults() {
        let s = one(":8080");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("auto", "tcp"));
        let s = one("ws://:8080");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("auto", "ws"));
        let s = one("ssu://:8338");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("ssu", "udp"));
        let s = one("https://:443");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("http", "tls"));
        let s = one("socks5://u:p@:1080");
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("socks5", "tcp"));
        assert_eq!(
            s.handler.auth,
            Some(AuthConfig { username: "u".into(), password: "p".into(), file: None })
        );
        // auth=base64("u:p"), std or URL-safe alphabet.
        let s = one("socks5://:1080?auth=dTpw");
        assert_eq!(
            s.handler.auth,
            Some(AuthConfig { username: "u".into(), password: "p".into(), file: None })
        );
        assert!(parse_cli(&["socks5://:1?auth=%%%".into()], &[]).is_err());
    }

    #[test]
    fn unknown_scheme_falls_back_with_a_warning() {
        let p = parse_cli(&["foo://:8080".to_owned()], &["bar://h:1".to_owned()]).unwrap();
        let s = &p.config.services[0];
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("auto", "tcp"));
        let n = &p.config.chains[0].hops[0].nodes[0];
        assert_eq!((n.connector.kind.as_str(), n.dialer.kind.as_str()), ("http", "tcp"));
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(
            p.warnings.iter().any(|w| w.contains("foo"))
                && p.warnings.iter().any(|w| w.contains("bar"))
        );
        let p = parse_cli(&["ssu+nope://:1".into(), "a+b+c://:2".into()], &[]).unwrap();
        assert_eq!(p.config.services[0].listener.kind, "udp");
        let s = &p.config.services[1];
        assert_eq!((s.handler.kind.as_str(), s.listener.kind.as_str()), ("auto", "tcp"));
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    }

    #[test]
    fn query_keys_fan_out_and_scope() {
        let s = one("tcp://:1/h:2?a=1&listener.b=2&handler.c=3&service.d=4");
        assert_eq!(to_metadata(&s.metadata).get("a"), Some(&"1".into()));
        assert!(to_metadata(&s.metadata).get("b").is_none());
        assert_eq!(to_metadata(&s.listener.metadata).get("b"), Some(&"2".into()));
        assert!(to_metadata(&s.listener.metadata).get("c").is_none());
        assert_eq!(to_metadata(&s.handler.metadata).get("c"), Some(&"3".into()));
        assert_eq!(to_metadata(&s.metadata).get("d"), Some(&"4".into()));
        assert_eq!(to_metadata(&s.handler.metadata).get("a"), Some(&"1".into()));
    }

    #[test]
    fn chain_from_f_flags() {
        let p = parse_cli(
            &["tcp://:1/h:2".into(), "tcp://:3/h:4?ignoreChain=true".into()],
            &["forward+tcp://a:1,b:2?strategy=fifo&node.x=1".into(), "relay+ws://u:p@c:3".into()],
        )
        .unwrap();
        let c = &p.config.chains[0];
        assert_eq!(c.name, "chain-0");
        assert_eq!(c.hops.len(), 2);
        assert_eq!(c.hops[0].nodes.len(), 2);
        assert_eq!(c.hops[0].nodes[1].addr, "b:2");
        assert_eq!(c.hops[0].selector.as_ref().unwrap().strategy, "fifo");
        assert_eq!(c.hops[0].selector.as_ref().unwrap().fail_timeout, Some("30s".into()));
        assert!(c.hops[1].selector.is_none(), "no selector keys, no selector (gost)");
        assert_eq!(to_metadata(&c.hops[0].nodes[0].metadata).get("x"), Some(&"1".into()));
        assert!(to_metadata(&c.hops[0].nodes[0].connector.metadata).get("x").is_none());
        assert_eq!(c.hops[1].nodes[0].connector.kind, "relay");
        assert_eq!(c.hops[1].nodes[0].dialer.kind, "ws");
        assert_eq!(c.hops[1].nodes[0].connector.auth.as_ref().unwrap().password, "p");
        assert_eq!(p.config.services[0].handler.chain.as_deref(), Some("chain-0"));
        // gost keeps the chain in the config of an ignoreChain service (it is skipped at start).
        assert_eq!(p.config.services[1].handler.chain.as_deref(), Some("chain-0"));
        let single = parse_cli(&[], &["ws://h:1".into()]).unwrap();
        let n = &single.config.chains[0].hops[0].nodes[0];
        assert_eq!((n.connector.kind.as_str(), n.dialer.kind.as_str()), ("http", "ws"));
    }

    #[test]
    fn port_ranges_expand_to_services_and_targets() {
        let p = parse_cli(&["tcp://:8000-8002/10.0.0.1:9000-9002".into(), ":7000".into()], &[])
            .unwrap();
        let s = &p.config.services;
        assert_eq!(s.len(), 4);
        let pairs: Vec<(&str, &str, &str)> = s[..3]
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.addr.as_str(),
                    s.forwarder.as_ref().unwrap().nodes[0].addr.as_str(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("service-0", ":8000", "10.0.0.1:9000"),
                ("service-1", ":8001", "10.0.0.1:9001"),
                ("service-2", ":8002", "10.0.0.1:9002")
            ]
        );
        assert_eq!(s[3].name, "service-3");
        // Several services share one target; one service takes a whole range of targets.
        let p = parse_cli(&["tcp://:1-2/h:9".into(), "tcp://:3/h:10-12".into()], &[]).unwrap();
        let s = &p.config.services;
        assert_eq!(s[1].forwarder.as_ref().unwrap().nodes[0].addr, "h:9");
        assert_eq!(s[2].forwarder.as_ref().unwrap().nodes.len(), 3);
        assert!(parse_cli(&["tcp://:9-8".into()], &[]).is_err());
        assert!(parse_cli(&["tcp://:1-70000".into()], &[]).is_err());
    }

    #[test]
    fn query_keys_create_named_objects() {
        let p = parse_cli(
            &["http://:8080?bypass=~*.corp,10.0.0.0/8&limiter.in=10MB&limiter.out=1MB&climiter=100&rlimiter=10&admission=127.0.0.1&hosts=a.test:127.0.0.1&resolver=udp://1.1.1.1:53".into()],
            &["socks5://p:1080?bypass=example.com".into()],
        )
        .unwrap();
        let c = &p.config;
        let s = &c.services[0];
        // The -F objects are numbered first, as gost builds the chain first.
        assert_eq!(s.bypass.as_deref(), Some("bypass-1"));
        assert!(c.bypasses[1].whitelist);
        assert_eq!(c.bypasses[1].matchers, ["*.corp", "10.0.0.0/8"]);
        assert_eq!(c.limiters[0].limits, ["$ 10MB 1MB"]);
        assert_eq!(c.climiters[0].limits, ["$ 100"]);
        assert_eq!(c.rlimiters[0].limits, ["$ 10"]);
        assert_eq!(s.admission.as_deref(), Some("admission-0"));
        assert_eq!(s.hosts.as_deref(), Some("hosts-0"));
        assert_eq!(s.resolver.as_deref(), Some("resolver-0"));
        assert_eq!(c.chains[0].hops[0].bypass.as_deref(), Some("bypass-0"));
        assert!(!c.bypasses[0].whitelist);
    }

    #[test]
    fn rtcp_binds_through_the_chain() {
        let p =
            parse_cli(&["rtcp://:2222/127.0.0.1:22".into()], &["socks5://s:1080".into()]).unwrap();
        let s = &p.config.services[0];
        assert_eq!(s.listener.chain.as_deref(), Some("chain-0"));
        assert_eq!(s.handler.chain, None);
        assert_eq!(s.handler.kind, "rtcp");
    }

    #[test]
    fn malformed_urls_are_errors() {
        for bad in [
            "tcp://:99999/x:1",
            "tcp://:1/x",
            "tcp://nohost",
            "tcp://:1,:2",
            "tcp://:1?ignoreChain=maybe",
        ] {
            let err = parse_cli(&[bad.to_owned()], &[]).unwrap_err();
            assert!(err.to_string().starts_with(&format!("-L {bad}: ")), "{err}");
        }
        assert!(parse_cli(&[], &["socks5://:1,b".into()]).is_err());
    }
}
