//! `dns`: a DNS proxy (`-L dns://:53?dns=1.1.1.1:53,tcp://9.9.9.9:53`), as gost's `dns` handler:
//! each query is answered from the service's `hosts` (A/AAAA), refused quietly when its name is
//! bypassed (an empty NOERROR answer, as gost), answered from the cache while its records live,
//! or forwarded to the upstreams in turn (through the chain: UDP upstreams as datagrams over
//! it, TCP/TLS ones as streams). Upstreams come from the `dns` metadata, else the forwarder's
//! nodes (`-L dns://:53/1.1.1.1:53`), else `/etc/resolv.conf`, else `127.0.0.1:53`. When every
//! upstream fails the client gets SERVFAIL; a message that is not a query gets FORMERR (or is
//! dropped when it is too short to answer).
//!
//! Each read of the connection is one message and each write one reply (the `dns` listener
//! frames TCP and TLS; a datagram connection carries one query).
//!
//! Metadata: `dns` (upstreams: `[udp://|tcp://|tls://]host[:port]` or
//! `https://host[:port]/path`, a list or comma list),
//! `timeout` (5s per upstream), `ttl` (0: the records' own; else every answer's TTL and the
//! cache lifetime), `cacheSize` (4096 answers), `readTimeout` (15s: a TCP client's next query),
//! `clientIP` (sent upstream as an EDNS Client Subnet: IPv4 /24, IPv6 /128, as gost), `async`
//! (an expired cached answer is served at once, TTLs 0, while a fresh one is fetched).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gost_core::io::{read, read_exact, recv_from, send_to, write_all};
use gost_core::{
    Address, BoxBypass, BoxConn, BoxHandler, BoxHostMapper, BoxRouter, Error, ErrorKind, Handler,
    HandlerOptions, HostMapper, Metadata, Network, Result, Router, Session,
};
use gost_proto::dns::{self, Question};

use crate::util;

/// The registry name.
pub const NAME: &str = "dns";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_CACHE_SIZE: usize = 4096;
/// The TTL of answers made from `hosts` (gost's default).
const HOSTS_TTL: u32 = 60;
/// The largest message handled (TCP's limit; UDP ones are smaller).
const MAX_MESSAGE: usize = 65535;
/// The largest query taken in a datagram (a query is one question and an OPT record; EDNS
/// clients advertise at most 4096).
const MAX_DATAGRAM_QUERY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
    Tls,
    /// DNS over HTTPS (HTTP/2), to this path.
    Https(String),
}

#[derive(Debug, Clone)]
struct Upstream {
    transport: Transport,
    addr: Address,
}

/// `[udp://|tcp://|tls://]host[:port]` (port 53, or 853 for TLS).
fn parse_upstream(s: &str) -> Result<Upstream> {
    let s = s.trim();
    let (transport, rest) = match s.split_once("://") {
        Some(("udp", r)) => (Transport::Udp, r),
        Some(("tcp", r)) => (Transport::Tcp, r),
        Some(("tls", r)) => (Transport::Tls, r),
        Some(("https", r)) => {
            let (authority, path) = r.split_once('/').unwrap_or((r, "dns-query"));
            (Transport::Https(format!("/{path}")), authority)
        }
        Some((other, _)) => {
            return Err(Error::config(format!("dns upstream {s:?}: {other}:// is not supported")));
        }
        None => (Transport::Udp, s),
    };
    let rest = rest.trim_end_matches('/');
    let port = match transport {
        Transport::Tls => 853,
        Transport::Https(_) => 443,
        _ => 53,
    };
    let addr = Address::parse(rest)
        .or_else(|_| {
            Address::from_host_port(rest.trim_start_matches('[').trim_end_matches(']'), port)
        })
        .map_err(|e| e.wrap(ErrorKind::Config, format!("dns upstream {s:?}")))?;
    Ok(Upstream { transport, addr })
}

/// The nameservers of `/etc/resolv.conf`.
fn system_nameservers() -> Vec<Upstream> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next()).flatten()
        })
        .filter_map(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| Upstream { transport: Transport::Udp, addr: Address::Ip((ip, 53).into()) })
        .collect()
}

struct Entry {
    reply: Vec<u8>,
    stored: Instant,
    ttl: u32,
    /// An `async` refresh of it is on its way.
    refreshing: bool,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<(String, u16, u16), Entry>,
    order: VecDeque<(String, u16, u16)>,
}

struct DnsHandler(std::sync::Arc<Inner>);

