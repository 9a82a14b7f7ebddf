//! `gost`: runs the services a command line describes.

mod cli;
mod groups;
mod logging;
mod register;

use std::process::ExitCode;
use std::sync::Arc;

use gost_core::{Error, Registries, Result};
use gost_x_config::load;
use gost_x_config::model::{ApiConfig, AuthConfig, Config, MetricsConfig};
use gost_x_config::runtime::{Loader, Runtime};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("gost: {err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!(
            "gost {} (rust {}/{})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            go_arch()
        );
        return ExitCode::SUCCESS;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gost: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The architecture as Go names it, so `-V` reads like Go gost's.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

pub(crate) fn not_yet(what: &str) -> Error {
    Error::unsupported(format!("{what} is not supported yet"))
}

/// The configuration the arguments describe: `-C` sources merged, then the command line, then
/// `-api`/`-metrics` (or `GOST_API`/`GOST_METRICS`). Run again for every reload.
/// `stdin` is the text of `-C -`, read once at start-up (a reload cannot read it again).
fn load_config(args: &cli::Args, stdin: Option<&str>) -> Result<(Config, Vec<String>)> {
    let mut config = Config::default();
    for src in &args.configs {
        let part = match (src.as_str(), stdin) {
            ("-", Some(text)) => {
                let json = text.trim_start().starts_with('{');
                load::parse(
                    text,
                    if json { load::Format::Json } else { load::Format::Yaml },
                    "stdin",
                )?
            }
            _ => load::load_source(src)?,
        };
        config.merge(part);
    }
    let parsed = gost_x_config::parse_cli(&args.services, &args.nodes)?;
    config.merge(parsed.config);
    // gost's order: the environment sets the address of the blocks, the flags replace them.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(level) = env("GOST_LOGGER_LEVEL") {
        config.log.get_or_insert_with(Default::default).level = Some(level);
    }
    if let Some(addr) = env("GOST_API") {
        config.api.get_or_insert_with(Default::default).addr = addr;
    }
    if let Some(addr) = env("GOST_METRICS") {
        config.metrics.get_or_insert_with(Default::default).addr = addr;
    }
    if let Some(value) = &args.api {
        let (addr, auth, query) = endpoint(value);
        let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        config.api = Some(ApiConfig {
            addr,
            auth,
            path_prefix: get("pathPrefix"),
            accesslog: get("accesslog").is_some_and(|v| matches!(v.as_str(), "true" | "1")),
            ..ApiConfig::default()
        });
    }
    if let Some(value) = &args.metrics {
        let (addr, auth, query) = endpoint(value);
        let path = query.into_iter().find(|(k, _)| k == "path").map(|(_, v)| v);
        config.metrics = Some(MetricsConfig { addr, auth, path, ..MetricsConfig::default() });
    }
    // With nothing to run, gost looks for a configuration file in the usual places.
    if config.services.is_empty()
        && args.configs.is_empty()
        && config.api.is_none()
        && let Some(found) = load::default_locations().into_iter().find(|p| p.is_file())
    {
        config.merge(load::load_source(&found.to_string_lossy())?);
    }
    Ok((config, parsed.warnings))
}

/// An `-api`/`-metrics` value as gost reads it: `[scheme://][user:pass@]host:port[?key=value&...]`,
/// or a Unix socket `unix:///path[?key=value&...]` (kept whole as the address).
fn endpoint(value: &str) -> (String, Option<AuthConfig>, Vec<(String, String)>) {
    let (scheme, rest) = value.split_once("://").unwrap_or(("", value));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    if scheme == "unix" {
        return (format!("unix://{rest}"), None, query);
    }
    let (auth, addr) = match rest.rsplit_once('@') {
        Some((user, addr)) => {
            let (username, password) = user.split_once(':').unwrap_or((user, ""));
            let auth = AuthConfig {
                username: username.to_owned(),
                password: password.to_owned(),
                ..AuthConfig::default()
            };
            (Some(auth), addr)
        }
        None => (None, rest),
    };
    (addr.trim_end_matches('/').to_owned(), auth, query)
}

/// The file `POST /config` saves to by default: the first `-C` that names a file.
fn config_file(args: &cli::Args) -> Option<std::path::PathBuf> {
    args.configs
        .iter()
        .find(|c| *c != "-" && !c.trim_start().starts_with('{'))
        .map(std::path::PathBuf::from)
}

