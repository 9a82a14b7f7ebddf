//! `file`: serves a directory over HTTP/1.1, as gost's file handler (Go's `http.FileServer`):
//! `GET`/`HEAD` of files (`Content-Type`, `Last-Modified`, `If-Modified-Since`, single byte
//! ranges), a directory's `index.html` or its listing, the same redirects (`dir` → `dir/`,
//! `/index.html` → `./`), and with `put` uploads by `PUT` (201). Basic auth with the service's
//! auther (401 otherwise).
//!
//! Nothing outside the directory is reachable: `..` in a path cannot climb above it (`GET` cleans
//! it away as Go does, `PUT` refuses it), and a symbolic link that resolves outside it is not
//! followed (404; `PUT` 403). An upload goes to a temporary file renamed into place once
//! complete, and is bounded by `putMaxSize` (413 past it).
//!
//! Metadata: `dir` / `file.dir` (the current directory), `put` / `file.put` (false),
//! `putMaxSize` / `file.putMaxSize` (1 GiB; bytes), `readTimeout` (15s: a request head),
//! `keepaliveTimeout` (60s: waiting for the next request).

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use gost_core::io::{read_decoded, write_all};
use gost_core::{
    BoxAuther, BoxConn, BoxHandler, Error, ErrorKind, Handler, HandlerOptions, Metadata, Result,
    Session,
};
use gost_proto::http::{RequestHead, http_date, parse_http_date, percent_decode};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::util;

/// The registry name.
pub const NAME: &str = "file";

const MAX_HEAD: usize = 64 * 1024;
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(60);
const DEFAULT_PUT_MAX: u64 = 1 << 30;
/// Bytes per read of a served file or an upload.
const CHUNK: usize = 64 * 1024;

struct FileHandler {
    /// The served directory, canonical.
    root: PathBuf,
    put: bool,
    put_max: u64,
    auther: Option<BoxAuther>,
    read_timeout: Duration,
    keepalive: Duration,
}

/// Builds the handler; the directory must exist.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let dir = md.get_string(&["file.dir", "dir"])?.filter(|d| !d.is_empty());
    let dir = PathBuf::from(dir.unwrap_or_else(|| ".".into()));
    let meta = std::fs::metadata(&dir).map_err(|e| {
        Error::with_source(ErrorKind::Config, format!("file handler: directory {dir:?}"), e)
    })?;
    if !meta.is_dir() {
        return Err(Error::config(format!("file handler: {dir:?} is not a directory")));
    }
    let root = std::fs::canonicalize(&dir).map_err(|e| {
        Error::with_source(ErrorKind::Config, format!("file handler: directory {dir:?}"), e)
    })?;
    let put_max = md.get_int(&["file.putMaxSize", "putMaxSize"])?.map_or(DEFAULT_PUT_MAX, |n| {
        u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(DEFAULT_PUT_MAX)
    });
    Ok(BoxHandler::new(FileHandler {
        root,
        put: md.get_bool(&["file.put", "put"])?.unwrap_or(false),
        put_max,
        auther: opts.auther,
        read_timeout: util::read_timeout(md)?,
        keepalive: md.get_duration(&["keepaliveTimeout"])?.unwrap_or(DEFAULT_KEEPALIVE),
    }))
}

/// One response's head.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    /// Close the connection after it.
    close: bool,
}

