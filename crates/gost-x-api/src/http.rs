//! A small HTTP/1.1 server for the API and metrics endpoints: one request at a time per
//! connection, keep-alive, bodies framed by `Content-Length`, bounded sizes and timeouts.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gost_proto::http::RequestHead;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bounds: a request head, a body, and the wait for either.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 8 * 1024 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on writing one response (a client that does not read).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

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
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

/// Serves `listener` with `handle` until `shutdown` completes.
pub async fn serve<H, F>(listener: TcpListener, handle: H, shutdown: impl Future<Output = ()>)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let handle = Arc::new(handle);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        if let Err(e) = connection(stream, client, &*handle).await {
                            tracing::debug!(%client, "api connection: {e}");
                        }
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

async fn connection<H, F>(
    mut stream: TcpStream,
    client: SocketAddr,
    handle: &H,
) -> std::io::Result<()>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    loop {
        // One deadline for the whole head: a client trickling bytes cannot hold the task.
        let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &mut buf)).await;
        let Ok(head) = head else { return Ok(()) };
        let Some((head, used)) = head? else { return Ok(()) };
        buf.drain(..used);
        if head.header_str("transfer-encoding").is_some() {
            return respond_and_close(&mut stream, 411, "a request body needs Content-Length")
                .await;
        }
        let len = match head.header_str("content-length").map(|v| v.trim().parse::<usize>()) {
            None => 0,
            Some(Ok(n)) if n <= MAX_BODY => n,
            Some(Ok(_)) => {
                return respond_and_close(&mut stream, 413, "request body too large").await;
            }
            Some(Err(_)) => return respond_and_close(&mut stream, 400, "bad Content-Length").await,
        };
        while buf.len() < len {
            let mut chunk = vec![0u8; (len - buf.len()).min(64 * 1024)];
            let n = tokio::time::timeout(READ_TIMEOUT, stream.read(&mut chunk))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "body timeout"))??;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        let close =
            head.header_str("connection").is_some_and(|v| v.to_ascii_lowercase().contains("close"))
                || head.version == 0;
        let target = head.target.clone();
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
        let req = Request {
            method: head.method.clone(),
            path: percent_decode(raw_path),
            query: parse_query(raw_query),
            target: target.clone(),
            head,
            body,
            client,
        };
        let head_only = req.method == "HEAD";
        let resp = handle(req).await;
        write_response(&mut stream, &resp, close, head_only).await?;
        if close {
            return Ok(());
        }
    }
}

/// Reads until a whole request head is in `buf`; `None` at a clean end of the connection.
async fn read_head(
    stream: &mut TcpStream,
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

async fn respond_and_close(stream: &mut TcpStream, status: u16, msg: &str) -> std::io::Result<()> {
    let body = serde_json::json!({ "code": status, "msg": msg });
    write_response(stream, &Response::json(status, &body), true, false).await
}

/// Writes `resp`; for a HEAD request (`head_only`) the headers say what a GET would get and no
/// body follows.
async fn write_response(
    stream: &mut TcpStream,
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
    let write = async {
        stream.write_all(&out).await?;
        stream.flush().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write timeout"))?
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// `%XX` sequences decoded; a bad sequence is kept as is.
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(hex) = b.get(i + 1..i + 3)
            && let Ok(text) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(text, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_percent_decoding() {
        assert_eq!(percent_decode("/a%20b%zz%4"), "/a b%zz%4");
        assert_eq!(
            parse_query("format=yaml&path=%2Ftmp%2Fx+y&flag"),
            [
                ("format".into(), "yaml".into()),
                ("path".into(), "/tmp/x y".into()),
                ("flag".into(), String::new())
            ]
        );
    }
}
