//! # gost-x-handler
//!
//! Handler implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "forward")]
pub mod forward;

/// Registers every handler this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "forward")]
    r.handlers.register(forward::NAME, forward::new)?;
    let _ = r;
    Ok(())
}
