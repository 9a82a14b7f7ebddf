//! # gost-x-resolver
//!
//! [`DnsResolver`]: resolves names through a list of nameservers (`resolvers[].nameservers`),
//! trying them in order until one has an address. A nameserver is `udp://host[:53]` (also a bare
//! `host[:port]`), `tcp://host[:53]` or `tls://host[:853]` / `dot://...` (DNS over TLS; the
//! certificate is not verified, as in gost). For each name it asks for A then AAAA records, or
//! AAAA first with `prefer: ipv6`; `only: ipv4|ipv6` asks for that family alone, and so does a
//! caller that wants one family (`tcp4`, `udp6`). Answers are cached for their TTL (or the
//! nameserver's `ttl`); a truncated UDP answer is asked again over TCP.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gost_core::{Address, Error, ErrorKind, Metadata, Network, Resolver, Result, ResultExt};
use gost_proto::dns::{Answer, Query, TYPE_A, TYPE_AAAA};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// gost's default exchange timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 4096;
/// The longest a server's answer is kept.
const MAX_ANSWER_TTL: Duration = Duration::from_secs(24 * 3600);

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// A records.
    V4,
    /// AAAA records.
    V6,
}

impl Family {
    /// Parses gost's `ipv4`/`ip4`/`ipv6`/`ip6`.
    pub fn parse(s: &str) -> Result<Family> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" | "ip4" | "4" => Ok(Family::V4),
            "ipv6" | "ip6" | "6" => Ok(Family::V6),
            _ => Err(Error::config(format!("address family {s:?}: expected ipv4 or ipv6"))),
        }
    }

    fn qtype(self) -> u16 {
        match self {
            Family::V4 => TYPE_A,
            Family::V6 => TYPE_AAAA,
        }
    }

    fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }
}

/// How a nameserver is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp,
    Tls,
}

/// One nameserver's settings (`nameservers[]`).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct NameServerOptions {
    /// `udp://1.1.1.1:53`, `tcp://...`, `tls://...:853`, `dot://...`, or `host[:port]`.
    pub addr: String,
    /// Which family to ask for first.
    pub prefer: Option<Family>,
    /// Ask for this family only.
    pub only: Option<Family>,
    /// Cache answers this long instead of their TTL.
    pub ttl: Option<Duration>,
    /// Bound on one exchange (default 5 s).
    pub timeout: Duration,
    /// TLS server name for `tls://` (default: the host of `addr`).
    pub hostname: Option<String>,
}

impl NameServerOptions {
    /// Settings for `addr` with the defaults.
    pub fn new(addr: impl Into<String>) -> Self {
        NameServerOptions {
            addr: addr.into(),
            prefer: None,
            only: None,
            ttl: None,
            timeout: DEFAULT_TIMEOUT,
            hostname: None,
        }
    }
}

struct NameServer {
    opts: NameServerOptions,
    proto: Proto,
    host: String,
    port: u16,
    tls: Option<TlsConnector>,
}

impl NameServer {
    fn new(opts: NameServerOptions) -> Result<NameServer> {
        let (proto, rest) = match opts.addr.split_once("://") {
            None => (Proto::Udp, opts.addr.as_str()),
            Some(("udp", r)) => (Proto::Udp, r),
            Some(("tcp", r)) => (Proto::Tcp, r),
            Some(("tls" | "dot", r)) => (Proto::Tls, r),
            Some((s, _)) => {
                return Err(Error::unsupported(format!(
                    "nameserver {:?}: {s}:// is not supported (udp, tcp, tls, dot are)",
                    opts.addr
                )));
            }
        };
        let rest = rest.trim_end_matches('/');
        let default_port = if proto == Proto::Tls { 853 } else { 53 };
        let (host, port) = match Address::parse(rest) {
            Ok(a) => (a.host(), a.port()),
            Err(_) => (rest.trim_start_matches('[').trim_end_matches(']').to_owned(), default_port),
        };
        if host.is_empty() {
            return Err(Error::config(format!("nameserver {:?} has no host", opts.addr)));
        }
        let tls = match proto {
            Proto::Tls => {
                let (config, _) = gost_x_tls::client_config(&Metadata::new())?;
                Some(TlsConnector::from(config))
            }
            _ => None,
        };
        Ok(NameServer { opts, proto, host, port, tls })
    }

    async fn exchange(&self, query: &[u8], id: u16) -> Result<Answer> {
        let what = format!("dns exchange with {}", self.opts.addr);
        gost_x_rt::timeout(self.opts.timeout, &what, async {
            let answer = match self.proto {
                Proto::Udp => self.exchange_udp(query, id).await?,
                _ => self.exchange_stream(query).await?,
            };
            if answer.truncated && self.proto == Proto::Udp {
                return self.exchange_stream(query).await;
            }
            Ok(answer)
        })
        .await
    }

