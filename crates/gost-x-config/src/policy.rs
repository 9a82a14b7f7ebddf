//! The named policy objects of a configuration (`authers`, `admissions`, `bypasses`,
//! `resolvers`, `hosts`, `limiters`, `climiters`, `rlimiters`): each is created, registered by
//! name, and, when it reads a `file`, kept in a [`Reloaders`] list so that the file can be read
//! again (every `reload` period, on SIGHUP, or every `-R` period). A file that cannot be read or
//! has a bad line leaves the object as it was and logs an error.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_core::{
    BoxAdmission, BoxAuther, BoxBypass, BoxCache, BoxHostMapper, BoxIngress, BoxResolver,
    BoxRouteTable, BoxSd, ConnLimiter, Error, ErrorKind, Metadata, Named, RateLimiter, Registries,
    Registry, Result, TrafficLimiter, Value,
};
use gost_x_admission::{AdmissionGroup, ListAdmission};
use gost_x_auth::{AutherGroup, Users};
use gost_x_bypass::{BypassGroup, ListBypass};
use gost_x_hosts::StaticHosts;
use gost_x_ingress::RuleIngress;
use gost_x_limiter::{ConnLimits, RateLimits, TrafficLimits};
use gost_x_resolver::{DnsResolver, Family, NameServerOptions};
use gost_x_router::StaticRoutes;
use gost_x_sd::MemorySd;

use crate::model::{
    AutherConfig, CacheConfig, Config, ConfigValue, HostsConfig, IngressConfig, LimiterConfig,
    MatcherListConfig, ResolverConfig, RouterConfig, SdConfig,
};

type Apply = Box<dyn Fn(&[String]) -> Result<()> + Send + Sync>;

/// One object that reads a file: its inline lines, the file, and how to apply new lines.
struct Reloadable {
    what: String,
    inline: Vec<String>,
    file: PathBuf,
    period: Option<Duration>,
    apply: Apply,
}

impl Reloadable {
    fn lines(&self) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(&self.file).map_err(|e| {
            Error::with_source(ErrorKind::Config, format!("read {}", self.file.display()), e)
        })?;
        let mut lines = self.inline.clone();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if !line.is_empty() {
                lines.push(line.to_owned());
            }
        }
        Ok(lines)
    }

    fn load(&self) -> Result<()> {
        let lines = self.lines()?;
        (self.apply)(&lines).map_err(|e| {
            e.wrap(ErrorKind::Config, format!("{} (file {})", self.what, self.file.display()))
        })
    }

    /// Reads the file again; on failure the object keeps its data and the error is logged.
    fn reload(&self) {
        match self.load() {
            Ok(()) => tracing::debug!("{}: reloaded {}", self.what, self.file.display()),
            Err(e) => tracing::error!("{e}; keeping the previous data"),
        }
    }
}

/// The file-backed objects of a running configuration, by object (`"bypass NAME"`). A handle:
/// clones share the same set. Replacing an object's entry (an update through the Web API) stops
/// the old entry's `reload` period.
#[derive(Default, Clone)]
pub struct Reloaders(Arc<Mutex<BTreeMap<String, Arc<Reloadable>>>>);

impl std::fmt::Debug for Reloaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Reloaders").field(&self.keys()).finish()
    }
}

impl Reloaders {
    fn entries(&self) -> Vec<Arc<Reloadable>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    fn keys(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Reads every file again (SIGHUP, `-R`). Blocking file I/O: async callers use
    /// [`Reloaders::reload_all_async`].
    pub fn reload_all(&self) {
        for r in self.entries() {
            r.reload();
        }
    }

    /// [`Reloaders::reload_all`] on tokio's blocking pool, off the runtime's worker threads.
    pub async fn reload_all_async(&self) {
        let all = self.clone();
        if tokio::task::spawn_blocking(move || all.reload_all()).await.is_err() {
            tracing::error!("reloading files panicked; keeping the previous data");
        }
    }

    /// How many objects read a file.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no object reads a file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the file of object `what` (`"bypass NAME"`), ending its `reload` period.
    pub fn remove(&self, what: &str) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(what);
    }

