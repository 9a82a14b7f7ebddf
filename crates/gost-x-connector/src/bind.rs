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
            // The first Addr names the peer (a tunnel server sends the visitor, then its
            // target); a stream that is not OK is an error.
            StreamHeader::Relay => match gost_proto::relay::Response::decode(buf)? {
                None => Ok(None),
                Some((r, _)) if r.status != gost_proto::relay::STATUS_OK => Err(Error::protocol(
                    format!("remote bind: a stream refused with status {}", r.status),
                )),
                Some((r, n)) => {
                    let first = r.features.iter().find_map(|f| match f {
                        gost_proto::relay::Feature::Addr(a) => Some(a.clone()),
                        _ => None,
                    });
                    Ok(Some((first, n)))
                }
            },
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
    Ok(BoxListener::new(BindListener { session, local, bound, header, pending: None }))
}

struct BindListener {
    session: Session,
    local: Option<SocketAddr>,
    bound: Option<SocketAddr>,
    header: StreamHeader,
    /// A stream accepted whose header is still being read, and the bytes read so far: kept
    /// here, not in the accept future, because the service drops that future whenever another
    /// event comes first (a lost stream would end its visitor's connection unanswered).
    pending: Option<(TokioConn<gost_smux::Stream>, Vec<u8>, tokio::time::Instant)>,
}

/// A listener let go (its service stops, or it failed and a new bind replaces it) ends its
/// session, as gost's does: otherwise the server would go on sending visitors into a session
/// nobody accepts from any more.
impl Drop for BindListener {
    fn drop(&mut self) {
        self.session.close();
    }
}

/// How long a stream's header may take: one that never comes must not hold up the streams
/// behind it.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl Listener for BindListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        loop {
            if self.pending.is_none() {
                let stream = self.session.accept_stream().await.map_err(|e| {
                    Error::with_source(ErrorKind::Closed, "remote bind session ended", e)
                })?;
                let deadline = tokio::time::Instant::now() + HEADER_TIMEOUT;
                self.pending = Some((TokioConn::new(stream), Vec::new(), deadline));
            }
            let header = self.header;
            let peer = match self.pending.as_mut() {
                Some((conn, buf, deadline)) => {
                    let read = read_decoded(conn, buf, 4 + 65535, |b| header.decode(b));
                    tokio::time::timeout_at(*deadline, read).await
                }
                None => return Err(Error::new(ErrorKind::Closed, "remote bind: no stream")),
            };
            let Some((conn, buf, _)) = self.pending.take() else {
                return Err(Error::new(ErrorKind::Closed, "remote bind: no stream"));
            };
            let Ok(peer) = peer else {
                tracing::debug!("remote bind: a stream without its header in time; dropped");
                continue;
            };
            let peer = peer?.and_then(|a| a.as_socket_addr());
            return Ok(rewind(
                Box::new(TokioConn::with_addrs(conn.into_inner(), self.local, peer)),
                buf,
            ));
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.bound
    }
}
