//! `mwss`: multiplexed WebSocket over TLS.
//!
//! Metadata: those of `mws` and `tls`.

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};
use gost_x_tls::TlsConnector;

use crate::mux::{Carrier, MuxDialer};
use crate::ws::WsDialer;

/// The registry name.
pub const NAME: &str = "mwss";

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let (config, server_name) = gost_x_tls::client_config(md)?;
    let ws = WsDialer::build(md, Some((TlsConnector::from(config), server_name)))?;
    Ok(BoxDialer::new(MuxDialer::new(Carrier::Ws(ws), gost_x_rt::mux::config(md)?)))
}