impl Reply {
    fn new(status: u16) -> Self {
        Reply { status, headers: Vec::new(), close: false }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn encode(&self, content_length: u64) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        let now =
            std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        out.push_str(&format!("Date: {}\r\nContent-Length: {content_length}\r\n", http_date(now)));
        if self.close {
            out.push_str("Connection: close\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        416 => "Range Not Satisfiable",
        _ => "Internal Server Error",
    }
}

/// Writes a response with a small body (a `HEAD` gets the head only).
async fn send(conn: &mut BoxConn, reply: Reply, body: &[u8], head_only: bool) -> Result<()> {
    let mut out = reply.encode(body.len() as u64);
    if !head_only {
        out.extend_from_slice(body);
    }
    write_all(conn, &out).await?;
    Ok(())
}

/// Go's plain-text error answers (`404 page not found`).
async fn error(conn: &mut BoxConn, status: u16, text: &str, head_only: bool) -> Result<()> {
    let reply = Reply::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff");
    send(conn, reply, format!("{text}\n").as_bytes(), head_only).await
}

/// The URL path, percent-decoded, as its segments with `.` and `..` resolved without ever
/// leaving the root (Go's `path.Clean("/" + p)`), and whether it ended with `/`; `None` for a
/// path that is not one (no leading `/`, bad escapes, NUL).
fn clean_path(target: &str) -> Option<(Vec<String>, bool, bool)> {
    let path = target.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let decoded = String::from_utf8(percent_decode(path)?).ok()?;
    if decoded.contains('\0') {
        return None;
    }
    let mut segs: Vec<String> = Vec::new();
    let mut climbed = false;
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                climbed = true;
                segs.pop();
            }
            s => segs.push(s.to_owned()),
        }
    }
    Some((segs, decoded.ends_with('/'), climbed))
}

/// The query part of a request target (with its `?`), kept on redirects.
fn query_of(target: &str) -> &str {
    target.find('?').map_or("", |i| &target[i..])
}

/// Whether `path` (which exists) resolves inside `root`.
async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    real.starts_with(root).then_some(real)
}

impl Handler for FileHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let mut first = true;
        loop {
            let wait = if first { self.read_timeout } else { self.keepalive };
            let head = read_decoded(&mut conn, &mut buf, MAX_HEAD, RequestHead::decode);
            let head = match tokio::time::timeout(wait, head).await {
                Ok(Ok(head)) => head,
                // A client that is done (or idle) ends the connection normally.
                Ok(Err(e)) if e.kind() == ErrorKind::Closed && buf.is_empty() => return Ok(()),
                Err(_) if !first && buf.is_empty() => return Ok(()),
                Ok(Err(e)) => {
                    let _ = error(&mut conn, 400, "400 Bad Request", false).await;
                    return Err(e.wrap(ErrorKind::Protocol, "file: request head"));
                }
                Err(_) => return Err(Error::new(ErrorKind::Timeout, "file: request head")),
            };
            first = false;
            tracing::debug!(sid = session.id, method = %head.method, target = %head.target, "file: request");
            let keep = self.serve(&mut conn, &mut buf, &head, &session).await?;
            if !keep {
                return Ok(());
            }
        }
    }
}

/// How a request's body is framed.
enum Body {
    None,
    Length(u64),
    Chunked,
}

fn body_of(head: &RequestHead) -> std::result::Result<Body, &'static str> {
    if let Some(te) = head.header_str("Transfer-Encoding") {
        return if te.trim().eq_ignore_ascii_case("chunked") {
            Ok(Body::Chunked)
        } else {
            Err("unsupported Transfer-Encoding")
        };
    }
    match head.header_str("Content-Length").map(|v| v.trim().parse::<u64>()) {
        None => Ok(Body::None),
        Some(Ok(0)) => Ok(Body::None),
        Some(Ok(n)) => Ok(Body::Length(n)),
        Some(Err(_)) => Err("bad Content-Length"),
    }
}

fn wants_close(head: &RequestHead) -> bool {
    let conn = head.header_str("Connection").unwrap_or("").to_ascii_lowercase();
    if head.version == 0 { !conn.contains("keep-alive") } else { conn.contains("close") }
}