    /// Forgets every file.
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Keeps `r` (replacing an entry for the same object) and starts its `reload` period on the
    /// current tokio runtime, if it has one.
    fn insert(&self, r: Reloadable) {
        let r = Arc::new(r);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(r.what.clone(), r.clone());
        let Some(period) = r.period.filter(|p| !p.is_zero()) else { return };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("{}: no runtime, the `reload` period is not started", r.what);
            return;
        };
        let weak = Arc::downgrade(&r);
        rt.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                // The entry was replaced or removed: this period ends with it.
                let Some(r) = weak.upgrade() else { return };
                if tokio::task::spawn_blocking(move || r.reload()).await.is_err() {
                    tracing::error!("reloading a file panicked; keeping the previous data");
                }
            }
        });
    }
}

/// `file: {path: ...}` (gost's form) or `file: path`.
fn file_path(v: Option<&ConfigValue>, what: &str) -> Result<Option<PathBuf>> {
    match v {
        None | Some(ConfigValue::Null(())) => Ok(None),
        Some(ConfigValue::Str(s)) => Ok(Some(PathBuf::from(s))),
        Some(ConfigValue::Map(m)) => match m.get("path") {
            Some(ConfigValue::Str(s)) if m.len() == 1 => Ok(Some(PathBuf::from(s))),
            _ => Err(Error::config(format!("{what}: `file` takes {{path: FILE}}"))),
        },
        Some(_) => Err(Error::config(format!("{what}: `file` takes {{path: FILE}}"))),
    }
}

fn duration(v: Option<&ConfigValue>, key: &str, what: &str) -> Result<Option<Duration>> {
    let Some(v) = v else { return Ok(None) };
    let md: Metadata = [(key, Value::from(v))].into_iter().collect();
    md.get_duration(&[key]).map_err(|e| e.wrap(ErrorKind::Config, what.to_owned()))
}

fn unsupported_loaders(
    what: &str,
    redis: Option<&ConfigValue>,
    http: Option<&ConfigValue>,
    plugin: Option<&ConfigValue>,
) -> Result<()> {
    for (name, v) in [("redis", redis), ("http", http), ("plugin", plugin)] {
        if v.is_some() {
            return Err(Error::unsupported(format!("{what}: `{name}` is not supported yet")));
        }
    }
    Ok(())
}

/// Registers `apply` for `file` (if any) after loading it once; without a file, applies the
/// inline lines and forgets an earlier file of the same object.
fn with_file(
    reloaders: &Reloaders,
    what: String,
    inline: Vec<String>,
    file: Option<PathBuf>,
    period: Option<Duration>,
    apply: Apply,
) -> Result<()> {
    match file {
        None => {
            apply(&inline).map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?;
            reloaders.remove(&what);
            Ok(())
        }
        Some(file) => {
            let r = Reloadable { what, inline, file, period, apply };
            r.load()?;
            reloaders.insert(r);
            Ok(())
        }
    }
}

/// Creates and registers every named policy object of `config` (replacing objects of the same
/// name: a reload).
pub(crate) fn build(config: &Config, r: &Registries, rl: &Reloaders) -> Result<()> {
    for a in &config.authers {
        r.authers.replace(&a.name, auther(a, rl)?);
    }
    for a in &config.admissions {
        r.admissions.replace(&a.name, admission(a, rl)?);
    }
    for b in &config.bypasses {
        r.bypasses.replace(&b.name, bypass(b, rl)?);
    }
    for res in &config.resolvers {
        r.resolvers.replace(&res.name, resolver(res)?);
    }
    for h in &config.hosts {
        r.hosts.replace(&h.name, hosts(h, rl)?);
    }
    for c in &config.caches {
        r.caches.replace(&c.name, cache(c)?);
    }
    for rt in &config.routers {
        r.routers.replace(&rt.name, router(rt, rl)?);
    }
    for i in &config.ingresses {
        r.ingresses.replace(&i.name, ingress(i, rl)?);
    }
    for sd in &config.sds {
        // An SD keeps what tunnel servers registered in it: a reload that keeps the name keeps
        // the registry.
        if !r.sds.contains(&sd.name) {
            r.sds.replace(&sd.name, self::sd(sd)?);
        }
    }
    for l in &config.limiters {
        r.traffic_limiters.replace(&l.name, traffic_limiter(l, rl)?);
    }
    for l in &config.climiters {
        r.conn_limiters.replace(&l.name, conn_limiter(l, rl)?);
    }
    for l in &config.rlimiters {
        r.rate_limiters.replace(&l.name, rate_limiter(l, rl)?);
    }
    Ok(())
}

