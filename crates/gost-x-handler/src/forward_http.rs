//! The forwarder's HTTP mode (`sniffing` saw an HTTP request), as gost's: each request selects
//! its node with what it carries (host, method, path, query, headers, the body bytes that came
//! with the head), the node's `http` settings apply (Basic `auth`, `host`, `requestHeader`,
//! `rewriteURL`; `responseHeader` on the answer), and an answer whose status is one of the
//! node's `failCodes` marks it failed. Without `http.keepalive` the client is told to close after
//! one response (gost's default); with it, the connection serves further requests, reaching a
//! node again when the host changes. A protocol upgrade (WebSocket) becomes a plain relay.

use std::sync::Arc;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, Auther, BoxConn, Cache, Error, ErrorKind, Hop, HttpNodeSettings, Marker, Network,
    Node, Result, SelectRequest, Session,
};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};

use crate::http_body::{Body, copy_body, header_has_token, request_body, response_body};
use crate::sniff::Sniffed;
use crate::util;

/// The most of a request body shown to body rules (what arrived with the head).
const MAX_BODY_PREFIX: usize = 64 * 1024;

/// The connection to the node serving the current host.
struct Upstream {
    conn: BoxConn,
    buf: Vec<u8>,
    node: Arc<Node>,
    host: String,
}

