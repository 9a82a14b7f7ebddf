//! `forward`: speaks no protocol. The node *is* the destination: the connection to it is
//! returned as it is, whatever target was asked for (Go gost's forward connector).
//!
//! Metadata: none.

use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Metadata, Network,
    Result,
};

/// The registry name.
pub const NAME: &str = "forward";

struct ForwardConnector {
    node: String,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, _md: &Metadata) -> Result<BoxConnector> {
    Ok(BoxConnector::new(ForwardConnector { node: opts.node }))
}

impl Connector for ForwardConnector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        tracing::debug!(node = %self.node, %network, %target, "forward: node is the destination");
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io;

    #[tokio::test]
    async fn returns_the_connection_unchanged() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn: BoxConn = Box::new(gost_x_rt::TokioConn::tcp(stream));
        let c = new(ConnectorOptions::default(), &Metadata::new()).unwrap();
        let target = Address::Domain("ignored.example".into(), 80);
        let mut conn =
            c.connect(conn, Network::Tcp, target, ConnectOptions::default()).await.unwrap();
        assert_eq!(conn.peer_addr(), Some(addr));
        let (mut s, _) = l.accept().await.unwrap();
        io::write_all(&mut conn, b"x").await.unwrap();
        let mut b = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut b).await.unwrap();
        assert_eq!(&b, b"x");
    }
}