/// An `authers[]` entry.
pub(crate) fn auther(a: &AutherConfig, rl: &Reloaders) -> Result<BoxAuther> {
    let what = format!("auther {}", a.name);
    unsupported_loaders(&what, a.redis.as_ref(), a.http.as_ref(), a.plugin.as_ref())?;
    let users = Arc::new(Users::default());
    let inline =
        a.auths.iter().map(|u| (u.username.clone(), u.password.clone())).collect::<Vec<_>>();
    let period = duration(a.reload.as_ref(), "reload", &what)?;
    let file = file_path(a.file.as_ref(), &what)?;
    users.set_users(inline.clone());
    let target = users.clone();
    let apply: Apply = Box::new(move |lines: &[String]| {
        let mut all = inline.clone();
        all.extend(gost_x_auth::parse_lines(lines));
        target.set_users(all);
        Ok(())
    });
    // The inline users are already set: without a file, `apply` adds nothing.
    with_file(rl, what, Vec::new(), file, period, apply)?;
    Ok(BoxAuther::new(users))
}

/// An `admissions[]` entry.
pub(crate) fn admission(a: &MatcherListConfig, rl: &Reloaders) -> Result<BoxAdmission> {
    let what = format!("admission {}", a.name);
    unsupported_loaders(&what, a.redis.as_ref(), a.http.as_ref(), a.plugin.as_ref())?;
    let adm = Arc::new(
        ListAdmission::new(a.whitelist || a.reverse, &a.matchers)
            .map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?,
    );
    let target = adm.clone();
    let file = file_path(a.file.as_ref(), &what)?;
    let period = duration(a.reload.as_ref(), "reload", &what)?;
    let apply: Apply = Box::new(move |l: &[String]| target.set_patterns(l));
    with_file(rl, what, a.matchers.clone(), file, period, apply)?;
    Ok(BoxAdmission::new(adm))
}

/// A `bypasses[]` entry.
pub(crate) fn bypass(b: &MatcherListConfig, rl: &Reloaders) -> Result<BoxBypass> {
    let what = format!("bypass {}", b.name);
    unsupported_loaders(&what, b.redis.as_ref(), b.http.as_ref(), b.plugin.as_ref())?;
    let network = b.network.as_deref().unwrap_or("");
    let bp = Arc::new(
        ListBypass::new(b.whitelist || b.reverse, network, &b.matchers)
            .map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?,
    );
    let target = bp.clone();
    let file = file_path(b.file.as_ref(), &what)?;
    let period = duration(b.reload.as_ref(), "reload", &what)?;
    let apply: Apply = Box::new(move |l: &[String]| target.set_patterns(l));
    with_file(rl, what, b.matchers.clone(), file, period, apply)?;
    Ok(BoxBypass::new(bp))
}

/// A `resolvers[]` entry.
pub(crate) fn resolver(res: &ResolverConfig) -> Result<BoxResolver> {
    let what = format!("resolver {}", res.name);
    if res.plugin.is_some() {
        return Err(Error::unsupported(format!("{what}: `plugin` is not supported yet")));
    }
    let servers = res
        .nameservers
        .iter()
        .map(nameserver)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?;
    let resolver = DnsResolver::new(servers).map_err(|e| e.wrap(ErrorKind::Config, what))?;
    Ok(BoxResolver::new(resolver))
}

