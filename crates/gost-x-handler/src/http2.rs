//! `http2`: gost's HTTP/2 proxy (`-L http2://user:pass@:443`): `CONNECT` streams and plain
//! requests (`GET http://...`), with the HTTP proxy's authentication, probe resistance, knock,
//! bypass and extra headers, as gost's `http2` handler has them. A client that chose HTTP/1.1
//! on the same port is served by the HTTP/1 proxy.
//!
//! Each HTTP/2 request is served by the HTTP/1 proxy handler through a [`Gateway`]: the request
//! becomes an HTTP/1.1 request (its body re-framed as chunks when it has no length), and what the
//! proxy answers becomes the HTTP/2 response (a chunked body decoded). So both proxies share one
//! implementation of every rule; a `CONNECT` tunnel is a plain byte copy past the heads.
//!
//! Metadata: the `http` handler's (`authBasicRealm`, `probeResist`, `knock`, `header`,
//! `readTimeout`, `proxyAgent`...).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use gost_core::io::{Conn, Read, Write, read_decoded, rewind};
use gost_core::{
    BoxConn, BoxHandler, Error, ErrorKind, Handler, HandlerOptions, Metadata, Result, Session,
};
use gost_proto::Step;
use gost_proto::http::{ChunkedDecoder, MAX_HEAD, ResponseHead};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};

use crate::http::HttpHandler;
use crate::util;

/// The registry name.
pub const NAME: &str = "http2";

/// The HTTP/2 connection preface a client sends first.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Header fields that belong to one HTTP/1 connection and are never carried across.
const CONNECTION_FIELDS: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"];

struct Http2Handler {
    http: Arc<HttpHandler>,
    read_timeout: std::time::Duration,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(Http2Handler {
        http: Arc::new(HttpHandler::build(&opts, md)?),
        read_timeout: util::read_timeout(md)?,
    }))
}

/// Whether the bytes so far are (`Some(true)`), or cannot be (`Some(false)`), the preface.
fn sniff(buf: &[u8]) -> Result<Option<(bool, usize)>> {
    let n = buf.len().min(PREFACE.len());
    if buf[..n] != PREFACE[..n] {
        return Ok(Some((false, 0)));
    }
    Ok((n == PREFACE.len()).then_some((true, 0)))
}

impl Handler for Http2Handler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let sniffed = read_decoded(&mut conn, &mut buf, PREFACE.len(), sniff);
        let h2 = gost_x_rt::timeout(self.read_timeout, "http2 preface", sniffed).await?;
        let conn = rewind(conn, buf);
        if !h2 {
            return self.http.handle(conn, session).await;
        }
        let (local, peer) = (conn.local_addr(), conn.peer_addr());
        // The windows and limits of gost-x-h2's servers (see there).
        let mut connection = gost_x_h2::server_builder()
            .handshake(gost_x_rt::Compat::new(conn))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Handshake, "http2 handshake", e))?;
        let mut streams = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = connection.accept() => match accepted {
                    Some(Ok((req, respond))) => {
                        let gateway = Gateway::new(req, respond, local, peer);
                        let (http, session) = (Arc::clone(&self.http), session.clone());
                        let sid = session.id;
                        streams.spawn(async move {
                            if let Err(e) = http.handle(Box::new(gateway), session).await {
                                tracing::debug!(sid, "http2: {e}");
                            }
                        });
                    }
                    Some(Err(e)) => {
                        return Err(Error::with_source(ErrorKind::Protocol, "http2", e));
                    }
                    None => return Ok(()),
                },
                Some(_) = streams.join_next(), if !streams.is_empty() => {}
            }
        }
    }
}

/// How the proxy's response body is carried over.
enum Framing {
    /// No head yet.
    Head,
    /// Bytes as they come, until the proxy is done (a tunnel, or a body delimited by close).
    Raw,
    Length(u64),
    Chunked(ChunkedDecoder),
    /// The response has ended.
    Done,
}

