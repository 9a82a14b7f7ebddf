//! `redu`: a transparent UDP proxy. Behind the `redu` listener (a TPROXY rule), each session's
//! local address is the destination its client meant; its datagrams go there through the
//! router (a local socket, or the chain's UDP support), bypass permitting, and the answers come
//! back from that destination. A session ends after `ttl` without traffic.
//!
//! Metadata: `ttl` (60s).

use std::time::Duration;

use gost_core::io::{read, recv_from, send_to, write_all};
use gost_core::{
    Address, BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind, Handler, HandlerOptions,
    Metadata, Network, Result, Router, Session,
};

use crate::util;

/// The registry name.
pub const NAME: &str = "redu";

const DEFAULT_TTL: Duration = Duration::from_secs(60);
const MAX_DATAGRAM: usize = 65535;

struct ReduHandler {
    router: BoxRouter,
    bypass: Option<BoxBypass>,
    ttl: Duration,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(ReduHandler {
        router: opts.router,
        bypass: opts.bypass,
        ttl: md.get_duration(&["ttl"])?.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_TTL),
    }))
}

impl Handler for ReduHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let Some(dst) = conn.local_addr() else {
            return Err(Error::new(ErrorKind::Protocol, "redu: no original destination"));
        };
        let dst = Address::Ip(dst);
        if util::bypassed(self.bypass.as_ref(), Network::Udp, &dst).await {
            return Err(Error::new(ErrorKind::Denied, format!("redu: {dst} is bypassed")));
        }
        let mut outbound = self.router.dial_packet(Some(dst.clone())).await?;
        tracing::debug!(sid = session.id, client = ?session.client_addr, %dst, "redu: forwarding");
        let mut up = vec![0u8; MAX_DATAGRAM];
        let mut down = vec![0u8; MAX_DATAGRAM];
        loop {
            let step = async {
                tokio::select! {
                    got = read(&mut conn, &mut up) => {
                        let n = got?;
                        if n == 0 {
                            return Ok::<bool, Error>(false);
                        }
                        send_to(&mut outbound, &up[..n], &dst).await?;
                        Ok(true)
                    }
                    got = recv_from(&mut outbound, &mut down) => {
                        let (n, _) = got?;
                        write_all(&mut conn, &down[..n]).await?;
                        Ok(true)
                    }
                }
            };
            match tokio::time::timeout(self.ttl, step).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) | Err(_) => return Ok(()),
                Ok(Err(e)) => return Err(e),
            }
        }
    }
}