/// A `hosts[]` entry.
pub(crate) fn hosts(h: &HostsConfig, rl: &Reloaders) -> Result<BoxHostMapper> {
    let what = format!("hosts {}", h.name);
    unsupported_loaders(&what, h.redis.as_ref(), h.http.as_ref(), h.plugin.as_ref())?;
    let inline = h
        .mappings
        .iter()
        .map(mapping_line)
        .collect::<Result<Vec<_>>>()
        .map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?;
    let hosts = Arc::new(StaticHosts::default());
    let target = hosts.clone();
    let file = file_path(h.file.as_ref(), &what)?;
    let period = duration(h.reload.as_ref(), "reload", &what)?;
    let apply: Apply = Box::new(move |l: &[String]| {
        target.set_mappings(gost_x_hosts::parse_lines(l)?);
        Ok(())
    });
    with_file(rl, what, inline, file, period, apply)?;
    Ok(BoxHostMapper::new(hosts))
}

/// An `ingresses[]` entry: its rules, and its file's lines (`hostname endpoint`).
pub(crate) fn ingress(i: &IngressConfig, rl: &Reloaders) -> Result<BoxIngress> {
    let what = format!("ingress {}", i.name);
    unsupported_loaders(&what, i.redis.as_ref(), i.http.as_ref(), i.plugin.as_ref())?;
    let inline: Vec<String> =
        i.rules.iter().map(|r| format!("{} {}", r.hostname, r.endpoint)).collect();
    let ingress = Arc::new(RuleIngress::default());
    let target = ingress.clone();
    let file = file_path(i.file.as_ref(), &what)?;
    let period = duration(i.reload.as_ref(), "reload", &what)?;
    let apply: Apply = Box::new(move |l: &[String]| {
        target.set_rules(gost_x_ingress::parse_lines(l));
        Ok(())
    });
    with_file(rl, what, inline, file, period, apply)?;
    Ok(BoxIngress::new(ingress))
}

/// A `caches[]` entry: a memory store (Redis is not supported yet).
pub(crate) fn cache(c: &CacheConfig) -> Result<BoxCache> {
    let what = format!("cache {}", c.name);
    if c.redis.is_some() {
        return Err(Error::unsupported(format!("{what}: `redis` is not supported yet")));
    }
    let m = c.memory.clone().unwrap_or_default();
    let bound = |n: i64, default: u64| if n > 0 { n as u64 } else { default };
    let opts = gost_x_cache::MemoryOptions {
        ttl: duration(m.ttl.as_ref(), "ttl", &what)?.filter(|d| !d.is_zero()),
        max_size: usize::try_from(bound(m.max_size, gost_x_cache::DEFAULT_MAX_SIZE as u64))
            .unwrap_or(usize::MAX),
        max_bytes: bound(m.max_bytes, gost_x_cache::DEFAULT_MAX_BYTES),
        cleanup_interval: duration(m.cleanup_interval.as_ref(), "cleanupInterval", &what)?
            .filter(|d| !d.is_zero()),
        eviction: match m.eviction.to_ascii_lowercase().as_str() {
            "" | "oldest" => gost_x_cache::Eviction::Oldest,
            "lru" => gost_x_cache::Eviction::Lru,
            other => {
                return Err(Error::config(format!(
                    "{what}: eviction {other:?} (expected oldest or lru)"
                )));
            }
        },
    };
    Ok(BoxCache::new(gost_x_cache::MemoryCache::new(opts)))
}

/// A `routers[]` entry: its routes, and its file's lines (`DST GATEWAY`).
pub(crate) fn router(rt: &RouterConfig, rl: &Reloaders) -> Result<BoxRouteTable> {
    let what = format!("router {}", rt.name);
    unsupported_loaders(&what, rt.redis.as_ref(), rt.http.as_ref(), rt.plugin.as_ref())?;
    let inline: Vec<String> = rt
        .routes
        .iter()
        .map(|r| {
            let dst = r.dst.as_deref().or(r.net.as_deref()).unwrap_or_default();
            gost_x_router::route(dst, &r.gateway).map(|e| format!("{} {}", e.dst, e.gateway))
        })
        .collect::<Result<_>>()
        .map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?;
    let table = Arc::new(StaticRoutes::default());
    let target = table.clone();
    let file = file_path(rt.file.as_ref(), &what)?;
    let period = duration(rt.reload.as_ref(), "reload", &what)?;
    let apply: Apply = Box::new(move |l: &[String]| {
        target.set_routes(gost_x_router::parse_lines(l)?);
        Ok(())
    });
    with_file(rl, what, inline, file, period, apply)?;
    Ok(BoxRouteTable::new(table))
}