struct Inner {
    router: BoxRouter,
    bypass: Option<BoxBypass>,
    hosts: Option<BoxHostMapper>,
    upstreams: Vec<Upstream>,
    tls: gost_x_tls::TlsConnector,
    /// For DoH upstreams: ALPN `h2`; and their HTTP/2 connections, kept.
    tls_h2: gost_x_tls::TlsConnector,
    doh: Mutex<HashMap<String, gost_x_h2::Client>>,
    timeout: Duration,
    ttl: Option<u32>,
    cache_size: usize,
    cache: Mutex<Cache>,
    read_timeout: Duration,
    /// `clientIP`: sent upstream as an EDNS Client Subnet.
    client_ip: Option<IpAddr>,
    /// `async`: an expired answer is served at once while a fresh one is fetched.
    stale_while_refreshing: bool,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let mut upstreams = Vec::new();
    for s in md.get_strings(&["dns"])?.unwrap_or_default() {
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            upstreams.push(parse_upstream(part)?);
        }
    }
    if upstreams.is_empty()
        && let Some(hop) = &opts.forwarder
    {
        for node in gost_core::Hop::nodes(hop) {
            upstreams.push(parse_upstream(&node.addr.to_string())?);
        }
    }
    if upstreams.is_empty() {
        upstreams = system_nameservers();
    }
    if upstreams.is_empty() {
        upstreams.push(parse_upstream("127.0.0.1:53")?);
    }
    let (tls, _) = gost_x_tls::client_config(md)?;
    let mut h2_config = (*tls).clone();
    h2_config.alpn_protocols = vec![b"h2".to_vec()];
    let ttl = md.get_duration(&["ttl"])?.filter(|t| !t.is_zero());
    Ok(BoxHandler::new(DnsHandler(std::sync::Arc::new(Inner {
        router: opts.router,
        bypass: opts.bypass,
        hosts: opts.hosts,
        upstreams,
        tls: gost_x_tls::TlsConnector::from(tls),
        tls_h2: gost_x_tls::TlsConnector::from(std::sync::Arc::new(h2_config)),
        doh: Mutex::default(),
        timeout: md.get_duration(&["timeout"])?.filter(|t| !t.is_zero()).unwrap_or(DEFAULT_TIMEOUT),
        ttl: ttl.map(|t| u32::try_from(t.as_secs()).unwrap_or(u32::MAX).max(1)),
        cache_size: md.get_usize(&["cacheSize"])?.unwrap_or(DEFAULT_CACHE_SIZE),
        cache: Mutex::default(),
        read_timeout: util::read_timeout(md)?,
        client_ip: match md.get_string(&["clientIP"])?.filter(|s| !s.is_empty()) {
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| Error::config(format!("dns: clientIP {ip:?} is not an IP")))?,
            ),
            None => None,
        },
        stale_while_refreshing: md.get_bool(&["async"])?.unwrap_or(false),
    }))))
}

impl Handler for DnsHandler {
    async fn handle(&self, conn: BoxConn, session: Session) -> Result<()> {
        self.0.serve(conn, session).await
    }
}

impl Inner {
    async fn serve(self: &std::sync::Arc<Self>, mut conn: BoxConn, session: Session) -> Result<()> {
        // A query arriving as one datagram (or one DoH request) is small; TCP's may be 64 KiB.
        let size = if conn.is_datagram() { MAX_DATAGRAM_QUERY } else { MAX_MESSAGE };
        let mut buf = vec![0u8; size];
        loop {
            let n = match tokio::time::timeout(self.read_timeout, read(&mut conn, &mut buf)).await {
                Ok(Ok(0)) | Err(_) => return Ok(()),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e.into()),
            };
            if let Some(reply) = self.answer(&buf[..n], &session).await {
                write_all(&mut conn, &reply).await?;
            }
            if conn.is_datagram() {
                return Ok(());
            }
        }
    }
}

impl Inner {
    /// The reply to `msg`, if it deserves one.
    async fn answer(self: &std::sync::Arc<Self>, msg: &[u8], session: &Session) -> Option<Vec<u8>> {
        let q = match dns::question(msg) {
            Ok(q) => q,
            Err(e) => {
                tracing::debug!(sid = session.id, "dns: {e}");
                return formerr(msg);
            }
        };
        if q.qclass == dns::CLASS_INET {
            let name = Address::Domain(q.name.clone(), 0);
            if util::bypassed(self.bypass.as_ref(), Network::Udp, &name).await {
                tracing::debug!(sid = session.id, name = q.name, "dns: bypassed");
                return Some(dns::empty_reply(msg, &q, 0));
            }
            if let Some(reply) = self.hosts_answer(&q).await {
                return Some(reply);
            }
        }
        match self.cached(&q) {
            Some((reply, true)) => return Some(reply),
            Some((reply, false)) if self.stale_while_refreshing => {
                // Served as it is (its TTLs at 0) while a fresh answer is fetched (one fetch at
                // a time per question).
                if self.mark_refreshing(&q, true) {
                    let (inner, query, q) = (std::sync::Arc::clone(self), msg.to_vec(), q.clone());
                    tokio::spawn(async move {
                        let _ = inner.resolve(&query, &q, 0).await;
                        inner.mark_refreshing(&q, false);
                    });
                }
                return Some(reply);
            }
            _ => {}
        }
        self.resolve(msg, &q, session.id).await
    }

