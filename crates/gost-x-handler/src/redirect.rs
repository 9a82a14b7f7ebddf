//! `red` / `redir` / `redirect`: a transparent TCP proxy. Behind the `red` listener, each
//! connection's local address is the destination its client meant (see the listener); it is
//! dialed through the chain, bypass permitting. With `sniffing=true` the first bytes name the
//! host (TLS server name, HTTP `Host`): a bypassed host is refused, and the host (with the
//! original port) is dialed instead of the address, as gost's (`sniffing.dialOriginalDst`:
//! dial the address anyway; `sniffing.fallback`: the address when the host cannot be reached).
//!
//! Metadata: `sniffing` (false), `sniffing.timeout` (2s), `sniffing.fallback` (false),
//! `sniffing.dialOriginalDst` (false).

use std::time::Duration;

use gost_core::io::{read_decoded, rewind};
use gost_core::{
    Address, BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind, Handler, HandlerOptions,
    Metadata, Network, Result, Router, Session,
};

use crate::sniff::{MAX_SNIFF, sniff};
use crate::util;

/// The registry names.
pub const NAMES: [&str; 3] = ["red", "redir", "redirect"];

const DEFAULT_SNIFFING_TIMEOUT: Duration = Duration::from_secs(2);

struct RedirectHandler {
    router: BoxRouter,
    bypass: Option<BoxBypass>,
    sniffing: Option<Duration>,
    fallback: bool,
    dial_original: bool,
    idle: Option<Duration>,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let sniffing = md.get_bool(&["sniffing"])?.unwrap_or(false).then_some(
        md.get_duration(&["sniffing.timeout"])?
            .filter(|t| !t.is_zero())
            .unwrap_or(DEFAULT_SNIFFING_TIMEOUT),
    );
    Ok(BoxHandler::new(RedirectHandler {
        router: opts.router,
        bypass: opts.bypass,
        sniffing,
        fallback: md.get_bool(&["sniffing.fallback"])?.unwrap_or(false),
        dial_original: md.get_bool(&["sniffing.dialOriginalDst"])?.unwrap_or(false),
        idle: util::idle_timeout(md)?,
    }))
}

impl Handler for RedirectHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let Some(dst) = conn.local_addr() else {
            return Err(Error::new(ErrorKind::Protocol, "redirect: no original destination"));
        };
        let dst = Address::Ip(dst);
        if util::bypassed(self.bypass.as_ref(), Network::Tcp, &dst).await {
            return Err(Error::new(ErrorKind::Denied, format!("redirect: {dst} is bypassed")));
        }
        let mut first = Vec::new();
        let mut host = None;
        if let Some(wait) = self.sniffing {
            let sniffed = read_decoded(&mut conn, &mut first, MAX_SNIFF, sniff);
            if let Ok(sniffed) = tokio::time::timeout(wait, sniffed).await {
                let named = sniffed?.target();
                // The host the client named, on the port it connected to.
                host = named.and_then(|a| Address::from_host_port(&a.host(), dst.port()).ok());
            }
            if let Some(h) = &host
                && util::bypassed(self.bypass.as_ref(), Network::Tcp, h).await
            {
                return Err(Error::new(ErrorKind::Denied, format!("redirect: {h} is bypassed")));
            }
        }
        let target = host.clone().filter(|_| !self.dial_original).unwrap_or_else(|| dst.clone());
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => c,
            Err(e) if self.fallback && target != dst => {
                tracing::debug!(sid = session.id, %target, "redirect: {e}; dialing {dst}");
                self.router.dial(Network::Tcp, dst.clone()).await?
            }
            Err(e) => return Err(e),
        };
        tracing::debug!(sid = session.id, %dst, %target, "redirect: connected");
        let mut conn = rewind(conn, first);
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.idle).await?;
        Ok(())
    }
}
