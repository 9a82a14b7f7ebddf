//! The server side: an HTTP/1.1 server whose push and pull requests feed sessions, each of
//! which the listener hands out as a connection.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use gost_core::io::{read_decoded, write_all};
use gost_core::{BoxConn, ErrorKind, Result};
use gost_proto::http::{MAX_HEAD, RequestHead, base64_decode, percent_decode};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::mpsc;

use crate::body::{Body, Framing, framing};
use crate::{
    DEFAULT_AUTHORIZE_PATH, DEFAULT_PULL_PATH, DEFAULT_PUSH_PATH, PIPE_BUFFER, encode_line,
    new_token,
};

/// How long a client may take to send a request head (Go's `ReadHeaderTimeout`).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a push may wait for the handler to take its data (gost's write deadline).
const PUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest push line taken (base64 text): gost's clients push one write per request (its
/// relay writes at most 32 KiB, ours 48 KiB); this is what one HTTP connection can make the
/// server hold, so it stays small.
const MAX_PUSH_LINE: usize = 256 * 1024;
/// Ended sessions remembered, so that a client's late pull or push is told it has ended
/// instead of opening a new session (Go 3.3.0 opens one).
const MAX_ENDED: usize = 4096;
/// The most a pull reads from the handler at a time (gost's read buffer).
const PULL_READ: usize = 32 * 1024;

/// The server's paths and limits.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub authorize_path: String,
    pub push_path: String,
    pub pull_path: String,
    /// A pull with nothing to send sends an empty line this often (gost: 10s).
    pub read_timeout: Duration,
    /// Sessions open at once; past it, requests for new ones get 429.
    pub max_sessions: usize,
    /// A session no request touches for this long (no pull waiting, no push) is closed.
    pub idle_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            authorize_path: DEFAULT_AUTHORIZE_PATH.to_owned(),
            push_path: DEFAULT_PUSH_PATH.to_owned(),
            pull_path: DEFAULT_PULL_PATH.to_owned(),
            read_timeout: Duration::from_secs(10),
            max_sessions: 16384,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// One tunnelled connection: the handler has the other end of the pipe.
struct Session {
    /// Pushed data goes here; `None` once the session is closed.
    to_handler: tokio::sync::Mutex<Option<WriteHalf<DuplexStream>>>,
    from_handler: tokio::sync::Mutex<ReadHalf<DuplexStream>>,
    touched: Mutex<Instant>,
    /// Pulls in progress.
    pulls: AtomicUsize,
    /// The handler's end of data has been sent to the client.
    drained: AtomicBool,
}

impl Session {
    fn touch(&self) {
        *self.touched.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.touched.lock().unwrap_or_else(|e| e.into_inner()).elapsed()
    }
}

#[derive(Default)]
struct Sessions {
    live: HashMap<String, Arc<Session>>,
    ended: HashSet<String>,
    ended_order: VecDeque<String>,
}

/// Why a request gets no session.
enum NoSession {
    /// It has ended (or never existed, for a server that requires authorization).
    Ended,
    /// Too many sessions, or the accept queue is full.
    Full,
}

/// A pht server: see the crate documentation.
pub struct Server {
    opts: ServerOptions,
    sessions: Mutex<Sessions>,
}

