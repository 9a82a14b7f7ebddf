//! `wss`: WebSocket over TLS: the `tls` listener's certificate options plus the `ws` ones.
//!
//! Metadata: those of `ws` and `tls` (`certFile`, `keyFile`, `caFile`, `minVersion`, `alpn`...).

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_tls::TlsAcceptor;

/// The registry name.
pub const NAME: &str = "wss";

/// Binds `opts.addr` and serves WebSocket over TLS on it.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let acceptor = TlsAcceptor::from(gost_x_tls::server_config(md)?);
    crate::ws::listen(opts, md, Some(acceptor), None)
}
