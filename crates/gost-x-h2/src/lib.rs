//! # gost-x-h2
//!
//! gost's HTTP/2 tunnel transport (`h2` over TLS, `h2c` in clear): each proxied connection is
//! one HTTP/2 stream. The client sends `CONNECT` with `:authority` = the node's host (or, with
//! a `path`, a `GET` of that path); the server answers `200` and both bodies then carry the
//! connection's bytes. A server without a `path` answers anything but `CONNECT` with `405`, and
//! with a `path` a request for another path with `400`, as gost's.
//!
//! gost's gRPC tunnel (`grpc`) is the same thing with gRPC's framing: see [`grpc`].
//!
//! The HTTP/2 framing, HPACK and flow control are the `h2` crate's; this crate adapts a
//! request's two bodies to a gost connection ([`H2Conn`], [`grpc::GrpcConn`]), serves an HTTP/2
//! connection's requests ([`serve`]), and opens streams on a client connection ([`Client`]).

pub mod doh;
pub mod grpc;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use gost_core::io::{Conn, Read, Write};
use gost_core::{BoxConn, Error, ErrorKind, Result};
use h2::{RecvStream, SendStream};
use tokio::sync::mpsc;

/// The largest chunk sent as one DATA frame's worth of capacity request.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;
/// Flow-control windows: what one stream, and one connection, may have in flight unread. HTTP/2's
/// default 64 KiB holds a stream to a window per round trip; these bound what a peer can make
/// this side buffer (per stream, and for all the streams of a connection).
const STREAM_WINDOW: u32 = 1 << 20;
/// A server's window for a whole connection (Go's server: 1 MiB): what one client can make it
/// hold for targets that read slowly.
const CONNECTION_WINDOW: u32 = 16 << 20;
/// A client's (Go's: 1 GiB): large, so that a few slow streams do not stall the others.
const CLIENT_CONNECTION_WINDOW: u32 = 256 << 20;
/// Data one stream may have queued for a peer that does not read (h2's default: 400 KiB): with
/// the stream limit, what a peer that stops reading its socket can make this side hold.
pub const SEND_BUFFER: usize = 64 * 1024;
/// Streams one peer may have open at once on a server.
pub const MAX_STREAMS: u32 = 256;
/// The most header data (decoded) one request or response may carry (h2's default: 16 MiB; an
/// HTTP/1 head here may be 64 KiB).
pub const MAX_HEADER_LIST: u32 = 64 * 1024;

/// Sends what flow control lets through of `data` (at most 64 KiB), waiting for capacity when
/// there is none; how much was sent.
pub fn poll_send_data(
    send: &mut SendStream<Bytes>,
    cx: &mut Context<'_>,
    data: &[u8],
) -> Poll<io::Result<usize>> {
    let want = data.len().min(MAX_CHUNK);
    send.reserve_capacity(want);
    loop {
        let granted = send.capacity().min(want);
        if granted > 0 {
            send.send_data(Bytes::copy_from_slice(&data[..granted]), false).map_err(io_error)?;
            return Poll::Ready(Ok(granted));
        }
        // Ready only when the capacity grew: no busy loop.
        match ready!(send.poll_capacity(cx)) {
            None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            Some(Ok(_)) => {}
        }
    }
}

/// Counts the streams open on a client connection, for as long as it lives (the dialer opens
/// another connection when one is at its peer's stream limit; keepalive pings only while some
/// are open, unless told otherwise).
pub(crate) struct StreamGuard(Arc<AtomicUsize>);