/// One HTTP/2 request as an HTTP/1.1 connection to the HTTP/1 proxy: see the module docs.
struct Gateway {
    /// Bytes for the proxy to read before (and between) body data: the request head, chunk
    /// framing.
    out: Vec<u8>,
    out_at: usize,
    body: Option<RecvStream>,
    /// Body data received and not handed out yet.
    held: Bytes,
    /// Re-frame the body as chunks (it has no length).
    chunked: bool,
    tunnel: bool,
    head_only: bool,
    respond: Option<SendResponse<Bytes>>,
    send: Option<SendStream<Bytes>>,
    /// The proxy's response head so far.
    head: Vec<u8>,
    framing: Framing,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl Gateway {
    fn new(
        req: http::Request<RecvStream>,
        respond: SendResponse<Bytes>,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> Gateway {
        let (parts, body) = req.into_parts();
        let tunnel = parts.method == http::Method::CONNECT;
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| parts.headers.get("host").and_then(|h| h.to_str().ok()).map(str::to_owned))
            .unwrap_or_default();
        let target = if tunnel {
            authority.clone()
        } else {
            let scheme = parts.uri.scheme_str().unwrap_or("http");
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            format!("{scheme}://{authority}{path}")
        };
        let mut out = format!("{} {target} HTTP/1.1\r\nHost: {authority}\r\n", parts.method);
        let mut cookies: Vec<&str> = Vec::new();
        for (name, value) in &parts.headers {
            let name = name.as_str();
            let Ok(value) = value.to_str() else { continue };
            if name == "host" || name == "expect" || CONNECTION_FIELDS.contains(&name) {
                continue;
            }
            if name == "cookie" {
                cookies.push(value);
                continue;
            }
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        if !cookies.is_empty() {
            out.push_str(&format!("cookie: {}\r\n", cookies.join("; ")));
        }
        let has_body = !body.is_end_stream();
        let chunked = !tunnel && has_body && !parts.headers.contains_key("content-length");
        if chunked {
            out.push_str("transfer-encoding: chunked\r\n");
        }
        if !tunnel {
            out.push_str("connection: close\r\n");
        }
        out.push_str("\r\n");
        Gateway {
            out: out.into_bytes(),
            out_at: 0,
            body: has_body.then_some(body),
            held: Bytes::new(),
            chunked,
            tunnel,
            head_only: parts.method == http::Method::HEAD,
            respond: Some(respond),
            send: None,
            head: Vec::new(),
            framing: Framing::Head,
            local,
            peer,
        }
    }

    /// Takes the proxy's response head (what of `buf` it used), once it is complete.
    fn take_head(&mut self, buf: &[u8]) -> io::Result<usize> {
        let before = self.head.len();
        self.head.extend_from_slice(buf);
        let parsed = ResponseHead::decode(&self.head)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let Some((resp, n)) = parsed else {
            if self.head.len() > MAX_HEAD {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "response head too long"));
            }
            return Ok(buf.len());
        };
        let used = n - before;
        self.head.clear();
        if (100..200).contains(&resp.status) {
            // Interim answers are not relayed (the request went without `Expect`).
            return Ok(used);
        }
        let mut builder = http::Response::builder().status(resp.status);
        let mut length = None;
        let mut chunked = false;
        for (name, value) in &resp.headers {
            let lower = name.to_ascii_lowercase();
            if lower == "transfer-encoding" {
                chunked = String::from_utf8_lossy(value).to_ascii_lowercase().contains("chunked");
            }
            if lower == "content-length" {
                length = std::str::from_utf8(value).ok().and_then(|v| v.trim().parse::<u64>().ok());
            }
            if CONNECTION_FIELDS.contains(&lower.as_str()) {
                continue;
            }
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(lower.as_bytes()),
                http::HeaderValue::from_bytes(value),
            ) else {
                continue;
            };
            builder = builder.header(name, value);
        }
        self.framing = if self.tunnel && (200..300).contains(&resp.status) {
            Framing::Raw
        } else if self.head_only || resp.status == 204 || resp.status == 304 {
            Framing::Done
        } else if chunked {
            Framing::Chunked(ChunkedDecoder::default())
        } else {
            match length {
                Some(0) => Framing::Done,
                Some(n) => Framing::Length(n),
                None => Framing::Raw,
            }
        };
        let response = builder
            .body(())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let Some(mut respond) = self.respond.take() else { return Ok(used) };
        let end = matches!(self.framing, Framing::Done);
        let send = respond.send_response(response, end).map_err(gost_x_h2::io_error)?;
        if !end {
            self.send = Some(send);
        }
        Ok(used)
    }

    /// Sends what flow control lets through of `data`.
    fn send_some(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.send.as_mut() {
            Some(send) => gost_x_h2::poll_send_data(send, cx, data),
            None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
        }
    }

    /// Ends the response: with 502 if the proxy answered nothing usable.
    fn end(&mut self) {
        if let Some(mut respond) = self.respond.take() {
            if let Ok(response) = http::Response::builder().status(502).body(()) {
                let _ = respond.send_response(response, true);
            }
        } else if let Some(mut send) = self.send.take() {
            let _ = send.send_data(Bytes::new(), true);
        }
        self.framing = Framing::Done;
    }
}