    async fn server_addr(&self) -> Result<SocketAddr> {
        let mut addrs = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(ErrorKind::Dial, || format!("look up nameserver {}", self.host))?;
        addrs.next().ok_or_else(|| {
            Error::new(ErrorKind::Dial, format!("nameserver {} has no address", self.host))
        })
    }

    async fn exchange_udp(&self, query: &[u8], id: u16) -> Result<Answer> {
        let server = self.server_addr().await?;
        let local: SocketAddr =
            if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let socket = tokio::net::UdpSocket::bind(local)
            .await
            .context(ErrorKind::Dial, "open a UDP socket for DNS")?;
        socket
            .connect(server)
            .await
            .with_context(ErrorKind::Dial, || format!("connect to {server}"))?;
        socket.send(query).await.with_context(ErrorKind::Io, || format!("send to {server}"))?;
        let asked = Query::decode(query)?;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = socket
                .recv(&mut buf)
                .await
                .with_context(ErrorKind::Io, || format!("receive from {server}"))?;
            // Stray or spoofed datagrams (another id, another question) are ignored.
            match Answer::decode(&buf[..n]) {
                Ok(a) if a.id == id && answers(&a, &asked.name, asked.qtype) => return Ok(a),
                _ => continue,
            }
        }
    }

    async fn exchange_stream(&self, query: &[u8]) -> Result<Answer> {
        let server = self.server_addr().await?;
        let tcp = tokio::net::TcpStream::connect(server)
            .await
            .with_context(ErrorKind::Dial, || format!("connect to nameserver {server}"))?;
        let len = u16::try_from(query.len()).map_err(|_| Error::protocol("dns query too long"))?;
        let mut msg = Vec::with_capacity(query.len() + 2);
        msg.extend_from_slice(&len.to_be_bytes());
        msg.extend_from_slice(query);
        match &self.tls {
            None => round_trip(tcp, &msg).await,
            Some(tls) => {
                let name = self.opts.hostname.as_deref().unwrap_or(&self.host);
                let name = gost_x_tls::server_name(Some(name), "")?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .with_context(ErrorKind::Handshake, || format!("TLS with {server}"))?;
                round_trip(stream, &msg).await
            }
        }
    }
}

async fn round_trip<S>(mut stream: S, msg: &[u8]) -> Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(msg).await.context(ErrorKind::Io, "send a dns query")?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.context(ErrorKind::Io, "read a dns answer")?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.context(ErrorKind::Io, "read a dns answer")?;
    Answer::decode(&buf)
}

/// Whether `answer` echoes the question `host`/`qtype` (an error answer may leave the question
/// out: it carries no address either way).
fn answers(answer: &Answer, host: &str, qtype: u16) -> bool {
    match &answer.question {
        Some((name, t)) => {
            *t == qtype
                && name.trim_end_matches('.').eq_ignore_ascii_case(host.trim_end_matches('.'))
        }
        None => answer.rcode != 0,
    }
}

struct Cached {
    ips: Vec<IpAddr>,
    expires: Instant,
}

/// A resolver over nameservers, with a cache.
pub struct DnsResolver {
    servers: Vec<NameServer>,
    cache: Mutex<HashMap<(String, u16), Cached>>,
    ids: std::collections::hash_map::RandomState,
    queries: AtomicU64,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<&str> = self.servers.iter().map(|s| s.opts.addr.as_str()).collect();
        f.debug_struct("DnsResolver").field("nameservers", &addrs).finish()
    }
}

impl DnsResolver {
    /// A resolver asking `servers` in order.
    pub fn new(servers: Vec<NameServerOptions>) -> Result<Self> {
        if servers.is_empty() {
            return Err(Error::config("a resolver needs at least one nameserver"));
        }
        Ok(DnsResolver {
            servers: servers.into_iter().map(NameServer::new).collect::<Result<_>>()?,
            cache: Mutex::default(),
            ids: std::collections::hash_map::RandomState::new(),
            queries: AtomicU64::new(0),
        })
    }

    /// An unpredictable query id: a counter through the process's randomly keyed hasher (the
    /// id is what keeps off-path spoofed answers out of the UDP exchange).
    fn next_id(&self) -> u16 {
        let mut h = self.ids.build_hasher();
        h.write_u64(self.queries.fetch_add(1, Ordering::Relaxed));
        h.finish() as u16
    }

