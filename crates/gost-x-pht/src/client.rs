//! The client side: a connection as a pull request that streams the server's data and a push
//! request per write, run by a task behind an in-memory pipe.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gost_core::io::{Conn, Read, Write, read_decoded, write_all};
use gost_core::{BoxConn, Error, ErrorKind, Result};
use gost_proto::http::{MAX_HEAD, ResponseHead, base64_decode};
use gost_x_rt::TokioConn;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::oneshot;

use crate::body::{Body, Framing, framing};
use crate::{
    DEFAULT_AUTHORIZE_PATH, DEFAULT_PULL_PATH, DEFAULT_PUSH_PATH, PIPE_BUFFER, encode_line,
    new_token,
};

/// Opens a new transport connection to the server (TCP, and TLS for `phts`).
pub type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<BoxConn>> + Send>> + Send + Sync>;

/// The most data one push carries (its line is a third longer).
const MAX_PUSH: usize = 48 * 1024;
/// The longest pull line taken (gost servers send base64 of at most 32 KiB per line).
const MAX_PULL_LINE: usize = 256 * 1024;
/// Bound on the closing push.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The client's paths and request fields.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The `Host` header (`host:port`).
    pub host: String,
    pub authorize_path: String,
    pub push_path: String,
    pub pull_path: String,
    /// Extra header fields on every request (`header` metadata).
    pub headers: Vec<(String, String)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            host: String::new(),
            authorize_path: DEFAULT_AUTHORIZE_PATH.to_owned(),
            push_path: DEFAULT_PUSH_PATH.to_owned(),
            pull_path: DEFAULT_PULL_PATH.to_owned(),
            headers: Vec::new(),
        }
    }
}

/// One HTTP/1.1 connection, kept alive between requests.
struct Http {
    connect: Connect,
    opts: Arc<ClientOptions>,
    conn: Option<(BoxConn, Vec<u8>)>,
}

/// A response whose body is still to be read from `conn`.
struct Response {
    head: ResponseHead,
    body: Body,
    keep: bool,
}

impl Http {
    fn new(connect: Connect, opts: Arc<ClientOptions>) -> Http {
        Http { connect, opts, conn: None }
    }

    /// Sends a request and reads the response head. A kept connection that turns out closed
    /// before any answer is replaced once (as Go's client does).
    async fn request(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response> {
        let mut out = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.opts.host);
        out.push_str("User-Agent: gost\r\n");
        if method == "POST" {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (k, v) in &self.opts.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        for attempt in 0..2 {
            let reused = self.conn.is_some();
            let (mut conn, mut buf) = match self.conn.take() {
                Some(c) => c,
                None => ((self.connect)().await?, Vec::new()),
            };
            let sent = write_all(&mut conn, &bytes).await;
            let head = match sent {
                Ok(()) => read_decoded(&mut conn, &mut buf, MAX_HEAD, ResponseHead::decode).await,
                Err(e) => Err(Error::with_source(ErrorKind::Io, "pht request", e)),
            };
            match head {
                Ok(head) => {
                    let keep = head.version == 1
                        && !head
                            .header_str("connection")
                            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    let framing = framing(
                        head.header_str("transfer-encoding"),
                        head.header_str("content-length"),
                        Framing::UntilClose,
                    )?;
                    let keep = keep && framing != Framing::UntilClose;
                    self.conn = Some((conn, buf));
                    return Ok(Response { head, body: Body::new(framing), keep });
                }
                Err(e) if reused && attempt == 0 && buf.is_empty() => {
                    tracing::debug!("pht: a kept connection failed ({e}); retrying on a new one");
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Closed, "pht: the server closed the connection"))
    }

    /// Reads (and drops) the rest of a response body; keeps the connection if it may be.
    async fn finish(&mut self, mut resp: Response) -> Result<()> {
        let Some((conn, buf)) = self.conn.as_mut() else { return Ok(()) };
        let mut sink = Vec::new();
        while resp.body.read_some(conn, buf, &mut sink, 64 * 1024).await? {
            sink.clear();
        }
        if !resp.keep {
            self.conn = None;
        }
        Ok(())
    }
}

/// A client connection: reads and writes go through a pipe to the task doing the requests;
/// dropping it ends the session on the server.
struct PhtConn {
    pipe: TokioConn<DuplexStream>,
    /// The pull failed: the end of the pipe is an error, not the end of data.
    failed: Arc<AtomicBool>,
    /// Dropped with the connection: tells the task.
    _dropped: oneshot::Sender<()>,
}

impl Read for PhtConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.pipe).poll_read(cx, buf))?;
        if n == 0 && !buf.is_empty() && self.failed.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "pht: the pull ended early",
            )));
        }
        Poll::Ready(Ok(n))
    }
}

