//! Creates chains and services from a [`Config`] and the component registries.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{
    Address, BoxAuther, BoxCache, BoxChainer, BoxHandler, BoxHop, BoxHostMapper, BoxIngress,
    BoxResolver, BoxRouter, BoxSd, BoxService, ConnectorOptions, DialerOptions, Error, ErrorKind,
    HandlerOptions, ListenerOptions, Metadata, Node, Registries, Registry, Result, Transport,
};
use gost_x_auth::Users;
use gost_x_chain::probe::{ProbeBoard, Probes};
use gost_x_chain::selector::{DEFAULT_FAIL_TIMEOUT, DefaultSelector, for_nodes, from_metadata};
use gost_x_chain::{Chain, DefaultRouter, NodeHop, RouterOptions};
use gost_x_metrics::Metrics;
use gost_x_service::{DefaultService, Policy, ServiceOptions};

use crate::model::{
    ChainConfig, ChainGroupConfig, Config, ForwarderConfig, HopConfig, SelectorConfig,
    ServiceConfig, TlsConfig, to_metadata,
};
use crate::names;
use crate::policy::{self, Reloaders};
use crate::routing;

/// What building needs besides the registries: where file-backed objects are kept for reloads,
/// the metrics series services and routers update (when metrics are on), and the handler types
/// that need the process's state.
#[derive(Clone, Default)]
pub struct Env {
    /// The file-backed policy objects (SIGHUP, `-R`, `reload` periods).
    pub reloaders: Reloaders,
    /// Prometheus series, when a metrics endpoint is configured.
    pub metrics: Option<Arc<Metrics>>,
    /// Handler types built from this environment rather than the handler registry: gost's `api`
    /// (needs the runtime) and `metrics` (needs the series). Looked up first.
    pub handlers: Vec<(&'static str, EnvHandler)>,
    /// The runtime the services run in, set when it starts (read by the `api` handler).
    pub runtime: RuntimeCell,
    /// The top-level `tls` block (set by [`build_objects`], so a reload updates it): the
    /// certificate, key and CA of every listener and handler that names none of its own, as
    /// Go's default TLS config. Dialers do not take it (Go's do not either).
    pub default_tls: Arc<std::sync::RwLock<Option<TlsConfig>>>,
    /// The latest result of every health probe (read by the Web API).
    pub probes: ProbeBoard,
}

/// A handler factory that also sees the [`Env`].
pub type EnvHandler = fn(HandlerOptions, &Metadata, &Env) -> Result<BoxHandler>;

/// The started runtime, weakly (services must not keep their runtime alive).
pub type RuntimeCell = Arc<std::sync::OnceLock<std::sync::Weak<crate::runtime::Runtime>>>;

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let handlers: Vec<&str> = self.handlers.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Env")
            .field("reloaders", &self.reloaders)
            .field("metrics", &self.metrics.is_some())
            .field("handlers", &handlers)
            .finish()
    }
}

impl Env {
    fn handler(&self, kind: &str) -> Option<EnvHandler> {
        self.handlers.iter().find(|(n, _)| *n == kind).map(|(_, f)| *f)
    }
}

/// [`build_all`] with a default [`Env`], keeping only the services.
pub fn build(config: &Config, r: &Registries) -> Result<Vec<BoxService>> {
    Ok(build_all(config, r, &Env::default())?.into_iter().map(|(_, s)| s).collect())
}

/// Registers every named object of `config` ([`build_objects`]), then creates every service
/// (bound, not yet serving). Errors name the object at fault.
pub fn build_all(config: &Config, r: &Registries, env: &Env) -> Result<Vec<(String, BoxService)>> {
    config.check_supported()?;
    build_objects(config, r, env)?;
    let mut services = Vec::with_capacity(config.services.len());
    for svc in &config.services {
        let built = build_service(svc, r, env)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("service {}", svc.name)))?;
        services.push((svc.name.clone(), built));
    }
    Ok(services)
}