impl StreamGuard {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> StreamGuard {
        count.fetch_add(1, Ordering::Relaxed);
        StreamGuard(Arc::clone(count))
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One HTTP/2 stream as a gost connection: reads are the peer's body, writes this side's.
pub struct H2Conn {
    recv: RecvStream,
    send: SendStream<Bytes>,
    /// Bytes received and not handed out yet.
    held: Bytes,
    /// This side's body ended (a half-close).
    ended: bool,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    _stream: Option<StreamGuard>,
}

impl H2Conn {
    /// A connection over a request's bodies.
    pub fn new(
        recv: RecvStream,
        send: SendStream<Bytes>,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> H2Conn {
        H2Conn { recv, send, held: Bytes::new(), ended: false, local, peer, _stream: None }
    }
}

/// An `h2` error as an I/O error (its own I/O error when it is one).
pub fn io_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        return e.into_io().unwrap_or_else(|| io::Error::other("h2"));
    }
    io::Error::new(io::ErrorKind::ConnectionReset, e.to_string())
}

impl Read for H2Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if !this.held.is_empty() {
                let n = buf.len().min(this.held.len());
                buf[..n].copy_from_slice(&this.held.split_to(n));
                return Poll::Ready(Ok(n));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            match ready!(this.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(0)),
                Some(Err(e)) if e.reason() == Some(h2::Reason::NO_ERROR) => {
                    return Poll::Ready(Ok(0));
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                Some(Ok(data)) => {
                    // The bytes are ours now: the peer may send as many again.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.held = data;
                }
            }
        }
    }
}

impl Write for H2Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        poll_send_data(&mut this.send, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            this.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Conn for H2Conn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// What a server takes: `CONNECT` (no `path`) or a request for `path`; or gRPC calls.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The path a tunnel request must name (`path` metadata); `None`: `CONNECT`. For gRPC, the
    /// call's path (see [`grpc::method_path`]).
    pub path: Option<String>,
    /// gost's gRPC tunnel instead of its HTTP/2 one.
    pub grpc: bool,
    /// Pings the client this often, and drops a connection that does not answer in time.
    pub keepalive: Option<Keepalive>,
}

/// HTTP/2 pings on an otherwise quiet connection.
#[derive(Debug, Clone, Copy)]
pub struct Keepalive {
    /// Between pings.
    pub interval: Duration,
    /// For the answer.
    pub timeout: Duration,
    /// Whether to ping while no stream is open (a client only; gRPC servers refuse such pings
    /// unless they allow them).
    pub without_streams: bool,
}

/// A request refused: the status and, for gRPC, the call status and message.
fn refusal(status: u16, grpc: Option<(u32, String)>) -> Option<http::Response<()>> {
    let mut builder = http::Response::builder().status(status);
    if let Some((code, message)) = grpc {
        builder = builder
            .header("content-type", grpc::CONTENT_TYPE)
            .header("grpc-status", code.to_string())
            .header(
                "grpc-message",
                message.replace(|c: char| !c.is_ascii_graphic() && c != ' ', "?"),
            );
    }
    builder.body(()).ok()
}

/// What to answer a request: `None` to accept it.
fn check_request<B>(
    opts: &ServerOptions,
    req: &http::Request<B>,
) -> Option<Option<http::Response<()>>> {
    if opts.grpc {
        // As a gRPC server answers (grpc-go's codes and statuses).
        let path = opts.path.as_deref().unwrap_or(grpc::DEFAULT_METHOD);
        if !grpc::is_grpc_content_type(req.headers().get(http::header::CONTENT_TYPE)) {
            let message = "invalid gRPC request content-type".to_owned();
            return Some(refusal(415, Some((3, message))));
        }
        if req.method() != http::Method::POST {
            return Some(refusal(405, Some((13, format!("invalid method {}", req.method())))));
        }
        if req.uri().path() != path {
            let message = format!("unknown method {}", req.uri().path());
            return Some(refusal(200, Some((12, message))));
        }
        return None;
    }
    match &opts.path {
        None if req.method() != http::Method::CONNECT => Some(refusal(405, None)),
        Some(path) if req.uri().path() != path => Some(refusal(400, None)),
        _ => None,
    }
}

/// Pings through `ping` every `keepalive.interval` while `active` says so; returns when a ping
/// goes unanswered (or the connection is gone).
async fn ping_until_dead(mut ping: h2::PingPong, keepalive: Keepalive, active: impl Fn() -> bool) {
    loop {
        tokio::time::sleep(keepalive.interval).await;
        if !active() {
            continue;
        }
        let pong = tokio::time::timeout(keepalive.timeout, ping.ping(h2::Ping::opaque()));
        match pong.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::debug!("h2 keepalive: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("h2 keepalive: no answer to a ping in {:?}", keepalive.timeout);
                return;
            }
        }
    }
}