    /// The upstreams' answer (cached), or SERVFAIL.
    async fn resolve(&self, msg: &[u8], q: &Question, sid: u64) -> Option<Vec<u8>> {
        let with_subnet = self.client_ip.and_then(|ip| dns::with_client_subnet(msg, ip).ok());
        let outgoing = with_subnet.as_deref().unwrap_or(msg);
        for upstream in &self.upstreams {
            let exchange = self.exchange(upstream, outgoing, q);
            match tokio::time::timeout(self.timeout, exchange).await {
                Ok(Ok(reply)) if !dns::is_reply_to(&reply, msg, q) => {
                    tracing::debug!(sid, upstream = %upstream.addr, "dns: an answer to another query");
                }
                Ok(Ok(mut reply)) => {
                    if let Some(ttl) = self.ttl {
                        let _ = dns::set_ttls(&mut reply, ttl);
                    }
                    self.store(q, &reply);
                    return Some(reply);
                }
                Ok(Err(e)) => {
                    tracing::debug!(sid, upstream = %upstream.addr, "dns: {e}")
                }
                Err(_) => {
                    tracing::debug!(sid, upstream = %upstream.addr, "dns: no answer in {:?}", self.timeout)
                }
            }
        }
        Some(dns::empty_reply(msg, q, dns::RCODE_SERVFAIL))
    }

    async fn hosts_answer(&self, q: &Question) -> Option<Vec<u8>> {
        let hosts = self.hosts.as_ref()?;
        let network = match q.qtype {
            dns::TYPE_A => Network::Udp4,
            dns::TYPE_AAAA => Network::Udp6,
            _ => return None,
        };
        let ips = hosts.lookup(network, q.name.clone()).await?;
        let ips: Vec<IpAddr> =
            ips.into_iter().filter(|ip| ip.is_ipv4() == (q.qtype == dns::TYPE_A)).collect();
        if ips.is_empty() {
            return None;
        }
        let query = dns::Query { id: q.id, name: q.name.clone(), qtype: q.qtype };
        dns::respond(&query, &ips, self.ttl.unwrap_or(HOSTS_TTL)).ok()
    }

    /// Sets the cached answer's refreshing mark; whether it changed.
    fn mark_refreshing(&self, q: &Question, on: bool) -> bool {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.entries.get_mut(&(q.name.clone(), q.qtype, q.qclass)) {
            Some(entry) if entry.refreshing != on => {
                entry.refreshing = on;
                true
            }
            _ => false,
        }
    }

