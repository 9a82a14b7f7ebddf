//! `gost`: runs the services a command line describes.

mod cli;
mod register;

use std::process::ExitCode;

use gost_core::{Error, Registries, Result};

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
    init_logging(&args);
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

fn init_logging(args: &cli::Args) {
    let level = if args.trace {
        tracing::Level::TRACE
    } else if args.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn not_yet(what: &str) -> Error {
    Error::unsupported(format!("{what} is not supported yet"))
}

fn run(args: cli::Args) -> Result<()> {
    if !args.groups.is_empty() {
        return Err(not_yet("running service groups in several processes (--)"));
    }
    if !args.configs.is_empty() {
        return Err(not_yet("-C (configuration files)"));
    }
    if args.output.is_some() {
        return Err(not_yet("-O (printing the configuration)"));
    }
    if args.api.is_some() {
        return Err(not_yet("-api (the Web API)"));
    }
    if args.metrics.is_some() {
        return Err(not_yet("-metrics"));
    }
    if args.reload.is_some() {
        return Err(not_yet("-R (periodic reload)"));
    }
    let parsed = gost_x_config::parse_cli(&args.services, &args.nodes)?;
    for warning in &parsed.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::with_source(gost_core::ErrorKind::Io, "start the runtime", e))?;
    runtime.block_on(async {
        // Watch the signals before anything listens, so a SIGTERM sent as soon as a service is
        // up is a graceful stop and never the default (killing) action.
        let signals = Signals::install()?;
        let registries = Registries::new();
        register::register_all(&registries)?;
        let services = gost_x_config::build(&parsed.config, &registries)?;
        gost_x_service::run(services, signals.first()).await
    })
}

/// SIGINT and SIGTERM: the first one starts a graceful stop, a second one exits at once.
#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let watch = |kind: SignalKind| {
            signal(kind)
                .map_err(|e| Error::with_source(gost_core::ErrorKind::Io, "watch signals", e))
        };
        Ok(Signals { int: watch(SignalKind::interrupt())?, term: watch(SignalKind::terminate())? })
    }

    async fn next(&mut self) {
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
    fn install() -> Result<Self> {
        Ok(Signals)
    }

    async fn first(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
