//! The client side of gost's multiplexed remote bind (SOCKS5 MBIND, relay BIND): after the bind
//! request, the connection carries an smux session in which the *server* opens a stream per
//! connection it accepted (gost: connector = smux server); each stream starts with a short
//! header naming the peer. The result is a listener of those streams.

use std::net::SocketAddr;

use gost_core::io::{read_decoded, rewind};
use gost_core::{Address, BoxConn, BoxListener, Error, ErrorKind, Listener, Result};
use gost_smux::Session;
use gost_x_rt::TokioConn;

/// Which protocol's header starts each stream.
#[derive(Debug, Clone, Copy)]
pub(crate) enum StreamHeader {
    /// A SOCKS5 reply naming the peer.
    Socks5,
    /// A relay response with the peer's address feature.
    Relay,
}

impl StreamHeader {
    fn decode(self, buf: &[u8]) -> Result<Option<(Option<Address>, usize)>> {
        match self {
            StreamHeader::Socks5 => {
                Ok(gost_proto::socks5::Reply::decode(buf)?.map(|(r, n)| (Some(r.addr), n)))
            }
            StreamHeader::Relay => {
                Ok(gost_proto::relay::Response::decode(buf)?.map(|(r, n)| (r.addr().cloned(), n)))
            }
        }
    }
}

/// Turns `conn` (after a successful bind request) into the listener of the streams the server
/// opens on it.
pub(crate) fn listener(
    conn: BoxConn,
    header: StreamHeader,
    bound: Option<SocketAddr>,
    mux: gost_smux::Config,
) -> Result<BoxListener> {
    let (session, local, _) = gost_x_rt::mux::server(conn, mux)?;
    Ok(BoxListener::new(BindListener { session, local, bound, header }))
}

struct BindListener {
    session: Session,
    local: Option<SocketAddr>,
    bound: Option<SocketAddr>,
    header: StreamHeader,
}

impl Listener for BindListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        let stream =
            self.session.accept_stream().await.map_err(|e| {
                Error::with_source(ErrorKind::Closed, "remote bind session ended", e)
            })?;
        let mut conn = TokioConn::new(stream);
        let mut buf = Vec::new();
        let header = self.header;
        let peer = read_decoded(&mut conn, &mut buf, 4 + 65535, |b| header.decode(b)).await?;
        let peer = peer.and_then(|a| a.as_socket_addr());
        Ok(rewind(Box::new(TokioConn::with_addrs(conn.into_inner(), self.local, peer)), buf))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.bound
    }
}