/// Registers (or replaces) every named policy object, top-level hop and chain of `config`, in
/// that order, so that each finds what it refers to.
pub fn build_objects(config: &Config, r: &Registries, env: &Env) -> Result<()> {
    *env.default_tls.write().unwrap_or_else(|e| e.into_inner()) = config.tls.clone();
    policy::build(config, r, &env.reloaders)?;
    for hop in &config.hops {
        let built = build_hop_in(hop, r, env, &hop.name)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("hop {}", hop.name)))?;
        r.hops.replace(&hop.name, built);
    }
    for chain in &config.chains {
        r.chains.replace(&chain.name, build_chain(chain, r, env)?);
    }
    Ok(())
}

/// A `chains[]` entry. A hop without nodes refers to a top-level hop by name (late bound: an
/// update of that hop is seen by the chain).
pub fn build_chain(chain: &ChainConfig, r: &Registries, env: &Env) -> Result<BoxChainer> {
    chain.check_supported()?;
    let mut hops = Vec::with_capacity(chain.hops.len());
    for hop in &chain.hops {
        let at =
            |e: Error| e.wrap(ErrorKind::Config, format!("chain {}, hop {}", chain.name, hop.name));
        let built = if hop.nodes.is_empty() {
            policy::named(&r.hops, "hop", &hop.name).map(BoxHop::new).map_err(at)?
        } else {
            build_hop_in(hop, r, env, &format!("{}/{}", chain.name, hop.name)).map_err(at)?
        };
        hops.push((hop.name.clone(), built));
    }
    Ok(BoxChainer::new(Chain::new(chain.name.clone(), hops)))
}

/// Checks a configuration without starting anything (`--check`): supported features, known
/// component types (the registries' and `env`'s handlers), valid addresses and options that
/// parse.
pub fn validate(config: &Config, r: &Registries, env: &Env) -> Result<()> {
    config.check_supported()?;
    build_objects(config, r, &Env::default())?;
    for chain in &config.chains {
        for hop in &chain.hops {
            for node in &hop.nodes {
                let at = |e: Error| {
                    e.wrap(
                        ErrorKind::Config,
                        format!("chain {}, hop {}, node {}", chain.name, hop.name, node.name),
                    )
                };
                Address::parse(&node.addr).map_err(at)?;
                let c = if node.connector.kind.is_empty() { "http" } else { &node.connector.kind };
                let d = if node.dialer.kind.is_empty() { "tcp" } else { &node.dialer.kind };
                factory(&r.connectors, "connector", c, names::is_connector(c)).map_err(at)?;
                factory(&r.dialers, "dialer", d, names::is_dialer(d)).map_err(at)?;
            }
        }
    }
    for svc in &config.services {
        let at = |e: Error| e.wrap(ErrorKind::Config, format!("service {}", svc.name));
        let h = if svc.handler.kind.is_empty() { "auto" } else { &svc.handler.kind };
        let l = if svc.listener.kind.is_empty() { "tcp" } else { &svc.listener.kind };
        if env.handler(h).is_none() {
            factory(&r.handlers, "handler", h, names::is_handler(h)).map_err(at)?;
        } else if h == "metrics" && env.metrics.is_none() {
            // Caught here so that a reload adding the first one stops nothing.
            return Err(at(Error::config(
                "the metrics handler needs metrics on: start gost with it (or with a metrics: \
                 block), adding one by reload or API is not enough",
            )));
        }
        factory(&r.listeners, "listener", l, names::is_listener(l)).map_err(at)?;
        gost_core::addr::split_host_port(&svc.addr).map_err(at)?;
        if let Some(chain) = &svc.handler.chain
            && !config.chains.iter().any(|c| &c.name == chain)
        {
            return Err(at(Error::config(format!("unknown chain {chain:?}"))));
        }
        for node in svc.forwarder.iter().flat_map(|f| &f.nodes) {
            Address::parse(&node.addr).map_err(at)?;
        }
        service_policy(svc, r).map_err(at)?;
        check_auth(svc).map_err(at)?;
        for (what, md) in [
            ("service", &svc.metadata),
            ("listener", &svc.listener.metadata),
            ("handler", &svc.handler.metadata),
        ] {
            check_durations(md).map_err(|e| at(e.wrap(ErrorKind::Config, what)))?;
        }
    }
    if let Some(api) = &config.api {
        check_inline_auth(api.auth.as_ref(), "api", "-api admin:secret@:18080")?;
    }
    if let Some(metrics) = &config.metrics {
        check_inline_auth(metrics.auth.as_ref(), "metrics", "-metrics admin:secret@:9000")?;
    }
    for chain in &config.chains {
        for node in chain.hops.iter().flat_map(|h| &h.nodes) {
            for md in [&node.metadata, &node.dialer.metadata, &node.connector.metadata] {
                check_durations(md).map_err(|e| {
                    e.wrap(ErrorKind::Config, format!("chain {}, node {}", chain.name, node.name))
                })?;
            }
        }
    }
    Ok(())
}