impl Server {
    /// A server; a task closes sessions that no client has touched for a while (it ends with
    /// the server).
    pub fn new(opts: ServerOptions) -> Arc<Server> {
        let idle = opts.idle_timeout.max(opts.read_timeout * 3);
        let server = Arc::new(Server { opts, sessions: Mutex::default() });
        let weak = Arc::downgrade(&server);
        tokio::spawn(reap(weak, idle));
        server
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session `token` names, opened (and handed to `queue`) if it is new.
    fn session(
        &self,
        token: &str,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
        queue: &mpsc::Sender<BoxConn>,
    ) -> std::result::Result<Arc<Session>, NoSession> {
        let mut all = self.lock();
        if let Some(s) = all.live.get(token) {
            s.touch();
            return Ok(Arc::clone(s));
        }
        if all.ended.contains(token) {
            return Err(NoSession::Ended);
        }
        if all.live.len() >= self.opts.max_sessions {
            return Err(NoSession::Full);
        }
        let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
        let conn: BoxConn = Box::new(gost_x_rt::TokioConn::with_addrs(theirs, local, peer));
        if queue.try_send(conn).is_err() {
            return Err(NoSession::Full);
        }
        let (from_handler, to_handler) = tokio::io::split(ours);
        let session = Arc::new(Session {
            to_handler: tokio::sync::Mutex::new(Some(to_handler)),
            from_handler: tokio::sync::Mutex::new(from_handler),
            touched: Mutex::new(Instant::now()),
            pulls: AtomicUsize::new(0),
            drained: AtomicBool::new(false),
        });
        all.live.insert(token.to_owned(), Arc::clone(&session));
        Ok(session)
    }

    /// Ends session `token`: the handler reads EOF, and its writes fail once no pull holds
    /// the session any more.
    fn close(&self, token: &str) {
        let mut all = self.lock();
        let Some(session) = all.live.remove(token) else { return };
        if all.ended.insert(token.to_owned()) {
            all.ended_order.push_back(token.to_owned());
        }
        while all.ended_order.len() > MAX_ENDED {
            if let Some(old) = all.ended_order.pop_front() {
                all.ended.remove(&old);
            }
        }
        drop(all);
        tokio::spawn(async move {
            if let Some(mut w) = session.to_handler.lock().await.take() {
                let _ = w.shutdown().await;
            }
        });
    }

    /// Serves one HTTP connection (keep-alive) until it ends; new sessions go to `queue`.
    pub async fn serve(self: Arc<Self>, mut conn: BoxConn, queue: mpsc::Sender<BoxConn>) {
        let (local, peer) = (conn.local_addr(), conn.peer_addr());
        let mut buf = Vec::new();
        loop {
            let head = read_decoded(&mut conn, &mut buf, MAX_HEAD, RequestHead::decode);
            let head = match gost_x_rt::timeout(HEAD_TIMEOUT, "pht request head", head).await {
                Ok(h) => h,
                Err(e) => {
                    if e.kind() == ErrorKind::Protocol {
                        let _ = respond(&mut conn, 400, "Bad Request", &[], false).await;
                    }
                    tracing::debug!(?peer, "pht: {e}");
                    return;
                }
            };
            let request = Request { head, local, peer };
            match self.handle(&mut conn, &mut buf, request, &queue).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::debug!(?peer, "pht: {e}");
                    return;
                }
            }
        }
    }

    /// Answers one request; whether the connection may carry another.
    async fn handle(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        req: Request,
        queue: &mpsc::Sender<BoxConn>,
    ) -> Result<bool> {
        let head = &req.head;
        let mut keep = head.version == 1
            && !head.header_str("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let framing = match framing(
            head.header_str("transfer-encoding"),
            head.header_str("content-length"),
            Framing::Length(0),
        ) {
            Ok(f) => f,
            Err(_) => {
                respond(conn, 400, "Bad Request", &[], false).await?;
                return Ok(false);
            }
        };
        let mut body = Body::new(framing);
        let (path, query) = head.target.split_once('?').unwrap_or((head.target.as_str(), ""));
        let token = query_value(query, "token").unwrap_or_default();
        let (status, reason, text): (u16, &str, Vec<u8>) = if path == self.opts.push_path {
            let push = if query_value(query, "eof").is_some_and(|v| v == "1") {
                self.half_close(&token, &head.method)
            } else {
                self.push(conn, buf, &mut body, &req, &token, queue).await?
            };
            let (status, reason) = push;
            (status, reason, Vec::new())
        } else if path == self.opts.pull_path {
            if head.method != "GET" {
                (400, "Bad Request", Vec::new())
            } else {
                // The body of a GET is unusual; it is read first to keep the connection usable.
                if !drain(&mut body, conn, buf).await? {
                    return Ok(false);
                }
                return self.pull(conn, &req, &token, keep, queue).await;
            }
        } else if path == self.opts.authorize_path {
            // gost 3.2.6's clients ask for a token first; 3.3.0's make their own.
            let token = new_token();
            match self.session(&token, req.local, req.peer, queue) {
                Ok(_) => (200, "OK", format!("token={token}").into_bytes()),
                Err(_) => (429, "Too Many Requests", Vec::new()),
            }
        } else {
            (404, "Not Found", b"404 page not found\n".to_vec())
        };
        if !drain(&mut body, conn, buf).await? {
            keep = false;
        }
        respond(conn, status, reason, &text, keep).await?;
        Ok(keep)
    }

    /// This project's extension (announced by `X-Gost-Half-Close` on pulls, so that only its
    /// own clients use it): `POST push?token=T&eof=1` ends the client's data but not the
    /// session, which still delivers the handler's.
    fn half_close(&self, token: &str, method: &str) -> (u16, &'static str) {
        if method != "POST" {
            return (400, "Bad Request");
        }
        let Some(session) = self.lock().live.get(token).cloned() else {
            return (410, "Gone");
        };
        session.touch();
        tokio::spawn(async move {
            if let Some(mut w) = session.to_handler.lock().await.take() {
                let _ = w.shutdown().await;
            }
        });
        (200, "OK")
    }

    /// A push: the first line of the body is base64 data for the session; an empty one ends it.
    async fn push(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        body: &mut Body,
        req: &Request,
        token: &str,
        queue: &mpsc::Sender<BoxConn>,
    ) -> Result<(u16, &'static str)> {
        if req.head.method != "POST" {
            return Ok((400, "Bad Request"));
        }
        if token.is_empty() {
            return Ok((400, "Bad Request"));
        }
        let mut line = Vec::new();
        loop {
            if let Some(end) = line.iter().position(|&b| b == b'\n') {
                line.truncate(end);
                break;
            }
            if line.len() > MAX_PUSH_LINE {
                self.close(token);
                return Ok((413, "Request Entity Too Large"));
            }
            let room = MAX_PUSH_LINE + 1 - line.len();
            if !body.read_some(conn, buf, &mut line, room.min(64 * 1024)).await? {
                break;
            }
        }
        if line.is_empty() {
            // The client is done (gost sends an empty push when it closes).
            self.close(token);
            return Ok((200, "OK"));
        }
        let session = match self.session(token, req.local, req.peer, queue) {
            Ok(s) => s,
            Err(NoSession::Ended) => return Ok((410, "Gone")),
            Err(NoSession::Full) => return Ok((429, "Too Many Requests")),
        };
        let Some(data) = base64_decode(&line) else {
            self.close(token);
            return Ok((400, "Bad Request"));
        };
        let delivered = async {
            let mut to_handler = session.to_handler.lock().await;
            match to_handler.as_mut() {
                Some(w) => w.write_all(&data).await.is_ok(),
                None => false,
            }
        };
        let delivered = tokio::time::timeout(PUSH_TIMEOUT, delivered).await.unwrap_or(false);
        session.touch();
        if !delivered {
            self.close(token);
            return Ok((410, "Gone"));
        }
        Ok((200, "OK"))
    }

    /// A pull: the session's data as base64 lines, an empty line every `read_timeout` while
    /// there is none, until the handler's end of data.
    async fn pull(
        &self,
        conn: &mut BoxConn,
        req: &Request,
        token: &str,
        keep: bool,
        queue: &mpsc::Sender<BoxConn>,
    ) -> Result<bool> {
        if token.is_empty() {
            respond(conn, 400, "Bad Request", &[], keep).await?;
            return Ok(keep);
        }
        let session = match self.session(token, req.local, req.peer, queue) {
            Ok(s) => s,
            Err(NoSession::Ended) => {
                // An empty body: a gost client takes it as the end of the connection.
                respond(conn, 200, "OK", &[], keep).await?;
                return Ok(keep);
            }
            Err(NoSession::Full) => {
                respond(conn, 429, "Too Many Requests", &[], keep).await?;
                return Ok(keep);
            }
        };
        if session.drained.load(Ordering::Acquire) {
            respond(conn, 200, "OK", &[], keep).await?;
            return Ok(keep);
        }
        session.pulls.fetch_add(1, Ordering::AcqRel);
        let _pulling = PullGuard(&session);
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Accel-Buffering: no\r\n\
              X-Gost-Half-Close: 1\r\n",
        );
        if !keep {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        write_all(conn, &out).await?;
        // 4 KiB at first, doubled while reads fill it (an idle session keeps little).
        let mut data = vec![0u8; 4096];
        let mut line = String::new();
        loop {
            let read = async { session.from_handler.lock().await.read(&mut data).await };
            match tokio::time::timeout(self.opts.read_timeout, read).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    session.drained.store(true, Ordering::Release);
                    break;
                }
                Ok(Ok(n)) => {
                    line.clear();
                    encode_line(&data[..n], &mut line);
                    if n == data.len() && data.len() < PULL_READ {
                        data.resize(data.len() * 2, 0);
                    }
                    out.clear();
                    out.extend_from_slice(format!("{:x}\r\n", line.len()).as_bytes());
                    out.extend_from_slice(line.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                Err(_) => {
                    out.clear();
                    out.extend_from_slice(b"1\r\n\n\r\n");
                }
            }
            session.touch();
            if let Err(e) = write_all(conn, &out).await {
                // The client is gone: so is its session (as gost's).
                self.close(token);
                return Err(e.into());
            }
        }
        write_all(conn, b"0\r\n\r\n").await?;
        Ok(keep)
    }
}