impl Write for PhtConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.pipe).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.pipe).poll_flush(cx)
    }

    /// Ends the pushes. Only a server of this project hears of it (see `Session::half_close`);
    /// gost's pht has no half-close (an empty push ends the whole session).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.pipe).poll_shutdown(cx)
    }
}

impl Conn for PhtConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.pipe.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.pipe.peer_addr()
    }
}

/// Opens a pht connection: its first pull is answered before this returns (a gost 3.2.6
/// server, which wants a token from its authorize path first, is asked for one).
pub async fn dial(
    connect: Connect,
    opts: ClientOptions,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
) -> Result<BoxConn> {
    let opts = Arc::new(opts);
    let mut pull = Http::new(Arc::clone(&connect), Arc::clone(&opts));
    let mut token = new_token();
    let mut first = pull.request("GET", &target(&opts.pull_path, &token), &[]).await?;
    if first.head.status == 403 {
        pull.finish(first).await?;
        let resp = pull.request("GET", &opts.authorize_path, &[]).await?;
        token = read_token(&mut pull, resp).await?;
        first = pull.request("GET", &target(&opts.pull_path, &token), &[]).await?;
    }
    if first.head.status != 200 {
        return Err(Error::new(
            ErrorKind::Handshake,
            format!("pht: the server answered {} {}", first.head.status, first.head.reason),
        ));
    }
    let (app, ours) = tokio::io::duplex(PIPE_BUFFER);
    let (dropped_tx, dropped_rx) = oneshot::channel();
    let failed = Arc::new(AtomicBool::new(false));
    let half_close = first.head.header_str("x-gost-half-close") == Some("1");
    let session = Session { connect, opts, token, half_close };
    tokio::spawn(session.run(pull, first, ours, dropped_rx, Arc::clone(&failed)));
    let pipe = TokioConn::with_addrs(app, local, peer);
    Ok(Box::new(PhtConn { pipe, failed, _dropped: dropped_tx }))
}

fn target(path: &str, token: &str) -> String {
    format!("{path}?token={token}")
}

/// A 3.2.6 server's `token=...` answer.
async fn read_token(http: &mut Http, mut resp: Response) -> Result<String> {
    let mut text = Vec::new();
    if let Some((conn, buf)) = http.conn.as_mut() {
        while text.len() < 1024 && resp.body.read_some(conn, buf, &mut text, 1024).await? {}
    }
    let status = resp.head.status;
    http.finish(resp).await?;
    let text = String::from_utf8_lossy(&text);
    match text.trim().strip_prefix("token=") {
        Some(t) if status == 200 && !t.is_empty() => Ok(t.to_owned()),
        _ => Err(Error::new(ErrorKind::Handshake, format!("pht: authorization failed ({status})"))),
    }
}

struct Session {
    connect: Connect,
    opts: Arc<ClientOptions>,
    token: String,
    /// The server takes `eof=1` pushes (this project's): the application's half-close
    /// reaches the other end. Otherwise it has no way there (an empty push ends the session).
    half_close: bool,
}

