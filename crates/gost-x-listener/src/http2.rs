//! `http2`: the listener of gost's HTTP/2 proxy (`-L http2://:443`): TLS offering ALPN `h2` and
//! `http/1.1` (as Go's HTTPS server does), each TLS connection handed to the `http2` handler,
//! which serves HTTP/2 on it (or HTTP/1.1, for a client that chose it).
//!
//! Metadata: `backlog` (128), `handshakeTimeout` (15s), and every `tls` key (`alpn` replaces
//! the default protocols).

use std::sync::Arc;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_tls::TlsAcceptor;

/// The registry name.
pub const NAME: &str = "http2";

/// `http2`: TLS for an HTTP/2 proxy.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let mut config = (*gost_x_tls::server_config(md)?).clone();
    if config.alpn_protocols.is_empty() {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    }
    crate::tls::listen(opts, md, TlsAcceptor::from(Arc::new(config)))
}