impl super::ForwardHandler {
    /// Serves HTTP requests on `conn` (its first bytes replayed) until the client or the node
    /// is done.
    pub(super) async fn serve_http(&self, mut conn: BoxConn, session: &Session) -> Result<()> {
        let mut buf = Vec::new();
        let mut upstream: Option<Upstream> = None;
        let mut first = true;
        loop {
            let wait = if first { self.read_timeout } else { self.keepalive_timeout };
            let read = read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, RequestHead::decode);
            let head = match tokio::time::timeout(wait, read).await {
                Ok(Ok(h)) => h,
                Ok(Err(e)) if !first && buf.is_empty() && e.kind() == ErrorKind::Closed => {
                    return Ok(());
                }
                Err(_) if !first && buf.is_empty() => return Ok(()),
                Ok(Err(e)) => {
                    let _ = respond(&mut conn, 400, &[]).await;
                    return Err(e.wrap(ErrorKind::Protocol, "forward: HTTP request head"));
                }
                Err(_) => return Err(Error::new(ErrorKind::Timeout, "forward: HTTP request head")),
            };
            first = false;
            let sniffed = Sniffed::Http(Box::new(head));
            let Some(host) = sniffed.plain_target() else {
                respond(&mut conn, 400, &[]).await?;
                return Err(Error::protocol("forward: HTTP request without a host"));
            };
            if util::bypassed(self.bypass.as_ref(), Network::Tcp, &host).await {
                respond(&mut conn, 403, &[]).await?;
                return Err(Error::new(ErrorKind::Denied, format!("forward: {host} is bypassed")));
            }
            let mut req =
                SelectRequest::for_network(Network::Tcp).with_client_addr(session.client_addr);
            sniffed.describe(&mut req, &[]);
            let Sniffed::Http(mut head) = sniffed else {
                return Err(Error::protocol("forward: not an HTTP request"));
            };
            // Body rules read a prefix of the body first (the most any node's rule wants).
            let want = self.hop.body_size();
            req.body = if want > 0 {
                Arc::from(self.body_prefix(&mut conn, &mut buf, &mut head, want).await?)
            } else {
                Arc::from(&buf[..buf.len().min(MAX_BODY_PREFIX)])
            };
            // gost 3.3's HTTP cache: a fresh entry answers without a node; a stale one is kept
            // for when the node fails (`cache.serveStale`).
            let cache_key = self.cache.as_ref().and_then(|c| c.key(&head, &host));
            let mut stale = None;
            if let (Some(cache), Some(key)) = (&self.cache, &cache_key)
                && let Some(entry) = cache.store.get(key).await
            {
                if !entry.is_stale() {
                    tracing::debug!(sid = session.id, %key, "forward: cache hit");
                    write_all(&mut conn, &entry.data).await?;
                    // Kept only if the stored answer has a length, does not close, and the
                    // request left nothing unread.
                    let delimited =
                        ResponseHead::decode(&entry.data).ok().flatten().is_some_and(|(r, _)| {
                            !header_has_token(r.header_str("Connection"), "close")
                                && (r.header_str("Content-Length").is_some()
                                    || r.header_str("Transfer-Encoding").is_some())
                        });
                    let no_body = matches!(request_body(&head), Ok(Body::None | Body::Length(0)));
                    if self.http_keepalive && client_wants_keep_alive(&head) && delimited && no_body
                    {
                        continue;
                    }
                    return Ok(());
                }
                stale = cache.serve_stale.then_some(entry.data);
            }
            let host_key = host.to_string();
            if upstream.as_ref().is_none_or(|u| u.host != host_key) {
                // The previous host's connection closes before the next is made.
                drop(upstream.take());
                let Some(node) = self.hop.select(req).await else {
                    respond(&mut conn, 502, &[]).await?;
                    return Err(Error::new(
                        ErrorKind::NoRoute,
                        format!("forward: no node for {host}"),
                    ));
                };
                match super::reach(&self.router, &node).await {
                    Ok(c) => {
                        node.marker.reset();
                        tracing::debug!(sid = session.id, %host, node = %node.name, "forward: http node");
                        upstream =
                            Some(Upstream { conn: c, buf: Vec::new(), node, host: host_key });
                    }
                    Err(err) => {
                        node.marker.mark();
                        if let Some(stale) = stale {
                            tracing::debug!(sid = session.id, "forward: node down, serving stale");
                            write_all(&mut conn, &stale).await?;
                            return Ok(());
                        }
                        let _ = respond(&mut conn, 503, &[]).await;
                        let kind = err.kind();
                        return Err(
                            err.wrap(kind, format!("forward to {} ({})", node.name, node.addr))
                        );
                    }
                }
            }
            let Some(up) = upstream.as_mut() else { return Ok(()) };
            let exchange = Exchange { head: *head, host, cache_key, stale };
            match self.round_trip(&mut conn, &mut buf, exchange, up, session).await? {
                Next::Continue => {}
                Next::Close => return Ok(()),
                Next::Upgrade => {
                    let Some(up) = upstream.take() else { return Ok(()) };
                    let mut client = rewind(conn, buf);
                    let mut origin = rewind(up.conn, up.buf);
                    gost_x_rt::relay_idle(&mut client, &mut origin, self.idle).await?;
                    return Ok(());
                }
            }
        }
    }

    /// The first `want` bytes of the request's body (decoded if chunked), read into `buf` (they
    /// stay there, to be forwarded); an `Expect: 100-continue` is answered first.
    async fn body_prefix(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        head: &mut RequestHead,
        want: usize,
    ) -> Result<Vec<u8>> {
        let framing = request_body(head)?;
        if matches!(framing, Body::None | Body::Length(0)) {
            return Ok(Vec::new());
        }
        if head.header_str("Expect").is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
        {
            head.remove_header("Expect");
            write_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        // Framing may make a chunked body's wire bytes larger than its data: bounded too.
        let raw_cap = want.saturating_mul(2).saturating_add(64 * 1024);
        let fill = async {
            let mut chunk = vec![0u8; 16 * 1024];
            let mut chunked = ChunkedPrefix::default();
            loop {
                match framing {
                    Body::Length(n) => {
                        let target = usize::try_from(n).unwrap_or(usize::MAX).min(want);
                        if let Some(p) = buf.get(..target) {
                            return Ok::<_, Error>(p.to_vec());
                        }
                    }
                    _ => {
                        if chunked.feed(buf, want)? {
                            return Ok(chunked.out);
                        }
                    }
                }
                if buf.len() >= raw_cap {
                    return Ok(chunked.out);
                }
                let n = gost_core::io::read(conn, &mut chunk).await?;
                if n == 0 {
                    return Err(Error::new(ErrorKind::Closed, "forward: body ended early"));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        };
        match tokio::time::timeout(self.read_timeout, fill).await {
            Ok(res) => res,
            Err(_) => Err(Error::new(ErrorKind::Timeout, "forward: request body for the rules")),
        }
    }

    /// How long a body may go without a byte (`idleTimeout`, else `readTimeout`): a client that
    /// promises a body and stalls, or a node that stalls mid-answer, does not hold the
    /// connection forever.
    fn body_idle(&self) -> std::time::Duration {
        self.idle.unwrap_or(self.read_timeout)
    }

    /// One request to the node and its response back.
    async fn round_trip(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        exchange: Exchange,
        up: &mut Upstream,
        session: &Session,
    ) -> Result<Next> {
        let Exchange { mut head, host, cache_key, stale } = exchange;
        let host = &host;
        let settings = up.node.http.clone().unwrap_or_default();
        if let Some(auther) = &settings.auth {
            let (user, pass) = head
                .header_str("Authorization")
                .and_then(wire::basic_auth_decode)
                .unwrap_or_default();
            if auther.authenticate(user.clone(), pass, session.client_addr).await.is_none() {
                respond(conn, 401, &[("WWW-Authenticate", "Basic")]).await?;
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!("forward: node {} refused user {user:?}", up.node.name),
                ));
            }
        }
        let req_body = match request_body(&head) {
            Ok(b) => b,
            Err(e) => {
                respond(conn, 400, &[]).await?;
                return Err(e);
            }
        };
        let client_keep = client_wants_keep_alive(&head);
        if req_body == Body::Chunked {
            // The node must frame it as we do.
            head.remove_header("Content-Length");
        }
        // Never keep what a client's credentials opened.
        let cache_key = cache_key.filter(|_| head.header_str("Authorization").is_none());
        let upgrade = header_has_token(head.header_str("Connection"), "upgrade");
        rewrite_request(&mut head, &settings, host);
        // Answer `Expect: 100-continue` here: the body is then copied straight on.
        let expects = !matches!(req_body, Body::None | Body::Length(0))
            && head
                .header_str("Expect")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
        if expects {
            head.remove_header("Expect");
            write_all(conn, b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        }
        if head.version == 0 {
            if header_has_token(head.header_str("Connection"), "keep-alive") {
                head.remove_header("Connection");
            } else {
                head.set_header("Connection", b"close");
            }
        }
        let method = head.method.clone();
        let version = head.version;
        let mut out = Vec::with_capacity(512);
        head.encode(&mut out);
        write_all(&mut up.conn, &out).await?;
        copy_body(conn, buf, &mut up.conn, req_body, Some(self.body_idle())).await?;
        let wait = self.read_timeout;
        let resp = loop {
            let read =
                read_decoded(&mut up.conn, &mut up.buf, wire::MAX_HEAD, ResponseHead::decode);
            let resp = match tokio::time::timeout(wait, read).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) | Err(_) if stale.is_some() => {
                    tracing::debug!(node = %up.node.name, "forward: no answer, serving stale");
                    write_all(conn, stale.as_deref().unwrap_or_default()).await?;
                    return Ok(Next::Close);
                }
                Ok(Err(e)) => {
                    let _ = respond(conn, 502, &[]).await;
                    return Err(e.wrap(
                        ErrorKind::Protocol,
                        format!("forward: node {} answer", up.node.name),
                    ));
                }
                Err(_) => {
                    let _ = respond(conn, 504, &[]).await;
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("forward: node {} answer", up.node.name),
                    ));
                }
            };
            if (100..200).contains(&resp.status) && resp.status != 101 {
                // Interim answers go on to the client (a 100 only if the client still waits).
                if resp.status != 100 {
                    let mut out = Vec::new();
                    resp.encode(&mut out);
                    write_all(conn, &out).await?;
                }
                continue;
            }
            break resp;
        };
        let mut resp = resp;
        let failed = settings.is_fail_code(resp.status);
        if failed {
            up.node.marker.mark();
            tracing::warn!(node = %up.node.name, status = resp.status, "forward: failCodes matched");
        }
        if resp.status == 101 {
            if !upgrade {
                respond(conn, 502, &[]).await?;
                return Err(Error::protocol("forward: the node switched protocols unasked"));
            }
            let mut out = Vec::new();
            resp.encode(&mut out);
            write_all(conn, &out).await?;
            return Ok(Next::Upgrade);
        }
        for (k, v) in &settings.response_header {
            if v.is_empty() {
                resp.remove_header(k);
            } else {
                resp.set_header(k, v.as_bytes());
            }
        }
        let body = response_body(&method, &resp)?;
        let origin_keep = !header_has_token(resp.header_str("Connection"), "close")
            && (resp.version >= 1 || header_has_token(resp.header_str("Connection"), "keep-alive"));
        let keep = self.http_keepalive
            && client_keep
            && origin_keep
            && !failed
            && body != Body::UntilClose;
        if !keep {
            resp.set_header("Connection", b"close");
        } else if version == 0 {
            resp.set_header("Connection", b"keep-alive");
        }
        if version == 0 {
            // An HTTP/1.0 client gets an HTTP/1.0 answer, as gost writes it.
            resp.version = 0;
        }
        let mut out = Vec::with_capacity(512);
        resp.encode(&mut out);
        let store = match (&self.cache, cache_key) {
            (Some(c), Some(k)) if c.storable(&resp) => Some((c, k)),
            _ => None,
        };
        match store {
            None => {
                write_all(conn, &out).await?;
                copy_body(&mut up.conn, &mut up.buf, conn, body, Some(self.body_idle())).await?;
            }
            Some((cache, key)) => {
                let mut tee = Tee::new(conn, cache.max_body.saturating_add(out.len()));
                write_all(&mut tee, &out).await?;
                copy_body(&mut up.conn, &mut up.buf, &mut tee, body, Some(self.body_idle()))
                    .await?;
                if let Some(data) = tee.captured() {
                    cache.store.set(&key, Arc::from(data), cache.ttl_for(resp.status)).await;
                    tracing::debug!(%key, "forward: cache store");
                }
            }
        }
        Ok(if keep { Next::Continue } else { Next::Close })
    }
}

