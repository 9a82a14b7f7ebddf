//! # gost-x-dialer
//!
//! Dialer implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "h2")]
pub mod grpc;
#[cfg(feature = "h2")]
pub mod h2;
#[cfg(feature = "h2")]
pub mod http2;
#[cfg(feature = "mux")]
pub mod mtls;
#[cfg(feature = "mux")]
mod mux;
#[cfg(feature = "mux")]
pub mod mws;
#[cfg(feature = "mux")]
pub mod mwss;
#[cfg(feature = "pht")]
pub mod pht;
#[cfg(feature = "tcp")]
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "udp")]
pub mod udp;
#[cfg(feature = "ws")]
pub mod ws;
#[cfg(feature = "ws")]
pub mod wss;

/// Registers every dialer this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "tcp")]
    r.dialers.register(tcp::NAME, tcp::new)?;
    #[cfg(feature = "tls")]
    r.dialers.register(tls::NAME, tls::new)?;
    #[cfg(feature = "ws")]
    r.dialers.register(ws::NAME, ws::new)?;
    #[cfg(feature = "ws")]
    r.dialers.register(wss::NAME, wss::new)?;
    #[cfg(feature = "mux")]
    r.dialers.register(mws::NAME, mws::new)?;
    #[cfg(feature = "mux")]
    r.dialers.register(mwss::NAME, mwss::new)?;
    #[cfg(feature = "mux")]
    r.dialers.register(mtls::NAME, mtls::new)?;
    #[cfg(feature = "udp")]
    r.dialers.register(udp::NAME, udp::new)?;
    #[cfg(feature = "h2")]
    r.dialers.register(h2::NAME, h2::new)?;
    #[cfg(feature = "h2")]
    r.dialers.register(h2::NAME_CLEAR, h2::new_clear)?;
    #[cfg(feature = "h2")]
    r.dialers.register(grpc::NAME, grpc::new)?;
    #[cfg(feature = "h2")]
    r.dialers.register(http2::NAME, http2::new)?;
    #[cfg(feature = "pht")]
    r.dialers.register(pht::NAME, pht::new)?;
    #[cfg(feature = "pht")]
    r.dialers.register(pht::NAME_TLS, pht::new_tls)?;
    let _ = r;
    Ok(())
}
