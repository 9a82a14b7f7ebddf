//! `http`: an HTTP proxy. CONNECT tunnels, and plain requests in absolute form
//! (`GET http://host/path`) forwarded to the origin, several per client connection (keep-alive).
//!
//! Interim answers (`100 Continue`, `103 Early Hints`) are passed on and the final one follows;
//! a request with `Expect: 100-continue` sends its body when the origin says `100` or when the
//! client sends it anyway. A request that asks to upgrade (`Connection: Upgrade`, `Upgrade: x`)
//! keeps those headers, and a `101` answer turns the connection into a tunnel.
//!
//! Authentication: `Proxy-Authorization: Basic`; a failure gets `407` with
//! `Proxy-Authenticate: Basic realm="<authBasicRealm>"` and the connection is closed, or, with
//! `probeResist`, what gost shows a prober instead (`code:404`, `web:http://...`, `host:addr`,
//! `file:/path`), unless the request's host is one of `knock`. As in gost, only the first request
//! of a connection is authenticated.
//!
//! Metadata: `readTimeout` (15s: request head, and the origin's response head),
//! `authBasicRealm` (`gost`), `proxyAgent` (`gost/3.0`), `header` / `http.header` (extra headers
//! on responses the handler writes), `probeResist`, `knock`, `keepaliveTimeout` (60s: how long an
//! idle keep-alive connection waits for its next request), `idleTimeout`, `udp` (false: relay UDP
//! for gost's `X-Gost-Protocol: udp` requests), `udpBufferSize` (4096).

use std::collections::BTreeMap;
use std::time::Duration;

use gost_core::io::{read, read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxAuther, BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind, Handler,
    HandlerOptions, Metadata, Network, Result, Router, Session,
};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};

use crate::http_body::{
    Body, copy_body, copy_until_close, header_has_token, request_body, response_body,
    upgrade_requested,
};
use crate::util;

/// The registry name.
pub const NAME: &str = "http";