/// gost 3.3's HTTP cache settings of a forwarder (`cache.*` metadata; the store is the
/// service's `cache`).
pub(super) struct HttpCache {
    pub(super) store: gost_core::BoxCache,
    /// `cache.ttl`: how long a response stays fresh (else the store's own).
    pub(super) ttl: Option<std::time::Duration>,
    /// `cache.status.NNN`: per status.
    pub(super) status_ttl: Vec<(u16, std::time::Duration)>,
    /// `cache.serveStale`: answer with an expired entry when the node fails.
    pub(super) serve_stale: bool,
    /// `cache.methods` (GET, HEAD).
    pub(super) methods: Vec<String>,
    /// `cache.maxBodyBytes` (1 MiB): larger responses are not kept.
    pub(super) max_body: usize,
}

impl HttpCache {
    /// gost's key, `METHOD host uri` (as the client sent them), for a cacheable request.
    fn key(&self, head: &RequestHead, host: &Address) -> Option<String> {
        if !self.methods.iter().any(|m| m.eq_ignore_ascii_case(&head.method)) {
            return None;
        }
        // A partial or conditional request's answer is not the resource's (206, 304), and an
        // HTTP/1.0 client's answer is rewritten for it: neither is kept nor served from here.
        let conditional = head.headers.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("Range")
                || k.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("If-"))
        });
        if conditional || head.version == 0 {
            return None;
        }
        let h = head.header_str("Host").map_or_else(|| host.to_string(), str::to_owned);
        Some(format!("{} {h} {}", head.method, head.target))
    }

    /// Whether a response may be kept: a 2xx or 3xx that is neither private nor sets a cookie.
    fn storable(&self, resp: &ResponseHead) -> bool {
        let cc = resp.header_str("Cache-Control").unwrap_or("").to_ascii_lowercase();
        (200..400).contains(&resp.status)
            && resp.status != 206
            && resp.status != 304
            && !cc.contains("no-store")
            && !cc.contains("private")
            && resp.header_str("Set-Cookie").is_none()
    }

    fn ttl_for(&self, status: u16) -> Option<std::time::Duration> {
        self.status_ttl.iter().find(|(s, _)| *s == status).map(|(_, t)| *t).or(self.ttl)
    }
}

