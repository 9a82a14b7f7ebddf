//! `ws`: WebSocket over TCP. Only the configured path (default `/ws`) is upgraded; after the
//! upgrade the handler gets a plain byte stream (see `gost-x-ws`).
//!
//! Metadata: `path`/`ws.path` (`/ws`), `header`/`ws.header` (101 response headers), `backlog`
//! (128), `handshakeTimeout` (15s).

use std::sync::Arc;
use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use gost_x_tls::TlsAcceptor;
use gost_x_ws::ServerOptions;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name.
pub const NAME: &str = "ws";

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Binds `opts.addr` and serves WebSocket on it. Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    listen(opts, md, None, None)
}

/// Shared by `ws`, `wss` (`tls` set), `mws` and `mwss` (`mux` set): TLS first if asked, then
/// the WebSocket upgrade, then, with `mux`, an smux session whose streams are the connections.
pub(crate) fn listen(
    opts: ListenerOptions,
    md: &Metadata,
    tls: Option<TlsAcceptor>,
    mux: Option<gost_smux::Config>,
) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout = md
        .get_duration(&["handshakeTimeout", "ws.handshakeTimeout"])?
        .unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
    let ws = Arc::new(ServerOptions::from_metadata(md)?);
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let (ws, tls, mux) = (ws.clone(), tls.clone(), mux.clone());
        Box::pin(async move {
            let peer = conn.peer_addr();
            let handshake = async {
                let conn = match &tls {
                    Some(acceptor) => gost_x_tls::accept(acceptor, conn).await?,
                    None => conn,
                };
                gost_x_ws::accept(conn, &ws).await
            };
            match gost_x_rt::timeout(timeout, "websocket handshake", handshake).await {
                Ok(conn) => match mux {
                    Some(config) => crate::upgrade::serve_session(conn, config, queue).await,
                    None => {
                        let _ = queue.send(conn).await;
                    }
                },
                Err(err) => tracing::debug!(?peer, "ws: {err}"),
            }
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}