/// A service's inline `auth` with a password and no user name: Go reads it as "no auth" and
/// lets everyone in, but a password was clearly meant. Refused.
fn check_auth(svc: &ServiceConfig) -> Result<()> {
    check_inline_auth(svc.handler.auth.as_ref(), "handler", "-L http://admin:secret@:8080")
}

fn check_inline_auth(
    auth: Option<&crate::model::AuthConfig>,
    what: &str,
    example: &str,
) -> Result<()> {
    if let Some(auth) = auth
        && auth.username.is_empty()
        && !auth.password.is_empty()
    {
        return Err(Error::config(format!(
            "{what} auth has a password but no user name, which would disable authentication \
             (write user:password@, e.g. {example})"
        )));
    }
    Ok(())
}

/// Reads every metadata value whose key names a duration (`ttl`, `...timeout`, `...interval`,
/// `...period`), so that `--check` refuses what the components would refuse at start-up (a
/// malformed or absurdly long duration) without building them.
fn check_durations(md: &crate::model::MetadataConfig) -> Result<()> {
    let md = to_metadata(md);
    for (key, _) in md.iter() {
        let last = key.rsplit('.').next().unwrap_or(key);
        if last == "ttl" || ["timeout", "interval", "period"].iter().any(|s| last.ends_with(s)) {
            md.get_duration(&[key])?;
        }
    }
    Ok(())
}

/// Looks a component factory up, telling "not supported yet" (a gost name we lack) apart from a
/// plain unknown name.
fn factory<T: Clone>(reg: &Registry<T>, role: &str, kind: &str, gost_knows: bool) -> Result<T> {
    reg.get(kind).map_err(|_| {
        let ours = reg.names().join(", ");
        if gost_knows {
            Error::unsupported(format!(
                "{role} type {kind:?} is not supported yet (this build has: {ours})"
            ))
        } else {
            Error::config(format!("unknown {role} type {kind:?} (this build has: {ours})"))
        }
    })
}

pub(crate) fn selector_metadata(sel: Option<&SelectorConfig>, md: &Metadata) -> Metadata {
    let mut merged = md.clone();
    if let Some(sel) = sel {
        if !sel.strategy.is_empty() {
            merged.insert("strategy", sel.strategy.as_str());
        }
        if sel.max_fails != 0 {
            merged.insert("maxFails", sel.max_fails);
        }
        if let Some(t) = &sel.fail_timeout {
            merged.insert("failTimeout", gost_core::Value::from(t));
        }
        if let Some(t) = &sel.max_latency {
            merged.insert("maxLatency", gost_core::Value::from(t));
        }
    }
    merged
}

/// A component's metadata with its `tls` block folded in.
fn component_metadata(md: &crate::model::MetadataConfig, tls: Option<&TlsConfig>) -> Metadata {
    let mut out = to_metadata(md);
    if let Some(tls) = tls {
        tls.apply_to(&mut out);
    }
    out
}

