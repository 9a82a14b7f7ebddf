//! # gost-x-ws
//!
//! gost's WebSocket channel (`ws`, `wss`, and the carrier of `mws`/`mwss`): a plain RFC 6455
//! upgrade with no subprotocol, after which the connection carries a byte stream: every write is
//! one binary message, and reads consume messages back to back (text messages count as data,
//! fragmented messages are read through, empty ones are skipped). A Close frame or EOF ends the
//! stream; `poll_shutdown` half-closes the underlying connection without a Close frame, as Go
//! gost does, and the other direction keeps flowing.
//!
//! * [`accept`]: the server side: only the configured `path` (default `/ws`) is upgraded, other
//!   paths get 404; `header` adds response headers; Pings are answered.
//! * [`connect`]: the client side: `path`, `host` (the `Host` header; default the node address),
//!   `header` (extra request headers), and `keepalive` + `ttl` (a Ping every `ttl`, default 15 s;
//!   the connection ends when, while waiting to read, nothing at all came from the server for
//!   twice that: a Pong queued behind data the local reader has not consumed yet still counts
//!   as alive).
//!
//! Control frames cost bounded memory: only the latest Ping waits for its Pong (RFC 6455
//! §5.5.3), so a peer that floods Pings and never reads holds one Pong, not a queue. A write is
//! taken whole (one message, up to 64 KiB, buffered) or not at all; after a Close frame, writes
//! fail with `BrokenPipe`.
//!
//! The frame codec is `gost_proto::ws`; this crate is the handshake and a poll state machine
//! with per-connection buffers (nothing is allocated per message).

mod conn;

use std::collections::BTreeMap;
use std::time::Duration;

use gost_core::io::{read_decoded, write_all};
use gost_core::{BoxConn, Error, ErrorKind, Metadata, Result};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};
use sha1::{Digest, Sha1};

pub use conn::Role;
use conn::WsConn;

/// Go gost's default WebSocket path.
pub const DEFAULT_PATH: &str = "/ws";
/// gost's default ping interval (`ttl`).
pub const DEFAULT_TTL: Duration = Duration::from_secs(15);

fn path_of(md: &Metadata) -> Result<String> {
    let path = md.get_string(&["ws.path", "path"])?.unwrap_or_else(|| DEFAULT_PATH.to_owned());
    Ok(if path.starts_with('/') { path } else { format!("/{path}") })
}

fn headers_of(md: &Metadata) -> Result<Vec<(String, String)>> {
    let map: BTreeMap<String, String> =
        md.get_string_map(&["ws.header", "header"])?.unwrap_or_default();
    for (k, v) in &map {
        let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n');
        if k.is_empty() || bad(k) || bad(v) || k.contains(':') {
            return Err(Error::config(format!("invalid header {k:?}")));
        }
    }
    Ok(map.into_iter().collect())
}

/// Server-side options.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    path: String,
    headers: Vec<(String, String)>,
}

impl ServerOptions {
    /// From listener metadata: `path`/`ws.path`, `header`/`ws.header`.
    pub fn from_metadata(md: &Metadata) -> Result<Self> {
        Ok(ServerOptions { path: path_of(md)?, headers: headers_of(md)? })
    }
}

/// Client-side options.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    path: String,
    host: Option<String>,
    headers: Vec<(String, String)>,
    ping: Option<Duration>,
}

