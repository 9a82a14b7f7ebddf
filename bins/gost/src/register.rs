//! Every component crate's registration, in one place.

use gost_core::{Registries, Result};

/// Fills `r` with every component this binary is built with.
pub fn register_all(r: &Registries) -> Result<()> {
    gost_x_listener::register(r)?;
    gost_x_dialer::register(r)?;
    gost_x_handler::register(r)?;
    gost_x_connector::register(r)?;
    gost_x_quic::register(r)?;
    Ok(())
}