const DEFAULT_REALM: &str = "gost";
const DEFAULT_PROXY_AGENT: &str = "gost/3.0";
const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Request headers that only concern the proxy (gost's list plus the hop-by-hop ones).
const PROXY_HEADERS: &[&str] = &[
    "Proxy-Authorization",
    "Proxy-Connection",
    "Gost-Target",
    "X-Gost-Target",
    "Gost-Record",
    "Connection",
    "Keep-Alive",
    "TE",
    "Trailer",
    "Upgrade",
];

/// What an unauthenticated client sees (`probeResist`).
enum Probe {
    Code(u16),
    Web(String),
    Host(String),
    File(std::path::PathBuf),
}

struct Config {
    read_timeout: Duration,
    idle: Option<Duration>,
    /// `udp`: relay UDP for `X-Gost-Protocol: udp` requests.
    udp: bool,
    udp_buffer_size: usize,
    keepalive_timeout: Duration,
    realm: String,
    proxy_agent: String,
    headers: BTreeMap<String, String>,
    probe: Option<Probe>,
    knock: Vec<String>,
}

impl Config {
    fn parse(md: &Metadata) -> Result<Self> {
        let probe = match md.get_string(&["probeResist", "probe_resist"])? {
            None => None,
            Some(spec) => parse_probe(&spec),
        };
        Ok(Config {
            read_timeout: util::read_timeout(md)?,
            idle: util::idle_timeout(md)?,
            udp: md.get_bool(&["udp"])?.unwrap_or(false),
            udp_buffer_size: md
                .get_usize(&["udpBufferSize", "udp.bufferSize"])?
                .unwrap_or(4096)
                .clamp(512, 65535),
            keepalive_timeout: md
                .get_duration(&["keepaliveTimeout"])?
                .unwrap_or(DEFAULT_KEEPALIVE_TIMEOUT),
            realm: md.get_string(&["authBasicRealm"])?.unwrap_or_else(|| DEFAULT_REALM.into()),
            proxy_agent: md
                .get_string(&["proxyAgent"])?
                .unwrap_or_else(|| DEFAULT_PROXY_AGENT.into()),
            headers: md.get_string_map(&["header", "http.header"])?.unwrap_or_default(),
            probe,
            knock: md
                .get_strings(&["knock"])?
                .unwrap_or_default()
                .iter()
                .flat_map(|k| k.split(','))
                .map(|k| k.trim().to_ascii_lowercase())
                .filter(|k| !k.is_empty())
                .collect(),
        })
    }
}

fn parse_probe(spec: &str) -> Option<Probe> {
    let (kind, value) = spec.split_once(':')?;
    let probe = match kind {
        "code" => value.trim().parse().ok().filter(|c| (100..1000).contains(c)).map(Probe::Code),
        "web" => Some(Probe::Web(value.to_owned())),
        "host" => Some(Probe::Host(value.to_owned())),
        "file" => Some(Probe::File(value.into())),
        _ => None,
    };
    if probe.is_none() {
        tracing::warn!(
            "probeResist {spec:?} is not valid; unauthenticated clients get 407 (as gost does)"
        );
    }
    probe
}

/// The HTTP proxy; also used by the `auto` handler.
pub(crate) struct HttpHandler {
    router: BoxRouter,
    auther: Option<BoxAuther>,
    bypass: Option<BoxBypass>,
    config: Config,
}

impl HttpHandler {
    pub(crate) fn build(opts: &HandlerOptions, md: &Metadata) -> Result<Self> {
        Ok(HttpHandler {
            router: opts.router.clone(),
            auther: opts.auther.clone(),
            bypass: opts.bypass.clone(),
            config: Config::parse(md)?,
        })
    }
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(HttpHandler::build(&opts, md)?))
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Whether the client wants the connection kept after this request.
fn client_keep_alive(head: &RequestHead) -> bool {
    let conn = head.header_str("Connection").or_else(|| head.header_str("Proxy-Connection"));
    if head.version >= 1 {
        !header_has_token(conn, "close")
    } else {
        header_has_token(conn, "keep-alive")
    }
}

/// Where a request goes: the target address and, for plain requests, the origin-form target.
fn route_of(head: &RequestHead) -> Result<(Address, Option<String>)> {
    let with_port = |authority: &str| -> Result<Address> {
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let has_port = match authority.rfind(']') {
            Some(end) => authority[end..].contains(':'),
            None => authority.contains(':'),
        };
        if has_port {
            Address::parse(authority)
        } else {
            Address::parse(&format!("{authority}:80"))
        }
    };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        return Ok((with_port(&head.target)?, None));
    }
    let lower = head.target.to_ascii_lowercase();
    if lower.starts_with("http://") {
        let rest = &head.target["http://".len()..];
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes().get(i) == Some(&b'?') => {
                (&rest[..i], format!("/{}", &rest[i..]))
            }
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        return Ok((with_port(authority)?, Some(path)));
    }
    if head.target.starts_with('/') {
        // Origin form to a proxy: gost treats it as a request for the Host header's site.
        let host =
            head.header_str("Host").ok_or_else(|| Error::protocol("request without a host"))?;
        return Ok((with_port(host)?, Some(head.target.clone())));
    }
    Err(Error::protocol(format!("unsupported request target {:?}", head.target)))
}

impl HttpHandler {
    /// Writes a response the handler makes itself, with the configured extra headers.
    async fn respond(
        &self,
        conn: &mut BoxConn,
        status: u16,
        extra: &[(&str, &str)],
        body: &[u8],
        close: bool,
    ) -> Result<()> {
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for (k, v) in extra {
            headers.push(((*k).to_owned(), v.as_bytes().to_vec()));
        }
        for (k, v) in &self.config.headers {
            headers.push((k.clone(), v.as_bytes().to_vec()));
        }
        if close {
            headers.push(("Connection".into(), b"close".to_vec()));
        }
        headers.push(("Content-Length".into(), body.len().to_string().into_bytes()));
        let resp = ResponseHead { version: 1, status, reason: reason(status).into(), headers };
        let mut out = Vec::with_capacity(256 + body.len());
        resp.encode(&mut out);
        out.extend_from_slice(body);
        write_all(conn, &out).await?;
        Ok(())
    }

