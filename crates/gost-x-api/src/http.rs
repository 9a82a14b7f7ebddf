//! A small HTTP/1.1 server for the API and metrics endpoints: one request at a time per
//! connection, keep-alive, bodies framed by `Content-Length` or chunked, `Expect: 100-continue`,
//! bounded sizes and timeouts. It serves TCP and Unix listeners ([`serve`]) and single
//! connections of any stream ([`serve_connection`], for the `api`/`metrics` handlers).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gost_proto::http::RequestHead;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bounds: a request head, a body, and the wait for either.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on writing one response (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once by one listener; more are closed as they arrive, so a flood of
/// idle clients cannot take memory and descriptors without limit.
const MAX_CONNECTIONS: usize = 512;

/// One request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded.
    pub path: String,
    /// The query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The request target as sent (for the access log).
    pub target: String,
    /// The headers.
    pub head: RequestHead,
    /// The body.
    pub body: Vec<u8>,
    /// The client.
    pub client: SocketAddr,
}

impl Request {
    /// Whether the request's Basic credentials satisfy `auther` (always, without one).
    pub async fn authorized(&self, auther: Option<&gost_core::BoxAuther>) -> bool {
        use gost_core::Auther;
        let Some(auther) = auther else { return true };
        let (user, pass) = self
            .head
            .header_str("authorization")
            .and_then(gost_proto::http::basic_auth_decode)
            .unwrap_or_default();
        auther.authenticate(user, pass, Some(self.client)).await.is_some()
    }

    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with a body.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response { status, content_type, headers: Vec::new(), body: body.into() }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Response::new(status, "application/json; charset=utf-8", body)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "",
    }
}

/// What answers requests: a gate that sees each request's head, then the answer with the body.
pub trait Service: Send + Sync {
    /// Looks at a request before its body is read (`req.body` is empty). A response here is
    /// sent at once: the body is never read (no `100 Continue` either), and a connection with a
    /// body left unread is closed after it. Unknown routes and missing credentials end here, so
    /// an unauthenticated client cannot make the server buffer a body.
    fn gate(&self, req: &Request) -> impl Future<Output = Option<Response>> + Send;

    /// Answers a request that passed the gate, body included.
    fn answer(&self, req: Request) -> impl Future<Output = Response> + Send;
}

/// A byte stream the server can answer on.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where the API or metrics endpoint listens: a TCP port or a Unix socket (`unix:///path`).
#[derive(Debug)]
pub enum Listener {
    /// A TCP port.
    Tcp(tokio::net::TcpListener),
    /// A Unix socket, removed again when the listener is dropped.
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, std::path::PathBuf),
}

/// The client address a Unix socket connection is logged and authenticated with.
pub(crate) const UNIX_CLIENT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

impl Listener {
    /// The listening address, for the log: `host:port` or `unix:///path`.
    pub fn local(&self) -> String {
        match self {
            Listener::Tcp(l) => l.local_addr().map_or_else(|_| "?".into(), |a| a.to_string()),
            #[cfg(unix)]
            Listener::Unix(_, path) => format!("unix://{}", path.display()),
        }
    }