impl Read for Gateway {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.out_at < this.out.len() {
                let n = buf.len().min(this.out.len() - this.out_at);
                buf[..n].copy_from_slice(&this.out[this.out_at..this.out_at + n]);
                this.out_at += n;
                if this.out_at == this.out.len() {
                    this.out.clear();
                    this.out_at = 0;
                }
                return Poll::Ready(Ok(n));
            }
            if !this.held.is_empty() {
                if this.chunked {
                    this.out.extend_from_slice(format!("{:x}\r\n", this.held.len()).as_bytes());
                    this.out.extend_from_slice(&this.held);
                    this.out.extend_from_slice(b"\r\n");
                    this.held = Bytes::new();
                    continue;
                }
                let n = buf.len().min(this.held.len());
                buf[..n].copy_from_slice(&this.held.split_to(n));
                return Poll::Ready(Ok(n));
            }
            let Some(body) = this.body.as_mut() else { return Poll::Ready(Ok(0)) };
            match ready!(body.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    this.held = data;
                }
                Some(Err(e)) if e.reason() != Some(h2::Reason::NO_ERROR) => {
                    return Poll::Ready(Err(gost_x_h2::io_error(e)));
                }
                _ => {
                    this.body = None;
                    if this.chunked {
                        this.out.extend_from_slice(b"0\r\n\r\n");
                    }
                }
            }
        }
    }
}

impl Write for Gateway {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        match &mut this.framing {
            Framing::Head => Poll::Ready(this.take_head(buf)),
            // What follows the end of a response is not sent (as a client would drop it).
            Framing::Done => Poll::Ready(Ok(buf.len())),
            Framing::Raw => this.send_some(cx, buf),
            Framing::Length(left) => {
                let take = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = ready!(this.send_some(cx, &buf[..take]))?;
                if let Framing::Length(left) = &mut this.framing {
                    *left -= n as u64;
                    if *left == 0 {
                        this.end();
                    }
                }
                Poll::Ready(Ok(n))
            }
            Framing::Chunked(decoder) => {
                let mut probe = decoder.clone();
                let step = probe
                    .step(buf)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                match step {
                    Step::Framing(n) => {
                        *decoder = probe;
                        if decoder.is_done() {
                            this.end();
                            return Poll::Ready(Ok(buf.len()));
                        }
                        Poll::Ready(Ok(n))
                    }
                    Step::Data(n) => {
                        // Only what flow control lets through counts as consumed.
                        let sent = ready!(this.send_some(cx, &buf[..n]))?;
                        if let Framing::Chunked(decoder) = &mut this.framing {
                            let _ = decoder.step(&buf[..sent]);
                        }
                        Poll::Ready(Ok(sent))
                    }
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().end();
        Poll::Ready(Ok(()))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.end();
    }
}

impl Conn for Gateway {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_told_apart_early() {
        assert_eq!(sniff(b"PRI * HT").unwrap(), None);
        assert_eq!(sniff(PREFACE).unwrap(), Some((true, 0)));
        assert_eq!(sniff(b"GET / HTTP/1.1").unwrap(), Some((false, 0)));
        assert_eq!(sniff(b"P").unwrap(), None);
        assert_eq!(sniff(b"POST").unwrap(), Some((false, 0)));
    }
}