fn run(args: cli::Args) -> Result<()> {
    if !args.groups.is_empty() {
        logging::init(args.debug, args.trace, None)?;
        let mut groups = vec![args.own.clone()];
        groups.extend(args.groups.iter().cloned());
        return groups::run(groups);
    }
    let reload_period = match &args.reload {
        Some(r) => Some(
            gost_core::metadata::parse_duration(r)
                .map_err(|e| e.wrap(gost_core::ErrorKind::Config, "-R"))?,
        ),
        None => None,
    };
    let stdin: Option<Arc<str>> = if args.configs.iter().any(|c| c == "-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
            Error::with_source(gost_core::ErrorKind::Io, "read the configuration from stdin", e)
        })?;
        Some(text.into())
    } else {
        None
    };
    let (config, warnings) = load_config(&args, stdin.as_deref())?;
    if let Some(format) = &args.output {
        print!("{}", load::write(&config, load::Format::parse(format)?)?);
        return Ok(());
    }
    logging::init(args.debug, args.trace, config.log.as_ref())?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::with_source(gost_core::ErrorKind::Io, "start the runtime", e))?;
    runtime.block_on(async {
        let registries = Arc::new(Registries::new());
        register::register_all(&registries)?;
        // Metrics are on before the services are built, so every service is instrumented: with
        // a metrics endpoint, or a service with gost's `metrics` handler.
        let metrics = (config.metrics.is_some()
            || config.services.iter().any(|s| s.handler.kind == gost_x_api::metrics::HANDLER))
        .then(gost_x_metrics::Metrics::new);
        let env = gost_x_config::Env {
            metrics: metrics.clone(),
            handlers: gost_x_api::HANDLERS.to_vec(),
            ..Default::default()
        };
        if args.check {
            gost_x_config::build::validate(&config, &registries, &env)?;
            println!(
                "configuration OK: {} service(s), {} chain(s)",
                config.services.len(),
                config.chains.len()
            );
            return Ok(());
        }
        if config.services.is_empty() && config.api.is_none() {
            return Err(Error::config(
                "no service to run (add -L, e.g. -L tcp://:8080/127.0.0.1:80)",
            ));
        }
        // Watch the signals before anything listens, so a SIGTERM sent as soon as a service is
        // up is a graceful stop and never the default (killing) action.
        let signals = Signals::install()?;
        let (api, metrics_block) = (config.api.clone(), config.metrics.clone());
        let loader_args = args.clone();
        let loader: Loader =
            Arc::new(move || load_config(&loader_args, stdin.as_deref()).map(|(c, _)| c));
        let rt = Runtime::start(config, registries.clone(), env, Some(loader), config_file(&args))?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        if let Some(api) = api {
            let listener = gost_x_api::bind(&api.addr).await?;
            let opts = gost_x_api::ApiOptions {
                path_prefix: api.path_prefix.clone().unwrap_or_default(),
                access_log: api.accesslog,
                auther: gost_x_api::block_auther(
                    api.auth.as_ref(),
                    api.auther.as_deref(),
                    &registries,
                )?,
            };
            tracing::info!("api service on {}", listener.local());
            tokio::spawn(gost_x_api::api::serve(listener, rt.clone(), opts, stopped()));
        }
        if let (Some(block), Some(metrics)) = (metrics_block, metrics) {
            let listener = gost_x_api::bind(&block.addr).await?;
            let path = block.path.clone().filter(|p| !p.is_empty()).unwrap_or("/metrics".into());
            let auther = gost_x_api::block_auther(
                block.auth.as_ref(),
                block.auther.as_deref(),
                &registries,
            )?;
            tracing::info!("metrics service on {}{path}", listener.local());
            tokio::spawn(gost_x_api::metrics::serve(listener, metrics, path, auther, stopped()));
        }
        spawn_reloads(rt.clone(), reload_period);
        let result = rt.services().run(signals.first()).await;
        let _ = stop_tx.send(true);
        result
    })
}

/// SIGHUP and every `-R` period: read the configuration again (gost's reload). Unchanged, only
/// the policy objects' files are re-read; changed, everything is rebuilt.
fn spawn_reloads(rt: Arc<Runtime>, period: Option<std::time::Duration>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                let rt = rt.clone();
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        match rt.reload().await {
                            Ok(()) => tracing::info!("config reloaded"),
                            Err(e) => tracing::error!("reload: {e}"),
                        }
                    }
                });
            }
            Err(e) => tracing::warn!("cannot watch SIGHUP: {e}"),
        }
    }
    if let Some(period) = period.filter(|p| !p.is_zero()) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.tick().await;
            loop {
                tick.tick().await;
                match rt.reload().await {
                    Ok(()) => tracing::debug!("config auto reloaded"),
                    Err(e) => tracing::error!("auto reload: {e}"),
                }
            }
        });
    }
}

/// SIGINT and SIGTERM: the first one starts a graceful stop, a second one exits at once.
#[cfg(unix)]
pub(crate) struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    pub(crate) fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let watch = |kind: SignalKind| {
            signal(kind)
                .map_err(|e| Error::with_source(gost_core::ErrorKind::Io, "watch signals", e))
        };
        Ok(Signals { int: watch(SignalKind::interrupt())?, term: watch(SignalKind::terminate())? })
    }

    pub(crate) async fn next(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    /// Completes on the first signal; a later one ends the process without waiting.
    async fn first(mut self) {
        self.next().await;
        tokio::spawn(async move {
            self.next().await;
            eprintln!("gost: second signal, exiting without waiting for connections");
            std::process::exit(130);
        });
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    pub(crate) fn install() -> Result<Self> {
        Ok(Signals)
    }

    async fn first(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_flag_values() {
        let (addr, auth, query) =
            endpoint("admin:s3cret@127.0.0.1:18080?pathPrefix=/api&accesslog=true");
        assert_eq!(addr, "127.0.0.1:18080");
        let auth = auth.unwrap();
        assert_eq!((auth.username.as_str(), auth.password.as_str()), ("admin", "s3cret"));
        assert_eq!(query[0], ("pathPrefix".to_owned(), "/api".to_owned()));
        let (addr, auth, query) = endpoint("unix:///run/gost/api.sock?accesslog=true");
        assert_eq!((addr.as_str(), auth.is_none()), ("unix:///run/gost/api.sock", true));
        assert_eq!(query[0], ("accesslog".to_owned(), "true".to_owned()));
        assert_eq!(endpoint(":18080"), (":18080".to_owned(), None, Vec::new()));
        assert_eq!(endpoint("http://:9000/").0, ":9000");
    }
}