    async fn lookup(&self, server: &NameServer, host: &str, family: Family) -> Result<Vec<IpAddr>> {
        let key = (host.to_ascii_lowercase(), family.qtype());
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = cache.get(&key)
                && c.expires > now
            {
                return Ok(c.ips.clone());
            }
        }
        let id = self.next_id();
        let mut query = Vec::with_capacity(64);
        Query { id, name: host.to_owned(), qtype: family.qtype() }.encode(&mut query)?;
        let answer = server.exchange(&query, id).await?;
        if !answers(&answer, host, family.qtype()) {
            return Err(Error::protocol(format!(
                "{}: {host}: the answer is to another question",
                server.opts.addr
            )));
        }
        if answer.rcode != 0 && answer.rcode != 3 {
            return Err(Error::new(
                ErrorKind::Dial,
                format!("{}: {host}: server failure (rcode {})", server.opts.addr, answer.rcode),
            ));
        }
        if !answer.ips.is_empty() {
            // The configured `ttl` wins; a server's is capped (a day, as common caches do).
            let ttl = server
                .opts
                .ttl
                .unwrap_or(Duration::from_secs(answer.ttl.into()).min(MAX_ANSWER_TTL));
            let expires = now.checked_add(ttl).unwrap_or(now + MAX_ANSWER_TTL);
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_MAX && !cache.contains_key(&key) {
                cache.retain(|_, c| c.expires > now);
                // Still full: the entry closest to expiring goes.
                if cache.len() >= CACHE_MAX
                    && let Some(first) =
                        cache.iter().min_by_key(|(_, c)| c.expires).map(|(k, _)| k.clone())
                {
                    cache.remove(&first);
                }
            }
            cache.insert(key, Cached { ips: answer.ips.clone(), expires });
        }
        Ok(answer.ips)
    }

    async fn resolve_with(
        &self,
        server: &NameServer,
        host: &str,
        caller: Option<Family>,
    ) -> Result<Vec<IpAddr>> {
        let first = server.opts.only.or(caller).or(server.opts.prefer).unwrap_or(Family::V4);
        let strict = server.opts.only.is_some() || caller.is_some();
        let ips = self.lookup(server, host, first).await?;
        if !ips.is_empty() || strict {
            return Ok(ips);
        }
        self.lookup(server, host, first.other()).await
    }
}

