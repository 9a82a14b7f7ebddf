//! `tls`: TLS over TCP. Without `certFile`/`keyFile` the server uses gost's default certificate
//! (see `gost-x-tls`); `caFile` requires client certificates (mTLS).
//!
//! Metadata: `backlog` (128), `certFile`, `keyFile`, `caFile`, `minVersion`, `maxVersion`,
//! `alpn`, `handshakeTimeout` (15s).

use std::time::Duration;

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::{DEFAULT_BACKLOG, listen_tcp};
use gost_x_tls::TlsAcceptor;

use crate::upgrade::{Upgrade, UpgradeListener};

/// The registry name.
pub const NAME: &str = "tls";

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Binds `opts.addr` and serves TLS on it. Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    listen(opts, md, TlsAcceptor::from(gost_x_tls::server_config(md)?))
}

/// Serves TLS with `acceptor` on `opts.addr`, handing out each connection once its handshake
/// is done.
pub(crate) fn listen(
    opts: ListenerOptions,
    md: &Metadata,
    acceptor: TlsAcceptor,
) -> Result<BoxListener> {
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
    let timeout = md.get_duration(&["handshakeTimeout"])?.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
    let listener = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
    let upgrade: Upgrade = std::sync::Arc::new(move |conn, queue| {
        let acceptor = acceptor.clone();
        Box::pin(async move {
            let peer = conn.peer_addr();
            match gost_x_rt::timeout(timeout, "TLS handshake", gost_x_tls::accept(&acceptor, conn))
                .await
            {
                Ok(tls) => {
                    let _ = queue.send(tls).await;
                }
                Err(err) => tracing::debug!(?peer, "tls: {err}"),
            }
        })
    });
    Ok(BoxListener::new(UpgradeListener::spawn(listener, backlog, upgrade)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{Listener, io};

    #[tokio::test]
    async fn serves_tls_and_survives_a_plain_client() {
        let mut l = new(ListenerOptions::new("127.0.0.1:0"), &Metadata::new()).unwrap();
        let addr = l.local_addr().unwrap();
        // A client that speaks no TLS does not block the listener.
        let mut junk = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut junk, b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let (config, _) = gost_x_tls::client_config(&Metadata::new()).unwrap();
        let connector = gost_x_tls::TlsConnector::from(config);
        let client = tokio::spawn(async move {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = gost_x_tls::server_name(None, "127.0.0.1").unwrap();
            let mut c =
                gost_x_tls::connect(&connector, name, Box::new(gost_x_rt::TokioConn::tcp(s)))
                    .await
                    .unwrap();
            io::write_all(&mut c, b"over tls").await.unwrap();
            c
        });
        let mut conn =
            tokio::time::timeout(Duration::from_secs(5), l.accept()).await.unwrap().unwrap();
        let mut buf = [0u8; 8];
        io::read_exact(&mut conn, &mut buf).await.unwrap();
        assert_eq!(&buf, b"over tls");
        drop(client.await.unwrap());
    }
}
