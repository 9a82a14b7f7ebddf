//! `h2` and `h2c`: gost's HTTP/2 tunnel transport, each proxied connection one HTTP/2 stream
//! (`-L http+h2://:8443`, `-L h2c://:8080/target:80`), over TLS (ALPN `h2`) or in clear. See
//! `gost-x-h2`.
//!
//! Metadata: `path` (tunnel requests must `GET` this path; without it they must be `CONNECT`),
//! `backlog` (128: streams waiting for the service), `handshakeTimeout` (15s: TLS and the
//! HTTP/2 preface), and (`h2`) every `tls` key.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use gost_x_tls::TlsAcceptor;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name of the TLS form.
pub const NAME: &str = "h2";
/// The registry name of the cleartext form.
pub const NAME_CLEAR: &str = "h2c";

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// `h2`: over TLS, offering ALPN `h2`.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    listen(opts, md, Some(h2_acceptor(md)?), server_options(md)?, backlog)
}

/// `h2c`: in clear (HTTP/2 with prior knowledge).
pub fn new_clear(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    listen(opts, md, None, server_options(md)?, backlog)
}

fn server_options(md: &Metadata) -> Result<gost_x_h2::ServerOptions> {
    let path = md.get_string(&["path"])?.filter(|p| !p.is_empty());
    Ok(gost_x_h2::ServerOptions { path, ..Default::default() })
}

/// The `tls` keys' server configuration, offering ALPN `h2`.
pub(crate) fn h2_acceptor(md: &Metadata) -> Result<TlsAcceptor> {
    let mut config = gost_x_tls::server_config(md)?;
    if let Some(c) = Arc::get_mut(&mut config) {
        c.alpn_protocols = vec![b"h2".to_vec()];
    } else {
        let mut c = (*config).clone();
        c.alpn_protocols = vec![b"h2".to_vec()];
        config = Arc::new(c);
    }
    Ok(TlsAcceptor::from(config))
}

/// An HTTP/2 server on `opts.addr` handing out the streams `server` accepts.
pub(crate) fn listen(
    opts: ListenerOptions,
    md: &Metadata,
    tls: Option<TlsAcceptor>,
    server: gost_x_h2::ServerOptions,
    backlog: usize,
) -> Result<BoxListener> {
    let timeout = md.get_duration(&["handshakeTimeout"])?.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = Arc::new(move |conn, queue| {
        let (tls, server) = (tls.clone(), server.clone());
        Box::pin(async move {
            let peer = conn.peer_addr();
            let conn = match &tls {
                Some(acceptor) => {
                    let accept = gost_x_tls::accept(acceptor, conn);
                    match gost_x_rt::timeout(timeout, "h2 TLS handshake", accept).await {
                        Ok(c) => c,
                        Err(err) => {
                            tracing::debug!(?peer, "h2: {err}");
                            return;
                        }
                    }
                }
                None => conn,
            };
            if let Err(err) = gost_x_h2::serve(conn, server, queue).await {
                tracing::debug!(?peer, "h2: {err}");
            }
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}