/// An `sds[]` entry: an in-memory registry (a plugin is refused before this).
pub(crate) fn sd(sd: &SdConfig) -> Result<BoxSd> {
    if sd.plugin.is_some() {
        return Err(Error::unsupported(format!("sd {}: `plugin` is not supported yet", sd.name)));
    }
    Ok(BoxSd::new(MemorySd::default()))
}

/// A `limiters[]` entry.
pub(crate) fn traffic_limiter(
    l: &LimiterConfig,
    rl: &Reloaders,
) -> Result<Arc<dyn TrafficLimiter>> {
    let (lim, what) = limiter(l, "limiter", TrafficLimits::new::<String>)?;
    let target = lim.clone();
    let apply: Apply = Box::new(move |lines: &[String]| target.set_lines(lines));
    register_limiter(rl, l, what, apply)?;
    Ok(lim)
}

/// A `climiters[]` entry.
pub(crate) fn conn_limiter(l: &LimiterConfig, rl: &Reloaders) -> Result<Arc<dyn ConnLimiter>> {
    let (lim, what) = limiter(l, "climiter", ConnLimits::new::<String>)?;
    let target = lim.clone();
    let apply: Apply = Box::new(move |lines: &[String]| target.set_lines(lines));
    register_limiter(rl, l, what, apply)?;
    Ok(lim)
}

/// An `rlimiters[]` entry.
pub(crate) fn rate_limiter(l: &LimiterConfig, rl: &Reloaders) -> Result<Arc<dyn RateLimiter>> {
    let (lim, what) = limiter(l, "rlimiter", RateLimits::new::<String>)?;
    let target = lim.clone();
    let apply: Apply = Box::new(move |lines: &[String]| target.set_lines(lines));
    register_limiter(rl, l, what, apply)?;
    Ok(lim)
}

fn limiter<T>(
    l: &LimiterConfig,
    kind: &str,
    new: fn(&[String]) -> Result<T>,
) -> Result<(Arc<T>, String)> {
    let what = format!("{kind} {}", l.name);
    unsupported_loaders(&what, l.redis.as_ref(), l.http.as_ref(), l.plugin.as_ref())?;
    let lim = new(&l.limits).map_err(|e| e.wrap(ErrorKind::Config, what.clone()))?;
    Ok((Arc::new(lim), what))
}

fn register_limiter(
    reloaders: &Reloaders,
    l: &LimiterConfig,
    what: String,
    apply: Apply,
) -> Result<()> {
    let file = file_path(l.file.as_ref(), &what)?;
    if file.is_none() {
        reloaders.remove(&what);
        return Ok(());
    }
    let period = duration(l.reload.as_ref(), "reload", &what)?;
    with_file(reloaders, what, l.limits.clone(), file, period, apply)
}

fn map_of<'a>(v: &'a ConfigValue, what: &str) -> Result<&'a BTreeMap<String, ConfigValue>> {
    match v {
        ConfigValue::Map(m) => Ok(m),
        _ => Err(Error::config(format!("{what}: expected a map"))),
    }
}

fn string(v: &ConfigValue, key: &str) -> Result<String> {
    match v {
        ConfigValue::Str(s) => Ok(s.clone()),
        ConfigValue::Int(i) => Ok(i.to_string()),
        _ => Err(Error::config(format!("`{key}` must be a string"))),
    }
}

/// A `mappings[]` entry as a hosts-file line.
fn mapping_line(v: &ConfigValue) -> Result<String> {
    let m = map_of(v, "hosts mapping")?;
    let mut ip = None;
    let mut names = Vec::new();
    for (k, v) in m {
        match k.as_str() {
            "ip" => ip = Some(string(v, "ip")?),
            "hostname" => names.insert(0, string(v, "hostname")?),
            "aliases" => match v {
                ConfigValue::List(l) => {
                    for a in l {
                        names.push(string(a, "aliases")?);
                    }
                }
                _ => return Err(Error::config("`aliases` must be a list")),
            },
            other => {
                return Err(Error::config(format!(
                    "unknown key {other:?} in a hosts mapping (expected ip, hostname, aliases)"
                )));
            }
        }
    }
    let ip = ip.ok_or_else(|| Error::config("a hosts mapping needs `ip`"))?;
    ip.parse::<IpAddr>().map_err(|_| Error::config(format!("hosts mapping: bad ip {ip:?}")))?;
    if names.is_empty() {
        return Err(Error::config("a hosts mapping needs `hostname`"));
    }
    Ok(format!("{ip} {}", names.join(" ")))
}