    async fn accept(&self) -> std::io::Result<(Box<dyn Stream>, SocketAddr)> {
        match self {
            Listener::Tcp(l) => {
                let (s, client) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((Box::new(s), client))
            }
            #[cfg(unix)]
            Listener::Unix(l, _) => Ok((Box::new(l.accept().await?.0), UNIX_CLIENT)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Serves `listener` with `handle` until `shutdown` completes.
pub async fn serve<H: Service + 'static>(
    listener: Listener,
    handle: H,
    shutdown: impl Future<Output = ()>,
) {
    serve_limited(listener, handle, shutdown, MAX_CONNECTIONS).await;
}

async fn serve_limited<H: Service + 'static>(
    listener: Listener,
    handle: H,
    shutdown: impl Future<Output = ()>,
    max_connections: usize,
) {
    let handle = Arc::new(handle);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::debug!(%client, "api: {max_connections} connections open, one more closed");
                        continue;
                    };
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        if let Err(e) = serve_connection(stream, client, &*handle).await {
                            tracing::debug!(%client, "api connection: {e}");
                        }
                        drop(slot);
                    });
                }
                Err(e) => {
                    tracing::warn!("api accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Answers the requests of one connection until the client closes it (or asks to).
pub async fn serve_connection<S, H>(
    mut stream: S,
    client: SocketAddr,
    handle: &H,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Service,
{
    let mut buf = Vec::with_capacity(4096);
    loop {
        // One deadline for the whole head: a client trickling bytes cannot hold the task.
        let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &mut buf)).await;
        let Ok(head) = head else { return Ok(()) };
        let Some((head, used)) = head? else { return Ok(()) };
        buf.drain(..used);
        let chunked = match head.header_str("transfer-encoding") {
            None => false,
            Some(te) if te.trim().eq_ignore_ascii_case("chunked") => true,
            Some(_) => {
                return respond_and_close(&mut stream, 501, "unsupported Transfer-Encoding").await;
            }
        };
        let content_length = head.header_str("content-length").map(str::trim);
        if chunked && content_length.is_some() {
            // Two framings: which one the client meant is ambiguous (RFC 9112 6.3).
            return respond_and_close(
                &mut stream,
                400,
                "both Transfer-Encoding and Content-Length",
            )
            .await;
        }
        let digits = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let len = match content_length.map(|v| v.parse::<usize>().ok().filter(|_| digits(v))) {
            None => 0,
            Some(Some(n)) if n <= MAX_BODY => n,
            Some(Some(_)) => {
                return respond_and_close(&mut stream, 413, "request body too large").await;
            }
            Some(None) => return respond_and_close(&mut stream, 400, "bad Content-Length").await,
        };
        let expect = head.header_str("expect").map(|e| e.trim().to_owned());
        if expect.as_deref().is_some_and(|e| !e.eq_ignore_ascii_case("100-continue")) {
            return respond_and_close(&mut stream, 417, "unsupported Expect").await;
        }
        let close =
            head.header_str("connection").is_some_and(|v| v.to_ascii_lowercase().contains("close"))
                || head.version == 0;
        let target = head.target.clone();
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
        // Go's server refuses a path with a bad escape.
        let Some(path) = gost_proto::http::percent_decode(raw_path) else {
            return respond_and_close(&mut stream, 400, "bad request: invalid escape in path")
                .await;
        };
        let version = head.version;
        let mut req = Request {
            method: head.method.clone(),
            path: String::from_utf8_lossy(&path).into_owned(),
            query: parse_query(raw_query),
            target: target.clone(),
            head,
            body: Vec::new(),
            client,
        };
        let head_only = req.method == "HEAD";
        if let Some(resp) = handle.gate(&req).await {
            // The body is not read: unless all of it is here already, the connection cannot
            // carry another request.
            let unread = chunked || len > buf.len();
            if !unread {
                buf.drain(..len);
            }
            write_response(&mut stream, &resp, close || unread, head_only).await?;
            if unread {
                linger(&mut stream).await;
            }
            if close || unread {
                return Ok(());
            }
            continue;
        }
        // curl and Go clients wait for this before sending a larger body (HTTP/1.0 clients do
        // not know the interim answer).
        if expect.is_some() && (chunked || len > 0) && buf.is_empty() && version >= 1 {
            write_timed(&mut stream, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let body = if chunked {
            match tokio::time::timeout(READ_TIMEOUT, read_chunked(&mut stream, &mut buf)).await {
                Err(_) => return Ok(()),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return respond_and_close(&mut stream, 400, &e.to_string()).await;
                }
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::OutOfMemory => {
                    return respond_and_close(&mut stream, 413, "request body too large").await;
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(body))) => body,
            }
        } else {
            // One deadline for the whole body, as for the head: no trickling.
            match tokio::time::timeout(READ_TIMEOUT, fill(&mut stream, &mut buf, len)).await {
                Ok(Ok(true)) => buf.drain(..len).collect(),
                Ok(Ok(false)) | Err(_) => return Ok(()),
                Ok(Err(e)) => return Err(e),
            }
        };
        req.body = body;
        let resp = handle.answer(req).await;
        write_response(&mut stream, &resp, close, head_only).await?;
        if close {
            return Ok(());
        }
    }
}

/// After an answer sent with the request's body unread: half-close, then read and drop a
/// bounded amount for a short while, so that closing with unread data (which sends a reset)
/// does not destroy the answer before a client still sending its body has read it.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    const LINGER_BYTES: usize = 256 * 1024;
    const LINGER_FOR: Duration = Duration::from_secs(1);
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 8192];
    let mut left = LINGER_BYTES;
    let drain = async {
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_FOR, drain).await;
}

/// Reads until `buf` holds at least `len` bytes; false if the client closed first.
async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    len: usize,
) -> std::io::Result<bool> {
    while buf.len() < len {
        let mut chunk = vec![0u8; (len - buf.len()).clamp(4096, 64 * 1024)];
        let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "body timeout"))??;
        if n == 0 {
            return Ok(false);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(true)
}

