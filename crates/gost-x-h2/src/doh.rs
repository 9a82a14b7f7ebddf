//! DNS over HTTPS (RFC 8484) on the server side, for the `dns` listener's `mode=https`: each
//! `POST path` (body `application/dns-message`) or `GET path?dns=<base64url>` becomes a
//! connection carrying that one query ([`DohQuery`]: one read, then the reply written back as
//! the response).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use gost_core::io::{Conn, Read, Write};
use gost_core::{BoxConn, Error, ErrorKind, Result};
use h2::server::SendResponse;
use tokio::sync::mpsc;

/// The longest DNS message taken.
const MAX_MESSAGE: usize = 65535;

/// One DoH query as a connection.
pub struct DohQuery {
    query: Option<Vec<u8>>,
    respond: Option<SendResponse<Bytes>>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl Read for DohQuery {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(gost_x_rt::read_once(&mut self.query, buf))
    }
}

impl Write for DohQuery {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let Some(mut respond) = self.respond.take() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        let response = http::Response::builder()
            .status(200)
            .header("content-type", "application/dns-message")
            .header("content-length", buf.len())
            .body(())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let mut send = respond.send_response(response, false).map_err(crate::io_error)?;
        send.send_data(Bytes::copy_from_slice(buf), true).map_err(crate::io_error)?;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Drop for DohQuery {
    fn drop(&mut self) {
        // Not answered (the handler dropped it): the client is told, not left waiting.
        if let Some(mut respond) = self.respond.take()
            && let Ok(r) = http::Response::builder().status(502).body(())
        {
            let _ = respond.send_response(r, true);
        }
    }
}

impl Conn for DohQuery {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
    fn is_datagram(&self) -> bool {
        true
    }
}

fn refuse(mut respond: SendResponse<Bytes>, status: u16) {
    if let Ok(r) = http::Response::builder().status(status).body(()) {
        let _ = respond.send_response(r, true);
    }
}

/// Serves DoH on the HTTP/2 connection `conn` (after TLS): queries for `path` go to `out`;
/// other paths get 404, other methods 405, bad queries 400.
pub async fn serve(conn: BoxConn, path: String, out: mpsc::Sender<BoxConn>) -> Result<()> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let mut h2 = crate::server_builder()
        .handshake(gost_x_rt::Compat::new(conn))
        .await
        .map_err(|e| Error::with_source(ErrorKind::Handshake, "doh: h2 handshake", e))?;
    while let Some(accepted) = h2.accept().await {
        let Ok((req, respond)) = accepted else { break };
        if req.uri().path() != path {
            refuse(respond, 404);
            continue;
        }
        let out = out.clone();
        match *req.method() {
            http::Method::GET => {
                let query = req.uri().query().unwrap_or("").split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == "dns").then(|| gost_proto::http::base64_decode(v.as_bytes())).flatten()
                });
                match query {
                    Some(q) if q.len() <= MAX_MESSAGE => {
                        let conn = DohQuery { query: Some(q), respond: Some(respond), local, peer };
                        if out.try_send(Box::new(conn)).is_err() {
                            tracing::debug!(?peer, "doh: the queue is full; a query dropped");
                        }
                    }
                    _ => refuse(respond, 400),
                }
            }
            http::Method::POST => {
                // The body is read in a task of its own: a slow client holds up only itself.
                tokio::spawn(async move {
                    let mut body = req.into_body();
                    let mut query = Vec::new();
                    while let Some(chunk) = body.data().await {
                        let Ok(chunk) = chunk else { return };
                        let _ = body.flow_control().release_capacity(chunk.len());
                        query.extend_from_slice(&chunk);
                        if query.len() > MAX_MESSAGE {
                            refuse(respond, 413);
                            return;
                        }
                    }
                    let conn = DohQuery { query: Some(query), respond: Some(respond), local, peer };
                    if out.try_send(Box::new(conn)).is_err() {
                        tracing::debug!(?peer, "doh: the queue is full; a query dropped");
                    }
                });
            }
            _ => refuse(respond, 405),
        }
    }
    Ok(())
}