impl FileHandler {
    /// Serves one request; `Ok(false)` when the connection must end after it.
    async fn serve(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        head: &RequestHead,
        session: &Session,
    ) -> Result<bool> {
        let head_only = head.method == "HEAD";
        let body = match body_of(head) {
            Ok(b) => b,
            Err(why) => {
                error(conn, 400, &format!("400 Bad Request: {why}"), head_only).await?;
                return Ok(false);
            }
        };
        // A body we do not read (not a PUT) would be taken for the next request: close after.
        let mut keep = !wants_close(head) && (head.method == "PUT" || matches!(body, Body::None));
        if self.auther.is_some() {
            let creds =
                head.header_str("Authorization").and_then(gost_proto::http::basic_auth_decode);
            let (user, pass) = creds.unwrap_or_default();
            if !util::authenticate(self.auther.as_ref(), &user, &pass, session.client_addr).await {
                let reply = Reply::new(401).header("WWW-Authenticate", "Basic");
                let reply = Reply { close: !keep, ..reply };
                send(conn, reply, b"", head_only).await?;
                return Ok(keep && matches!(body, Body::None));
            }
        }
        let Some((segs, trailing, climbed)) = clean_path(&head.target) else {
            error(conn, 400, "400 Bad Request", head_only).await?;
            return Ok(false);
        };
        match head.method.as_str() {
            "GET" | "HEAD" => {
                self.get(conn, head, &segs, trailing, head_only).await?;
            }
            "PUT" if self.put => {
                if climbed {
                    error(conn, 400, "invalid path", false).await?;
                    return Ok(false);
                }
                keep &= self.upload(conn, buf, head, &segs, trailing, body).await?;
            }
            "PUT" => {
                let reply = Reply::new(405)
                    .header("Allow", "GET, HEAD")
                    .header("Content-Type", "text/plain; charset=utf-8");
                send(conn, Reply { close: true, ..reply }, b"Method Not Allowed\n", false).await?;
                return Ok(false);
            }
            _ => {
                let allow = if self.put { "GET, HEAD, PUT" } else { "GET, HEAD" };
                let reply = Reply::new(405)
                    .header("Allow", allow)
                    .header("Content-Type", "text/plain; charset=utf-8");
                let reply = Reply { close: !keep, ..reply };
                send(conn, reply, b"Method Not Allowed\n", head_only).await?;
            }
        }
        Ok(keep)
    }

    async fn get(
        &self,
        conn: &mut BoxConn,
        head: &RequestHead,
        segs: &[String],
        trailing: bool,
        head_only: bool,
    ) -> Result<()> {
        let query = query_of(&head.target);
        let last = segs.last().map(String::as_str).unwrap_or("");
        // Go: `/index.html` is shown as its directory.
        if last == "index.html" {
            let reply = Reply::new(301).header("Location", format!("./{query}"));
            return send(conn, reply, b"", head_only).await;
        }
        let path = segs.iter().fold(self.root.clone(), |p, s| p.join(s));
        let not_found = "404 page not found";
        let Some(real) = inside(&self.root, &path).await else {
            return error(conn, 404, not_found, head_only).await;
        };
        let Ok(meta) = tokio::fs::metadata(&real).await else {
            return error(conn, 404, not_found, head_only).await;
        };
        if meta.is_dir() {
            if !segs.is_empty() && !trailing {
                let reply = Reply::new(301).header("Location", format!("{}/{query}", href(last)));
                return send(conn, reply, b"", head_only).await;
            }
            let index = real.join("index.html");
            if let Some(index) = inside(&self.root, &index).await
                && let Ok(meta) = tokio::fs::metadata(&index).await
                && meta.is_file()
            {
                return self.send_file(conn, head, &index, &meta, head_only).await;
            }
            return self.list(conn, &real, head_only).await;
        }
        if trailing {
            let reply = Reply::new(301).header("Location", format!("../{}{query}", href(last)));
            return send(conn, reply, b"", head_only).await;
        }
        self.send_file(conn, head, &real, &meta, head_only).await
    }

