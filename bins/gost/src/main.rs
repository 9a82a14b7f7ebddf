//! `gost`: runs the services a command line describes.

mod cli;
mod groups;
mod register;

use std::process::ExitCode;

use gost_core::{Error, Registries, Result};
use gost_x_config::load;
use gost_x_config::model::{ApiConfig, Config, LogConfig, MetricsConfig};

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

fn init_logging(args: &cli::Args, log: Option<&LogConfig>) -> Result<()> {
    let configured = log.and_then(|l| l.level.as_deref()).map(str::to_ascii_lowercase);
    let level = if args.trace {
        tracing::Level::TRACE
    } else if args.debug {
        tracing::Level::DEBUG
    } else {
        match configured.as_deref() {
            None | Some("info") => tracing::Level::INFO,
            Some("trace") => tracing::Level::TRACE,
            Some("debug") => tracing::Level::DEBUG,
            Some("warn") => tracing::Level::WARN,
            Some("error" | "fatal") => tracing::Level::ERROR,
            Some(other) => {
                return Err(Error::config(format!(
                    "log.level {other:?} is not one of trace, debug, info, warn, error, fatal"
                )));
            }
        }
    };
    match log.and_then(|l| l.output.as_deref()) {
        None | Some("stderr" | "") => {}
        Some(other) => return Err(not_yet(&format!("log.output {other:?} (only stderr)"))),
    }
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}

pub(crate) fn not_yet(what: &str) -> Error {
    Error::unsupported(format!("{what} is not supported yet"))
}

fn run(args: cli::Args) -> Result<()> {
    if !args.groups.is_empty() {
        init_logging(&args, None)?;
        let mut groups = vec![args.own.clone()];
        groups.extend(args.groups.iter().cloned());
        return groups::run(groups);
    }
    // gost's -R re-reads the whole configuration; here it re-reads the files of the policy
    // objects (services and chains are not recreated yet).
    let reload_period = match &args.reload {
        Some(r) => Some(
            gost_core::metadata::parse_duration(r)
                .map_err(|e| e.wrap(gost_core::ErrorKind::Config, "-R"))?,
        ),
        None => None,
    };
    // gost's order: -C sources merged, then the command line appended.
    let mut config = Config::default();
    for src in &args.configs {
        config.merge(load::load_source(src)?);
    }
    let parsed = gost_x_config::parse_cli(&args.services, &args.nodes)?;
    config.merge(parsed.config);
    if let Some(addr) = &args.api {
        config.api = Some(ApiConfig { addr: addr.clone(), ..ApiConfig::default() });
    }
    if let Some(addr) = &args.metrics {
        config.metrics = Some(MetricsConfig { addr: addr.clone(), ..MetricsConfig::default() });
    }
    // With nothing to run, gost looks for a configuration file in the usual places.
    if config.services.is_empty()
        && args.configs.is_empty()
        && config.api.is_none()
        && let Some(found) = load::default_locations().into_iter().find(|p| p.is_file())
    {
        config.merge(load::load_source(&found.to_string_lossy())?);
    }
    if let Some(format) = &args.output {
        print!("{}", load::write(&config, load::Format::parse(format)?)?);
        return Ok(());
    }
    init_logging(&args, config.log.as_ref())?;
    for warning in &parsed.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::with_source(gost_core::ErrorKind::Io, "start the runtime", e))?;
    runtime.block_on(async {
        let registries = Registries::new();
        register::register_all(&registries)?;
        if args.check {
            gost_x_config::build::validate(&config, &registries)?;
            println!(
                "configuration OK: {} service(s), {} chain(s)",
                config.services.len(),
                config.chains.len()
            );
            return Ok(());
        }
        // Watch the signals before anything listens, so a SIGTERM sent as soon as a service is
        // up is a graceful stop and never the default (killing) action.
        let signals = Signals::install()?;
        let built = gost_x_config::build_all(&config, &registries)?;
        if !built.reloaders.is_empty() {
            spawn_reloads(built.reloaders.clone(), reload_period);
        }
        gost_x_service::run(built.services, signals.first()).await
    })
}

/// Re-reads the policy objects' files on SIGHUP and every `-R` period.
fn spawn_reloads(reloaders: gost_x_config::policy::Reloaders, period: Option<std::time::Duration>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                let reloaders = reloaders.clone();
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading files");
                        reloaders.reload_all_async().await;
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
                reloaders.reload_all_async().await;
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
