//! `grpc`: gost's gRPC tunnel transport on the client side (`-F socks5+grpc://server:8443`):
//! one HTTP/2 connection per node, kept and reused, a `GostTunel/Tunnel` call per connection;
//! a dead connection is rebuilt on the next dial. See `gost_x_h2::grpc`.
//!
//! Metadata (gost's names): `grpc.insecure` / `grpcInsecure` / `insecure` (cleartext HTTP/2),
//! `grpc.authority` / `grpc.host` / `host` (the `:authority`; the node's host by default),
//! `grpc.path` / `path` (the call's service and method, `/GostTunel/Tunnel` by default),
//! `grpc.keepalive` / `keepalive` with `keepalive.time` (30s), `keepalive.timeout` (30s) and
//! `keepalive.permitWithoutStream` (pings also while no call is open), `grpc.minConnectTimeout`
//! / `minConnectTimeout` (30s: building a connection), `dialTimeout` (5s: its TCP connect),
//! `header` (extra request header fields), and every `tls` key.

use std::time::Duration;

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};

use crate::h2::{H2Dialer, h2_connector};

/// The registry name.
pub const NAME: &str = "grpc";

/// `grpc`: a gRPC client making gost's tunnel calls.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let insecure = md.get_bool(&["grpc.insecure", "grpcInsecure", "insecure"])?.unwrap_or(false);
    let host = md.get_string(&["grpc.authority", "grpc.host", "host"])?.filter(|h| !h.is_empty());
    let path = md.get_string(&["grpc.path", "path"])?;
    let keepalive = if md.get_bool(&["grpc.keepalive", "keepalive", "keepAlive"])?.unwrap_or(false)
    {
        let time = md.get_duration(&["grpc.keepalive.time", "keepalive.time"])?;
        let timeout = md.get_duration(&["grpc.keepalive.timeout", "keepalive.timeout"])?;
        let without_streams = md
            .get_bool(&["grpc.keepalive.permitWithoutStream", "keepalive.permitWithoutStream"])?
            .unwrap_or(false);
        Some(gost_x_h2::Keepalive {
            interval: time.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30)),
            timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30)),
            without_streams,
        })
    } else {
        None
    };
    let build = md
        .get_duration(&["grpc.minConnectTimeout", "minConnectTimeout"])?
        .filter(|t| !t.is_zero())
        .unwrap_or(Duration::from_secs(30));
    let tls = if insecure { None } else { Some(h2_connector(md)?) };
    let path = gost_x_h2::grpc::method_path(path.as_deref());
    Ok(BoxDialer::new(H2Dialer::new(md, tls)?.grpc(host, path, keepalive, build)))
}