/// An HTTP/2 server's settings as this crate's servers use them: the windows above, at most
/// [`MAX_STREAMS`] streams, [`SEND_BUFFER`] queued per stream, [`MAX_HEADER_LIST`] of headers.
pub fn server_builder() -> h2::server::Builder {
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .max_send_buffer_size(SEND_BUFFER)
        .max_header_list_size(MAX_HEADER_LIST);
    builder
}

/// Serves the HTTP/2 connection `conn`: each acceptable request becomes a connection sent on
/// `out`; others are answered as gost answers them (405 / 400, or gRPC's statuses). Ends with
/// the connection (or when `out` is closed).
pub async fn serve(conn: BoxConn, opts: ServerOptions, out: mpsc::Sender<BoxConn>) -> Result<()> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let mut h2 = server_builder()
        .handshake(gost_x_rt::Compat::new(conn))
        .await
        .map_err(|e| Error::with_source(ErrorKind::Handshake, "h2 handshake", e))?;
    let ping = h2.ping_pong();
    let dead = async move {
        match (opts.keepalive, ping) {
            (Some(keepalive), Some(ping)) => ping_until_dead(ping, keepalive, || true).await,
            _ => std::future::pending().await,
        }
    };
    let mut dead = std::pin::pin!(dead);
    loop {
        let accepted = tokio::select! {
            accepted = h2.accept() => accepted,
            () = &mut dead => {
                tracing::debug!(?peer, "h2: the client stopped answering pings");
                h2.abrupt_shutdown(h2::Reason::NO_ERROR);
                break;
            }
        };
        let Some(accepted) = accepted else { break };
        let (req, mut respond) = match accepted {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(?peer, "h2: {e}");
                break;
            }
        };
        if let Some(refused) = check_request(&opts, &req) {
            if let Some(response) = refused {
                let _ = respond.send_response(response, true);
            }
            tracing::debug!(?peer, method = %req.method(), uri = %req.uri(), "h2: refused a request");
            continue;
        }
        let mut response = http::Response::builder().status(200);
        if opts.grpc {
            response = response.header("content-type", grpc::CONTENT_TYPE);
        }
        let Ok(response) = response.body(()) else { continue };
        let send = match respond.send_response(response, false) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(?peer, "h2: {e}");
                continue;
            }
        };
        let body = req.into_body();
        let conn: BoxConn = if opts.grpc {
            Box::new(grpc::GrpcConn::server(body, send, local, peer))
        } else {
            Box::new(H2Conn::new(body, send, local, peer))
        };
        if out.try_send(conn).is_err() {
            tracing::warn!(?peer, "h2: the accept queue is full; a stream was refused");
        }
    }
    // Let the streams already handed out finish.
    let _ = std::future::poll_fn(|cx| h2.poll_closed(cx)).await;
    Ok(())
}

/// A client HTTP/2 connection: streams to open.
#[derive(Clone)]
pub struct Client {
    send: h2::client::SendRequest<Bytes>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    /// Streams open on it.
    streams: Arc<AtomicUsize>,
}

/// How a client asks for a stream.
#[derive(Debug, Clone)]
pub struct Request {
    /// `:authority` (the node's host, or the `host` metadata).
    pub host: String,
    /// `http` (h2c) or `https` (h2).
    pub scheme: &'static str,
    /// With a path, a `GET` of it; else `CONNECT`.
    pub path: Option<String>,
    /// Extra header fields (`header` metadata).
    pub headers: Vec<(String, String)>,
    /// A gRPC tunnel call (`POST path`) instead of gost's HTTP/2 tunnel request.
    pub grpc: bool,
}

/// An error naming the first header field that HTTP/2 cannot carry.
pub fn check_headers(headers: &[(String, String)]) -> Result<()> {
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(Error::config(format!(
                "h2: header {name:?}: {value:?} is not a valid field"
            )));
        }
    }
    Ok(())
}

