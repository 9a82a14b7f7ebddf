//! `http2`: the client side of gost's HTTP/2 proxy (`-F http2://proxy:443`): one HTTP/2
//! connection over TLS per node, kept and reused, handed to the `http2` connector, which opens
//! a `CONNECT` stream on it per proxied connection. Only the `http2` connector can use it (as in
//! gost).
//!
//! Metadata: `dialTimeout` (5s), and every `tls` key.

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};

use crate::h2::{H2Dialer, h2_connector};

/// The registry name.
pub const NAME: &str = "http2";

/// `http2`: HTTP/2 over TLS (ALPN `h2`) to an HTTP/2 proxy.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    Ok(BoxDialer::new(H2Dialer::new(md, Some(h2_connector(md)?))?.proxy()))
}
