//! # gost-x-listener
//!
//! Listener implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "tls")]
pub mod dns;
#[cfg(feature = "h2")]
pub mod grpc;
#[cfg(feature = "h2")]
pub mod h2;
#[cfg(all(feature = "h2", feature = "tls"))]
pub mod http2;
#[cfg(feature = "mux")]
pub mod mtls;
#[cfg(feature = "mux")]
pub mod mws;
#[cfg(feature = "mux")]
pub mod mwss;
#[cfg(feature = "pht")]
pub mod pht;
#[cfg(feature = "tcp")]
pub mod redirect;
#[cfg(all(feature = "udp", target_os = "linux"))]
pub mod redirect_udp;
#[cfg(feature = "rtcp")]
pub mod rtcp;
#[cfg(all(feature = "rtcp", feature = "udp"))]
pub mod rudp;
#[cfg(feature = "tcp")]
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "udp")]
pub mod udp;
#[cfg(any(feature = "tls", feature = "ws", feature = "h2", feature = "pht"))]
mod upgrade;
#[cfg(feature = "ws")]
pub mod ws;
#[cfg(feature = "ws")]
pub mod wss;

/// Registers every listener this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "tcp")]
    r.listeners.register(tcp::NAME, tcp::new)?;
    #[cfg(feature = "tls")]
    r.listeners.register(tls::NAME, tls::new)?;
    #[cfg(feature = "udp")]
    r.listeners.register(udp::NAME, udp::new)?;
    #[cfg(feature = "rtcp")]
    r.listeners.register(rtcp::NAME, rtcp::new)?;
    #[cfg(all(feature = "rtcp", feature = "udp"))]
    r.listeners.register(rudp::NAME, rudp::new)?;
    #[cfg(feature = "ws")]
    r.listeners.register(ws::NAME, ws::new)?;
    #[cfg(feature = "ws")]
    r.listeners.register(wss::NAME, wss::new)?;
    #[cfg(feature = "mux")]
    r.listeners.register(mws::NAME, mws::new)?;
    #[cfg(feature = "mux")]
    r.listeners.register(mwss::NAME, mwss::new)?;
    #[cfg(feature = "mux")]
    r.listeners.register(mtls::NAME, mtls::new)?;
    #[cfg(feature = "h2")]
    r.listeners.register(h2::NAME, h2::new)?;
    #[cfg(feature = "h2")]
    r.listeners.register(h2::NAME_CLEAR, h2::new_clear)?;
    #[cfg(feature = "h2")]
    r.listeners.register(grpc::NAME, grpc::new)?;
    #[cfg(feature = "tls")]
    r.listeners.register(dns::NAME, dns::new)?;
    #[cfg(feature = "tcp")]
    for name in redirect::NAMES {
        r.listeners.register(name, redirect::new)?;
    }
    #[cfg(all(feature = "udp", target_os = "linux"))]
    r.listeners.register(redirect_udp::NAME, redirect_udp::new)?;
    #[cfg(all(feature = "h2", feature = "tls"))]
    r.listeners.register(http2::NAME, http2::new)?;
    #[cfg(feature = "pht")]
    r.listeners.register(pht::NAME, pht::new)?;
    #[cfg(feature = "pht")]
    r.listeners.register(pht::NAME_TLS, pht::new_tls)?;
    let _ = r;
    Ok(())
}
