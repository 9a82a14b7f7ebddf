//! `wss`: reaches a node over WebSocket on TLS: the `tls` dialer's options (`secure`,
//! `serverName`, `caFile`...; SNI from `serverName` or the node's host) plus the `ws` ones
//! (`host` sets only the HTTP `Host` header, as in gost).
//!
//! Metadata: those of `ws` and `tls`.

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};
use gost_x_tls::TlsConnector;

use crate::ws::WsDialer;

/// The registry name.
pub const NAME: &str = "wss";

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let (config, server_name) = gost_x_tls::client_config(md)?;
    Ok(BoxDialer::new(WsDialer::build(md, Some((TlsConnector::from(config), server_name)))?))
}
