//! The session cache shared by the multiplexing dialers (mws, mwss, mtls): one smux session per
//! node, a new stream per connection, a dead session rebuilt on the next dial.

use std::net::SocketAddr;

use gost_core::{Address, BoxConn, DialOptions, Dialer, HandshakeOptions, Result};
use gost_smux::Session;
use tokio::sync::Mutex;

use crate::ws::WsDialer;

/// What the session is carried on.
pub(crate) enum Carrier {
    /// WebSocket (with TLS for mwss).
    Ws(WsDialer),
    /// TLS.
    Tls(crate::tls::TlsDialer),
}

impl Carrier {
    async fn dial(&self, addr: &Address, opts: &DialOptions) -> Result<BoxConn> {
        match self {
            Carrier::Ws(ws) => ws.dial_tcp(addr, opts).await,
            Carrier::Tls(tls) => tls.dial(addr.clone(), opts.clone()).await,
        }
    }

    async fn upgrade(&self, conn: BoxConn, addr: Option<&Address>) -> Result<BoxConn> {
        match self {
            Carrier::Ws(ws) => ws.upgrade(conn, addr).await,
            Carrier::Tls(tls) => {
                let mut opts = HandshakeOptions::default();
                opts.addr = addr.cloned();
                tls.handshake(conn, opts).await
            }
        }
    }
}

type Cached = (Session, Option<SocketAddr>, Option<SocketAddr>);

pub(crate) struct MuxDialer {
    carrier: Carrier,
    config: gost_smux::Config,
    session: Mutex<Option<Cached>>,
}

impl MuxDialer {
    pub(crate) fn new(carrier: Carrier, config: gost_smux::Config) -> Self {
        MuxDialer { carrier, config, session: Mutex::new(None) }
    }
}

impl Dialer for MuxDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        // One dial at a time builds the session; the others then share it.
        let mut cached = self.session.lock().await;
        if let Some((session, local, peer)) = cached.as_ref()
            && !session.is_closed()
        {
            match gost_x_rt::mux::open(session, *local, *peer).await {
                Ok(conn) => return Ok(conn),
                Err(err) => tracing::debug!(%addr, "mux session unusable, rebuilding: {err}"),
            }
        }
        *cached = None;
        let conn = self.carrier.dial(&addr, &opts).await?;
        let carrier = self.carrier.upgrade(conn, Some(&addr)).await?;
        let (session, local, peer) = gost_x_rt::mux::client(carrier, self.config.clone())?;
        let stream = gost_x_rt::mux::open(&session, local, peer).await?;
        *cached = Some((session, local, peer));
        Ok(stream)
    }

    /// The node is reached through earlier hops: a session of its own over that tunnel.
    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        let carrier = self.carrier.upgrade(conn, opts.addr.as_ref()).await?;
        let (session, local, peer) = gost_x_rt::mux::client(carrier, self.config.clone())?;
        // The stream keeps the session alive; both end together.
        gost_x_rt::mux::open(&session, local, peer).await
    }

    fn multiplex(&self) -> bool {
        true
    }
}