impl Client {
    /// Starts a client connection over `conn` (the connection is driven by a task of its own).
    pub async fn handshake(conn: BoxConn, keepalive: Option<Keepalive>) -> Result<Client> {
        let (local, peer) = (conn.local_addr(), conn.peer_addr());
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CLIENT_CONNECTION_WINDOW)
            .max_send_buffer_size(SEND_BUFFER)
            .max_header_list_size(MAX_HEADER_LIST)
            .handshake(gost_x_rt::Compat::new(conn))
            .await
            .map_err(|e| Error::with_source(ErrorKind::Handshake, "h2 handshake", e))?;
        let streams = Arc::new(AtomicUsize::new(0));
        let ping = connection.ping_pong();
        let open = Arc::clone(&streams);
        tokio::spawn(async move {
            let dead = async move {
                match (keepalive, ping) {
                    (Some(k), Some(ping)) => {
                        let active = || k.without_streams || open.load(Ordering::Relaxed) > 0;
                        ping_until_dead(ping, k, active).await;
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection => if let Err(e) = result {
                    tracing::debug!("h2 client connection: {e}");
                },
                () = dead => tracing::debug!("h2 client connection: the server stopped answering pings"),
            }
        });
        Ok(Client { send, local, peer, streams })
    }

    /// Whether the connection has not failed (it may still be at its stream limit).
    pub fn is_usable(&self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        !matches!(self.send.clone().poll_ready(&mut cx), Poll::Ready(Err(_)))
    }

    /// Whether another stream can open now: usable, and below the peer's stream limit.
    pub fn has_room(&self) -> bool {
        self.streams.load(Ordering::Relaxed) < self.send.current_max_send_streams()
            && self.is_usable()
    }

    /// Whether `other` is a handle of this same connection.
    pub fn same(&self, other: &Client) -> bool {
        Arc::ptr_eq(&self.streams, &other.streams)
    }

    /// A handle that may send a request now (waits while the connection is at its limit).
    async fn ready(&self) -> Result<h2::client::SendRequest<Bytes>> {
        self.send
            .clone()
            .ready()
            .await
            .map_err(|e| Error::with_source(ErrorKind::Dial, "h2 connection unusable", e))
    }

    /// Opens a stream: the request, then its `200`.
    pub async fn open(&self, req: &Request) -> Result<BoxConn> {
        // Counted from now, so that concurrent dials see it.
        let stream = StreamGuard::new(&self.streams);
        let mut send = self.ready().await?;
        if req.grpc {
            return self.call(send, req, stream);
        }
        let builder = match &req.path {
            Some(path) => http::Request::builder()
                .method(http::Method::GET)
                .uri(format!("{}://{}{}", req.scheme, req.host, path)),
            None => http::Request::builder().method(http::Method::CONNECT).uri(req.host.as_str()),
        };
        let builder =
            req.headers.iter().fold(builder, |b, (k, v)| b.header(k.as_str(), v.as_str()));
        let request = builder
            .body(())
            .map_err(|e| Error::config(format!("h2 request to {}: {e}", req.host)))?;
        let (response, body) = send
            .send_request(request, false)
            .map_err(|e| Error::with_source(ErrorKind::Dial, "h2 request", e))?;
        let response = response
            .await
            .map_err(|e| Error::with_source(ErrorKind::Handshake, "h2 response", e))?;
        if response.status() != http::StatusCode::OK {
            return Err(Error::new(
                ErrorKind::Handshake,
                format!("h2: the server answered {}", response.status()),
            ));
        }
        let mut conn = H2Conn::new(response.into_body(), body, self.local, self.peer);
        conn._stream = Some(stream);
        Ok(Box::new(conn))
    }

    /// A `POST` of `body` to `https://authority/path` (DNS over HTTPS): the response's status
    /// and body (at most `max` bytes).
    pub async fn post(
        &self,
        authority: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
        max: usize,
    ) -> Result<(u16, Vec<u8>)> {
        let mut send = self.ready().await?;
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("https://{authority}{path}"))
            .header("content-type", content_type)
            .header("accept", content_type)
            .header("content-length", body.len())
            .body(())
            .map_err(|e| Error::config(format!("POST https://{authority}{path}: {e}")))?;
        let (response, mut stream) = send
            .send_request(request, false)
            .map_err(|e| Error::with_source(ErrorKind::Dial, "h2 request", e))?;
        stream
            .send_data(Bytes::copy_from_slice(body), true)
            .map_err(|e| Error::with_source(ErrorKind::Io, "h2 request body", e))?;
        let response = response
            .await
            .map_err(|e| Error::with_source(ErrorKind::Handshake, "h2 response", e))?;
        let status = response.status().as_u16();
        let mut recv = response.into_body();
        let mut out = Vec::new();
        while let Some(chunk) = recv.data().await {
            let chunk =
                chunk.map_err(|e| Error::with_source(ErrorKind::Io, "h2 response body", e))?;
            let _ = recv.flow_control().release_capacity(chunk.len());
            out.extend_from_slice(&chunk);
            if out.len() > max {
                return Err(Error::protocol("h2: response body too long"));
            }
        }
        Ok((status, out))
    }