/// A listener's or handler's metadata with its `tls` block folded in, and the top-level `tls`
/// block's certificate, key and CA when neither names any (Go: a server without certificate
/// files of its own uses the default TLS config, built from that block).
fn server_metadata(
    md: &crate::model::MetadataConfig,
    tls: Option<&TlsConfig>,
    env: &Env,
) -> Metadata {
    let mut out = component_metadata(md, tls);
    if gost_x_tls::names_certificate_files(&out) {
        return out;
    }
    let default = env.default_tls.read().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = default.as_ref() {
        let files = TlsConfig {
            cert_file: d.cert_file.clone(),
            key_file: d.key_file.clone(),
            ca_file: d.ca_file.clone(),
            ..TlsConfig::default()
        };
        files.apply_to(&mut out);
    }
    out
}

/// A node's `filter` (`protocol`, `host`, `path`; gost 3.2's node-level `protocol`/`host`/`path`
/// in `legacy`) as the metadata keys the hop selects by (`filter.protocol`, ...).
fn add_filter(
    md: &mut Metadata,
    filter: Option<&crate::model::ConfigValue>,
    legacy: [Option<&str>; 3],
) {
    for (i, key) in ["protocol", "host", "path"].into_iter().enumerate() {
        let from_filter = match filter {
            Some(crate::model::ConfigValue::Map(m)) => m.get(key).and_then(|v| match v {
                crate::model::ConfigValue::Str(s) => Some(s.clone()),
                _ => None,
            }),
            _ => None,
        };
        if let Some(v) = from_filter.or(legacy[i].map(str::to_owned)).filter(|v| !v.is_empty()) {
            md.insert(&format!("filter.{key}"), v);
        }
    }
}

/// A hop (top-level, or inside a chain) with its nodes.
pub fn build_hop(hop: &HopConfig, r: &Registries, env: &Env) -> Result<BoxHop> {
    build_hop_in(hop, r, env, &hop.name)
}

/// [`build_hop`], its probes reported under `scope` (`chain/hop`, or the hop's name).
fn build_hop_in(hop: &HopConfig, r: &Registries, env: &Env, scope: &str) -> Result<BoxHop> {
    hop.check_supported()?;
    let mut probes = Probes::default();
    let mut nodes = Vec::with_capacity(hop.nodes.len());
    for node in &hop.nodes {
        let addr = Address::parse(&node.addr)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("node {}", node.name)))?;
        let connector_kind =
            if node.connector.kind.is_empty() { "http" } else { &node.connector.kind };
        let dialer_kind = if node.dialer.kind.is_empty() { "tcp" } else { &node.dialer.kind };
        let mut copts = ConnectorOptions::default();
        copts.node = node.name.clone();
        if let Some(auth) = &node.connector.auth {
            copts.username = Some(auth.username.clone());
            copts.password = Some(auth.password.clone());
        }
        let new_connector = factory(
            &r.connectors,
            "connector",
            connector_kind,
            names::is_connector(connector_kind),
        )?;
        let tls = node.tls.as_ref();
        let connector_md =
            component_metadata(&node.connector.metadata, node.connector.tls.as_ref().or(tls));
        let connector = new_connector(copts, &connector_md).map_err(|e| {
            e.wrap(ErrorKind::Config, format!("node {}: connector {connector_kind}", node.name))
        })?;
        let mut dopts = DialerOptions::default();
        dopts.node = node.name.clone();
        let new_dialer = factory(&r.dialers, "dialer", dialer_kind, names::is_dialer(dialer_kind))?;
        let dialer_md = component_metadata(&node.dialer.metadata, node.dialer.tls.as_ref().or(tls));
        let dialer = new_dialer(dopts, &dialer_md).map_err(|e| {
            e.wrap(ErrorKind::Config, format!("node {}: dialer {dialer_kind}", node.name))
        })?;
        let mut built = Node::new(node.name.clone(), addr, Transport::new(dialer, connector));
        built.metadata = to_metadata(&node.metadata);
        add_filter(&mut built.metadata, node.filter.as_ref(), [None, None, None]);
        built.bypass = policy::bypasses(&policy::names(node.bypass.as_ref(), &node.bypasses), r)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("node {}", node.name)))?;
        (built.matcher, built.priority, built.body_size) =
            routing::matcher_with_body(node.matcher.as_ref(), r)
                .map_err(|e| e.wrap(ErrorKind::Config, format!("node {}", node.name)))?;
        built.http = routing::http_settings(node.http.as_ref(), None).map_err(|e| {
            let kind = e.kind();
            e.wrap(kind, format!("node {}", node.name))
        })?;
        let built = Arc::new(built);
        routing::probe_node(&built, node.probe.as_ref(), scope, env, &mut probes)?;
        nodes.push(built);
    }
    let sel = for_nodes(
        &selector_metadata(hop.selector.as_ref(), &to_metadata(&hop.metadata)),
        DEFAULT_FAIL_TIMEOUT,
    )?;
    let bypass = policy::bypasses(&policy::names(hop.bypass.as_ref(), &hop.bypasses), r)?;
    let hop = NodeHop::new(hop.name.clone(), nodes, Box::new(sel));
    Ok(BoxHop::new(hop.with_bypass(bypass).with_probes(probes)))
}