struct PullGuard<'a>(&'a Session);

impl Drop for PullGuard<'_> {
    fn drop(&mut self) {
        self.0.pulls.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

struct Request {
    head: RequestHead,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

/// Closes the sessions no client has touched for `idle`, until the server is gone.
async fn reap(server: Weak<Server>, idle: Duration) {
    let period = (idle / 4).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(period).await;
        let Some(server) = server.upgrade() else { return };
        let stale: Vec<String> = server
            .lock()
            .live
            .iter()
            .filter(|(_, s)| s.pulls.load(Ordering::Acquire) == 0 && s.idle_for() > idle)
            .map(|(t, _)| t.clone())
            .collect();
        for token in stale {
            tracing::debug!(token, "pht: a session no client touched for {idle:?} is closed");
            server.close(&token);
        }
    }
}

/// Reads and drops the rest of a request body (bounded); `false` when it is too long to wait
/// for (the connection then closes).
async fn drain(body: &mut Body, conn: &mut BoxConn, buf: &mut Vec<u8>) -> Result<bool> {
    let mut sink = Vec::new();
    let mut total = 0usize;
    while !body.is_done() {
        sink.clear();
        if !body.read_some(conn, buf, &mut sink, 64 * 1024).await? {
            break;
        }
        total += sink.len();
        if total > MAX_PUSH_LINE {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A response with a body of `text`.
async fn respond(
    conn: &mut BoxConn,
    status: u16,
    reason: &str,
    text: &[u8],
    keep: bool,
) -> Result<()> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n", text.len());
    if !text.is_empty() {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    if !keep {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(text);
    write_all(conn, &bytes).await?;
    Ok(())
}

/// The value of `name` in a query string, percent-decoded.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| {
            let v = v.replace('+', " ");
            String::from_utf8_lossy(&percent_decode(&v).unwrap_or_else(|| v.into_bytes()))
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(query_value("a=1&token=ab%2Fc", "token").as_deref(), Some("ab/c"));
        assert_eq!(query_value("token", "token").as_deref(), Some(""));
        assert_eq!(query_value("x=1", "token"), None);
    }
}