/// Passes writes on and keeps a copy, up to `max` bytes (past that, nothing is kept).
struct Tee<'a> {
    inner: &'a mut BoxConn,
    copy: Vec<u8>,
    max: usize,
    over: bool,
}

impl<'a> Tee<'a> {
    fn new(inner: &'a mut BoxConn, max: usize) -> Self {
        Tee { inner, copy: Vec::new(), max, over: false }
    }

    fn captured(self) -> Option<Vec<u8>> {
        (!self.over).then_some(self.copy)
    }
}

impl gost_core::Write for Tee<'_> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let polled = std::pin::Pin::new(&mut **this.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = &polled
            && !this.over
        {
            if this.copy.len() + n > this.max {
                this.over = true;
                this.copy = Vec::new();
            } else {
                this.copy.extend_from_slice(&buf[..*n]);
            }
        }
        polled
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut **self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut **self.inner).poll_shutdown(cx)
    }
}

/// The data of a chunked body, decoded as its bytes arrive (each byte looked at once).
#[derive(Default)]
struct ChunkedPrefix {
    decoder: wire::ChunkedDecoder,
    /// How much of the raw buffer has been decoded.
    at: usize,
    out: Vec<u8>,
}

impl ChunkedPrefix {
    /// Decodes what `raw` holds past the last call; true once `want` data bytes (or the whole
    /// body) are in `out`.
    fn feed(&mut self, raw: &[u8], want: usize) -> Result<bool> {
        while self.at < raw.len() && !self.decoder.is_done() && self.out.len() < want {
            match self.decoder.step(&raw[self.at..])? {
                gost_proto::Step::Framing(0) => break,
                gost_proto::Step::Framing(n) => self.at += n,
                gost_proto::Step::Data(n) => {
                    let take = n.min(want - self.out.len());
                    self.out.extend_from_slice(&raw[self.at..self.at + take]);
                    self.at += n;
                }
            }
        }
        Ok(self.out.len() >= want || self.decoder.is_done())
    }
}