/// A `nameservers[]` entry.
fn nameserver(v: &ConfigValue) -> Result<NameServerOptions> {
    if let ConfigValue::Str(addr) = v {
        return Ok(NameServerOptions::new(addr.clone()));
    }
    let m = map_of(v, "nameserver")?;
    let addr = m
        .get("addr")
        .map(|a| string(a, "addr"))
        .transpose()?
        .ok_or_else(|| Error::config("a nameserver needs `addr`"))?;
    let mut ns = NameServerOptions::new(addr);
    for (k, v) in m {
        match k.as_str() {
            "addr" => {}
            "prefer" => ns.prefer = Some(Family::parse(&string(v, k)?)?),
            "only" => ns.only = Some(Family::parse(&string(v, k)?)?),
            "ttl" => ns.ttl = duration(Some(v), k, "nameserver ttl")?,
            "timeout" => {
                if let Some(t) =
                    duration(Some(v), k, "nameserver timeout")?.filter(|t| !t.is_zero())
                {
                    ns.timeout = t;
                }
            }
            "hostname" => ns.hostname = Some(string(v, k)?),
            // Answers are always waited for; `async` only changes latency in gost.
            "async" => {}
            "chain" | "clientIP" => {
                return Err(Error::unsupported(format!("nameserver `{k}` is not supported yet")));
            }
            other => {
                return Err(Error::config(format!(
                    "unknown nameserver key {other:?} (expected addr, prefer, only, ttl, timeout, hostname, async)"
                )));
            }
        }
    }
    Ok(ns)
}

/// A late-bound reference to `name` in `reg`; an unknown name is an error.
pub(crate) fn named<T: Clone>(reg: &Registry<T>, kind: &str, name: &str) -> Result<Named<T>> {
    if reg.contains(name) { Ok(reg.named(name)) } else { Err(unknown(kind, name)) }
}

/// The objects named in `names`, late bound, as one: none, the one, or `group` of them all.
fn combine<T: Clone, B>(
    names: &[String],
    reg: &Registry<T>,
    kind: &str,
    boxed: impl Fn(Named<T>) -> B,
    group: impl FnOnce(Vec<B>) -> B,
) -> Result<Option<B>> {
    let mut list =
        names.iter().map(|n| named(reg, kind, n).map(&boxed)).collect::<Result<Vec<_>>>()?;
    Ok(match list.len() {
        0 => None,
        1 => list.pop(),
        _ => Some(group(list)),
    })
}

/// An auther for a list of names (one name: that auther; several: any of them).
pub(crate) fn authers(names: &[String], r: &Registries) -> Result<Option<BoxAuther>> {
    combine(names, &r.authers, "auther", BoxAuther::new, |l| BoxAuther::new(AutherGroup(l)))
}

/// The admission for a list of names (all must admit).
pub(crate) fn admissions(names: &[String], r: &Registries) -> Result<Option<BoxAdmission>> {
    let group = |l| BoxAdmission::new(AdmissionGroup(l));
    combine(names, &r.admissions, "admission", BoxAdmission::new, group)
}

/// The bypass for a list of names (gost's group rules).
pub(crate) fn bypasses(names: &[String], r: &Registries) -> Result<Option<BoxBypass>> {
    combine(names, &r.bypasses, "bypass", BoxBypass::new, |l| BoxBypass::new(BypassGroup(l)))
}

/// `x` and `xs` of a config object as one list of names.
pub(crate) fn names(one: Option<&String>, many: &[String]) -> Vec<String> {
    one.into_iter().chain(many).filter(|n| !n.is_empty()).cloned().collect()
}

