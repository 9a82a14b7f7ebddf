//! `rudp`: remote UDP port forwarding (`-L rudp://:5353/127.0.0.1:53 -F relay://server:8420`).
//! The UDP port is bound on the chain's last node (SOCKS5 `0xF3` with a port, or relay BIND with
//! the UDP flag; the server needing `bind=true`); its datagrams come back in UDP-tun frames, one
//! session per remote peer, handed to the service's handler (gost's udp forwarder). When the chain
//! drops, the bind is re-established, backing off from 1 s to 5 s. Without a chain the port is
//! bound locally (as the `udp` listener).
//!
//! Metadata: those of the `udp` listener, for local binds.

use gost_core::{Address, BindOptions, BoxListener, ListenerOptions, Metadata, Network, Result};

/// The registry name.
pub const NAME: &str = "rudp";

/// Binds `opts.addr` (UDP) on the chain's last node (or locally without a chain).
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let Some(router) = opts.router.clone() else {
        return crate::udp::new(opts, md);
    };
    let addr = Address::parse(&opts.addr)?;
    Ok(crate::rtcp::remote(router, addr, Network::Udp, BindOptions::default()))
}
