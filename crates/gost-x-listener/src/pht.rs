//! `pht` and `phts`: gost's plain HTTP tunnel, each proxied connection a session of HTTP/1.1
//! push and pull requests (`-L relay+pht://:8080`, `-L "phts://:443/target:80"`), in clear or
//! over TLS (ALPN `http/1.1`). See `gost-x-pht`.
//!
//! Metadata (gost's names): `authorizePath` (`/authorize`), `pushPath` (`/push`), `pullPath`
//! (`/pull`) (a value not starting with `/` is the default), `backlog` (128: sessions waiting
//! for the service), `handshakeTimeout` (15s: TLS), and (`phts`) every `tls` key.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_pht::{DEFAULT_AUTHORIZE_PATH, DEFAULT_PULL_PATH, DEFAULT_PUSH_PATH, path_or};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use gost_x_tls::TlsAcceptor;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name of the cleartext form.
pub const NAME: &str = "pht";
/// The registry name of the TLS form.
pub const NAME_TLS: &str = "phts";

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// `pht`: HTTP/1.1 in clear.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    listen(opts, md, None)
}

/// `phts`: HTTP/1.1 over TLS.
pub fn new_tls(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let mut config = (*gost_x_tls::server_config(md)?).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    listen(opts, md, Some(TlsAcceptor::from(Arc::new(config))))
}

fn listen(opts: ListenerOptions, md: &Metadata, tls: Option<TlsAcceptor>) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout = md.get_duration(&["handshakeTimeout"])?.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
    let server = gost_x_pht::Server::new(gost_x_pht::ServerOptions {
        authorize_path: path_or(md.get_string(&["authorizePath"])?, DEFAULT_AUTHORIZE_PATH),
        push_path: path_or(md.get_string(&["pushPath"])?, DEFAULT_PUSH_PATH),
        pull_path: path_or(md.get_string(&["pullPath"])?, DEFAULT_PULL_PATH),
        ..Default::default()
    });
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let (tls, server) = (tls.clone(), Arc::clone(&server));
        Box::pin(async move {
            let peer = conn.peer_addr();
            let conn = match &tls {
                Some(acceptor) => {
                    let accept = gost_x_tls::accept(acceptor, conn);
                    match gost_x_rt::timeout(timeout, "pht TLS handshake", accept).await {
                        Ok(c) => c,
                        Err(err) => {
                            tracing::debug!(?peer, "pht: {err}");
                            return;
                        }
                    }
                }
                None => conn,
            };
            server.serve(conn, queue).await;
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}
