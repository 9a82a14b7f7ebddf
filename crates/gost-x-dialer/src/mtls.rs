//! `mtls`: multiplexed TLS: one smux session per node over TLS, a stream per connection.
//!
//! Metadata: those of `tls` and the `mux.*` keys of `mws`.

use gost_core::{BoxDialer, DialerOptions, Metadata, Result};

use crate::mux::{Carrier, MuxDialer};

/// The registry name.
pub const NAME: &str = "mtls";

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let tls = crate::tls::TlsDialer::build(md)?;
    Ok(BoxDialer::new(MuxDialer::new(Carrier::Tls(tls), gost_x_rt::mux::config(md)?)))
}