/// One request and what the cache knows of it.
struct Exchange {
    head: RequestHead,
    host: Address,
    /// Its cache key, when the response may be kept.
    cache_key: Option<String>,
    /// An expired answer to serve if the node fails (`cache.serveStale`).
    stale: Option<Arc<[u8]>>,
}

/// What follows a response.
enum Next {
    Continue,
    Close,
    Upgrade,
}

fn client_wants_keep_alive(head: &RequestHead) -> bool {
    let c = head.header_str("Connection");
    if head.version >= 1 {
        !header_has_token(c, "close")
    } else {
        header_has_token(c, "keep-alive")
    }
}

/// The node's settings on the request, and the target in origin form.
fn rewrite_request(head: &mut RequestHead, settings: &HttpNodeSettings, host: &Address) {
    // An absolute-form target (a client that takes us for a proxy) goes on in origin form.
    if let Some(i) = head.target.find("://").filter(|_| !head.target.starts_with('/')) {
        let rest = &head.target[i + 3..];
        head.target = rest.find('/').map_or_else(|| "/".to_owned(), |j| rest[j..].to_owned());
        if head.header_str("Host").is_none() {
            head.set_header("Host", host.to_string().as_bytes());
        }
    }
    // gost's hidden real host (`Gost-Target`) names the site, not a header to pass on.
    head.remove_header("Gost-Target");
    head.remove_header("X-Gost-Target");
    if let Some(h) = &settings.host {
        head.set_header("Host", h.as_bytes());
    }
    for (k, v) in &settings.request_header {
        if v.is_empty() {
            head.remove_header(k);
        } else {
            head.set_header(k, v.as_bytes());
        }
    }
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (head.target.clone(), None),
    };
    if let Some(new) = settings.rewrite_url.iter().find_map(|r| r(&path)) {
        head.target = if new.contains('?') {
            new
        } else {
            match query {
                Some(q) => format!("{new}?{q}"),
                None => new,
            }
        };
    }
}

