//! `sni`: an SNI proxy (`-L sni://:443`, often next to `-L sni://:80`): each connection goes to
//! the host its first bytes name, through the chain: a TLS ClientHello's server name (port 443),
//! or an HTTP request's `Host` (port 80), as gost's `sni` handler routes them. The real name a
//! gost `sni` client hides (extension `0xFFFE`, header `Gost-Target`) wins, and the client's
//! first bytes are restored before they go on (a rewritten ClientHello would fail the TLS
//! handshake's transcript check). Bypassed hosts, and
//! connections that name no host or are neither TLS nor HTTP, are closed.
//!
//! Metadata: `readTimeout` (15s: the first bytes must come within it).

use std::time::Duration;

use gost_core::io::{read_decoded, rewind};
use gost_core::{
    BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind, Handler, HandlerOptions, Metadata,
    Network, Result, Router, Session,
};

use crate::sniff::{MAX_SNIFF, Sniffed, sniff};
use crate::util;

/// The registry name.
pub const NAME: &str = "sni";

struct SniHandler {
    router: BoxRouter,
    bypass: Option<BoxBypass>,
    read_timeout: Duration,
    idle: Option<Duration>,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(SniHandler {
        router: opts.router,
        bypass: opts.bypass,
        read_timeout: util::read_timeout(md)?,
        idle: util::idle_timeout(md)?,
    }))
}

impl Handler for SniHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let first = read_decoded(&mut conn, &mut buf, MAX_SNIFF, sniff);
        let sniffed = gost_x_rt::timeout(self.read_timeout, "sni: first bytes", first).await?;
        let Some(target) = sniffed.target() else {
            let what = match sniffed {
                Sniffed::Tls(_) => "a ClientHello without a server name",
                Sniffed::Http(_) => "an HTTP request without a Host",
                Sniffed::Other => "neither TLS nor HTTP",
            };
            return Err(Error::new(ErrorKind::Protocol, format!("sni: {what}")));
        };
        if util::bypassed(self.bypass.as_ref(), Network::Tcp, &target).await {
            return Err(Error::new(ErrorKind::Denied, format!("sni: {target} is bypassed")));
        }
        let mut upstream = self.router.dial(Network::Tcp, target.clone()).await?;
        tracing::debug!(sid = session.id, %target, proto = sniffed.protocol(), "sni: connected");
        let mut conn = rewind(conn, sniffed.restore(buf));
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.idle).await?;
        Ok(())
    }
}
