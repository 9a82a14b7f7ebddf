//! `tcp`: reaches a node over plain TCP.
//!
//! Metadata: `dialTimeout` (default 5 s, as Go gost's tcp dialer) — used when the caller gives no
//! timeout of its own; `keepalive.idle`, `keepalive.interval`, `keepalive.count` (15s, 15s, 9:
//! Go's TCP keepalive, on for every dialed socket).

use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, Metadata, Network, Result,
};
use gost_x_rt::TokioConn;
use gost_x_rt::net::{KeepAlive, connect_tcp};

/// The registry name.
pub const NAME: &str = "tcp";

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);

struct TcpDialer {
    dial_timeout: Duration,
    /// Set when the metadata asks for other than the default.
    keepalive: Option<KeepAlive>,
}

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let dial_timeout = md.get_duration(&["dialTimeout"])?.unwrap_or(DEFAULT_DIAL_TIMEOUT);
    let keepalive = Some(KeepAlive::from_metadata(md)?).filter(|k| *k != KeepAlive::default());
    Ok(BoxDialer::new(TcpDialer { dial_timeout, keepalive }))
}

impl Dialer for TcpDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        let timeout = opts.timeout.map_or(self.dial_timeout, |t| t.min(self.dial_timeout));
        let stream = connect_tcp(&addr, Network::Tcp, timeout).await?;
        let conn = TokioConn::tcp(stream);
        if let Some(ka) = &self.keepalive {
            // Without it the connection still works, with the default keepalive.
            let _ = ka.apply(conn.get_ref());
        }
        Ok(Box::new(conn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::ErrorKind;

    #[tokio::test]
    async fn dials_and_refuses() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let d = new(DialerOptions::default(), &Metadata::new().with("dialTimeout", "2s")).unwrap();
        let conn = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        assert_eq!(conn.peer_addr(), addr.as_socket_addr());
        drop(l);
        let err = d.dial(addr, DialOptions::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert!(
            new(DialerOptions::default(), &Metadata::new().with("dialTimeout", "soon")).is_err()
        );
    }
}
