//! # gost-x-connector
//!
//! Connector implementations, one module per registered type name. [`register`] adds every
//! enabled one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(any(feature = "socks5", feature = "relay", feature = "tunnel"))]
mod bind;
#[cfg(any(feature = "socks5", feature = "relay", feature = "tunnel"))]
mod datagram;
#[cfg(feature = "forward")]
pub mod forward;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http2")]
pub mod http2;
#[cfg(feature = "tunnel")]
mod len_datagrams;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "sni")]
pub mod sni;
#[cfg(feature = "socks4")]
pub mod socks4;
#[cfg(feature = "socks5")]
pub mod socks5;
#[cfg(feature = "ss")]
pub mod ss;
#[cfg(feature = "ss")]
pub mod ssu;
#[cfg(feature = "tunnel")]
pub mod tunnel;
#[cfg(any(feature = "socks5", feature = "relay"))]
mod udp_bind;

#[cfg(test)]
#[cfg(any(feature = "http", feature = "relay", feature = "socks4", feature = "socks5"))]
mod test_support;

/// Registers every connector this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "forward")]
    r.connectors.register(forward::NAME, forward::new)?;
    #[cfg(feature = "http")]
    r.connectors.register(http::NAME, http::new)?;
    #[cfg(feature = "http2")]
    r.connectors.register(http2::NAME, http2::new)?;
    #[cfg(feature = "socks4")]
    r.connectors.register(socks4::NAME, socks4::new)?;
    #[cfg(feature = "socks4")]
    r.connectors.register(socks4::ALIAS, socks4::new)?;
    #[cfg(feature = "socks5")]
    r.connectors.register(socks5::NAME, socks5::new)?;
    #[cfg(feature = "socks5")]
    r.connectors.register(socks5::ALIAS, socks5::new)?;
    #[cfg(feature = "relay")]
    r.connectors.register(relay::NAME, relay::new)?;
    #[cfg(feature = "sni")]
    r.connectors.register(sni::NAME, sni::new)?;
    #[cfg(feature = "ss")]
    r.connectors.register(ss::NAME, ss::new)?;
    #[cfg(feature = "ss")]
    r.connectors.register(ssu::NAME, ssu::new)?;
    #[cfg(feature = "tunnel")]
    r.connectors.register(tunnel::NAME, tunnel::new)?;
    let _ = r;
    Ok(())
}
