//! The running configuration of a process: the services it serves and the named objects they
//! use, changed while it runs (the Web API's create/update/delete, `POST /config/reload`,
//! SIGHUP and `-R`), and the configuration text that describes them (`GET /config`,
//! `POST /config`).
//!
//! Every reference by name is late bound (see [`gost_core::Named`]): replacing a chain, a
//! hop or a policy object is seen by the next connection of every service that uses it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gost_core::{Error, ErrorKind, Registries, Result, Service, Status};
use gost_x_service::Services;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::build::{self, Env};
use crate::load::{self, Format};
use crate::model::{Config, ConfigValue};
use crate::policy;

/// Re-reads the configuration from where it came from (files, command line).
pub type Loader = Arc<dyn Fn() -> Result<Config> + Send + Sync>;

/// The kinds of objects the Web API edits (`/config/services`, `/config/chains`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `services`
    Services,
    /// `chains`
    Chains,
    /// `hops`
    Hops,
    /// `authers`
    Authers,
    /// `admissions`
    Admissions,
    /// `bypasses`
    Bypasses,
    /// `resolvers`
    Resolvers,
    /// `hosts`
    Hosts,
    /// `ingresses`
    Ingresses,
    /// `sds`
    Sds,
    /// `routers`
    Routers,
    /// `caches`
    Caches,
    /// `limiters` (traffic)
    Limiters,
    /// `climiters`
    ConnLimiters,
    /// `rlimiters`
    RateLimiters,
}

impl Kind {
    /// Every kind, in the order the API document lists them.
    pub const ALL: [Kind; 15] = [
        Kind::Services,
        Kind::Chains,
        Kind::Hops,
        Kind::Authers,
        Kind::Admissions,
        Kind::Bypasses,
        Kind::Resolvers,
        Kind::Hosts,
        Kind::Ingresses,
        Kind::Sds,
        Kind::Routers,
        Kind::Caches,
        Kind::Limiters,
        Kind::ConnLimiters,
        Kind::RateLimiters,
    ];

    /// The kind of a URL segment (`"services"`).
    pub fn from_segment(segment: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.segment() == segment)
    }

    /// The URL segment and config section name.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::Services => "services",
            Kind::Chains => "chains",
            Kind::Hops => "hops",
            Kind::Authers => "authers",
            Kind::Admissions => "admissions",
            Kind::Bypasses => "bypasses",
            Kind::Resolvers => "resolvers",
            Kind::Hosts => "hosts",
            Kind::Ingresses => "ingresses",
            Kind::Sds => "sds",
            Kind::Routers => "routers",
            Kind::Caches => "caches",
            Kind::Limiters => "limiters",
            Kind::ConnLimiters => "climiters",
            Kind::RateLimiters => "rlimiters",
        }
    }

    /// One object of the kind, in messages (`"service"`), as policy.rs names file-backed objects.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Services => "service",
            Kind::Chains => "chain",
            Kind::Hops => "hop",
            Kind::Authers => "auther",
            Kind::Admissions => "admission",
            Kind::Bypasses => "bypass",
            Kind::Resolvers => "resolver",
            Kind::Hosts => "hosts",
            Kind::Ingresses => "ingress",
            Kind::Sds => "sd",
            Kind::Routers => "router",
            Kind::Caches => "cache",
            Kind::Limiters => "limiter",
            Kind::ConnLimiters => "climiter",
            Kind::RateLimiters => "rlimiter",
        }
    }
}

/// Why an object operation failed, in the Web API's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// The object is malformed (gost's 40001).
    Invalid(String),
    /// The name is taken (40002).
    Duplicate(String),
    /// Building or starting the object failed (40003).
    Failed(String),
    /// No object has that name (40004).
    NotFound(String),
    /// Writing the configuration failed (40005).
    Save(String),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectError::Invalid(m)
            | ObjectError::Duplicate(m)
            | ObjectError::Failed(m)
            | ObjectError::NotFound(m)
            | ObjectError::Save(m) => f.write_str(m),
        }
    }
}

type Outcome = std::result::Result<(), ObjectError>;

