//! `red` / `redir` / `redirect`: the listener of a transparent TCP proxy, for connections that
//! netfilter sent here (`REDIRECT`/`DNAT`, or `TPROXY` with `tproxy=true`). Each accepted
//! connection reports the destination its client meant as its local address (from
//! `SO_ORIGINAL_DST`; with TPROXY the socket's own local address is that destination), which
//! the `red` handler dials. A connection made to this port directly (not redirected) is closed:
//! dialing it would loop back here. See docs/transparent-proxy.md.
//!
//! Metadata: `tproxy` (false: `IP_TRANSPARENT` on the socket, for a TPROXY rule), `backlog`
//! (128).

use std::net::SocketAddr;

use gost_core::{BoxConn, BoxListener, ErrorKind, Listener, ListenerOptions, Metadata, Result};
use gost_x_rt::TokioConn;
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp_with, original_dst};
use tokio::net::TcpListener;

/// The registry names.
pub const NAMES: [&str; 3] = ["red", "redir", "redirect"];

struct RedirectListener {
    listener: TcpListener,
    local: Option<SocketAddr>,
    tproxy: bool,
}

/// Binds `opts.addr`. Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let tproxy = md.get_bool(&["tproxy"])?.unwrap_or(false);
    let backlog = md
        .get_usize(&["backlog"])?
        .map_or(DEFAULT_BACKLOG, |b| u32::try_from(b).unwrap_or(u32::MAX).max(1));
    let listener = listen_tcp_with(&opts.addr, backlog, tproxy)?;
    let local = listener.local_addr().ok();
    Ok(BoxListener::new(RedirectListener { listener, local, tproxy }))
}

impl Listener for RedirectListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        loop {
            let (stream, peer) = self
                .listener
                .accept()
                .await
                .map_err(|e| gost_core::Error::with_source(ErrorKind::Io, "accept", e))?;
            let _ = stream.set_nodelay(true);
            let here = stream.local_addr().ok();
            let dst = if self.tproxy { here } else { original_dst(&stream).ok() };
            match dst {
                Some(dst) if self.tproxy || Some(dst) != here => {
                    return Ok(Box::new(TokioConn::with_addrs(stream, Some(dst), Some(peer))));
                }
                _ => {
                    tracing::debug!(%peer, "redirect: a connection that was not redirected; closed")
                }
            }
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}