fn router(
    chain: Option<&str>,
    group: Option<&ChainGroupConfig>,
    svc: &ServiceConfig,
    r: &Registries,
    env: &Env,
) -> Result<BoxRouter> {
    let mut opts = RouterOptions::default();
    if let Some(name) = svc.resolver.as_deref().filter(|n| !n.is_empty()) {
        opts.resolver = Some(BoxResolver::new(policy::named(&r.resolvers, "resolver", name)?));
    }
    if let Some(name) = svc.hosts.as_deref().filter(|n| !n.is_empty()) {
        opts.hosts = Some(BoxHostMapper::new(policy::named(&r.hosts, "hosts", name)?));
    }
    if let Some(group) = group {
        let scope = format!("{}/chainGroup", svc.name);
        opts.chain = Some(routing::chain_group(chain, group, r, env, &scope)?);
        let label = chain.unwrap_or("chainGroup").to_owned();
        opts.metrics = env.metrics.clone().map(|m| (m, label));
    } else if let Some(name) = chain {
        // Late bound: a chain updated through the Web API is used by the next connection.
        opts.chain = Some(BoxChainer::new(policy::named(&r.chains, "chain", name)?));
        opts.metrics = env.metrics.clone().map(|m| (m, name.to_owned()));
    }
    let handler_md = to_metadata(&svc.handler.metadata);
    let from_md = handler_md.get_usize(&["retries"])?.unwrap_or(0);
    opts.retries = usize::try_from(svc.handler.retries).unwrap_or(0).max(from_md);
    // The handler checks the target; the router checks what a name resolves to.
    opts.bypass = policy::bypasses(&policy::names(svc.bypass.as_ref(), &svc.bypasses), r)?;
    if let Some(t) = to_metadata(&svc.metadata).get_duration(&["dialTimeout"])? {
        opts.timeout = if t.is_zero() { Duration::from_secs(15) } else { t };
    }
    Ok(BoxRouter::new(DefaultRouter::new(opts)))
}

/// A handler factory from the registry or from the [`Env`].
enum Either {
    Registry(gost_core::NewHandler),
    Env(EnvHandler),
}