impl ClientOptions {
    /// From dialer metadata: `path`/`ws.path`, `host`/`ws.host`, `header`/`ws.header`,
    /// `keepalive`/`ws.keepalive` and `ttl`/`keepalive.interval`.
    pub fn from_metadata(md: &Metadata) -> Result<Self> {
        let keepalive = md.get_bool(&["ws.keepalive", "keepalive"])?.unwrap_or(false);
        let ttl = md.get_duration(&["ttl", "keepalive.interval", "ws.ttl"])?.unwrap_or(DEFAULT_TTL);
        Ok(ClientOptions {
            path: path_of(md)?,
            host: md.get_string(&["ws.host", "host"])?,
            headers: headers_of(md)?,
            ping: (keepalive && !ttl.is_zero()).then_some(ttl),
        })
    }
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(gost_proto::ws::ACCEPT_GUID.as_bytes());
    let mut out = String::with_capacity(28);
    wire::base64_encode(&sha.finalize(), &mut out);
    out
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

async fn respond(conn: &mut BoxConn, status: u16, reason: &str, body: &str) -> Result<()> {
    let mut resp = ResponseHead::new(status, reason);
    resp.add_header("Content-Type", b"text/plain; charset=utf-8");
    resp.add_header("Content-Length", body.len().to_string().as_bytes());
    resp.add_header("Connection", b"close");
    let mut out = Vec::new();
    resp.encode(&mut out);
    out.extend_from_slice(body.as_bytes());
    write_all(conn, &out).await?;
    Ok(())
}

/// Runs the server side of the upgrade on `conn` and returns the byte stream.
pub async fn accept(mut conn: BoxConn, opts: &ServerOptions) -> Result<BoxConn> {
    let mut buf = Vec::new();
    let req = read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, RequestHead::decode).await?;
    let path = req.target.split('?').next().unwrap_or("");
    if path != opts.path {
        respond(&mut conn, 404, "Not Found", "404 page not found\n").await?;
        return Err(Error::new(ErrorKind::Handshake, format!("websocket: no service at {path:?}")));
    }
    let key = req.header_str("Sec-WebSocket-Key").map(str::to_owned);
    let upgrade = has_token(req.header_str("Upgrade"), "websocket")
        && has_token(req.header_str("Connection"), "upgrade");
    let key = match key {
        Some(k)
            if upgrade
                && req.method == "GET"
                && wire::base64_decode(k.trim().as_bytes()).is_some_and(|d| d.len() == 16) =>
        {
            k
        }
        _ => {
            respond(&mut conn, 400, "Bad Request", "Bad Request\n").await?;
            return Err(Error::new(ErrorKind::Handshake, "websocket: not a valid upgrade request"));
        }
    };
    let mut resp = ResponseHead::new(101, "Switching Protocols");
    resp.add_header("Upgrade", b"websocket");
    resp.add_header("Connection", b"Upgrade");
    resp.add_header("Sec-WebSocket-Accept", accept_key(&key).as_bytes());
    for (k, v) in &opts.headers {
        resp.add_header(k, v.as_bytes());
    }
    let mut out = Vec::new();
    resp.encode(&mut out);
    write_all(&mut conn, &out).await?;
    Ok(Box::new(WsConn::new(conn, buf, Role::Server, None)))
}

/// Runs the client side of the upgrade on `conn` (already connected, and TLS'd for wss) to the
/// node at `node_addr` and returns the byte stream.
pub async fn connect(mut conn: BoxConn, node_addr: &str, opts: &ClientOptions) -> Result<BoxConn> {
    let host = opts.host.clone().unwrap_or_else(|| node_addr.to_owned());
    let mut nonce = [0u8; 16];
    gost_x_rt::fill_random(&mut nonce);
    let mut key = String::with_capacity(24);
    wire::base64_encode(&nonce, &mut key);
    let mut req = RequestHead::new("GET", &opts.path);
    req.add_header("Host", host.as_bytes());
    req.add_header("User-Agent", b"Go-http-client/1.1");
    req.add_header("Connection", b"Upgrade");
    req.add_header("Upgrade", b"websocket");
    req.add_header("Sec-WebSocket-Version", b"13");
    req.add_header("Sec-WebSocket-Key", key.as_bytes());
    for (k, v) in &opts.headers {
        // A Host (or User-Agent) in `header` replaces the default one, as with gorilla.
        req.set_header(k, v.as_bytes());
    }
    let mut out = Vec::new();
    req.encode(&mut out);
    write_all(&mut conn, &out).await?;
    let mut buf = Vec::new();
    let resp = read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, ResponseHead::decode).await?;
    if resp.status != 101 {
        let why =
            format!("websocket: {host}{} answered {} {}", opts.path, resp.status, resp.reason);
        return Err(Error::new(ErrorKind::Handshake, why));
    }
    if resp.header_str("Sec-WebSocket-Accept").map(str::trim) != Some(accept_key(&key).as_str()) {
        return Err(Error::new(ErrorKind::Handshake, "websocket: wrong Sec-WebSocket-Accept"));
    }
    Ok(Box::new(WsConn::new(conn, buf, Role::Client, opts.ping)))
}

#[cfg(test)]
mod tests;
