//! Multi-process mode: `gost -L a -- -L b -F c` runs every group of flags in its own child
//! process (this binary again, with `_GOST_ID` set, as gost does). The first signal is passed on
//! to every child; a child that fails stops the others (gost leaves them running) and makes the
//! parent fail.

use std::process::ExitStatus;
use std::time::Duration;

use gost_core::{Error, ErrorKind, Result};
use tokio::sync::mpsc;

/// How long children get to stop after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub(crate) fn run(groups: Vec<Vec<String>>) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::with_source(ErrorKind::Io, "find the gost binary", e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::with_source(ErrorKind::Io, "start the runtime", e))?;
    runtime.block_on(async move {
        let mut signals = crate::Signals::install()?;
        let (tx, mut exits) = mpsc::channel::<(usize, std::io::Result<ExitStatus>)>(groups.len());
        let mut pids = Vec::new();
        let mut waiters = Vec::new();
        for (i, args) in groups.iter().enumerate() {
            let mut child = tokio::process::Command::new(&exe)
                .args(args)
                .env("_GOST_ID", i.to_string())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| Error::with_source(ErrorKind::Io, format!("start process group {i}"), e))?;
            pids.push(child.id());
            let tx = tx.clone();
            waiters.push(tokio::spawn(async move {
                let status = child.wait().await;
                let _ = tx.send((i, status)).await;
            }));
        }
        drop(tx);
        let mut running = groups.len();
        let mut failure = None;
        let mut stopping = false;
        let mut deadline = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
        while running > 0 {
            tokio::select! {
                Some((i, status)) = exits.recv() => {
                    running -= 1;
                    pids[i] = None;
                    let ok = status.as_ref().is_ok_and(ExitStatus::success);
                    if !ok && !stopping {
                        let why = match status {
                            Ok(s) => format!("process group {i} ({}) exited with {s}", groups[i].join(" ")),
                            Err(e) => format!("process group {i}: {e}"),
                        };
                        tracing::error!("{why}; stopping the others");
                        failure = Some(Error::new(ErrorKind::Io, why));
                        stopping = true;
                        deadline = tokio::time::Instant::now() + STOP_GRACE;
                        terminate(&pids);
                    }
                }
                () = signals.next(), if !stopping => {
                    stopping = true;
                    deadline = tokio::time::Instant::now() + STOP_GRACE;
                    terminate(&pids);
                }
                () = tokio::time::sleep_until(deadline), if stopping => {
                    // Dropping a waiter drops its child, which kills it.
                    for w in &waiters {
                        w.abort();
                    }
                    break;
                }
            }
        }
        failure.map_or(Ok(()), Err)
    })
}

/// Asks every child still running to stop (SIGTERM: a graceful stop in gost).
fn terminate(pids: &[Option<u32>]) {
    for pid in pids.iter().flatten() {
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    }
}