pub(crate) fn unknown(kind: &str, name: &str) -> Error {
    Error::config(format!("unknown {kind} {name:?} (no top-level {kind} has that name)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_entries() {
        let v: ConfigValue = serde_yaml::from_str(
            "{addr: 'tls://1.1.1.1', prefer: ipv6, ttl: 30s, timeout: 2, hostname: one.one}",
        )
        .unwrap();
        let ns = nameserver(&v).unwrap();
        assert_eq!(ns.prefer, Some(Family::V6));
        assert_eq!(ns.ttl, Some(Duration::from_secs(30)));
        assert_eq!(ns.timeout, Duration::from_secs(2));
        let bad: ConfigValue = serde_yaml::from_str("{addr: x, prefered: ipv6}").unwrap();
        assert!(nameserver(&bad).unwrap_err().to_string().contains("unknown nameserver key"));
    }

    #[test]
    fn hosts_mappings() {
        let v: ConfigValue =
            serde_yaml::from_str("{ip: 127.0.0.1, hostname: a.test, aliases: [b.test]}").unwrap();
        assert_eq!(mapping_line(&v).unwrap(), "127.0.0.1 a.test b.test");
        let bad: ConfigValue = serde_yaml::from_str("{ip: nope, hostname: a}").unwrap();
        assert!(mapping_line(&bad).is_err());
    }

    #[tokio::test]
    async fn ingresses_and_sds_from_a_config() {
        use gost_core::{Ingress, Sd, SdService};
        let dir = std::env::temp_dir().join(format!("gost-ingress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.txt");
        std::fs::write(&path, "file.test  tid-2\n").unwrap();
        let yaml = format!(
            "ingresses:\n- name: ing\n  rules:\n  - {{hostname: '*.a.test', endpoint: tid-1}}\n  \
             file: {{path: {}}}\nsds:\n- name: sd-0\n",
            path.display()
        );
        let config: Config = serde_yaml::from_str(&yaml).unwrap();
        config.check_supported().unwrap();
        let r = Registries::new();
        build(&config, &r, &Reloaders::default()).unwrap();
        let ing = r.ingresses.get("ing").unwrap();
        let rule = ing.get_rule("x.a.test:443".into()).await.unwrap();
        assert_eq!((rule.hostname.as_str(), rule.endpoint.as_str()), ("*.a.test", "tid-1"));
        assert_eq!(ing.get_rule("file.test".into()).await.unwrap().endpoint, "tid-2");
        assert!(ing.get_rule("b.test".into()).await.is_none());
        let sd = r.sds.get("sd-0").unwrap();
        let svc = SdService { id: "1".into(), name: "t".into(), ..Default::default() };
        sd.register(svc.clone()).await.unwrap();
        assert_eq!(sd.get("t".into()).await.unwrap(), vec![svc]);
        // A plugin-backed one is refused up front.
        let plugin: Config =
            serde_yaml::from_str("sds:\n- name: p\n  plugin: {addr: 127.0.0.1:1}\n").unwrap();
        assert!(plugin.check_supported().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_reload_keeps_good_data_on_error() {
        let dir = std::env::temp_dir().join(format!("gost-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bypass.txt");
        std::fs::write(&path, "a.test # first\n").unwrap();
        let bp = Arc::new(ListBypass::new::<&str>(false, "", &[]).unwrap());
        let target = bp.clone();
        let rl = Reloaders::default();
        let apply: Apply = Box::new(move |l: &[String]| target.set_patterns(l));
        with_file(&rl, "bypass t".into(), vec!["b.test".into()], Some(path.clone()), None, apply)
            .unwrap();
        let hit =
            |h: &str| bp.bypasses(gost_core::Network::Tcp, &gost_core::Address::parse(h).unwrap());
        assert!(hit("a.test:1") && hit("b.test:1"));
        std::fs::write(&path, "c.test\n").unwrap();
        rl.reload_all();
        assert!(hit("c.test:1") && !hit("a.test:1") && hit("b.test:1"));
        std::fs::write(&path, "10.0.0.0/99\n").unwrap();
        rl.reload_all();
        assert!(hit("c.test:1"), "a bad file keeps the previous data");
        std::fs::remove_file(&path).unwrap();
        rl.reload_all();
        assert!(hit("c.test:1"), "a missing file keeps the previous data");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
