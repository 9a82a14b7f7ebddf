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
    // gost registers the local TCP forwarder under "tcp" too (`-L tcp://:8080/host:80`).
    #[cfg(feature = "forward")]
    r.handlers.register(forward::TCP_ALIAS, forward::new)?;
    let _ = r;
    Ok(())
}
