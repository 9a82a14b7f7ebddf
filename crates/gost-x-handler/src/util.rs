//! Pieces every proxy handler shares.

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::{Address, Auther, BoxAuther, BoxBypass, Bypass, Metadata, Network, Result};

/// gost's default deadline for reading a proxy handshake (`readTimeout`).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// The handshake deadline from `readTimeout` (0 = the default, as gost treats it).
pub fn read_timeout(md: &Metadata) -> Result<Duration> {
    Ok(md
        .get_duration(&["readTimeout", "read_timeout"])?
        .filter(|t| !t.is_zero())
        .unwrap_or(DEFAULT_READ_TIMEOUT))
}

/// Whether the credentials are accepted (always, when the service has no auther).
pub async fn authenticate(
    auther: Option<&BoxAuther>,
    user: &str,
    password: &str,
    client: Option<SocketAddr>,
) -> bool {
    match auther {
        None => true,
        Some(a) => a.authenticate(user.to_owned(), password.to_owned(), client).await.is_some(),
    }
}

/// Whether the service's bypass refuses `target`.
pub async fn bypassed(bypass: Option<&BoxBypass>, network: Network, target: &Address) -> bool {
    match bypass {
        None => false,
        Some(b) => b.contains(network, target.clone()).await,
    }
}
