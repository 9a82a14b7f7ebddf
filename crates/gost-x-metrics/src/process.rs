//! The standard `process_*` metrics, read from `/proc/self` (Linux; elsewhere they are left out).

use std::fmt::Write as _;

/// The machine's host name (gost's `host` label), or `""`.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// Clock ticks per second and page size: Linux's values on every architecture gost-rs runs on
/// (reading the real ones needs libc, which this crate avoids).
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: u64 = 4096;

pub(crate) fn render(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // /proc/[pid]/stat numbering: state is field 3, so index = field - 3.
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let mut metric = |name: &str, kind: &str, help: &str, v: f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    };
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        let secs = (utime + stime) as f64 / TICKS_PER_SECOND;
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            secs,
        );
    }
    if let Some(vsize) = field(23) {
        metric(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            vsize as f64,
        );
    }
    if let Some(rss) = field(24) {
        metric(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            (rss * PAGE_SIZE) as f64,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        metric("process_open_fds", "gauge", "Number of open file descriptors.", fds.count() as f64);
    }
    if let Ok(limits) = std::fs::read_to_string("/proc/self/limits")
        && let Some(max) = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<f64>().ok())
    {
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", max);
    }
    if let (Some(start_ticks), Ok(uptime)) =
        (field(22), std::fs::read_to_string("/proc/stat").map(|s| boot_time(&s)))
        && let Some(boot) = uptime
    {
        let start = boot as f64 + start_ticks as f64 / TICKS_PER_SECOND;
        metric(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            start,
        );
    }
}

fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
}
