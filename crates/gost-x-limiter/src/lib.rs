//! # gost-x-limiter
//!
//! gost's three limiters, configured by lines of `KEY VALUE...` where `KEY` is `$` (the whole
//! service), `$$` (traffic: each connection; connections and rate: each client IP without a line
//! of its own), an IP or a CIDR block:
//!
//! * [`TrafficLimits`] (`limiters`): `KEY IN [OUT [BURST]]` in bytes per second with gost's size
//!   syntax (`100KB`, `1.5MB`, `1GiB`; base 2, as gost's parser); 0 or less is no limit.
//! * [`ConnLimits`] (`climiters`): `KEY N` concurrent connections.
//! * [`RateLimits`] (`rlimiters`): `KEY R` new connections per second (bursts of up to `R`).
//!
//! Every table can be replaced at run time (`set_lines`, used by file reloads). The same lines
//! change nothing; new ones change the limits of the existing counters and buckets in place
//! (service-wide and per-IP), so open connections keep counting and a reload never hands a
//! client a fresh budget. Per-connection (`$$` traffic) budgets apply to new connections.

mod bucket;
mod conn;
mod rate;
mod size;
mod traffic;

pub use bucket::TokenBucket;
pub use conn::ConnLimits;
pub use rate::RateLimits;
pub use size::parse_size;
pub use traffic::TrafficLimits;

use gost_core::{Error, Result};

/// The scope of a limit line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// `$`
    Service,
    /// `$$`
    Each,
    /// An IP or a CIDR block, as written.
    Client(String),
}

/// Splits a line into its scope and values, checking the scope.
fn split_line(line: &str) -> Result<(Scope, Vec<&str>)> {
    let mut fields = line.split_whitespace();
    let key = fields.next().ok_or_else(|| Error::config("empty limit line"))?;
    let values: Vec<&str> = fields.collect();
    if values.is_empty() {
        return Err(Error::config(format!("limit line {line:?} has no value")));
    }
    let scope = match key {
        "$" => Scope::Service,
        "$$" => Scope::Each,
        k if k.parse::<std::net::IpAddr>().is_ok() || gost_x_matcher::Cidr::parse(k).is_some() => {
            Scope::Client(k.to_owned())
        }
        k => {
            return Err(Error::config(format!(
                "limit line {line:?}: {k:?} is not $, $$, an IP or a CIDR block"
            )));
        }
    };
    Ok((scope, values))
}

/// The client IP of a limiter key (`ip:port` or a bare IP).
fn key_ip(key: &str) -> Option<std::net::IpAddr> {
    key.parse::<std::net::SocketAddr>().map(|a| a.ip()).ok().or_else(|| key.parse().ok())
}

/// Drops map entries nobody uses once the map has grown, so that per-IP state stays bounded by
/// the clients that are connected.
const PRUNE_ABOVE: usize = 1024;

/// Whether `lines` are exactly the lines in force.
fn same_lines<S: AsRef<str>>(current: &[String], lines: &[S]) -> bool {
    current.len() == lines.len() && current.iter().zip(lines).all(|(a, b)| a == b.as_ref())
}

fn owned<S: AsRef<str>>(lines: &[S]) -> Vec<String> {
    lines.iter().map(|l| l.as_ref().to_owned()).collect()
}
