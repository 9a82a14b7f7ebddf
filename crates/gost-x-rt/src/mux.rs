//! smux sessions over gost connections (mws, mwss, mtls): gost's `mux.*` options, and streams
//! as gost connections.

use std::net::SocketAddr;

use gost_core::{BoxConn, Error, ErrorKind, Metadata, Result};
use gost_smux::{Config, Session, Stream};

use crate::{Compat, TokioConn};

/// The smux configuration from gost's `mux.*` keys; unset or zero values keep smux's defaults
/// (as gost does: it overrides only positive values).
pub fn config(md: &Metadata) -> Result<Config> {
    let mut c = Config::default();
    if let Some(v) = md.get_int(&["mux.version"])?.filter(|v| *v > 0) {
        c.version =
            u8::try_from(v).map_err(|_| Error::config(format!("mux.version {v} is not 1 or 2")))?;
    }
    if let Some(v) = md.get_bool(&["mux.keepaliveDisabled", "mux.keepAliveDisabled"])? {
        c.keepalive_disabled = v;
    }
    if let Some(v) = md
        .get_duration(&["mux.keepaliveInterval", "mux.keepAliveInterval"])?
        .filter(|d| !d.is_zero())
    {
        c.keepalive_interval = v;
    }
    if let Some(v) =
        md.get_duration(&["mux.keepaliveTimeout", "mux.keepAliveTimeout"])?.filter(|d| !d.is_zero())
    {
        c.keepalive_timeout = v;
    }
    if let Some(v) = md.get_usize(&["mux.maxFrameSize"])?.filter(|v| *v > 0) {
        c.max_frame_size = v;
    }
    if let Some(v) = md.get_usize(&["mux.maxReceiveBuffer"])?.filter(|v| *v > 0) {
        c.max_receive_buffer = v;
    }
    if let Some(v) = md.get_usize(&["mux.maxStreamBuffer"])?.filter(|v| *v > 0) {
        c.max_stream_buffer = v;
    }
    c.validate().map_err(|e| Error::config(format!("mux options: {e}")))?;
    Ok(c)
}

/// gost's tunnel sessions: smux v2 with a 1 MiB stream buffer unless `mux.*` says otherwise
/// (both ends of a tunnel must agree).
pub fn tunnel_config(md: &Metadata) -> Result<Config> {
    let mut with_defaults =
        Metadata::new().with("mux.version", 2i64).with("mux.maxStreamBuffer", 1i64 << 20);
    for (k, v) in md.iter() {
        with_defaults = with_defaults.with(k, v.clone());
    }
    config(&with_defaults)
}

fn session_error(e: gost_smux::Error) -> Error {
    Error::with_source(ErrorKind::Handshake, "smux session", e)
}

/// The client end of a session over `conn` (the side that opens streams).
pub fn client(
    conn: BoxConn,
    config: Config,
) -> Result<(Session, Option<SocketAddr>, Option<SocketAddr>)> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let session = Session::client(Compat::new(conn), config).map_err(session_error)?;
    Ok((session, local, peer))
}

/// The server end of a session over `conn` (the side that accepts streams).
pub fn server(
    conn: BoxConn,
    config: Config,
) -> Result<(Session, Option<SocketAddr>, Option<SocketAddr>)> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let session = Session::server(Compat::new(conn), config).map_err(session_error)?;
    Ok((session, local, peer))
}

/// A stream as a gost connection, reporting the carrier's addresses.
pub fn stream_conn(stream: Stream, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> BoxConn {
    Box::new(TokioConn::with_addrs(stream, local, peer))
}

/// Opens a stream on `session`.
pub async fn open(
    session: &Session,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
) -> Result<BoxConn> {
    let stream = session
        .open_stream()
        .await
        .map_err(|e| Error::with_source(ErrorKind::Dial, "open an smux stream", e))?;
    Ok(stream_conn(stream, local, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_metadata() {
        let md = Metadata::new()
            .with("mux.version", "2")
            .with("mux.keepaliveInterval", "5s")
            .with("mux.maxStreamBuffer", 1 << 20)
            .with("mux.maxFrameSize", 0i64);
        let c = config(&md).unwrap();
        assert_eq!(c.version, 2);
        assert_eq!(c.keepalive_interval, std::time::Duration::from_secs(5));
        assert_eq!(c.max_stream_buffer, 1 << 20);
        assert_eq!(c.max_frame_size, 32768, "zero keeps the default, as gost");
        assert!(config(&Metadata::new().with("mux.version", 3i64)).is_err());
        assert!(config(&Metadata::new().with("mux.maxFrameSize", 70000i64)).is_err());
    }
}
