//! `ws`: reaches a node over WebSocket. The dial is TCP; the upgrade runs in `handshake`, so a
//! WebSocket node works anywhere in a chain.
//!
//! Metadata: `path`/`ws.path` (`/ws`), `host`/`ws.host` (the `Host` header; default the node
//! address), `header`/`ws.header` (request headers), `keepalive` + `ttl` (WebSocket Ping every
//! `ttl`, 15s), `dialTimeout` (5s).

use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, HandshakeOptions, Metadata,
    Network, Result,
};
use gost_x_rt::TokioConn;
use gost_x_rt::net::connect_tcp;
use gost_x_tls::TlsConnector;
use gost_x_ws::ClientOptions;

/// The registry name.
pub const NAME: &str = "ws";

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `ws` dialer, and with TLS the `wss` one.
pub(crate) struct WsDialer {
    dial_timeout: Duration,
    ws: ClientOptions,
    tls: Option<(TlsConnector, Option<String>)>,
}

impl WsDialer {
    pub(crate) fn build(
        md: &Metadata,
        tls: Option<(TlsConnector, Option<String>)>,
    ) -> Result<Self> {
        Ok(WsDialer {
            dial_timeout: md.get_duration(&["dialTimeout"])?.unwrap_or(DEFAULT_DIAL_TIMEOUT),
            ws: ClientOptions::from_metadata(md)?,
            tls,
        })
    }

    /// TLS (for wss) and the WebSocket upgrade on a connection that leads to `addr`.
    pub(crate) async fn upgrade(&self, conn: BoxConn, addr: Option<&Address>) -> Result<BoxConn> {
        let node = addr.map(Address::to_string).unwrap_or_default();
        let conn = match &self.tls {
            Some((connector, server_name)) => {
                let host = addr.map(Address::host).unwrap_or_default();
                let name = gost_x_tls::server_name(server_name.as_deref(), &host)?;
                gost_x_tls::connect(connector, name, conn).await?
            }
            None => conn,
        };
        gost_x_ws::connect(conn, &node, &self.ws).await
    }

    pub(crate) async fn dial_tcp(&self, addr: &Address, opts: &DialOptions) -> Result<BoxConn> {
        let timeout = opts.timeout.map_or(self.dial_timeout, |t| t.min(self.dial_timeout));
        let stream = connect_tcp(addr, Network::Tcp, timeout).await?;
        Ok(Box::new(TokioConn::tcp(stream)))
    }
}

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    Ok(BoxDialer::new(WsDialer::build(md, None)?))
}

impl Dialer for WsDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        self.dial_tcp(&addr, &opts).await
    }

    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        self.upgrade(conn, opts.addr.as_ref()).await
    }
}
