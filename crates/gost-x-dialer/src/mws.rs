//! `mws`: reaches a node over multiplexed WebSocket: one smux session per node (this side opens
//! the streams), a stream per proxied connection, a dead session rebuilt on the next dial.
//!
//! Metadata: those of `ws`, and `mux.version` (1), `mux.keepaliveDisabled`,
//! `mux.keepaliveInterval` (10s), `mux.keepaliveTimeout` (30s), `mux.maxFrameSize` (32768),
//! `mux.maxReceiveBuffer` (4 MiB), `mux.maxStreamBuffer` (64 KiB).

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};

use crate::mux::{Carrier, MuxDialer};
use crate::ws::WsDialer;

/// The registry name.
pub const NAME: &str = "mws";

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let carrier = Carrier::Ws(WsDialer::build(md, None)?);
    Ok(BoxDialer::new(MuxDialer::new(carrier, gost_x_rt::mux::config(md)?)))
}
