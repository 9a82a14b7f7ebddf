//! `rudp`: remote UDP port forwarding (`-L rudp://:5353/127.0.0.1:53 -F relay://server:8420`).
//! The UDP port is bound on the chain's last node (SOCKS5 `0xF3` with a port, or relay BIND with
//! the UDP flag; the server needing `bind=true`); its datagrams come back in UDP-tun frames, one
//! session per remote peer, handed to the service's handler (gost's udp forwarder). When the chain
//! drops, the bind is re-established, backing off from 1 s to 5 s. Without a chain the port is
//! bound locally (as the `udp` listener).
//!
//! Metadata: those of the `udp` listener, for local binds.

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::{
    Address, BindOptions, BoxConn, BoxListener, BoxRouter, Listener, ListenerOptions, Metadata,
    Network, Result, Router,
};

/// The registry name.
pub const NAME: &str = "rudp";

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Binds `opts.addr` on the chain's last node (or locally without a chain).
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let Some(router) = opts.router.clone() else {
        return crate::udp::new(opts, md);
    };
    let addr = Address::parse(&opts.addr)?;
    Ok(BoxListener::new(RemoteListener { router, addr, current: None, retry: Duration::ZERO }))
}

struct RemoteListener {
    router: BoxRouter,
    addr: Address,
    current: Option<BoxListener>,
    retry: Duration,
}

impl Listener for RemoteListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        loop {
            let listener = match self.current.as_mut() {
                Some(l) => l,
                None => {
                    if !self.retry.is_zero() {
                        tokio::time::sleep(self.retry).await;
                    }
                    match self
                        .router
                        .bind(Network::Udp, self.addr.clone(), BindOptions::default())
                        .await
                    {
                        Ok(l) => {
                            tracing::info!(addr = %self.addr, "rudp: bound through the chain");
                            self.retry = Duration::ZERO;
                            self.current.insert(l)
                        }
                        Err(err) => {
                            self.retry = if self.retry.is_zero() {
                                FIRST_RETRY
                            } else {
                                (self.retry * 2).min(MAX_RETRY)
                            };
                            tracing::warn!(addr = %self.addr, "rudp: bind failed: {err}; retrying in {:?}", self.retry);
                            continue;
                        }
                    }
                }
            };
            match listener.accept().await {
                Ok(conn) => return Ok(conn),
                Err(err) => {
                    tracing::warn!(addr = %self.addr, "rudp: lost the remote bind ({err}); binding again");
                    self.current = None;
                    self.retry = FIRST_RETRY;
                }
            }
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        // The port is on the remote node; report the address asked for.
        self.addr.as_socket_addr()
    }
}
