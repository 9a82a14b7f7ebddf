//! `mwss`: multiplexed WebSocket over TLS.
//!
//! Metadata: those of `mws` and `tls`.

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_tls::TlsAcceptor;

/// The registry name.
pub const NAME: &str = "mwss";

/// Binds `opts.addr` and serves multiplexed WebSocket over TLS on it.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let acceptor = TlsAcceptor::from(gost_x_tls::server_config(md)?);
    let mux = gost_x_rt::mux::config(md)?;
    crate::ws::listen(opts, md, Some(acceptor), Some(mux))
}