/// The running configuration. Share it in an `Arc`.
pub struct Runtime {
    registries: Arc<Registries>,
    env: Env,
    services: Services,
    config: Mutex<Config>,
    /// One change at a time: a change may stop a service and wait for its port.
    changes: tokio::sync::Mutex<()>,
    loader: Option<Loader>,
    config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("services", &self.services).finish()
    }
}

impl Runtime {
    /// Builds every object and service of `config` and starts the services (on the current
    /// tokio runtime). `loader` re-reads the configuration for reloads; `config_file` is where
    /// `POST /config` saves by default (gost: the `-C` file).
    pub fn start(
        config: Config,
        registries: Arc<Registries>,
        env: Env,
        loader: Option<Loader>,
        config_file: Option<PathBuf>,
    ) -> Result<Arc<Runtime>> {
        let built = build::build_all(&config, &registries, &env)?;
        let cell = env.runtime.clone();
        let rt = Arc::new(Runtime {
            registries,
            env,
            services: Services::new(),
            config: Mutex::new(without_status(config)),
            changes: tokio::sync::Mutex::new(()),
            loader,
            config_file,
        });
        // Before any service accepts, so an `api` handler always finds its runtime.
        let _ = cell.set(Arc::downgrade(&rt));
        for (name, svc) in built {
            rt.start_service(&name, svc)?;
        }
        Ok(rt)
    }

    /// The running services.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The registries of named objects.
    pub fn registries(&self) -> &Registries {
        &self.registries
    }

    /// The file-backed objects.
    pub fn reloaders(&self) -> &policy::Reloaders {
        &self.env.reloaders
    }

    fn config(&self) -> std::sync::MutexGuard<'_, Config> {
        self.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start_service(&self, name: &str, svc: gost_core::BoxService) -> Result<()> {
        self.services.start(name, svc.clone())?;
        self.registries.services.replace(name, svc);
        Ok(())
    }

    async fn stop_service(&self, name: &str) -> bool {
        self.registries.services.unregister(name);
        self.services.stop(name).await
    }

    /// The running configuration, each service with its fresh `status`.
    pub fn snapshot(&self) -> Config {
        let mut config = self.config().clone();
        let board = &self.env.probes;
        for svc in &mut config.services {
            svc.status = self.services.get(&svc.name).map(|s| status_value(&s.status()));
            let scope = format!("{}/forwarder", svc.name);
            for node in svc.forwarder.iter_mut().flat_map(|f| &mut f.nodes) {
                node.status = board.get(&scope, &node.name).map(|p| probe_value(&p));
            }
        }
        let probed = |hop: &mut crate::model::HopConfig, scope: &str| {
            for node in &mut hop.nodes {
                node.status = board.get(scope, &node.name).map(|p| probe_value(&p));
            }
        };
        for hop in &mut config.hops {
            let scope = hop.name.clone();
            probed(hop, &scope);
        }
        for chain in &mut config.chains {
            for hop in &mut chain.hops {
                let scope = format!("{}/{}", chain.name, hop.name);
                probed(hop, &scope);
            }
        }
        config
    }

    /// Every object of `kind`, as JSON (services with their `status`).
    pub fn list(&self, kind: Kind) -> Vec<serde_json::Value> {
        section_json(&self.snapshot(), kind)
    }

    /// The object of `kind` called `name`, as JSON.
    pub fn get(&self, kind: Kind, name: &str) -> Option<serde_json::Value> {
        self.list(kind).into_iter().find(|v| v.get("name").and_then(|n| n.as_str()) == Some(name))
    }

    /// Creates an object from its JSON; a service starts serving.
    pub async fn create(&self, kind: Kind, body: serde_json::Value) -> Outcome {
        let _one = self.changes.lock().await;
        let name = body_name(&body).map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.is_empty() {
            return Err(ObjectError::Invalid(format!("{} name is required", kind.singular())));
        }
        if self.exists(kind, &name) {
            return Err(ObjectError::Duplicate(format!(
                "{} {name} already exists",
                kind.singular()
            )));
        }
        self.install(kind, &name, body, false).await
    }

