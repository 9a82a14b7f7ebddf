//! # gost-x-handler
//!
//! Handler implementations, one module per registered type name. [`register`] adds every enabled
//! one to a [`Registries`].

use gost_core::{Registries, Result};

#[cfg(feature = "auto")]
pub mod auto;
#[cfg(feature = "dns")]
pub mod dns;
#[cfg(feature = "file")]
pub mod file;
#[cfg(feature = "forward")]
pub mod forward;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "http2")]
pub mod http2;
#[cfg(any(feature = "http", feature = "forward"))]
mod http_body;
#[cfg(any(feature = "socks5", feature = "relay"))]
mod mux_bind;
#[cfg(feature = "quic-sniffing")]
mod quic;
#[cfg(feature = "redirect")]
pub mod redirect;
#[cfg(feature = "redirect")]
pub mod redirect_udp;
#[cfg(feature = "relay")]
pub mod relay;
#[cfg(feature = "sni")]
pub mod sni;
#[cfg(any(feature = "sni", feature = "forward", feature = "redirect"))]
mod sniff;
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
#[cfg(feature = "forward")]
pub mod udp;
#[cfg(any(
    feature = "http",
    feature = "relay",
    feature = "socks4",
    feature = "socks5",
    feature = "ss"
))]
mod util;

#[cfg(test)]
#[cfg(any(
    feature = "http",
    feature = "relay",
    feature = "socks4",
    feature = "socks5",
    feature = "ss"
))]
mod test_support;

/// Registers every handler this crate was built with.
pub fn register(r: &Registries) -> Result<()> {
    #[cfg(feature = "forward")]
    r.handlers.register(forward::NAME, forward::new)?;
    // gost registers the local TCP forwarder under "tcp" too (`-L tcp://:8080/host:80`).
    #[cfg(feature = "forward")]
    r.handlers.register(forward::TCP_ALIAS, forward::new)?;
    #[cfg(feature = "forward")]
    r.handlers.register(udp::NAME, udp::new)?;
    // gost's remote TCP forwarder is the forward handler behind an `rtcp` listener.
    #[cfg(feature = "forward")]
    r.handlers.register(forward::RTCP_ALIAS, forward::new)?;
    // And the UDP forwarder behind an `rudp` listener.
    #[cfg(feature = "forward")]
    r.handlers.register(udp::RUDP_ALIAS, udp::new)?;
    #[cfg(feature = "file")]
    r.handlers.register(file::NAME, file::new)?;
    #[cfg(feature = "http")]
    r.handlers.register(http::NAME, http::new)?;
    #[cfg(feature = "http2")]
    r.handlers.register(http2::NAME, http2::new)?;
    #[cfg(feature = "socks4")]
    r.handlers.register(socks4::NAME, socks4::new)?;
    #[cfg(feature = "socks4")]
    r.handlers.register(socks4::ALIAS, socks4::new)?;
    #[cfg(feature = "socks5")]
    r.handlers.register(socks5::NAME, socks5::new)?;
    #[cfg(feature = "socks5")]
    r.handlers.register(socks5::ALIAS, socks5::new)?;
    #[cfg(feature = "auto")]
    r.handlers.register(auto::NAME, auto::new)?;
    #[cfg(feature = "relay")]
    r.handlers.register(relay::NAME, relay::new)?;
    #[cfg(feature = "sni")]
    r.handlers.register(sni::NAME, sni::new)?;
    #[cfg(feature = "dns")]
    r.handlers.register(dns::NAME, dns::new)?;
    #[cfg(feature = "redirect")]
    for name in redirect::NAMES {
        r.handlers.register(name, redirect::new)?;
    }
    #[cfg(feature = "redirect")]
    r.handlers.register(redirect_udp::NAME, redirect_udp::new)?;
    #[cfg(feature = "ss")]
    r.handlers.register(ss::NAME, ss::new)?;
    #[cfg(feature = "ss")]
    r.handlers.register(ssu::NAME, ssu::new)?;
    #[cfg(feature = "tunnel")]
    r.handlers.register(tunnel::NAME, tunnel::new)?;
    let _ = r;
    Ok(())
}