    /// Starts a gRPC tunnel call: usable at once (its response is read with the first read).
    fn call(
        &self,
        mut send: h2::client::SendRequest<Bytes>,
        req: &Request,
        stream: StreamGuard,
    ) -> Result<BoxConn> {
        let path = req.path.as_deref().unwrap_or(grpc::DEFAULT_METHOD);
        let builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{}://{}{}", req.scheme, req.host, path))
            .header("content-type", grpc::CONTENT_TYPE)
            .header("te", "trailers")
            .header("user-agent", concat!("gost-rs/", env!("CARGO_PKG_VERSION")));
        let builder =
            req.headers.iter().fold(builder, |b, (k, v)| b.header(k.as_str(), v.as_str()));
        let request = builder
            .body(())
            .map_err(|e| Error::config(format!("grpc call to {}: {e}", req.host)))?;
        let (response, body) = send
            .send_request(request, false)
            .map_err(|e| Error::with_source(ErrorKind::Dial, "grpc call", e))?;
        Ok(Box::new(grpc::GrpcConn::client(response, body, self.local, self.peer, stream)))
    }
}

/// An HTTP/2 connection to an `http2` proxy node, as the `http2` dialer hands it to the `http2`
/// connector: not a byte stream itself (reads and writes fail), but where the connector opens
/// its `CONNECT` stream.
pub struct ProxySession {
    client: Client,
}

impl ProxySession {
    /// A session over a client connection.
    pub fn new(client: Client) -> ProxySession {
        ProxySession { client }
    }

    /// `CONNECT target` (with `headers`, e.g. `Proxy-Authorization`): the tunnel once the
    /// proxy answers 200; its answer as the error otherwise.
    pub async fn connect(&self, target: &str, headers: Vec<(String, String)>) -> Result<BoxConn> {
        let req =
            Request { host: target.to_owned(), scheme: "https", path: None, headers, grpc: false };
        self.client.open(&req).await
    }
}

fn not_a_stream() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "an http2 dialer's connection carries only the http2 connector's requests",
    )
}

impl Read for ProxySession {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(not_a_stream()))
    }
}

