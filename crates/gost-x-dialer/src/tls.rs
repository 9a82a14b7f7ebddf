//! `tls`: reaches a node over TLS. As in gost, the dial is plain TCP and the TLS handshake runs
//! in `handshake`, so a TLS node works anywhere in a chain. Verification is off by default
//! (`secure=false`, gost's default); see `gost-x-tls` for every option.
//!
//! Metadata: `dialTimeout` (5s), `secure`, `serverName`, `caFile`, `certFile`, `keyFile`,
//! `minVersion`, `maxVersion`, `alpn`.

use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, HandshakeOptions, Metadata,
    Network, Result,
};
use gost_x_rt::TokioConn;
use gost_x_rt::net::connect_tcp;
use gost_x_tls::TlsConnector;

/// The registry name.
pub const NAME: &str = "tls";

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// The `tls` dialer; also the carrier of `mtls`.
pub(crate) struct TlsDialer {
    dial_timeout: Duration,
    connector: TlsConnector,
    server_name: Option<String>,
}

impl TlsDialer {
    pub(crate) fn build(md: &Metadata) -> Result<Self> {
        let (config, server_name) = gost_x_tls::client_config(md)?;
        Ok(TlsDialer {
            dial_timeout: md.get_duration(&["dialTimeout"])?.unwrap_or(DEFAULT_DIAL_TIMEOUT),
            connector: TlsConnector::from(config),
            server_name,
        })
    }
}

/// Builds the dialer from its metadata.
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    Ok(BoxDialer::new(TlsDialer::build(md)?))
}

impl Dialer for TlsDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        let timeout = opts.timeout.map_or(self.dial_timeout, |t| t.min(self.dial_timeout));
        let stream = connect_tcp(&addr, Network::Tcp, timeout).await?;
        Ok(Box::new(TokioConn::tcp(stream)))
    }

    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        let host = opts.addr.as_ref().map(Address::host).unwrap_or_default();
        let name = gost_x_tls::server_name(self.server_name.as_deref(), &host)?;
        gost_x_tls::connect(&self.connector, name, conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io;

    #[tokio::test]
    async fn dials_and_handshakes() {
        let acceptor =
            gost_x_tls::TlsAcceptor::from(gost_x_tls::server_config(&Metadata::new()).unwrap());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut c = gost_x_tls::accept(&acceptor, Box::new(TokioConn::tcp(s))).await.unwrap();
            io::write_all(&mut c, b"hi").await.unwrap();
        });
        let d = new(DialerOptions::default(), &Metadata::new()).unwrap();
        let conn = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        let mut conn = d.handshake(conn, HandshakeOptions::for_addr(addr)).await.unwrap();
        let mut buf = [0u8; 2];
        io::read_exact(&mut conn, &mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        server.await.unwrap();
        // A plain TCP server fails the handshake with a handshake error.
        let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(plain.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = plain.accept().await.unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut s, b"HTTP/1.0 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
        });
        let conn = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        let err = d.handshake(conn, HandshakeOptions::for_addr(addr)).await.unwrap_err();
        assert_eq!(err.kind(), gost_core::ErrorKind::Handshake, "{err}");
    }
}