/// The service's admission and limiters.
fn service_policy(svc: &ServiceConfig, r: &Registries) -> Result<Policy> {
    let mut p = Policy::default();
    p.admission = policy::admissions(&policy::names(svc.admission.as_ref(), &svc.admissions), r)?;
    let named = |n: &Option<String>| n.as_deref().filter(|n| !n.is_empty()).map(str::to_owned);
    if let Some(n) = named(&svc.limiter) {
        p.traffic_limiter = Some(Arc::new(policy::named(&r.traffic_limiters, "limiter", &n)?));
    }
    if let Some(n) = named(&svc.climiter) {
        p.conn_limiter = Some(Arc::new(policy::named(&r.conn_limiters, "climiter", &n)?));
    }
    if let Some(n) = named(&svc.rlimiter) {
        p.rate_limiter = Some(Arc::new(policy::named(&r.rate_limiters, "rlimiter", &n)?));
    }
    // Checked here too so that --check reports unknown names.
    policy::bypasses(&policy::names(svc.bypass.as_ref(), &svc.bypasses), r)?;
    Ok(p)
}

/// A service's forward targets: its `hopGroup`, else the named `hop`, else its `nodes`.
fn forwarder(
    svc: &ServiceConfig,
    fwd: &ForwarderConfig,
    r: &Registries,
    env: &Env,
) -> Result<Option<BoxHop>> {
    let scope = format!("{}/forwarder", svc.name);
    if let Some(group) = &fwd.hop_group {
        return routing::hop_group(group, r, env, &scope).map(Some);
    }
    if let Some(name) = fwd.hop.as_deref().or(fwd.name.as_deref()).filter(|n| !n.is_empty()) {
        return Ok(Some(BoxHop::new(policy::named(&r.hops, "hop", name)?)));
    }
    let mut nodes = Vec::with_capacity(fwd.nodes.len());
    let mut probes = Probes::default();
    for node in &fwd.nodes {
        let at = |e: Error| e.wrap(ErrorKind::Config, format!("forwarder node {}", node.name));
        let addr = Address::parse(&node.addr).map_err(at)?;
        let mut target = Node::target(node.name.clone(), addr);
        target.metadata = to_metadata(&node.metadata);
        let legacy = [node.protocol.as_deref(), node.host.as_deref(), node.path.as_deref()];
        add_filter(&mut target.metadata, node.filter.as_ref(), legacy);
        target.bypass = policy::bypasses(&policy::names(node.bypass.as_ref(), &node.bypasses), r)
            .map_err(at)?;
        (target.matcher, target.priority, target.body_size) =
            routing::matcher_with_body(node.matcher.as_ref(), r).map_err(at)?;
        target.http =
            routing::http_settings(node.http.as_ref(), node.auth.as_ref()).map_err(|e| {
                let kind = e.kind();
                e.wrap(kind, format!("forwarder node {}", node.name))
            })?;
        // `tls`: the target speaks TLS; the forwarder handshakes with it after connecting.
        if let Some(tls) = &node.tls {
            let md = component_metadata(&Default::default(), Some(tls));
            let mut dopts = DialerOptions::default();
            dopts.node = node.name.clone();
            let dialer = factory(&r.dialers, "dialer", "tls", true)?(dopts, &md).map_err(at)?;
            let mut copts = ConnectorOptions::default();
            copts.node = node.name.clone();
            let connector =
                factory(&r.connectors, "connector", "forward", true)?(copts, &md).map_err(at)?;
            target.transport = Some(Transport::new(dialer, connector));
        }
        let target = Arc::new(target);
        routing::probe_node(&target, node.probe.as_ref(), &scope, env, &mut probes)?;
        nodes.push(target);
    }
    if nodes.is_empty() {
        return Ok(None);
    }
    let sel: DefaultSelector<Arc<Node>> = from_metadata(
        &selector_metadata(fwd.selector.as_ref(), &Metadata::new()),
        DEFAULT_FAIL_TIMEOUT,
    )?;
    let hop = NodeHop::new(format!("{}-forwarder", svc.name), nodes, Box::new(sel));
    Ok(Some(BoxHop::new(hop.with_probes(probes))))
}