impl Write for ProxySession {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(not_a_stream()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Conn for ProxySession {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.client.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.client.peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read, read_exact, shutdown, write_all};

    async fn pair(opts: ServerOptions) -> (Client, mpsc::Receiver<BoxConn>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let tx = tx.clone();
                let opts = opts.clone();
                tokio::spawn(serve(Box::new(gost_x_rt::TokioConn::tcp(s)), opts, tx));
            }
        });
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        (Client::handshake(Box::new(gost_x_rt::TokioConn::tcp(s)), None).await.unwrap(), rx)
    }

    #[tokio::test]
    async fn streams_both_ways_with_half_close_and_refusals() {
        let (client, mut accepted) = pair(ServerOptions::default()).await;
        let req = Request {
            host: "node.test:443".into(),
            scheme: "http",
            path: None,
            headers: vec![("x-gost".into(), "1".into())],
            grpc: false,
        };
        let mut a = client.open(&req).await.unwrap();
        let mut b = accepted.recv().await.unwrap();
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let up = big.clone();
        let writer = tokio::spawn(async move {
            write_all(&mut a, &up).await.unwrap();
            shutdown(&mut a).await.unwrap();
            a
        });
        let mut got = vec![0u8; big.len()];
        read_exact(&mut b, &mut got).await.unwrap();
        assert!(got == big);
        let mut one = [0u8; 1];
        assert_eq!(read(&mut b, &mut one).await.unwrap(), 0, "the half-close arrives");
        write_all(&mut b, b"back").await.unwrap();
        shutdown(&mut b).await.unwrap();
        let mut a = writer.await.unwrap();
        let mut back = [0u8; 4];
        read_exact(&mut a, &mut back).await.unwrap();
        assert_eq!(&back, b"back");
        assert!(check_headers(&[("bad name".into(), "v".into())]).is_err());
        assert!(check_headers(&[("x-ok".into(), "v".into())]).is_ok());
        // Headers past MAX_HEADER_LIST are refused, not buffered.
        let big = Request { headers: vec![("x-big".into(), "a".repeat(100_000))], ..req.clone() };
        assert!(client.open(&big).await.is_err(), "a 100 KB header list");
        // A GET where CONNECT is expected: 405.
        let get = Request { path: Some("/x".into()), ..req };
        let err = client.open(&get).await.unwrap_err();
        assert!(err.to_string().contains("405"), "{err}");
        // With a path: only that path.
        let (client, mut accepted) =
            pair(ServerOptions { path: Some("/tun".into()), ..Default::default() }).await;
        let ok = Request {
            host: "h".into(),
            scheme: "http",
            path: Some("/tun".into()),
            headers: vec![],
            grpc: false,
        };
        assert!(client.open(&ok).await.is_ok());
        assert!(accepted.recv().await.is_some());
        let bad = Request { path: Some("/other".into()), ..ok };
        assert!(client.open(&bad).await.unwrap_err().to_string().contains("400"));
    }

    #[tokio::test]
    async fn grpc_calls_carry_bytes_both_ways_and_unknown_methods_fail() {
        let opts = ServerOptions {
            path: Some(grpc::method_path(Some("svc"))),
            grpc: true,
            keepalive: Some(Keepalive {
                interval: std::time::Duration::from_millis(50),
                timeout: std::time::Duration::from_secs(5),
                without_streams: false,
            }),
        };
        let (client, mut accepted) = pair(opts).await;
        let req = Request {
            host: "node.test".into(),
            scheme: "http",
            path: Some("/svc/Tunnel".into()),
            headers: vec![],
            grpc: true,
        };
        // The client speaks first: the call is usable before the server answers.
        let mut a = client.open(&req).await.unwrap();
        write_all(&mut a, b"hello").await.unwrap();
        let mut b = accepted.recv().await.unwrap();
        let mut five = [0u8; 5];
        read_exact(&mut b, &mut five).await.unwrap();
        assert_eq!(&five, b"hello");
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let down = big.clone();
        let server = tokio::spawn(async move {
            write_all(&mut b, &down).await.unwrap();
            shutdown(&mut b).await.unwrap();
            // The client may still send after the server's half-close.
            let mut rest = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = read(&mut b, &mut chunk).await.unwrap();
                if n == 0 {
                    break rest;
                }
                rest.extend_from_slice(&chunk[..n]);
            }
        });
        let mut got = vec![0u8; big.len()];
        read_exact(&mut a, &mut got).await.unwrap();
        assert!(got == big);
        let mut one = [0u8; 1];
        assert_eq!(read(&mut a, &mut one).await.unwrap(), 0, "trailers end the response");
        write_all(&mut a, b"after").await.unwrap();
        shutdown(&mut a).await.unwrap();
        assert_eq!(server.await.unwrap(), b"after");
        // Another method: UNIMPLEMENTED, seen on the first read.
        let wrong = Request { path: Some("/GostTunel/Tunnel".into()), ..req.clone() };
        let mut c = client.open(&wrong).await.unwrap();
        let err = read(&mut c, &mut one).await.unwrap_err();
        assert!(err.to_string().contains("status 12"), "{err}");
        // A gost HTTP/2 tunnel request on a gRPC server: 415.
        let plain = Request { grpc: false, ..req };
        let err = client.open(&plain).await.unwrap_err();
        assert!(err.to_string().contains("415"), "{err}");
    }
}