    /// Replaces the object of `kind` called `name` (the name in the URL wins over the body's).
    /// A service is closed first, then the new one is started; if the new one cannot start, the
    /// old configuration is started again.
    pub async fn update(&self, kind: Kind, name: &str, body: serde_json::Value) -> Outcome {
        let _one = self.changes.lock().await;
        let name = name.trim();
        if !self.exists(kind, name) {
            return Err(ObjectError::NotFound(format!("{} {name} not found", kind.singular())));
        }
        self.install(kind, name, body, true).await
    }

    /// Deletes the object of `kind` called `name`; a service is closed (its port released).
    pub async fn delete(&self, kind: Kind, name: &str) -> Outcome {
        let _one = self.changes.lock().await;
        let name = name.trim();
        if !self.exists(kind, name) {
            return Err(ObjectError::NotFound(format!("{} {name} not found", kind.singular())));
        }
        let r = &self.registries;
        match kind {
            Kind::Services => {
                self.stop_service(name).await;
            }
            Kind::Chains => drop(r.chains.unregister(name)),
            Kind::Hops => drop(r.hops.unregister(name)),
            Kind::Authers => drop(r.authers.unregister(name)),
            Kind::Admissions => drop(r.admissions.unregister(name)),
            Kind::Bypasses => drop(r.bypasses.unregister(name)),
            Kind::Resolvers => drop(r.resolvers.unregister(name)),
            Kind::Hosts => drop(r.hosts.unregister(name)),
            Kind::Ingresses => drop(r.ingresses.unregister(name)),
            Kind::Sds => drop(r.sds.unregister(name)),
            Kind::Routers => drop(r.routers.unregister(name)),
            Kind::Caches => drop(r.caches.unregister(name)),
            Kind::Limiters => drop(r.traffic_limiters.unregister(name)),
            Kind::ConnLimiters => drop(r.conn_limiters.unregister(name)),
            Kind::RateLimiters => drop(r.rate_limiters.unregister(name)),
        }
        self.env.reloaders.remove(&format!("{} {name}", kind.singular()));
        let mut config = self.config();
        edit_section(&mut config, kind, |list| list.retain(|v| body_name(v) != Some(name)));
        Ok(())
    }

    fn exists(&self, kind: Kind, name: &str) -> bool {
        let r = &self.registries;
        match kind {
            Kind::Services => self.services.get(name).is_some(),
            Kind::Chains => r.chains.contains(name),
            Kind::Hops => r.hops.contains(name),
            Kind::Authers => r.authers.contains(name),
            Kind::Admissions => r.admissions.contains(name),
            Kind::Bypasses => r.bypasses.contains(name),
            Kind::Resolvers => r.resolvers.contains(name),
            Kind::Hosts => r.hosts.contains(name),
            Kind::Ingresses => r.ingresses.contains(name),
            Kind::Sds => r.sds.contains(name),
            Kind::Routers => r.routers.contains(name),
            Kind::Caches => r.caches.contains(name),
            Kind::Limiters => r.traffic_limiters.contains(name),
            Kind::ConnLimiters => r.conn_limiters.contains(name),
            Kind::RateLimiters => r.rate_limiters.contains(name),
        }
    }

