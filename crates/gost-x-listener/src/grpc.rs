//! `grpc`: gost's gRPC tunnel transport, each proxied connection one `GostTunel/Tunnel` call
//! (`-L relay+grpc://:8443`, `-L "grpc://:8080/target:80?grpcInsecure=true"`), over TLS (ALPN
//! `h2`) unless `grpc.insecure`. See `gost_x_h2::grpc`.
//!
//! Metadata (gost's names): `grpc.insecure` / `grpcInsecure` / `insecure` (cleartext HTTP/2),
//! `grpc.path` / `path` (the call's service and method, `/GostTunel/Tunnel` by default),
//! `grpc.backlog` / `backlog` (128), `grpc.keepalive` / `keepalive` with `keepalive.time` (60s:
//! ping interval) and `keepalive.timeout` (30s), `handshakeTimeout` (15s), and every `tls` key.

use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::DEFAULT_BACKLOG;

use crate::h2::{h2_acceptor, listen};

/// The registry name.
pub const NAME: &str = "grpc";

/// `grpc`: a gRPC server taking gost's tunnel calls.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let insecure = md.get_bool(&["grpc.insecure", "grpcInsecure", "insecure"])?.unwrap_or(false);
    let path = md.get_string(&["grpc.path", "path"])?;
    let backlog = md.get_usize(&["grpc.backlog", "backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let keepalive = if md.get_bool(&["grpc.keepalive", "keepalive", "keepAlive"])?.unwrap_or(false)
    {
        let time = md.get_duration(&["grpc.keepalive.time", "keepalive.time"])?;
        let timeout = md.get_duration(&["grpc.keepalive.timeout", "keepalive.timeout"])?;
        Some(gost_x_h2::Keepalive {
            interval: time.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(60)),
            timeout: timeout.filter(|t| !t.is_zero()).unwrap_or(Duration::from_secs(30)),
            without_streams: true,
        })
    } else {
        None
    };
    let server = gost_x_h2::ServerOptions {
        path: Some(gost_x_h2::grpc::method_path(path.as_deref())),
        grpc: true,
        keepalive,
    };
    let tls = if insecure { None } else { Some(h2_acceptor(md)?) };
    listen(opts, md, tls, server, backlog)
}