impl Resolver for DnsResolver {
    async fn resolve(&self, network: Network, host: String) -> Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let caller = match network {
            Network::Tcp4 | Network::Udp4 => Some(Family::V4),
            Network::Tcp6 | Network::Udp6 => Some(Family::V6),
            _ => None,
        };
        let mut last_err = None;
        for server in &self.servers {
            match self.resolve_with(server, &host, caller).await {
                Ok(ips) if !ips.is_empty() => {
                    tracing::debug!(%host, nameserver = %server.opts.addr, ?ips, "resolved");
                    return Ok(ips);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%host, nameserver = %server.opts.addr, "resolve: {e}");
                    last_err = Some(e);
                }
            }
        }
        Err(match last_err {
            Some(e) => e.wrap(ErrorKind::Dial, format!("resolve {host}")),
            None => Error::new(ErrorKind::Dial, format!("resolve {host}: no such host")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_proto::dns::respond;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A UDP DNS server answering every A query with 127.0.0.9 and every AAAA query with ::9,
    /// for names starting with "v4" only with A, counting queries.
    async fn udp_server(ttl: u32) -> (SocketAddr, Arc<AtomicUsize>) {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { return };
                let Ok(q) = Query::decode(&buf[..n]) else { continue };
                seen.fetch_add(1, Ordering::SeqCst);
                let ips: Vec<IpAddr> = if q.name.starts_with("v4") {
                    vec!["127.0.0.9".parse().unwrap()]
                } else if q.name.starts_with("none") {
                    vec![]
                } else {
                    vec!["127.0.0.9".parse().unwrap(), "::9".parse().unwrap()]
                };
                let _ = socket.send_to(&respond(&q, &ips, ttl).unwrap(), peer).await;
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn an_answer_to_another_question_is_refused() {
        // Same id, another name: what an off-path guesser or a confused server sends.
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                let Ok(q) = Query::decode(&buf[..n]) else { continue };
                let other = Query { name: "evil.test".into(), ..q };
                let ip: IpAddr = "6.6.6.6".parse().unwrap();
                let _ = socket.send_to(&respond(&other, &[ip], 60).unwrap(), peer).await;
            }
        });
        let mut opts = NameServerOptions::new(format!("udp://{addr}"));
        opts.timeout = Duration::from_millis(300);
        let r = DnsResolver::new(vec![opts]).unwrap();
        // Over UDP the stray answer is ignored (the real one may still come): a timeout.
        let err = r.resolve(Network::Tcp4, "good.test".into()).await.unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(r.cache.lock().unwrap().is_empty(), "nothing was taken from it");
    }

    #[tokio::test]
    async fn an_error_answer_without_the_question_fails_at_once() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                let Ok(q) = Query::decode(&buf[..n]) else { continue };
                let mut servfail = q.id.to_be_bytes().to_vec();
                servfail.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, 0, 0, 0, 0]);
                let _ = socket.send_to(&servfail, peer).await;
            }
        });
        let r = DnsResolver::new(vec![NameServerOptions::new(format!("udp://{addr}"))]).unwrap();
        let started = Instant::now();
        let err = r.resolve(Network::Tcp4, "x.test".into()).await.unwrap_err();
        assert!(err.to_string().contains("server failure"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2), "not after the full timeout");
    }

    #[tokio::test]
    async fn the_cache_stays_bounded_and_ttls_are_capped() {
        let (addr, _) = udp_server(u32::MAX).await;
        let r = DnsResolver::new(vec![NameServerOptions::new(format!("udp://{addr}"))]).unwrap();
        for i in 0..CACHE_MAX + 50 {
            r.resolve(Network::Tcp4, format!("v4-{i}.test")).await.unwrap();
        }
        let cache = r.cache.lock().unwrap();
        assert!(cache.len() <= CACHE_MAX, "{} entries", cache.len());
        let longest = cache.values().map(|c| c.expires).max().unwrap();
        assert!(longest <= Instant::now() + MAX_ANSWER_TTL, "a 136-year TTL is capped to a day");
    }

    #[tokio::test]
    async fn udp_prefer_only_and_cache() {
        let (addr, count) = udp_server(60).await;
        let r = DnsResolver::new(vec![NameServerOptions::new(format!("udp://{addr}"))]).unwrap();
        let ips = r.resolve(Network::Tcp, "a.test".into()).await.unwrap();
        assert_eq!(ips, vec!["127.0.0.9".parse::<IpAddr>().unwrap()]);
        let again = r.resolve(Network::Tcp, "A.test".into()).await.unwrap();
        assert_eq!(again, ips);
        assert_eq!(count.load(Ordering::SeqCst), 1, "the second answer came from the cache");
        let v6 = r.resolve(Network::Tcp6, "a.test".into()).await.unwrap();
        assert_eq!(v6, vec!["::9".parse::<IpAddr>().unwrap()]);
        // No AAAA for v4.test: the caller wanting IPv6 gets an error, not an IPv4 address.
        assert!(r.resolve(Network::Tcp6, "v4.test".into()).await.is_err());
        let mut prefer6 = NameServerOptions::new(addr.to_string());
        prefer6.prefer = Some(Family::V6);
        let r6 = DnsResolver::new(vec![prefer6]).unwrap();
        assert_eq!(
            r6.resolve(Network::Tcp, "b.test".into()).await.unwrap(),
            vec!["::9".parse::<IpAddr>().unwrap()]
        );
        // Falls back to A when there is no AAAA.
        assert_eq!(
            r6.resolve(Network::Tcp, "v4.x".into()).await.unwrap(),
            vec!["127.0.0.9".parse::<IpAddr>().unwrap()]
        );
        let err = r.resolve(Network::Tcp, "none.test".into()).await.unwrap_err();
        assert!(err.to_string().contains("no such host"), "{err}");
    }

    #[tokio::test]
    async fn tcp_and_failover() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).await.unwrap();
            let a =
                respond(&Query::decode(&q).unwrap(), &["127.0.0.8".parse().unwrap()], 5).unwrap();
            s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&a).await.unwrap();
        });
        // A dead UDP server first (nothing listens; times out quickly), then the TCP one.
        let dead = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut first = NameServerOptions::new(format!("udp://{}", dead.local_addr().unwrap()));
        first.timeout = Duration::from_millis(200);
        let r =
            DnsResolver::new(vec![first, NameServerOptions::new(format!("tcp://{addr}"))]).unwrap();
        let ips = r.resolve(Network::Tcp4, "c.test".into()).await.unwrap();
        assert_eq!(ips, vec!["127.0.0.8".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn dns_over_tls() {
        use tokio_rustls::rustls;
        let (certs, key) = gost_x_tls::generate_self_signed().unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = acceptor.accept(tcp).await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).await.unwrap();
            let a =
                respond(&Query::decode(&q).unwrap(), &["127.0.0.6".parse().unwrap()], 5).unwrap();
            s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
            s.write_all(&a).await.unwrap();
            s.flush().await.unwrap();
        });
        let mut ns = NameServerOptions::new(format!("tls://{addr}"));
        ns.hostname = Some("dns.test".into());
        let r = DnsResolver::new(vec![ns]).unwrap();
        let ips = r.resolve(Network::Tcp, "d.test".into()).await.unwrap();
        assert_eq!(ips, vec!["127.0.0.6".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn bad_nameservers() {
        assert!(DnsResolver::new(vec![]).is_err());
        assert!(DnsResolver::new(vec![NameServerOptions::new("https://dns.google")]).is_err());
        assert!(Family::parse("ipv5").is_err());
    }
}