    /// Answers a client that failed authentication.
    async fn deny(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        head: &RequestHead,
        session: &Session,
    ) -> Result<()> {
        let host = route_of(head).map(|(a, _)| a.host().to_ascii_lowercase()).unwrap_or_default();
        let knocked = self.config.knock.contains(&host);
        match (&self.config.probe, knocked) {
            (Some(Probe::Code(code)), false) => {
                let extra: &[(&str, &str)] =
                    if *code == 200 { &[("Connection", "keep-alive")] } else { &[] };
                self.respond(&mut conn, *code, extra, b"", false).await
            }
            (Some(Probe::File(path)), false) => match tokio::fs::read(path).await {
                Ok(body) => {
                    self.respond(&mut conn, 200, &[("Content-Type", "text/html")], &body, true)
                        .await
                }
                Err(e) => {
                    tracing::warn!(sid = session.id, "probeResist file {}: {e}", path.display());
                    self.proxy_auth_required(&mut conn).await
                }
            },
            (Some(Probe::Host(addr)), false) => {
                let target = Address::parse(addr)?;
                let mut upstream = self.router.dial(Network::Tcp, target).await?;
                let mut out = Vec::new();
                head.encode(&mut out);
                write_all(&mut upstream, &out).await?;
                let mut conn = rewind(conn, buf);
                gost_x_rt::relay_idle(&mut conn, &mut upstream, self.config.idle).await?;
                Ok(())
            }
            (Some(Probe::Web(url)), false) => self.probe_web(&mut conn, url).await,
            _ => self.proxy_auth_required(&mut conn).await,
        }
    }

    async fn proxy_auth_required(&self, conn: &mut BoxConn) -> Result<()> {
        let challenge = format!("Basic realm=\"{}\"", self.config.realm);
        self.respond(
            conn,
            407,
            &[("Proxy-Authenticate", &challenge), ("Proxy-Connection", "close")],
            b"",
            true,
        )
        .await
    }