/// A response the forwarder makes itself; the connection closes after it.
async fn respond(conn: &mut BoxConn, status: u16, extra: &[(&str, &str)]) -> Result<()> {
    let reason = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
    write_all(conn, out.as_bytes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_rewritten_as_the_node_says() {
        let mut head = RequestHead::decode(
            b"GET http://a.test/api/v1/x?q=1 HTTP/1.1\r\nHost: a.test\r\nX-Drop: 1\r\n\r\n",
        )
        .unwrap()
        .unwrap()
        .0;
        let settings = HttpNodeSettings {
            host: Some("backend.internal".into()),
            request_header: vec![("X-Drop".into(), String::new()), ("X-Add".into(), "y".into())],
            rewrite_url: vec![Arc::new(|p: &str| {
                p.strip_prefix("/api/v1").map(|r| format!("/v2{r}"))
            })],
            ..Default::default()
        };
        rewrite_request(&mut head, &settings, &Address::parse("a.test:80").unwrap());
        assert_eq!(head.target, "/v2/x?q=1");
        assert_eq!(head.header_str("Host"), Some("backend.internal"));
        assert_eq!(head.header_str("X-Drop"), None);
        assert_eq!(head.header_str("X-Add"), Some("y"));
    }

    struct Nothing;
    impl Cache for Nothing {
        async fn get(&self, _: &str) -> Option<gost_core::CacheEntry> {
            None
        }
        async fn set(&self, _: &str, _: Arc<[u8]>, _: Option<std::time::Duration>) {}
        async fn delete(&self, _: &str) {}
    }

    #[test]
    fn what_the_cache_keeps_and_for_how_long() {
        let c = HttpCache {
            store: gost_core::BoxCache::new(Nothing),
            ttl: Some(std::time::Duration::from_secs(5)),
            status_ttl: vec![(301, std::time::Duration::from_secs(3600))],
            serve_stale: false,
            methods: vec!["GET".into(), "HEAD".into()],
            max_body: 1 << 20,
        };
        let req = |s: &str| RequestHead::decode(s.as_bytes()).unwrap().unwrap().0;
        let host = Address::parse("a.test:80").unwrap();
        let get = req("GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\n\r\n");
        assert_eq!(c.key(&get, &host).as_deref(), Some("GET a.test /x?y=1"));
        assert!(c.key(&req("POST /x HTTP/1.1\r\nHost: a.test\r\n\r\n"), &host).is_none());
        let resp = |s: &str| ResponseHead::decode(s.as_bytes()).unwrap().unwrap().0;
        assert!(c.storable(&resp("HTTP/1.1 200 OK\r\n\r\n")));
        assert!(c.storable(&resp("HTTP/1.1 301 Moved\r\n\r\n")));
        assert!(!c.storable(&resp("HTTP/1.1 500 Oops\r\n\r\n")));
        assert!(!c.storable(&resp("HTTP/1.1 200 OK\r\nCache-Control: private, max-age=9\r\n\r\n")));
        assert!(!c.storable(&resp("HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\n\r\n")));
        assert_eq!(c.ttl_for(301), Some(std::time::Duration::from_secs(3600)));
        assert_eq!(c.ttl_for(200), Some(std::time::Duration::from_secs(5)));
    }

    #[test]
    fn chunked_body_prefixes() {
        let wire = b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
        let mut p = ChunkedPrefix::default();
        assert!(p.feed(wire, 5).unwrap());
        assert_eq!(p.out, b"abcde");
        let mut p = ChunkedPrefix::default();
        assert!(p.feed(wire, 100).unwrap());
        assert_eq!(p.out, b"abcdefg");
        // Fed as it arrives, a byte at a time: the same, each byte decoded once.
        let mut p = ChunkedPrefix::default();
        let mut done = false;
        for end in 1..=wire.len() {
            done = p.feed(&wire[..end], 100).unwrap();
            if done {
                break;
            }
        }
        assert!(done);
        assert_eq!(p.out, b"abcdefg");
        assert!(ChunkedPrefix::default().feed(b"zz\r\n", 5).is_err());
    }
}
