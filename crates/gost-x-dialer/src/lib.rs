//! # gost-x-dialer
//!
//! Dialer implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "tcp")]
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
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
    let _ = r;
    Ok(())
}