    /// A directory listing as Go writes it.
    async fn list(&self, conn: &mut BoxConn, dir: &Path, head_only: bool) -> Result<()> {
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(e) => e,
            Err(_) => return error(conn, 500, "Error reading directory", head_only).await,
        };
        let mut names = Vec::new();
        while let Ok(Some(e)) = entries.next_entry().await {
            let mut name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().await.is_ok_and(|t| t.is_dir()) {
                name.push('/');
            }
            names.push(name);
        }
        names.sort();
        let mut html = String::from(
            "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
        );
        for n in &names {
            html.push_str(&format!("<a href=\"{}\">{}</a>\n", href(n), escape_html(n)));
        }
        html.push_str("</pre>\n");
        let reply = Reply::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Last-Modified", modified(&tokio::fs::metadata(dir).await.ok()));
        send(conn, reply, html.as_bytes(), head_only).await
    }

    async fn send_file(
        &self,
        conn: &mut BoxConn,
        head: &RequestHead,
        path: &Path,
        meta: &std::fs::Metadata,
        head_only: bool,
    ) -> Result<()> {
        let size = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs());
        if let (Some(m), Some(since)) =
            (mtime, head.header_str("If-Modified-Since").and_then(parse_http_date))
            && m <= since
        {
            let reply = Reply::new(304).header("Last-Modified", modified(&Some(meta.clone())));
            return send(conn, reply, b"", true).await;
        }
        let Ok(mut file) = tokio::fs::File::open(path).await else {
            return error(conn, 404, "404 page not found", head_only).await;
        };
        let mut sniff = vec![0u8; 512.min(size as usize)];
        let n = file.read(&mut sniff).await.unwrap_or(0);
        sniff.truncate(n);
        let mut reply = Reply::new(200)
            .header("Accept-Ranges", "bytes")
            .header("Content-Type", content_type(path, &sniff))
            .header("Last-Modified", modified(&Some(meta.clone())));
        let (mut start, mut len) = (0, size);
        match head.header_str("Range").map(|r| parse_range(r, size)) {
            None | Some(Range::Ignore) => {}
            Some(Range::Unsatisfiable) => {
                let reply = Reply::new(416).header("Content-Range", format!("bytes */{size}"));
                return send(conn, reply, b"", head_only).await;
            }
            Some(Range::Bytes(a, b)) => {
                (start, len) = (a, b - a + 1);
                reply.status = 206;
                reply = reply.header("Content-Range", format!("bytes {a}-{b}/{size}"));
            }
        }
        write_all(conn, &reply.encode(len)).await?;
        if head_only || len == 0 {
            return Ok(());
        }
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let mut chunk = vec![0u8; CHUNK.min(len as usize)];
        let mut left = len;
        while left > 0 {
            let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = file.read(&mut chunk[..want]).await?;
            if n == 0 {
                // The file shrank while being sent: the length promised cannot be kept.
                return Err(Error::new(ErrorKind::Closed, "file: the file shrank while sent"));
            }
            write_all(conn, &chunk[..n]).await?;
            left -= n as u64;
        }
        Ok(())
    }

    /// A `PUT`: the body into a temporary file renamed into place. `Ok(false)` when the
    /// connection must close (the body was not read to its end).
    async fn upload(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        head: &RequestHead,
        segs: &[String],
        trailing: bool,
        body: Body,
    ) -> Result<bool> {
        let Some((name, parents)) = segs.split_last().filter(|_| !trailing) else {
            error(conn, 400, "invalid path", false).await?;
            return Ok(false);
        };
        if let Body::Length(n) = body
            && n > self.put_max
        {
            let reply = Reply { close: true, ..Reply::new(413) }
                .header("Content-Type", "text/plain; charset=utf-8");
            send(conn, reply, b"request body too large\n", false).await?;
            if head.header_str("Expect").is_none() {
                linger(conn).await;
            }
            return Ok(false);
        }
        let parent = parents.iter().fold(self.root.clone(), |p, s| p.join(s));
        // Before creating anything: the deepest directory that exists must be inside (a link
        // in the tree to elsewhere must not get directories made under its target).
        let mut existing = parent.as_path();
        while tokio::fs::symlink_metadata(existing).await.is_err() {
            match existing.parent() {
                Some(up) => existing = up,
                None => break,
            }
        }
        if inside(&self.root, existing).await.is_none() {
            error(conn, 403, "forbidden", false).await?;
            return Ok(false);
        }
        if let Err(e) = tokio::fs::create_dir_all(&parent).await {
            let status = if e.kind() == std::io::ErrorKind::NotADirectory { 409 } else { 403 };
            error(conn, status, "cannot create the directory", false).await?;
            return Ok(false);
        }
        let Some(parent) = inside(&self.root, &parent).await else {
            error(conn, 403, "forbidden", false).await?;
            return Ok(false);
        };
        let dest = parent.join(name);
        match tokio::fs::symlink_metadata(&dest).await {
            Ok(m) if m.is_dir() => {
                error(conn, 409, "a directory has that name", false).await?;
                return Ok(false);
            }
            // A link is replaced only if it points inside (the rename replaces the link itself).
            Ok(m) if m.file_type().is_symlink() && inside(&self.root, &dest).await.is_none() => {
                error(conn, 403, "forbidden", false).await?;
                return Ok(false);
            }
            _ => {}
        }
        if head.header_str("Expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
            write_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        let tmp = parent.join(format!(".{name}.upload-{:016x}", rand_u64()));
        let res = self.receive(conn, buf, &tmp, body).await;
        let res = match res {
            Ok(()) => tokio::fs::rename(&tmp, &dest).await.map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            let _ = tokio::fs::remove_file(&tmp).await;
            if e.kind() == ErrorKind::Denied {
                let reply = Reply { close: true, ..Reply::new(413) }
                    .header("Content-Type", "text/plain; charset=utf-8");
                send(conn, reply, b"request body too large\n", false).await?;
                linger(conn).await;
            } else {
                let _ = error(conn, 500, "upload failed", false).await;
            }
            return Err(e.wrap(ErrorKind::Protocol, format!("file: PUT {}", head.target)));
        }
        let reply = Reply::new(201);
        write_all(conn, &reply.encode(0)).await?;
        Ok(true)
    }

    /// Reads the body into `tmp`, within `put_max` (a `Denied` error past it).
    async fn receive(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        tmp: &Path,
        body: Body,
    ) -> Result<()> {
        let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(tmp).await?;
        let too_big = || Error::new(ErrorKind::Denied, "upload larger than putMaxSize");
        let mut written: u64 = 0;
        let mut chunked = gost_proto::http::ChunkedDecoder::default();
        let mut left = match body {
            Body::None => 0,
            Body::Length(n) => n,
            Body::Chunked => u64::MAX,
        };
        let mut chunk = vec![0u8; CHUNK];
        while left > 0 {
            // Bytes read past the head first, then the connection.
            if buf.is_empty() {
                // A client that stalls mid-upload does not hold its temporary file forever.
                let read = gost_core::io::read(conn, &mut chunk);
                let n = tokio::time::timeout(self.read_timeout, read).await.map_err(|_| {
                    Error::new(ErrorKind::Timeout, "file: upload stalled (readTimeout)")
                })??;
                if n == 0 {
                    return Err(Error::new(ErrorKind::Closed, "connection closed mid-body"));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            if matches!(body, Body::Chunked) {
                let mut at = 0;
                while at < buf.len() && !chunked.is_done() {
                    match chunked.step(&buf[at..])? {
                        gost_proto::Step::Framing(0) => break,
                        gost_proto::Step::Framing(k) => at += k,
                        gost_proto::Step::Data(k) => {
                            written += k as u64;
                            if written > self.put_max {
                                return Err(too_big());
                            }
                            file.write_all(&buf[at..at + k]).await?;
                            at += k;
                        }
                    }
                }
                buf.drain(..at);
                if chunked.is_done() {
                    left = 0;
                }
            } else {
                let k = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                written += k as u64;
                if written > self.put_max {
                    return Err(too_big());
                }
                file.write_all(&buf[..k]).await?;
                buf.drain(..k);
                left -= k as u64;
            }
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(())
    }
}

/// After answering a client still sending a body: stop writing, and read (discarding) what
/// it sends for a moment, so that closing does not reset the connection under the answer
/// before the client has read it.
async fn linger(conn: &mut BoxConn) {
    let _ = gost_core::io::shutdown(conn).await;
    let drain = async {
        let mut sink = vec![0u8; 16 * 1024];
        while gost_core::io::read(conn, &mut sink).await.is_ok_and(|n| n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    gost_x_rt::fill_random(&mut b);
    u64::from_le_bytes(b)
}

fn modified(meta: &Option<std::fs::Metadata>) -> String {
    let secs = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    http_date(secs)
}

enum Range {
    /// Not a single byte range (several, or another unit): the whole file, as if none.
    Ignore,
    Unsatisfiable,
    /// First and last byte, inclusive.
    Bytes(u64, u64),
}

fn parse_range(spec: &str, size: u64) -> Range {
    let Some(spec) = spec.trim().strip_prefix("bytes=") else { return Range::Ignore };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.split_once('-') else { return Range::Ignore };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
        (Ok(a), Err(_)) if b.is_empty() => (a, size.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => {
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (Err(_), Ok(0)) if a.is_empty() => return Range::Unsatisfiable,
        _ => return Range::Ignore,
    };
    if range.0 >= size { Range::Unsatisfiable } else { Range::Bytes(range.0, range.1) }
}

/// The type by extension, else text or binary by the first bytes.
fn content_type(path: &Path, first: &[u8]) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        _ if std::str::from_utf8(first).is_ok() && !first.contains(&0) => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A name as a relative link (percent-escaped; `./` first when a `:` could read as a scheme).
fn href(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=@:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if name.contains(':') { format!("./{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_never_climb_above_the_root() {
        let c =
            |t: &str| clean_path(t).map(|(s, trailing, climbed)| (s.join("/"), trailing, climbed));
        assert_eq!(c("/a/b.txt"), Some(("a/b.txt".into(), false, false)));
        assert_eq!(c("/../../etc/passwd"), Some(("etc/passwd".into(), false, true)));
        assert_eq!(c("/a/%2e%2e/%2E%2E/b"), Some(("b".into(), false, true)));
        assert_eq!(c("/a/..%2f..%2fetc"), Some(("etc".into(), false, true)));
        assert_eq!(c("/dir/?x=1"), Some(("dir".into(), true, false)));
        assert_eq!(c("/"), Some(("".into(), true, false)));
        assert!(c("relative").is_none());
        assert!(c("/a%00b").is_none());
        assert!(c("/%zz").is_none());
    }

    #[test]
    fn ranges() {
        assert!(matches!(parse_range("bytes=0-9", 100), Range::Bytes(0, 9)));
        assert!(matches!(parse_range("bytes=90-", 100), Range::Bytes(90, 99)));
        assert!(matches!(parse_range("bytes=-10", 100), Range::Bytes(90, 99)));
        assert!(matches!(parse_range("bytes=50-500", 100), Range::Bytes(50, 99)));
        assert!(matches!(parse_range("bytes=100-", 100), Range::Unsatisfiable));
        assert!(matches!(parse_range("bytes=0-1,5-6", 100), Range::Ignore));
        assert!(matches!(parse_range("items=0-1", 100), Range::Ignore));
    }

    #[test]
    fn listing_links_are_escaped() {
        assert_eq!(href("a b.txt"), "a%20b.txt");
        assert_eq!(href("c:d"), "./c:d");
        assert_eq!(escape_html("<x>&\"'"), "&lt;x&gt;&amp;&#34;&#39;");
    }
}