    /// Relays what a web page answers to a prober (`probeResist=web:http://...`).
    async fn probe_web(&self, conn: &mut BoxConn, url: &str) -> Result<()> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            tracing::warn!("probeResist web:{url}: not an http(s):// page; answering 407");
            return self.proxy_auth_required(conn).await;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let head = RequestHead {
            method: "GET".into(),
            target: path.into(),
            version: 1,
            headers: vec![
                ("Host".into(), authority.as_bytes().to_vec()),
                ("Connection".into(), b"close".to_vec()),
            ],
        };
        let has_port = match authority.rfind(']') {
            Some(end) => authority[end..].contains(':'),
            None => authority.contains(':'),
        };
        let target = if has_port || !tls {
            route_of(&RequestHead {
                method: "CONNECT".into(),
                target: authority.into(),
                version: 1,
                headers: vec![],
            })?
            .0
        } else {
            Address::parse(&format!("{authority}:443"))?
        };
        let reach = async {
            let upstream = self.router.dial(Network::Tcp, target.clone()).await?;
            if !tls {
                return Ok(upstream);
            }
            // As Go's http.Get: the page's certificate is verified (system roots, its name).
            let md = Metadata::new().with("secure", true);
            let (config, _) = gost_x_tls::client_config(&md)?;
            let name = gost_x_tls::server_name(None, &target.host())?;
            let connector = gost_x_tls::TlsConnector::from(config);
            gost_x_tls::connect(&connector, name, upstream).await
        };
        let mut upstream = match reach.await {
            Ok(u) => u,
            Err(e) => {
                // No page to show: the prober gets what it would without probe resistance.
                tracing::warn!("probeResist web:{url}: {e}; answering 407");
                return self.proxy_auth_required(conn).await;
            }
        };
        let mut out = Vec::new();
        head.encode(&mut out);
        write_all(&mut upstream, &out).await?;
        copy_until_close(&mut upstream, &mut Vec::new(), conn, None).await
    }

    async fn connect(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        target: Address,
        session: &Session,
    ) -> Result<()> {
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => c,
            Err(err) => {
                let _ = self.respond(&mut conn, 503, &[], b"", true).await;
                return Err(err);
            }
        };
        let established = format!(
            "HTTP/1.1 200 Connection established\r\nProxy-Agent: {}\r\n\r\n",
            self.config.proxy_agent
        );
        write_all(&mut conn, established.as_bytes()).await?;
        tracing::debug!(sid = session.id, %target, "http: connected");
        let mut conn = rewind(conn, buf);
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.config.idle).await?;
        Ok(())
    }

    /// gost's UDP relay over HTTP (`X-Gost-Protocol: udp`, with `udp=true`): after `200` the
    /// connection carries UDP-tun frames (as SOCKS5's UDP-over-TCP) through the router.
    async fn udp(&self, mut conn: BoxConn, mut buf: Vec<u8>, session: &Session) -> Result<()> {
        if !self.config.udp {
            self.respond(&mut conn, 403, &[], b"", true).await?;
            return Err(Error::new(
                ErrorKind::Denied,
                "http: UDP relay is disabled (udp=true enables it)",
            ));
        }
        let mut outbound = match self.router.dial_packet(None).await {
            Ok(p) => p,
            Err(err) => {
                let _ = self.respond(&mut conn, 503, &[], b"", true).await;
                return Err(err);
            }
        };
        let agent = self.config.proxy_agent.clone();
        self.respond(&mut conn, 200, &[("Proxy-Agent", &agent)], b"", false).await?;
        tracing::debug!(sid = session.id, "http: udp relay");
        util::relay_udp_tun(
            &mut conn,
            &mut buf,
            &mut outbound,
            self.bypass.as_ref(),
            self.config.udp_buffer_size,
            session,
        )
        .await
    }

    /// Forwards one plain request and its response. Returns `Some(conn)` when the client
    /// connection stays open for another request.
    async fn forward(
        &self,
        mut conn: BoxConn,
        buf: &mut Vec<u8>,
        mut head: RequestHead,
        target: Address,
        path: String,
        session: &Session,
    ) -> Result<Option<BoxConn>> {
        let keep_alive = client_keep_alive(&head);
        let req_body = match request_body(&head) {
            Ok(b) => b,
            Err(e) => {
                self.respond(&mut conn, 400, &[], b"", true).await?;
                return Err(e);
            }
        };
        if req_body == Body::Chunked {
            // The origin must frame it as we do.
            head.remove_header("Content-Length");
        }
        let method = head.method.clone();
        let upgrade = upgrade_requested(&head);
        let expects_continue = !matches!(req_body, Body::None | Body::Length(0))
            && head
                .header_str("Expect")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
        let interim_to_client = head.version >= 1;
        for name in PROXY_HEADERS {
            if upgrade && name.eq_ignore_ascii_case("Upgrade") {
                continue;
            }
            head.remove_header(name);
        }
        head.target = path;
        // An upgrade keeps its headers (gost passes them on too); anything else is one request per
        // origin connection.
        let connection: &[u8] = if upgrade { b"Upgrade" } else { b"close" };
        head.set_header("Connection", connection);
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => c,
            Err(err) => {
                self.respond(&mut conn, 503, &[], b"", true).await?;
                return Err(err);
            }
        };
        tracing::debug!(sid = session.id, %target, %method, "http: forwarding");
        let mut out = Vec::with_capacity(1024);
        head.encode(&mut out);
        write_all(&mut upstream, &out).await?;

        let mut ubuf = Vec::new();
        // The body goes now, unless the client waits for `100 Continue`: then it goes when the
        // origin says so, or when the client stops waiting and sends it anyway.
        let mut body_sent = false;
        if !(expects_continue && buf.is_empty()) {
            copy_body(&mut conn, buf, &mut upstream, req_body, None).await?;
            body_sent = true;
        }
        // Interim (1xx) answers are passed on as they are; the final one follows.
        let mut resp = loop {
            let next = gost_x_rt::timeout(self.config.read_timeout, "origin response", async {
                if body_sent {
                    return read_decoded(&mut upstream, &mut ubuf, wire::MAX_HEAD, ResponseHead::decode)
                        .await
                        .map(Some);
                }
                // Waiting for 100: the origin's next answer, or the client's body.
                // On the heap: an array here would be part of every connection's handler future.
                let mut probe = vec![0u8; 1024];
                tokio::select! {
                    head = read_decoded(&mut upstream, &mut ubuf, wire::MAX_HEAD, ResponseHead::decode) => head.map(Some),
                    n = read(&mut conn, &mut probe) => match n? {
                        0 => Err(Error::new(ErrorKind::Closed, "client closed before its request body")),
                        n => {
                            buf.extend_from_slice(&probe[..n]);
                            Ok(None)
                        }
                    },
                }
            })
            .await;
            let resp = match next {
                Ok(Some(resp)) => resp,
                Ok(None) => {
                    // The client stopped waiting.
                    copy_body(&mut conn, buf, &mut upstream, req_body, None).await?;
                    body_sent = true;
                    continue;
                }
                Err(err) => {
                    let _ = self.respond(&mut conn, 503, &[], b"", true).await;
                    return Err(err);
                }
            };
            if !(100..200).contains(&resp.status) || resp.status == 101 {
                break resp;
            }
            if interim_to_client {
                let mut out = Vec::new();
                resp.encode(&mut out);
                write_all(&mut conn, &out).await?;
            }
            if resp.status == 100 && !body_sent {
                copy_body(&mut conn, buf, &mut upstream, req_body, None).await?;
                body_sent = true;
            }
        };
        if resp.status == 101 {
            if !upgrade {
                self.respond(&mut conn, 502, &[], b"", true).await?;
                return Err(Error::protocol("http: the origin switched protocols unasked"));
            }
            // A protocol upgrade (WebSocket): pass the answer on and become a tunnel.
            let mut out = Vec::new();
            resp.encode(&mut out);
            write_all(&mut conn, &out).await?;
            let mut client = rewind(conn, std::mem::take(buf));
            let mut origin = rewind(upstream, ubuf);
            gost_x_rt::relay_idle(&mut client, &mut origin, self.config.idle).await?;
            return Ok(None);
        }
        let resp_body = response_body(&method, &resp)?;
        // A final answer that came before the body: the client may or may not send it now, so
        // the connection cannot carry another request.
        let keep = keep_alive && body_sent && resp_body != Body::UntilClose;
        for name in ["Connection", "Keep-Alive", "Proxy-Connection"] {
            resp.remove_header(name);
        }
        resp.set_header("Connection", if keep { b"keep-alive" } else { b"close" });
        let mut out = Vec::with_capacity(1024);
        resp.encode(&mut out);
        write_all(&mut conn, &out).await?;
        copy_body(&mut upstream, &mut ubuf, &mut conn, resp_body, None).await?;
        Ok(keep.then_some(conn))
    }
}