/// Reads a whole line (without its CRLF) from the front of `buf`; `None` if the client closed.
async fn line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let text = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 2);
            return Ok(Some(text));
        }
        if buf.len() > 4096 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "chunk line too long",
            ));
        }
        let have = buf.len();
        if !fill(stream, buf, have + 1).await? {
            return Ok(None);
        }
    }
}

/// A chunked body (RFC 9112 7.1), trailers skipped; `None` if the client closed first. A bad
/// chunk line is `InvalidData`, a body over the limit `OutOfMemory`.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut body = Vec::new();
    loop {
        let Some(size_line) = line(stream, buf).await? else { return Ok(None) };
        let size =
            gost_proto::http::chunk_size(size_line.as_bytes()).map_err(|e| bad(&e.to_string()))?;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                match line(stream, buf).await? {
                    None => return Ok(None),
                    Some(l) if l.is_empty() => return Ok(Some(body)),
                    Some(_) => {}
                }
            }
        }
        // `size` is the client's number: compare without adding, which could overflow.
        if size > MAX_BODY - body.len() {
            return Err(std::io::Error::new(std::io::ErrorKind::OutOfMemory, "body too large"));
        }
        if !fill(stream, buf, size + 2).await? {
            return Ok(None);
        }
        if &buf[size..size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

/// Reads until a whole request head is in `buf`; `None` at a clean end of the connection.
async fn read_head<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<(RequestHead, usize)>> {
    let mut chunk = [0u8; 4096];
    loop {
        match RequestHead::decode(buf) {
            Ok(Some(done)) => return Ok(Some(done)),
            Ok(None) if buf.len() > MAX_HEAD => {
                respond_and_close(stream, 431, "request head too large").await?;
                return Ok(None);
            }
            Ok(None) => {}
            Err(e) => {
                respond_and_close(stream, 400, &format!("bad request: {e}")).await?;
                return Ok(None);
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond_and_close<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    msg: &str,
) -> std::io::Result<()> {
    let body = serde_json::json!({ "code": status, "msg": msg });
    write_response(stream, &Response::json(status, &body), true, false).await
}

/// Writes `resp`; for a HEAD request (`head_only`) the headers say what a GET would get and no
/// body follows.
async fn write_response<S: AsyncWrite + Unpin>(
    stream: &mut S,
    resp: &Response,
    close: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    if !resp.content_type.is_empty() {
        out.extend_from_slice(format!("Content-Type: {}\r\n", resp.content_type).as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    for (k, v) in &resp.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&resp.body);
    }
    write_timed(stream, &out).await
}

async fn write_timed<S: AsyncWrite + Unpin>(stream: &mut S, out: &[u8]) -> std::io::Result<()> {
    let write = async {
        stream.write_all(out).await?;
        stream.flush().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timeout"))?
}

/// The query's pairs, `+` as a space; a pair with a bad escape is left out (as gin's query
/// lookups do).
fn parse_query(q: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = gost_proto::http::percent_decode(&s.replace('+', " "))?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closure as a service with an open gate; a gate that refuses paths under `/locked`.
    struct Answer<H>(H);
    impl<H, F> Service for Answer<H>
    where
        H: Fn(Request) -> F + Send + Sync,
        F: Future<Output = Response> + Send,
    {
        async fn gate(&self, req: &Request) -> Option<Response> {
            req.path.starts_with("/locked").then(|| Response::new(401, "text/plain", "no"))
        }
        fn answer(&self, req: Request) -> impl Future<Output = Response> + Send {
            (self.0)(req)
        }
    }

    /// Runs `input` through one connection of a server that echoes each request's method, body
    /// length and body; returns everything the server wrote.
    async fn exchange(input: &[u8]) -> String {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let echo = Answer(|req: Request| async move {
            let text =
                format!("{} {} {}", req.method, req.body.len(), String::from_utf8_lossy(&req.body));
            Response::new(200, "text/plain", text)
        });
        let served = tokio::spawn(async move {
            let client = SocketAddr::from(([127, 0, 0, 1], 1));
            serve_connection(server, client, &echo).await
        });
        client.write_all(input).await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        served.await.unwrap().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn connections_over_the_limit_are_closed() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let ok = Answer(|_req: Request| async { Response::new(200, "text/plain", "ok") });
        tokio::spawn(serve_limited(Listener::Tcp(tcp), ok, std::future::pending(), 2));
        let ask = |mut s: tokio::net::TcpStream| async move {
            s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").await.unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            out
        };
        // Two idle connections take both slots (accepted in order); a third is closed unanswered.
        let first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let second = tokio::net::TcpStream::connect(addr).await.unwrap();
        let third = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(ask(third).await, "");
        // An answered connection gives its slot back (just after the client sees the end).
        assert!(ask(first).await.ends_with("ok"));
        let mut answered = false;
        for _ in 0..100 {
            let next = tokio::net::TcpStream::connect(addr).await.unwrap();
            if ask(next).await.ends_with("ok") {
                answered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(answered, "the slot was not given back");
        drop(second);
    }

    #[tokio::test]
    async fn bodies_by_length_and_chunked_keep_alive() {
        let out = exchange(
            b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
              POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
              4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n\
              GET /c HTTP/1.1\r\n\r\n",
        )
        .await;
        assert!(out.contains("POST 3 abc"), "{out}");
        assert!(out.contains("POST 9 wikipedia"), "{out}");
        assert!(out.ends_with("GET 0 "), "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    }

    #[tokio::test]
    async fn expect_continue_is_answered_before_the_body() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let echo = Answer(|req: Request| async move { Response::new(200, "text/plain", req.body) });
        tokio::spawn(async move {
            serve_connection(server, SocketAddr::from(([127, 0, 0, 1], 1)), &echo).await
        });
        client
            .write_all(b"PUT /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            .await
            .unwrap();
        // The interim answer comes without the body having been sent.
        let mut interim = [0u8; 25];
        client.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        client.write_all(b"data").await.unwrap();
        client.shutdown().await.unwrap();
        let mut rest = String::new();
        client.read_to_string(&mut rest).await.unwrap();
        assert!(rest.starts_with("HTTP/1.1 200 OK") && rest.ends_with("data"), "{rest}");
    }

    #[tokio::test]
    async fn a_gated_request_is_answered_without_its_body_being_read() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let echo = Answer(|req: Request| async move { Response::new(200, "text/plain", req.body) });
        let served = tokio::spawn(async move {
            serve_connection(server, SocketAddr::from(([127, 0, 0, 1], 1)), &echo).await
        });
        // 8 MiB announced, nothing sent: the answer comes at once, no 100, and the connection
        // closes (the body was never read).
        client
            .write_all(
                b"PUT /locked HTTP/1.1\r\nContent-Length: 8388608\r\nExpect: 100-continue\r\n\r\n",
            )
            .await
            .unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), client.read_to_string(&mut out))
            .await
            .unwrap()
            .unwrap();
        assert!(out.starts_with("HTTP/1.1 401 ") && out.ends_with("no"), "{out}");
        assert!(!out.contains("100 Continue"), "{out}");
        served.await.unwrap().unwrap();
        // A gated request without a body keeps the connection.
        let out = exchange(b"GET /locked HTTP/1.1\r\n\r\nGET /open HTTP/1.1\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 401 ") && out.ends_with("GET 0 "), "{out}");
    }

    #[tokio::test]
    async fn bad_framing_gets_an_error_and_a_close() {
        let out = exchange(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 501 "), "{out}");
        let out = exchange(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").await;
        assert!(out.starts_with("HTTP/1.1 400 ") && out.contains("Connection: close"), "{out}");
        let out =
            exchange(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY").await;
        assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        let huge =
            format!("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n", MAX_BODY + 1);
        let out = exchange(huge.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        let out = exchange(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\nb",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        let both = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert!(exchange(both).await.starts_with("HTTP/1.1 400 "));
        let plus = exchange(b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc").await;
        assert!(plus.starts_with("HTTP/1.1 400 "), "{plus}");
        let out = exchange(b"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 417 "), "{out}");
        // A client that goes away mid-body is no error and gets nothing.
        assert_eq!(exchange(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").await, "");
    }

    #[tokio::test]
    async fn query_and_path_decoding() {
        let out = exchange(b"GET /a%20b?x=%41 HTTP/1.1\r\nConnection: close\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        let out = exchange(b"GET /a%zz HTTP/1.1\r\n\r\n").await;
        assert!(out.starts_with("HTTP/1.1 400 ") && out.contains("invalid escape"), "{out}");
        assert_eq!(
            parse_query("format=yaml&path=%2Ftmp%2Fx+y&flag&bad=%zz"),
            [
                ("format".into(), "yaml".into()),
                ("path".into(), "/tmp/x y".into()),
                ("flag".into(), String::new())
            ]
        );
    }
}