/// A `services[]` entry: its listener bound, not yet serving.
pub fn build_service(svc: &ServiceConfig, r: &Registries, env: &Env) -> Result<BoxService> {
    svc.check_supported()?;
    let handler_kind = if svc.handler.kind.is_empty() { "auto" } else { &svc.handler.kind };
    let listener_kind = if svc.listener.kind.is_empty() { "tcp" } else { &svc.listener.kind };
    let new_handler = match env.handler(handler_kind) {
        Some(f) => Either::Env(f),
        None => Either::Registry(factory(
            &r.handlers,
            "handler",
            handler_kind,
            names::is_handler(handler_kind),
        )?),
    };
    let new_listener =
        factory(&r.listeners, "listener", listener_kind, names::is_listener(listener_kind))?;

    // gost: an `ignoreChain` service keeps its chain in the config but does not use it.
    let ignore_chain = to_metadata(&svc.metadata).get_bool(&["ignoreChain"])?.unwrap_or(false);
    let chain = svc.handler.chain.as_deref().filter(|_| !ignore_chain);
    let group = svc.handler.chain_group.as_ref().filter(|_| !ignore_chain);
    let mut hopts = HandlerOptions::new(router(chain, group, svc, r, env)?);
    hopts.service = svc.name.clone();
    if let Some(name) = svc.hosts.as_deref().filter(|n| !n.is_empty()) {
        hopts.hosts = Some(BoxHostMapper::new(policy::named(&r.hosts, "hosts", name)?));
    }
    // gost: named authers win over an inline `auth`.
    let auther_names = policy::names(svc.handler.auther.as_ref(), &svc.handler.authers);
    hopts.auther = policy::authers(&auther_names, r)?;
    check_auth(svc)?;
    hopts.credentials = svc.handler.auth.as_ref().map(|a| (a.username.clone(), a.password.clone()));
    if hopts.auther.is_none()
        && let Some(auth) = svc.handler.auth.as_ref().filter(|a| !a.username.is_empty())
    {
        let users = Users::new([(auth.username.clone(), auth.password.clone())]);
        hopts.auther = Some(BoxAuther::new(users));
    }
    hopts.bypass = policy::bypasses(&policy::names(svc.bypass.as_ref(), &svc.bypasses), r)?;
    // gost: the tunnel handler names its ingress and SD in its metadata (late-bound, as gost's
    // registry lookups are).
    let named = to_metadata(&svc.handler.metadata);
    if let Some(name) = named.get_string(&["ingress"])?.filter(|n| !n.is_empty()) {
        hopts.ingress = Some(BoxIngress::new(r.ingresses.named(&name)));
    }
    if let Some(name) = named.get_string(&["sd"])?.filter(|n| !n.is_empty()) {
        hopts.sd = Some(BoxSd::new(r.sds.named(&name)));
    }
    if let Some(name) = svc.cache.as_deref().filter(|n| !n.is_empty()) {
        hopts.cache = Some(BoxCache::new(policy::named(&r.caches, "cache", name)?));
    }
    if let Some(fwd) = &svc.forwarder {
        hopts.forwarder = forwarder(svc, fwd, r, env)?;
    }
    let handler_md = server_metadata(&svc.handler.metadata, svc.handler.tls.as_ref(), env);
    let handler = match new_handler {
        Either::Env(f) => f(hopts, &handler_md, env),
        Either::Registry(f) => f(hopts, &handler_md),
    }
    .map_err(|e| e.wrap(ErrorKind::Config, format!("handler {handler_kind}")))?;

    let mut lopts = ListenerOptions::new(svc.addr.clone());
    lopts.service = svc.name.clone();
    let (chain, group) = (svc.listener.chain.as_deref(), svc.listener.chain_group.as_ref());
    if chain.is_some() || group.is_some() {
        lopts.router = Some(router(chain, group, svc, r, env)?);
    }
    let listener_md = server_metadata(&svc.listener.metadata, svc.listener.tls.as_ref(), env);
    let listener = new_listener(lopts, &listener_md).map_err(|e| {
        let kind = e.kind();
        e.wrap(kind, format!("listener {listener_kind}"))
    })?;
    let service_md = to_metadata(&svc.metadata);
    let mut sopts = ServiceOptions::new(svc.name.clone());
    sopts.enable_stats = service_md.get_bool(&["enableStats"])?.unwrap_or(false);
    sopts.policy = service_policy(svc, r)?;
    sopts.metrics = env.metrics.clone();
    let list = |key: &str| -> Result<Vec<String>> {
        Ok(service_md.get_strings(&[key])?.unwrap_or_default())
    };
    sopts.hooks = gost_x_service::Hooks {
        pre_up: list("preUp")?,
        post_up: list("postUp")?,
        pre_down: list("preDown")?,
        post_down: list("postDown")?,
    };
    Ok(BoxService::new(DefaultService::new(sopts, listener, handler)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_cli;
    use gost_core::Service;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn registries() -> Registries {
        let r = Registries::new();
        gost_x_listener::register(&r).unwrap();
        gost_x_dialer::register(&r).unwrap();
        gost_x_handler::register(&r).unwrap();
        gost_x_connector::register(&r).unwrap();
        r
    }

    async fn serve(l: &str, f: &[&str], r: &Registries) -> BoxService {
        let p = parse_cli(&[l.to_owned()], &f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        let svc = build(&p.config, r).unwrap().remove(0);
        tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        svc
    }

    #[test]
    fn env_handlers_are_known_to_validate() {
        fn refuse(_: HandlerOptions, _: &Metadata, _: &Env) -> Result<BoxHandler> {
            Err(Error::config("not in this test"))
        }
        let p =
            parse_cli(&["metrics://127.0.0.1:0".to_owned(), "api://127.0.0.1:0".to_owned()], &[])
                .unwrap();
        let r = registries();
        // Without them the types are "not supported yet"; with them, valid.
        let err = validate(&p.config, &r, &Env::default()).unwrap_err();
        assert!(err.to_string().contains("not supported yet"), "{err}");
        let mut env = Env {
            handlers: vec![("api", refuse), ("metrics", refuse)],
            metrics: Some(Metrics::new()),
            ..Env::default()
        };
        validate(&p.config, &r, &env).unwrap();
        // A metrics handler while metrics are off is refused before anything starts.
        env.metrics = None;
        let err = validate(&p.config, &r, &env).unwrap_err();
        assert!(err.to_string().contains("needs metrics on"), "{err}");
    }

    #[tokio::test]
    async fn forwarder_through_a_forward_chain() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            s.write_all(b"from origin").await.unwrap();
        });
        // Server: plain forwarder to the origin.
        let r1 = registries();
        let server = serve(&format!("tcp://127.0.0.1:0/{origin_addr}"), &[], &r1).await;
        let server_addr = server.local_addr().unwrap();
        // Client: forwarder whose target is ignored by the forward node, which is the server.
        let r2 = registries();
        let client =
            serve("tcp://127.0.0.1:0/192.0.2.1:9", &[&format!("forward+tcp://{server_addr}")], &r2)
                .await;
        let mut c = tokio::net::TcpStream::connect(client.local_addr().unwrap()).await.unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "from origin");
    }

    #[tokio::test]
    async fn unsupported_and_unknown_types_are_explained() {
        let r = registries();
        let p = parse_cli(&["sshd://127.0.0.1:0".into()], &[]).unwrap();
        let err = build(&p.config, &r).unwrap_err();
        assert!(err.to_string().contains("handler type \"sshd\" is not supported yet"), "{err}");
        let mut cfg = p.config.clone();
        cfg.services[0].handler.kind = "nope".into();
        let err = build(&cfg, &r).unwrap_err();
        assert!(err.to_string().contains("unknown handler type \"nope\""), "{err}");
        let p =
            parse_cli(&["tcp://127.0.0.1:0/h:1".into()], &["sshd://127.0.0.1:1".into()]).unwrap();
        let err = build(&p.config, &registries()).unwrap_err();
        assert!(err.to_string().contains("connector type \"sshd\" is not supported yet"), "{err}");
    }
}