impl Handler for HttpHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let mut first = true;
        loop {
            let wait = if first { self.config.read_timeout } else { self.config.keepalive_timeout };
            let head = gost_x_rt::timeout(
                wait,
                "http request",
                read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, RequestHead::decode),
            )
            .await;
            let head = match head {
                Ok(h) => h,
                // A kept-alive client that is done (or idle) ends the connection normally.
                Err(e)
                    if !first
                        && buf.is_empty()
                        && matches!(e.kind(), ErrorKind::Closed | ErrorKind::Timeout) =>
                {
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Protocol => {
                    let _ = self.respond(&mut conn, 400, &[], b"", true).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            if first && self.auther.is_some() {
                let (user, pass) = head
                    .header_str("Proxy-Authorization")
                    .and_then(wire::basic_auth_decode)
                    .unwrap_or_default();
                if !util::authenticate(self.auther.as_ref(), &user, &pass, session.client_addr)
                    .await
                {
                    self.deny(conn, buf, &head, &session).await?;
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("http: user {user:?} rejected"),
                    ));
                }
            }
            first = false;
            if head.method == "PRI" {
                self.respond(&mut conn, 400, &[], b"", true).await?;
                return Err(Error::protocol("http: HTTP/2 preface sent to an HTTP/1 proxy"));
            }
            // gost's hidden real host (a gost `sni` client's `Gost-Target`, gost v2's
            // `X-Gost-Target`) names the site instead of `Host`.
            let hidden = ["Gost-Target", "X-Gost-Target"]
                .iter()
                .find_map(|h| head.header_str(h))
                .and_then(gost_proto::tls::decode_server_name);
            let mut head = head;
            if let Some(real) = hidden {
                head.set_header("Host", real.as_bytes());
                let absolute =
                    head.target.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"));
                if absolute && let Ok((_, Some(path))) = route_of(&head) {
                    head.target = path;
                }
            }
            if head.header_str("X-Gost-Protocol").is_some_and(|p| p.eq_ignore_ascii_case("udp")) {
                return self.udp(conn, buf, &session).await;
            }
            let (target, path) = match route_of(&head) {
                Ok(r) => r,
                Err(e) => {
                    self.respond(&mut conn, 400, &[], b"", true).await?;
                    return Err(e);
                }
            };
            if util::bypassed(self.bypass.as_ref(), Network::Tcp, &target).await {
                self.respond(&mut conn, 403, &[], b"", true).await?;
                return Err(Error::new(ErrorKind::Denied, format!("http: {target} is bypassed")));
            }
            match path {
                None => return self.connect(conn, buf, target, &session).await,
                Some(path) => {
                    match self.forward(conn, &mut buf, head, target, path, &session).await? {
                        Some(kept) => conn = kept,
                        None => return Ok(()),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        options, options_with_user, outcome, ping_pong, ping_pong_origin, read_head, read_n,
        read_to_end, serve,
    };
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const ESTABLISHED: &str =
        "HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n";

    #[tokio::test]
    async fn connect_answers_established_then_tunnels() {
        let origin = ping_pong_origin().await;
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n");
        client.write_all(req.as_bytes()).await.unwrap();
        assert_eq!(read_n(&mut client, ESTABLISHED.len()).await, ESTABLISHED.as_bytes());
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn missing_credentials_get_407_with_realm() {
        let h = new(options_with_user("alice", "secret"), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        client.write_all(req.as_bytes()).await.unwrap();
        let resp = String::from_utf8(read_to_end(&mut client).await).unwrap();
        assert!(resp.starts_with("HTTP/1.1 407 "), "{resp}");
        assert!(resp.contains("\r\nProxy-Authenticate: Basic realm=\"gost\"\r\n"), "{resp}");
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
    }

    #[tokio::test]
    async fn probe_resistance_and_knock() {
        let md = Metadata::new().with("probeResist", "code:404").with("knock", "example.com");
        let h = new(options_with_user("alice", "secret"), &md).unwrap();
        for (host, status) in [("other.example", "404"), ("example.com", "407")] {
            let (mut client, task) = serve(&h).await;
            let req = format!("GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
            client.write_all(req.as_bytes()).await.unwrap();
            let resp = String::from_utf8(read_to_end(&mut client).await).unwrap();
            assert!(resp.starts_with(&format!("HTTP/1.1 {status} ")), "{host}: {resp}");
            assert_eq!(resp.contains("Proxy-Authenticate"), status == "407", "{resp}");
            assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
        }
    }

    /// An origin that follows RFC 9110 for `Expect: 100-continue`: `100 Continue`, then reads
    /// the 5-byte body, then answers with it.
    async fn continue_origin() -> SocketAddr {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = origin.accept().await {
                let head = read_head(&mut s).await;
                assert!(head.contains("\r\nExpect: 100-continue\r\n"), "{head}");
                s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.unwrap();
                let body = read_n(&mut s, 5).await;
                let resp = b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\n";
                s.write_all(&[&resp[..], &body].concat()).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn expect_continue_is_relayed_before_the_body_then_the_final_answer() {
        let origin = continue_origin().await;
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "PUT http://{origin}/up HTTP/1.1\r\nHost: {origin}\r\nContent-Length: 5\r\n\
             Expect: 100-continue\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        // The client waits for the 100 before it sends the body (curl would wait 1 s).
        assert_eq!(read_head(&mut client).await, "HTTP/1.1 100 Continue\r\n\r\n");
        client.write_all(b"hello").await.unwrap();
        let resp = read_head(&mut client).await;
        assert!(resp.starts_with("HTTP/1.1 201 Created\r\n"), "{resp}");
        assert!(resp.contains("\r\nConnection: keep-alive\r\n"), "{resp}");
        assert_eq!(read_n(&mut client, 5).await, b"hello");
        // The connection is still usable for another request.
        client.write_all(req.as_bytes()).await.unwrap();
        assert_eq!(read_head(&mut client).await, "HTTP/1.1 100 Continue\r\n\r\n");
        client.write_all(b"again").await.unwrap();
        assert!(read_head(&mut client).await.starts_with("HTTP/1.1 201 "));
        assert_eq!(read_n(&mut client, 5).await, b"again");
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn a_client_that_stops_waiting_for_100_sends_its_body_and_gets_the_answer() {
        // This origin ignores Expect and waits for the body (an HTTP/1.0-style server).
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            read_head(&mut s).await;
            let body = read_n(&mut s, 5).await;
            let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
            s.write_all(&[&resp[..], &body].concat()).await.unwrap();
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "POST http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.write_all(b"hello").await.unwrap();
        assert!(read_head(&mut client).await.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(read_n(&mut client, 5).await, b"hello");
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn an_early_hint_is_relayed_and_the_body_still_goes_when_the_client_sends_it() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n").await.unwrap();
            let body = read_n(&mut s, 5).await;
            let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
            s.write_all(&[&resp[..], &body].concat()).await.unwrap();
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "PUT http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        let hint = read_head(&mut client).await;
        assert!(hint.starts_with("HTTP/1.1 103 ") && hint.contains("Link: </style.css>"), "{hint}");
        client.write_all(b"hello").await.unwrap();
        assert!(read_head(&mut client).await.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(read_n(&mut client, 5).await, b"hello");
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn expect_with_an_empty_body_keeps_the_connection() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = origin.accept().await {
                read_head(&mut s).await;
                s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await.unwrap();
            }
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "POST http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Content-Length: 0\r\nExpect: 100-continue\r\n\r\n"
        );
        for _ in 0..2 {
            client.write_all(req.as_bytes()).await.unwrap();
            let resp = read_head(&mut client).await;
            assert!(resp.starts_with("HTTP/1.1 204 "), "{resp}");
            assert!(resp.contains("\r\nConnection: keep-alive\r\n"), "{resp}");
        }
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn a_final_answer_before_the_body_is_relayed_and_the_connection_closed() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "PUT http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        let resp = String::from_utf8(read_to_end(&mut client).await).unwrap();
        assert!(resp.starts_with("HTTP/1.1 417 "), "{resp}");
        assert!(resp.contains("\r\nConnection: close\r\n"), "{resp}");
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn an_upgrade_request_keeps_its_headers_and_becomes_a_tunnel() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            let head = read_head(&mut s).await;
            *seen2.lock().unwrap() = head;
            s.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            )
            .await
            .unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(b"pong").await.unwrap();
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "GET http://{origin_addr}/ws HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        let resp = read_head(&mut client).await;
        assert!(resp.starts_with("HTTP/1.1 101 "), "{resp}");
        ping_pong(&mut client).await;
        let head = seen.lock().unwrap().clone();
        assert!(head.contains("\r\nUpgrade: websocket\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: Upgrade\r\n"), "{head}");
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn an_unasked_101_is_refused() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            read_head(&mut s).await;
            s.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.unwrap();
        });
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!("GET http://{origin_addr}/ HTTP/1.1\r\nHost: {origin_addr}\r\n\r\n");
        client.write_all(req.as_bytes()).await.unwrap();
        let resp = String::from_utf8(read_to_end(&mut client).await).unwrap();
        assert!(resp.starts_with("HTTP/1.1 502 "), "{resp}");
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[tokio::test]
    async fn plain_requests_are_forwarded_in_origin_form_with_keep_alive() {
        // The origin records each request head and answers with a Content-Length body.
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = origin.accept().await {
                let head = read_head(&mut s).await;
                let body = if head.starts_with("GET /first") { "hello" } else { "again" };
                seen.lock().unwrap().push(head);
                let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{body}");
                s.write_all(resp.as_bytes()).await.unwrap();
            }
        });

        let h = new(options_with_user("alice", "secret"), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        let req = format!(
            "GET http://{origin_addr}/first?q=1 HTTP/1.1\r\nHost: {origin_addr}\r\n\
             Proxy-Authorization: Basic YWxpY2U6c2VjcmV0\r\nProxy-Connection: keep-alive\r\n\r\n"
        );
        client.write_all(req.as_bytes()).await.unwrap();
        let resp = read_head(&mut client).await;
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        assert!(resp.contains("\r\nConnection: keep-alive\r\n"), "{resp}");
        assert_eq!(read_n(&mut client, 5).await, b"hello");

        // Same connection, second request (gost does not authenticate it again).
        let req =
            format!("GET http://{origin_addr}/second HTTP/1.1\r\nHost: {origin_addr}\r\n\r\n");
        client.write_all(req.as_bytes()).await.unwrap();
        assert!(read_head(&mut client).await.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(read_n(&mut client, 5).await, b"again");
        drop(client);
        outcome(task).await.unwrap();

        let heads = heads.lock().unwrap().clone();
        assert_eq!(heads.len(), 2, "{heads:?}");
        assert!(heads[0].starts_with("GET /first?q=1 HTTP/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].contains(&format!("\r\nHost: {origin_addr}\r\n")), "{}", heads[0]);
        assert!(heads[1].starts_with("GET /second HTTP/1.1\r\n"), "{}", heads[1]);
        for head in &heads {
            let lower = head.to_ascii_lowercase();
            assert!(!lower.contains("proxy-authorization"), "{head}");
            assert!(!lower.contains("proxy-connection"), "{head}");
        }
    }
}
