//! `tcp`: a plain TCP listener.
//!
//! Metadata: `backlog` (default 128) — the kernel's queue of connections not yet accepted;
//! `keepalive.idle`, `keepalive.interval`, `keepalive.count` (15s, 15s, 9: Go's TCP keepalive,
//! on for every accepted socket).

use gost_core::{BoxListener, ListenerOptions, Metadata, Result};
use gost_x_rt::net::{DEFAULT_BACKLOG, KeepAlive, TcpAcceptor, listen_tcp};

/// The registry name.
pub const NAME: &str = "tcp";

struct Config {
    backlog: u32,
    keepalive: KeepAlive,
}

impl Config {
    fn parse(md: &Metadata) -> Result<Self> {
        let backlog = md
            .get_usize(&["backlog"])?
            .map_or(DEFAULT_BACKLOG, |b| u32::try_from(b).unwrap_or(u32::MAX).max(1));
        Ok(Config { backlog, keepalive: KeepAlive::from_metadata(md)? })
    }
}

/// Binds `opts.addr` and returns the listening socket. Must be called inside a tokio runtime.
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let config = Config::parse(md)?;
    let listener = listen_tcp(&opts.addr, config.backlog)?;
    let mut acceptor = TcpAcceptor::new(listener);
    if config.keepalive != KeepAlive::default() {
        acceptor = acceptor.with_keepalive(config.keepalive);
    }
    Ok(BoxListener::new(acceptor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::{ErrorKind, Listener, io};

    #[tokio::test]
    async fn accepts_connections_and_reports_addresses() {
        let md = Metadata::new().with("backlog", "16");
        let mut l = new(ListenerOptions::new("127.0.0.1:0"), &md).unwrap();
        let addr = l.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = l.accept().await.unwrap();
        assert_eq!(conn.local_addr(), Some(addr));
        assert_eq!(conn.peer_addr(), client.local_addr().ok());
        tokio::io::AsyncWriteExt::write_all(&mut client, b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        io::read_exact(&mut conn, &mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
    }

    #[tokio::test]
    async fn bad_options_are_errors() {
        let md = Metadata::new().with("backlog", "many");
        let err = new(ListenerOptions::new("127.0.0.1:0"), &md).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = new(ListenerOptions::new("nonsense"), &Metadata::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }
}
