//! `mws`: multiplexed WebSocket: one smux session per WebSocket connection, every stream the
//! client opens is a connection for the handler (gost's client is the smux client).
//!
//! Metadata: those of `ws`, and `mux.version` (1), `mux.keepaliveDisabled`,
//! `mux.keepaliveInterval` (10s), `mux.keepaliveTimeout` (30s), `mux.maxFrameSize` (32768),
//! `mux.maxReceiveBuffer` (4 MiB), `mux.maxStreamBuffer` (64 KiB).

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};

/// The registry name.
pub const NAME: &str = "mws";

/// Binds `opts.addr` and serves multiplexed WebSocket on it.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let mux = gost_x_rt::mux::config(md)?;
    crate::ws::listen(opts, md, None, Some(mux))
}