impl Session {
    /// Runs the pull and the pushes until both directions are done or the connection is dropped,
    /// then ends the session on the server.
    async fn run(
        self,
        pull: Http,
        first: Response,
        pipe: DuplexStream,
        mut dropped: oneshot::Receiver<()>,
        failed: Arc<AtomicBool>,
    ) {
        let (from_app, to_app) = tokio::io::split(pipe);
        let pulling = self.pull(pull, first, to_app, &failed);
        let pushing = self.push(from_app);
        let mut pulling = std::pin::pin!(pulling);
        let mut pushing = std::pin::pin!(pushing);
        let (mut pulled, mut pushed, mut gone) = (false, false, false);
        // A dropped connection still has its last writes in the pipe: they are pushed first.
        while !(pushed && (pulled || gone)) {
            tokio::select! {
                r = &mut pulling, if !pulled && !gone => {
                    pulled = true;
                    if let Err(e) = r {
                        tracing::debug!(token = self.token, "pht pull: {e}");
                    }
                }
                r = &mut pushing, if !pushed => {
                    pushed = true;
                    if let Err(e) = r {
                        tracing::debug!(token = self.token, "pht push: {e}");
                        break;
                    }
                }
                _ = &mut dropped, if !gone => gone = true,
            }
        }
        let mut http = Http::new(Arc::clone(&self.connect), Arc::clone(&self.opts));
        let close = async {
            let resp =
                http.request("POST", &target(&self.opts.push_path, &self.token), &[]).await?;
            http.finish(resp).await
        };
        if let Err(e) = gost_x_rt::timeout(CLOSE_TIMEOUT, "pht close", close).await {
            tracing::debug!(token = self.token, "pht close: {e}");
        }
    }

    /// Streams the pull response into the pipe. Its end is the end of the server's data (a
    /// gost server ends a pull only then), and a pull cut short is an error for the reader:
    /// pulling again could lose what was in flight, and gost 3.3.0's server would take the
    /// new pull for a new session.
    async fn pull(
        &self,
        mut http: Http,
        mut resp: Response,
        mut to_app: tokio::io::WriteHalf<DuplexStream>,
        failed: &AtomicBool,
    ) -> Result<()> {
        let mut chunk = Vec::new();
        let mut line = Vec::new();
        let copied = async {
            while let Some((conn, buf)) = http.conn.as_mut() {
                chunk.clear();
                if !resp.body.read_some(conn, buf, &mut chunk, 64 * 1024).await? {
                    break;
                }
                let mut rest = chunk.as_slice();
                while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                    line.extend_from_slice(&rest[..end]);
                    rest = &rest[end + 1..];
                    if line.is_empty() {
                        continue;
                    }
                    let data = base64_decode(&line).ok_or_else(|| {
                        Error::new(ErrorKind::Protocol, "pht: a pull line is not base64")
                    })?;
                    line.clear();
                    to_app.write_all(&data).await.map_err(|e| {
                        Error::with_source(ErrorKind::Closed, "pht: the connection is gone", e)
                    })?;
                }
                line.extend_from_slice(rest);
                if line.len() > MAX_PULL_LINE {
                    return Err(Error::new(ErrorKind::Protocol, "pht: a pull line is too long"));
                }
            }
            Ok(())
        };
        let result = copied.await;
        if result.is_err() {
            failed.store(true, Ordering::Release);
        }
        let _ = to_app.shutdown().await;
        result
    }

    /// Pushes what the application writes, a request per read of the pipe (so small writes
    /// made while a push is on its way go together in the next one).
    async fn push(&self, mut from_app: tokio::io::ReadHalf<DuplexStream>) -> Result<()> {
        let mut http = Http::new(Arc::clone(&self.connect), Arc::clone(&self.opts));
        // 4 KiB at first, doubled while reads fill it (an idle session keeps little).
        let mut data = vec![0u8; 4096];
        let mut line = String::new();
        let target = target(&self.opts.push_path, &self.token);
        loop {
            let n = from_app.read(&mut data).await.unwrap_or(0);
            if n == 0 {
                if self.half_close {
                    let resp = http.request("POST", &format!("{target}&eof=1"), &[]).await?;
                    http.finish(resp).await?;
                }
                return Ok(());
            }
            line.clear();
            encode_line(&data[..n], &mut line);
            if n == data.len() && data.len() < MAX_PUSH {
                data.resize((data.len() * 2).min(MAX_PUSH), 0);
            }
            let resp = http.request("POST", &target, line.as_bytes()).await?;
            let status = resp.head.status;
            http.finish(resp).await?;
            if status != 200 {
                return Err(Error::new(
                    ErrorKind::Closed,
                    format!("pht: the server refused a push ({status})"),
                ));
            }
        }
    }
}
