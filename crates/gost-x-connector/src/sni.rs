//! `sni`: as `forward` (the node is the destination), and with `host` set it disguises what
//! the client sends first, as gost's `sni` connector: a TLS ClientHello's server name becomes
//! `host` (the real one goes, obfuscated, into extension `0xFFFE`), or an HTTP request's `Host`
//! becomes `host` (the real one goes into `Gost-Target`). A gost `sni` or `http` handler on the
//! node reads the real name back.
//!
//! Metadata: `host` (the name shown).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Metadata, Network,
    Result,
};

/// The registry name.
pub const NAME: &str = "sni";

/// The most of a ClientHello gathered before it is rewritten.
const MAX_HELLO: usize = 64 * 1024;

struct SniConnector {
    node: String,
    host: Option<String>,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let host = md.get_string(&["host"])?.filter(|h| !h.is_empty());
    Ok(BoxConnector::new(SniConnector { node: opts.node, host }))
}

impl Connector for SniConnector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        tracing::debug!(node = %self.node, %network, %target, "sni: node is the destination");
        match &self.host {
            None => Ok(conn),
            Some(host) => Ok(Box::new(SniConn {
                inner: conn,
                host: host.clone(),
                first: Some(Vec::new()),
                out: Vec::new(),
                out_at: 0,
            })),
        }
    }
}

/// The connection, rewriting the first message it carries.
struct SniConn {
    inner: BoxConn,
    host: String,
    /// Until the first message is rewritten: what of it has been written so far.
    first: Option<Vec<u8>>,
    /// Rewritten bytes not yet passed on.
    out: Vec<u8>,
    out_at: usize,
}

impl SniConn {
    fn flush_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_at < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_at..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_at += n;
        }
        self.out.clear();
        self.out_at = 0;
        Poll::Ready(Ok(()))
    }

    /// The first message's bytes so far: rewritten once it is whole (or passed on unchanged
    /// when it cannot be rewritten).
    fn rewrite(&mut self, pending: Vec<u8>) -> Option<Vec<u8>> {
        if pending.first() == Some(&0x16) {
            return match gost_proto::tls::rewrite_server_name(&pending, &self.host) {
                Ok(None) if pending.len() < MAX_HELLO => {
                    self.first = Some(pending);
                    None
                }
                Ok(Some(out)) => Some(out),
                _ => Some(pending),
            };
        }
        Some(rewrite_host(&pending, &self.host))
    }
}

/// An HTTP request head's `Host` replaced by `host`, the old one carried in `Gost-Target`;
/// anything else unchanged.
fn rewrite_host(data: &[u8], host: &str) -> Vec<u8> {
    let head_end = data.windows(4).position(|w| w == b"\r\n\r\n").map_or(data.len(), |i| i + 2);
    let mut at = 0;
    while at < head_end {
        let line_end = data[at..head_end].windows(2).position(|w| w == b"\r\n").map(|i| at + i);
        let Some(line_end) = line_end else { break };
        let line = &data[at..line_end];
        if line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:") {
            let old = String::from_utf8_lossy(&line[5..]).trim().to_owned();
            let mut out = Vec::with_capacity(data.len() + 64);
            out.extend_from_slice(&data[..at]);
            out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
            let hidden = gost_proto::tls::encode_server_name(&old);
            out.extend_from_slice(format!("Gost-Target: {hidden}").as_bytes());
            out.extend_from_slice(&data[line_end..]);
            return out;
        }
        at = line_end + 2;
    }
    data.to_vec()
}

impl Read for SniConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for SniConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.flush_out(cx))?;
        let Some(mut pending) = this.first.take() else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        pending.extend_from_slice(buf);
        if let Some(out) = this.rewrite(pending) {
            this.out = out;
            // Passed on now if the socket takes it; else by the next write or flush.
            if let Poll::Ready(Err(e)) = this.flush_out(cx) {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.flush_out(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(pending) = this.first.take() {
            // Ended before the first message was whole: pass on what there is.
            this.out = pending;
        }
        ready!(this.flush_out(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl Conn for SniConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers_are_replaced_and_carried() {
        let out =
            rewrite_host(b"GET / HTTP/1.1\r\nhost: real.test\r\nA: b\r\n\r\nbody", "fake.test");
        let text = String::from_utf8(out).unwrap();
        let hidden = gost_proto::tls::encode_server_name("real.test");
        assert_eq!(
            text,
            format!(
                "GET / HTTP/1.1\r\nHost: fake.test\r\nGost-Target: {hidden}\r\nA: b\r\n\r\nbody"
            )
        );
        assert_eq!(rewrite_host(b"no head", "x"), b"no head");
    }
}
