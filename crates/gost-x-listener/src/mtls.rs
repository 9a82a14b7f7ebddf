//! `mtls`: multiplexed TLS: one smux session per TLS connection, every stream the client opens
//! is a connection for the handler.
//!
//! Metadata: those of `tls` and the `mux.*` keys of `mws`.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use gost_x_tls::TlsAcceptor;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name.
pub const NAME: &str = "mtls";

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Binds `opts.addr` and serves multiplexed TLS on it.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout = md.get_duration(&["handshakeTimeout"])?.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
    let acceptor = TlsAcceptor::from(gost_x_tls::server_config(md)?);
    let mux = gost_x_rt::mux::config(md)?;
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let (acceptor, mux) = (acceptor.clone(), mux.clone());
        Box::pin(async move {
            let peer = conn.peer_addr();
            match gost_x_rt::timeout(timeout, "TLS handshake", gost_x_tls::accept(&acceptor, conn))
                .await
            {
                Ok(tls) => crate::upgrade::serve_session(tls, mux, queue).await,
                Err(err) => tracing::debug!(?peer, "mtls: {err}"),
            }
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}