    /// A cached answer made fresh for `q`, and whether it is still alive.
    fn cached(&self, q: &Question) -> Option<(Vec<u8>, bool)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let entry = cache.entries.get(&(q.name.clone(), q.qtype, q.qclass))?;
        let elapsed = u32::try_from(entry.stored.elapsed().as_secs()).unwrap_or(u32::MAX);
        let reply = dns::refresh(&entry.reply, q.id, elapsed).ok()?;
        Some((reply, elapsed < entry.ttl))
    }

    /// Keeps an answer (NOERROR or NXDOMAIN) for as long as its shortest TTL.
    fn store(&self, q: &Question, reply: &[u8]) {
        if self.cache_size == 0 || !matches!(dns::rcode(reply), Some(0 | 3)) {
            return;
        }
        let ttl = self.ttl.unwrap_or_else(|| {
            dns::ttls(reply).ok().and_then(|t| t.iter().map(|(_, ttl)| *ttl).min()).unwrap_or(0)
        });
        if ttl == 0 {
            return;
        }
        let key = (q.name.clone(), q.qtype, q.qclass);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        while cache.entries.len() >= self.cache_size {
            let Some(old) = cache.order.pop_front() else { break };
            cache.entries.remove(&old);
        }
        if cache
            .entries
            .insert(
                key.clone(),
                Entry { reply: reply.to_vec(), stored: Instant::now(), ttl, refreshing: false },
            )
            .is_none()
        {
            cache.order.push_back(key);
        }
    }

    /// One exchange with `upstream`. Over UDP only a datagram from the upstream that answers
    /// `q` is taken (others, stray or spoofed, are skipped).
    async fn exchange(&self, upstream: &Upstream, msg: &[u8], q: &Question) -> Result<Vec<u8>> {
        match &upstream.transport {
            Transport::Udp => {
                let mut pc = self.router.dial_packet(Some(upstream.addr.clone())).await?;
                send_to(&mut pc, msg, &upstream.addr).await?;
                let mut buf = vec![0u8; MAX_MESSAGE];
                loop {
                    let (n, from) = recv_from(&mut pc, &mut buf).await?;
                    let from_upstream = match (&from, &upstream.addr) {
                        (Address::Ip(a), Address::Ip(b)) => a == b,
                        _ => true, // named upstreams: the chain reports the name or an address
                    };
                    if from_upstream && dns::is_reply_to(&buf[..n], msg, q) {
                        return Ok(buf[..n].to_vec());
                    }
                }
            }
            Transport::Https(path) => self.doh_exchange(upstream, path, msg).await,
            Transport::Tcp | Transport::Tls => {
                let mut conn = self.router.dial(Network::Tcp, upstream.addr.clone()).await?;
                if upstream.transport == Transport::Tls {
                    let name = gost_x_tls::server_name(None, &upstream.addr.host())?;
                    conn = gost_x_tls::connect(&self.tls, name, conn).await?;
                }
                let len = u16::try_from(msg.len())
                    .map_err(|_| Error::protocol("dns query longer than 65535 bytes"))?;
                let mut out = Vec::with_capacity(2 + msg.len());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(msg);
                write_all(&mut conn, &out).await?;
                let mut len = [0u8; 2];
                read_exact(&mut conn, &mut len).await?;
                let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
                read_exact(&mut conn, &mut reply).await?;
                Ok(reply)
            }
        }
    }
}

impl Inner {
    /// A DoH exchange on the kept HTTP/2 connection to `upstream` (made when there is none).
    async fn doh_exchange(&self, upstream: &Upstream, path: &str, msg: &[u8]) -> Result<Vec<u8>> {
        let key = upstream.addr.to_string();
        let kept = self.doh.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let client = match kept.filter(gost_x_h2::Client::is_usable) {
            Some(c) => c,
            None => {
                let conn = self.router.dial(Network::Tcp, upstream.addr.clone()).await?;
                let name = gost_x_tls::server_name(None, &upstream.addr.host())?;
                let conn = gost_x_tls::connect(&self.tls_h2, name, conn).await?;
                let client = gost_x_h2::Client::handshake(conn, None).await?;
                self.doh.lock().unwrap_or_else(|e| e.into_inner()).insert(key, client.clone());
                client
            }
        };
        let authority = upstream.addr.to_string();
        let (status, reply) =
            client.post(&authority, path, "application/dns-message", msg, MAX_MESSAGE).await?;
        if status != 200 {
            return Err(Error::new(
                ErrorKind::Connect,
                format!("dns: DoH upstream answered {status}"),
            ));
        }
        Ok(reply)
    }
}

/// FORMERR for a message with a header (and the query bit clear); nothing otherwise.
fn formerr(msg: &[u8]) -> Option<Vec<u8>> {
    if msg.len() < 12 || msg[2] & 0x80 != 0 {
        return None;
    }
    let mut out = msg[..12].to_vec();
    out[2] = 0x80 | (msg[2] & 0x79);
    out[3] = 0x80 | dns::RCODE_FORMERR;
    out[4..12].fill(0);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_as_gost_writes_them() {
        let u = parse_upstream("1.1.1.1").unwrap();
        assert_eq!((u.transport, u.addr.to_string()), (Transport::Udp, "1.1.1.1:53".into()));
        let u = parse_upstream("tls://dns.example:8853").unwrap();
        assert_eq!((u.transport, u.addr.to_string()), (Transport::Tls, "dns.example:8853".into()));
        let u = parse_upstream("tls://9.9.9.9").unwrap();
        assert_eq!(u.addr.port(), 853);
        let u = parse_upstream("https://dns.example/dns-query").unwrap();
        assert_eq!(u.transport, Transport::Https("/dns-query".into()));
        assert_eq!(u.addr.to_string(), "dns.example:443");
        assert!(parse_upstream("quic://dns.example").is_err());
        assert_eq!(formerr(b"short"), None);
        let bad = [0x12, 0x34, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0];
        let reply = formerr(&bad).unwrap();
        assert_eq!(dns::rcode(&reply), Some(dns::RCODE_FORMERR));
    }
}