    /// Builds the object from `body` (named `name`), registers it, and records it in the
    /// running configuration.
    async fn install(
        &self,
        kind: Kind,
        name: &str,
        mut body: serde_json::Value,
        replace: bool,
    ) -> Outcome {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("name".into(), serde_json::Value::String(name.to_owned()));
            // Read-only, never taken from a request.
            obj.remove("status");
        } else {
            return Err(ObjectError::Invalid(format!(
                "a {} must be a JSON object",
                kind.singular()
            )));
        }
        let failed = |e: Error| {
            ObjectError::Failed(format!("create {} {name} failed: {e}", kind.singular()))
        };
        let (r, env) = (&*self.registries, &self.env);
        let rl = &env.reloaders;
        match kind {
            Kind::Services => {
                let svc: crate::model::ServiceConfig = parse(&body, kind)?;
                if replace {
                    self.stop_service(name).await;
                }
                match build::build_service(&svc, r, env) {
                    Ok(built) => self.start_service(name, built).map_err(failed)?,
                    Err(e) => {
                        if replace {
                            self.restart_old(name);
                        }
                        return Err(failed(e));
                    }
                }
            }
            Kind::Chains => {
                let c = parse(&body, kind)?;
                r.chains.replace(name, build::build_chain(&c, r, env).map_err(failed)?);
            }
            Kind::Hops => {
                let h = parse(&body, kind)?;
                r.hops.replace(name, build::build_hop(&h, r, env).map_err(failed)?);
            }
            Kind::Authers => {
                let a = parse(&body, kind)?;
                r.authers.replace(name, policy::auther(&a, rl).map_err(failed)?);
            }
            Kind::Admissions => {
                let a = parse(&body, kind)?;
                r.admissions.replace(name, policy::admission(&a, rl).map_err(failed)?);
            }
            Kind::Bypasses => {
                let b = parse(&body, kind)?;
                r.bypasses.replace(name, policy::bypass(&b, rl).map_err(failed)?);
            }
            Kind::Resolvers => {
                let res = parse(&body, kind)?;
                r.resolvers.replace(name, policy::resolver(&res).map_err(failed)?);
            }
            Kind::Hosts => {
                let h = parse(&body, kind)?;
                r.hosts.replace(name, policy::hosts(&h, rl).map_err(failed)?);
            }
            Kind::Ingresses => {
                let i = parse(&body, kind)?;
                r.ingresses.replace(name, policy::ingress(&i, rl).map_err(failed)?);
            }
            Kind::Sds => {
                let sd = parse(&body, kind)?;
                r.sds.replace(name, policy::sd(&sd).map_err(failed)?);
            }
            Kind::Routers => {
                let rt = parse(&body, kind)?;
                r.routers.replace(name, policy::router(&rt, rl).map_err(failed)?);
            }
            Kind::Caches => {
                let c = parse(&body, kind)?;
                r.caches.replace(name, policy::cache(&c).map_err(failed)?);
            }
            Kind::Limiters => {
                let l = parse(&body, kind)?;
                r.traffic_limiters.replace(name, policy::traffic_limiter(&l, rl).map_err(failed)?);
            }
            Kind::ConnLimiters => {
                let l = parse(&body, kind)?;
                r.conn_limiters.replace(name, policy::conn_limiter(&l, rl).map_err(failed)?);
            }
            Kind::RateLimiters => {
                let l = parse(&body, kind)?;
                r.rate_limiters.replace(name, policy::rate_limiter(&l, rl).map_err(failed)?);
            }
        }
        let mut config = self.config();
        edit_section(&mut config, kind, |list| {
            match list.iter_mut().find(|v| body_name(v) == Some(name)) {
                Some(old) => *old = body,
                None => list.push(body),
            }
        });
        Ok(())
    }

    /// Starts the configured services that are not running (one failed at the last reload).
    fn start_missing(&self) -> Result<()> {
        let missing: Vec<_> = self
            .config()
            .services
            .iter()
            .filter(|s| self.services.get(&s.name).is_none())
            .cloned()
            .collect();
        let mut first_error = None;
        for svc in &missing {
            let started = build::build_service(svc, &self.registries, &self.env)
                .and_then(|built| self.start_service(&svc.name, built));
            if let Err(e) = started {
                let e = e.wrap(ErrorKind::Config, format!("service {}", svc.name));
                tracing::error!("reload: {e}");
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts a replaced service again from its recorded configuration (its replacement failed).
    fn restart_old(&self, name: &str) {
        let old = self.config().services.iter().find(|s| s.name == name).cloned();
        let Some(old) = old else { return };
        match build::build_service(&old, &self.registries, &self.env)
            .and_then(|svc| self.start_service(name, svc))
        {
            Ok(()) => {
                tracing::warn!("service {name}: the update failed, the previous one runs again")
            }
            Err(e) => tracing::error!(
                "service {name}: the update failed and the previous one cannot start again: {e}"
            ),
        }
    }

    /// Writes the running configuration to `path`, else the file it was loaded from, else
    /// `gost.yaml` (`gost.json` with `format=json`). The format is `format`, else the file's
    /// extension. Returns the path written.
    pub async fn save(
        &self,
        path: Option<&str>,
        format: Option<&str>,
    ) -> std::result::Result<PathBuf, ObjectError> {
        // One save (or change) at a time: two saves share the temporary file name.
        let _one = self.changes.lock().await;
        let json = format.is_some_and(|f| f.eq_ignore_ascii_case("json"));
        let file = match path.filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => self
                .config_file
                .clone()
                .unwrap_or_else(|| PathBuf::from(if json { "gost.json" } else { "gost.yaml" })),
        };
        let format = match format.map(str::to_ascii_lowercase).as_deref() {
            Some("json") => Format::Json,
            Some("yaml") => Format::Yaml,
            _ if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")) => Format::Json,
            _ => Format::Yaml,
        };
        let text = load::write(&self.config(), format)
            .map_err(|e| ObjectError::Save(format!("save config: {e}")))?;
        // Off the runtime's worker threads (the disk may be slow), and through a temporary file
        // renamed over the target, so a reader never sees half a file and two saves at once do
        // not interleave.
        let target = file.clone();
        let written =
            tokio::task::spawn_blocking(move || write_config_file(&target, text.as_bytes())).await;
        match written {
            Ok(Ok(())) => Ok(file),
            Ok(Err(e)) => Err(ObjectError::Save(format!("create file: {}: {e}", file.display()))),
            Err(e) => Err(ObjectError::Save(format!("save config: {e}"))),
        }
    }

    /// Reads the configuration again and applies it: unchanged, only the policy files are
    /// re-read; changed, every object is replaced and every service restarted (gost's reload;
    /// changes made through the API and not saved are lost). The new configuration is checked
    /// before anything stops, so a bad file leaves everything running.
    pub async fn reload(&self) -> Result<()> {
        let Some(loader) = &self.loader else {
            return Err(Error::config("this process has no configuration source to reload"));
        };
        // The loader reads files: off the runtime's worker threads.
        let loader = loader.clone();
        let new = tokio::task::spawn_blocking(move || loader()).await.map_err(|e| {
            Error::new(ErrorKind::Config, format!("reading the configuration failed: {e}"))
        })??;
        let new = without_status(new);
        let _one = self.changes.lock().await;
        if *self.config() == new {
            self.env.reloaders.reload_all_async().await;
            return self.start_missing();
        }
        // A dry run on scratch registries: every object built and every service checked, and
        // nothing binds a port. A bad configuration stops nothing.
        let scratch = Registries::new();
        copy_factories(&self.registries, &scratch);
        build::validate(&new, &scratch, &self.env)?;

        self.services.stop_all_ports().await;
        let r = &self.registries;
        r.services.clear();
        r.chains.clear();
        r.hops.clear();
        r.authers.clear();
        r.admissions.clear();
        r.bypasses.clear();
        r.resolvers.clear();
        r.hosts.clear();
        r.ingresses.clear();
        r.routers.clear();
        r.caches.clear();
        r.traffic_limiters.clear();
        r.conn_limiters.clear();
        r.rate_limiters.clear();
        self.env.reloaders.clear();
        // SDs are kept (what tunnel servers registered in them lives on) unless they are gone.
        for (name, sd) in r.sds.clear() {
            if new.sds.iter().any(|s| s.name == name) {
                r.sds.replace(&name, sd);
            }
        }
        *self.config() = new.clone();
        build::build_objects(&new, r, &self.env)?;
        self.start_missing()
    }
}

fn copy_factories(from: &Registries, to: &Registries) {
    for (n, f) in from.listeners.all() {
        to.listeners.replace(&n, f);
    }
    for (n, f) in from.handlers.all() {
        to.handlers.replace(&n, f);
    }
    for (n, f) in from.dialers.all() {
        to.dialers.replace(&n, f);
    }
    for (n, f) in from.connectors.all() {
        to.connectors.replace(&n, f);
    }
}

fn without_status(mut config: Config) -> Config {
    for s in &mut config.services {
        s.status = None;
        for n in s.forwarder.iter_mut().flat_map(|f| &mut f.nodes) {
            n.status = None;
        }
    }
    let hops = config.hops.iter_mut().chain(config.chains.iter_mut().flat_map(|c| &mut c.hops));
    for n in hops.flat_map(|h| &mut h.nodes) {
        n.status = None;
    }
    config
}

fn parse<T: DeserializeOwned>(
    body: &serde_json::Value,
    kind: Kind,
) -> std::result::Result<T, ObjectError> {
    T::deserialize(body)
        .map_err(|e| ObjectError::Invalid(format!("invalid {}: {e}", kind.singular())))
}

fn body_name(v: &serde_json::Value) -> Option<&str> {
    v.get("name").and_then(|n| n.as_str())
}

/// The section of `kind` as JSON values.
fn section_json(config: &Config, kind: Kind) -> Vec<serde_json::Value> {
    fn all<T: Serialize>(list: &[T]) -> Vec<serde_json::Value> {
        list.iter().filter_map(|v| serde_json::to_value(v).ok()).collect()
    }
    match kind {
        Kind::Services => all(&config.services),
        Kind::Chains => all(&config.chains),
        Kind::Hops => all(&config.hops),
        Kind::Authers => all(&config.authers),
        Kind::Admissions => all(&config.admissions),
        Kind::Bypasses => all(&config.bypasses),
        Kind::Resolvers => all(&config.resolvers),
        Kind::Hosts => all(&config.hosts),
        Kind::Ingresses => all(&config.ingresses),
        Kind::Sds => all(&config.sds),
        Kind::Routers => all(&config.routers),
        Kind::Caches => all(&config.caches),
        Kind::Limiters => all(&config.limiters),
        Kind::ConnLimiters => all(&config.climiters),
        Kind::RateLimiters => all(&config.rlimiters),
    }
}

/// Edits the section of `kind` as JSON values and writes it back. Every value in it was parsed
/// as that section's type before, so writing back cannot fail; if it did, the section is kept.
fn edit_section(config: &mut Config, kind: Kind, edit: impl FnOnce(&mut Vec<serde_json::Value>)) {
    fn put<T: DeserializeOwned>(list: Vec<serde_json::Value>, into: &mut Vec<T>) {
        let parsed: std::result::Result<Vec<T>, _> = list.into_iter().map(T::deserialize).collect();
        match parsed {
            Ok(v) => *into = v,
            Err(e) => tracing::error!("the running configuration was not updated: {e}"),
        }
    }
    let mut list = section_json(config, kind);
    edit(&mut list);
    match kind {
        Kind::Services => put(list, &mut config.services),
        Kind::Chains => put(list, &mut config.chains),
        Kind::Hops => put(list, &mut config.hops),
        Kind::Authers => put(list, &mut config.authers),
        Kind::Admissions => put(list, &mut config.admissions),
        Kind::Bypasses => put(list, &mut config.bypasses),
        Kind::Resolvers => put(list, &mut config.resolvers),
        Kind::Hosts => put(list, &mut config.hosts),
        Kind::Ingresses => put(list, &mut config.ingresses),
        Kind::Sds => put(list, &mut config.sds),
        Kind::Routers => put(list, &mut config.routers),
        Kind::Caches => put(list, &mut config.caches),
        Kind::Limiters => put(list, &mut config.limiters),
        Kind::ConnLimiters => put(list, &mut config.climiters),
        Kind::RateLimiters => put(list, &mut config.rlimiters),
    }
}

/// A node's `status`: its probe's latest state (not in gost).
fn probe_value(p: &gost_core::ProbeResult) -> ConfigValue {
    let mut m = std::collections::BTreeMap::new();
    m.insert("up".to_owned(), ConfigValue::Bool(p.success));
    m.insert("latency".to_owned(), ConfigValue::Str(format!("{:?}", p.latency)));
    if let Some(e) = &p.error {
        m.insert("error".to_owned(), ConfigValue::Str(e.clone()));
    }
    let time = p.at.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    m.insert("time".to_owned(), ConfigValue::Int(i64::try_from(time).unwrap_or(i64::MAX)));
    let probe = [("probe".to_owned(), ConfigValue::Map(m))].into_iter().collect();
    ConfigValue::Map(probe)
}

/// A service's `status` as gost writes it.
fn status_value(st: &Status) -> ConfigValue {
    let mut m = std::collections::BTreeMap::new();
    let int = |v: u64| ConfigValue::Int(i64::try_from(v).unwrap_or(i64::MAX));
    m.insert("createTime".to_owned(), int(st.create_time));
    m.insert("state".to_owned(), ConfigValue::Str(st.state.as_str().to_owned()));
    let events = st
        .events
        .iter()
        .map(|e| {
            ConfigValue::Map(
                [
                    ("time".to_owned(), int(e.time)),
                    ("msg".to_owned(), ConfigValue::Str(e.msg.clone())),
                ]
                .into_iter()
                .collect(),
            )
        })
        .collect();
    m.insert("events".to_owned(), ConfigValue::List(events));
    if let Some(s) = &st.stats {
        let stats = [
            ("totalConns", s.total_conns),
            ("currentConns", s.current_conns),
            ("totalErrs", s.total_errs),
            ("inputBytes", s.input_bytes),
            ("outputBytes", s.output_bytes),
        ];
        m.insert(
            "stats".to_owned(),
            ConfigValue::Map(stats.into_iter().map(|(k, v)| (k.to_owned(), int(v))).collect()),
        );
    }
    ConfigValue::Map(m)
}

/// Writes a configuration file the way an editor saving it would, without loosening it: a
/// symbolic link is followed and the file it points to replaced (the link stays); an existing
/// file keeps its mode and owner; a new file is created `0600` (it may hold passwords; Go
/// writes `0644`). The text goes to a temporary file beside the target, renamed over it, so a
/// reader never sees half a file; when the owner cannot be kept that way (not root), the file
/// is rewritten in place instead.
fn write_config_file(target: &Path, text: &[u8]) -> std::io::Result<()> {
    let real = real_path(target);
    #[cfg(unix)]
    {
        use std::io::Write as _;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let existing = std::fs::metadata(&real).ok();
        let mode = existing.as_ref().map_or(0o600, |m| m.permissions().mode() & 0o7777);
        let mut tmp = real.clone().into_os_string();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        // A file left by a save that crashed (the same pid again, as in a container) goes.
        let _ = std::fs::remove_file(&tmp);
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        let staged = (|| {
            f.write_all(text)?;
            f.sync_all()?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
        })();
        let owner_kept = match &existing {
            Some(m) => std::os::unix::fs::fchown(&f, Some(m.uid()), Some(m.gid())).is_ok(),
            None => true,
        };
        drop(f);
        let renamed = match staged {
            Ok(()) if owner_kept => std::fs::rename(&tmp, &real),
            Ok(()) => Err(std::io::ErrorKind::PermissionDenied.into()),
            Err(e) => Err(e),
        };
        let Err(e) = renamed else { return Ok(()) };
        let _ = std::fs::remove_file(&tmp);
        if owner_kept {
            return Err(e);
        }
        // The owner cannot be kept by a new file (not root): rewrite the file itself, which
        // keeps its mode and owner (not atomic, the price of keeping the owner).
        let mut f = std::fs::OpenOptions::new().write(true).truncate(true).open(&real)?;
        f.write_all(text)?;
        f.sync_all()
    }
    #[cfg(not(unix))]
    {
        std::fs::write(&real, text)
    }
}

/// `path` with symbolic links followed (also a link to a file that does not exist yet).
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let mut current = path.to_path_buf();
    for _ in 0..16 {
        match std::fs::read_link(&current) {
            Ok(next) => {
                current = match current.parent() {
                    Some(dir) if next.is_relative() => dir.join(next),
                    _ => next,
                };
            }
            Err(_) => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn saving_keeps_mode_owner_and_symlinks_and_creates_private_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gost-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // An existing private file stays private.
        let private = dir.join("private.yaml");
        std::fs::write(&private, "old").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_config_file(&private, b"new").unwrap();
        assert_eq!(
            (mode(&private), std::fs::read_to_string(&private).unwrap()),
            (0o600, "new".into())
        );
        // A shared one keeps its mode too.
        let shared = dir.join("shared.yaml");
        std::fs::write(&shared, "old").unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_config_file(&shared, b"new").unwrap();
        assert_eq!(mode(&shared), 0o640);
        // A symbolic link stays a link; the file it points to gets the text.
        let link = dir.join("link.yaml");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("private.yaml", &link).unwrap();
        write_config_file(&link, b"through the link").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&private).unwrap(), "through the link");
        assert_eq!(mode(&private), 0o600);
        // A new file is created 0600, also behind a dangling link.
        let fresh = dir.join("fresh.yaml");
        let _ = std::fs::remove_file(&fresh);
        write_config_file(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let dangling = dir.join("dangling.yaml");
        let _ = std::fs::remove_file(&dangling);
        let _ = std::fs::remove_file(dir.join("target.yaml"));
        std::os::unix::fs::symlink("target.yaml", &dangling).unwrap();
        write_config_file(&dangling, b"y").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("target.yaml")).unwrap(), "y");
        assert!(std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
        let _ = std::fs::remove_dir_all(&dir);
    }
    use gost_core::{Address, Bypass, Network};
    use serde_json::json;

    #[tokio::test]
    async fn objects_are_created_replaced_and_deleted_under_live_references() {
        let rt = Runtime::start(
            Config::default(),
            Arc::new(Registries::new()),
            Env::default(),
            None,
            None,
        )
        .unwrap();
        let b = json!({"name": "b", "matchers": ["a.test"]});
        rt.create(Kind::Bypasses, b.clone()).await.unwrap();
        assert!(matches!(rt.create(Kind::Bypasses, b).await, Err(ObjectError::Duplicate(_))));
        assert!(matches!(
            rt.create(Kind::Bypasses, json!({"matchers": []})).await,
            Err(ObjectError::Invalid(_))
        ));
        assert!(matches!(
            rt.create(Kind::Bypasses, json!({"name": "c", "matcher": []})).await,
            Err(ObjectError::Invalid(_))
        ));
        assert!(matches!(
            rt.create(Kind::Bypasses, json!({"name": "c", "matchers": ["10.0.0.0/99"]})).await,
            Err(ObjectError::Failed(_))
        ));
        let live = rt.registries().bypasses.named("b");
        let hit = |h: &str| live.contains(Network::Tcp, Address::parse(h).unwrap());
        assert!(hit("a.test:1").await);
        rt.update(Kind::Bypasses, "b", json!({"name": "ignored", "matchers": ["b.test"]}))
            .await
            .unwrap();
        assert!(!hit("a.test:1").await && hit("b.test:1").await, "the new one is used");
        assert_eq!(rt.get(Kind::Bypasses, "b").unwrap()["matchers"], json!(["b.test"]));
        assert_eq!(rt.list(Kind::Bypasses).len(), 1);
        assert!(matches!(
            rt.update(Kind::Bypasses, "x", json!({})).await,
            Err(ObjectError::NotFound(_))
        ));
        rt.delete(Kind::Bypasses, "b").await.unwrap();
        assert!(!hit("b.test:1").await, "a deleted bypass matches nothing");
        assert!(rt.snapshot().bypasses.is_empty());
        assert!(matches!(rt.delete(Kind::Bypasses, "b").await, Err(ObjectError::NotFound(_))));
        // Saving writes the running configuration.
        let path = std::env::temp_dir().join(format!("gost-rt-{}.json", std::process::id()));
        rt.create(
            Kind::Authers,
            json!({"name": "a", "auths": [{"username": "u", "password": "p"}]}),
        )
        .await
        .unwrap();
        assert_eq!(rt.save(path.to_str(), None).await.unwrap(), path);
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(saved["authers"][0]["auths"][0]["username"], "u");
        let _ = std::fs::remove_file(&path);
        assert!(rt.reload().await.is_err(), "no source to reload from");
    }
}
