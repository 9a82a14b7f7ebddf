//! # gost-x-listener
//!
//! Listener implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "tcp")]
pub mod tcp;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(any(feature = "tls"))]
mod upgrade;

/// Registers every listener this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "tcp")]
    r.listeners.register(tcp::NAME, tcp::new)?;
    #[cfg(feature = "tls")]
    r.listeners.register(tls::NAME, tls::new)?;
    let _ = r;
    Ok(())
}
