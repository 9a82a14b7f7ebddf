//! # gost-x-quic
//!
//! gost's `quic` transport on quinn: a client keeps one QUIC connection per node and opens a
//! bidirectional stream per proxied connection; a server hands each stream a client opens to
//! its service (`-L relay+quic://:8443`, `-F relay+quic://server:8443`). As gost (quic-go): QUIC
//! v1, ALPN `h3` and `quic/v1` unless `alpn` names others, TLS 1.3 with the `tls` keys'
//! certificates (the client accepts any server certificate unless `secure`/`caFile`).
//!
//! Metadata (listener and dialer): `keepAlive` (true) with `ttl` (10s: the keep-alive period),
//! `maxIdleTimeout` (90s), `handshakeTimeout` (10s), `maxStreams` (100: concurrent streams a
//! peer may open), `cipherKey` (every datagram sealed with AES-GCM under this 16- or 32-byte
//! key, as gost: see [`cipher`]), the `tls` keys; listener: `backlog` (128: streams waiting for
//! the service).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, BoxListener, DialOptions, Dialer, DialerOptions, Error, ErrorKind,
    HandshakeOptions, Listener, ListenerOptions, Metadata, Network, Registries, Result,
};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use tokio::sync::mpsc;

mod cipher;
use tokio::task::{JoinHandle, JoinSet};

/// The registry name.
pub const NAME: &str = "quic";

/// gost's (quic-go's) ALPN offer.
const DEFAULT_ALPN: [&[u8]; 2] = [b"h3", b"quic/v1"];
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10);
const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(90);
const DEFAULT_HANDSHAKE: Duration = Duration::from_secs(10);
/// quic-go's default number of concurrent incoming streams.
const DEFAULT_MAX_STREAMS: u32 = 100;
const DEFAULT_BACKLOG: usize = 128;
/// How long a dial waits for the peer to allow another stream.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections a server keeps at once (handshaking or serving); more are refused. With the
/// windows below, what clients can make a server buffer is bounded by this times 8 MiB.
const MAX_CONNECTIONS: usize = 1024;
/// Past this many connections, new clients must validate their address first.
const VALIDATE_ABOVE: usize = 64;

/// Registers the `quic` listener and dialer.
pub fn register(r: &Registries) -> Result<()> {
    r.listeners.register(NAME, new_listener)?;
    r.dialers.register(NAME, new_dialer)?;
    Ok(())
}

/// The options both sides read.
#[derive(Clone)]
struct Options {
    /// `cipherKey`.
    cipher: Option<Arc<ring::aead::LessSafeKey>>,
    keepalive: Option<Duration>,
    max_idle: Duration,
    handshake: Duration,
    max_streams: u32,
}

impl Options {
    fn parse(md: &Metadata) -> Result<Options> {
        let cipher = match md.get_string(&["cipherKey"])?.filter(|k| !k.is_empty()) {
            Some(k) => Some(cipher::key(&k)?),
            None => None,
        };
        let keepalive = if md.get_bool(&["keepAlive", "keepalive"])?.unwrap_or(true) {
            Some(md.get_duration(&["ttl"])?.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_KEEPALIVE))
        } else {
            None
        };
        let max_streams = match md.get_int(&["maxStreams"])? {
            Some(n) if n > 0 => u32::try_from(n).unwrap_or(u32::MAX),
            _ => DEFAULT_MAX_STREAMS,
        };
        Ok(Options {
            cipher,
            keepalive,
            max_idle: md
                .get_duration(&["maxIdleTimeout"])?
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_MAX_IDLE),
            handshake: md
                .get_duration(&["handshakeTimeout"])?
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_HANDSHAKE),
            max_streams,
        })
    }

    fn transport(&self) -> Result<quinn::TransportConfig> {
        let mut t = quinn::TransportConfig::default();
        t.keep_alive_interval(self.keepalive);
        let idle = quinn::IdleTimeout::try_from(self.max_idle)
            .map_err(|_| Error::config("quic: maxIdleTimeout is too long"))?;
        t.max_idle_timeout(Some(idle));
        t.max_concurrent_bidi_streams(self.max_streams.into());
        t.max_concurrent_uni_streams(0u8.into());
        // Room for a fast stream on a long path (2 MiB per stream, 8 MiB per connection: about
        // 80 ms at 800 Mbit/s), and a bound on what a peer that is never read can park here.
        t.stream_receive_window((2u32 << 20).into());
        t.receive_window((8u32 << 20).into());
        t.send_window(8 << 20);
        // BBR: random loss (a lossy link, not congestion) does not collapse the rate as it does
        // a loss-based controller's.
        t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()));
        Ok(t)
    }
}

fn alpn(config_alpn: &mut Vec<Vec<u8>>) {
    if config_alpn.is_empty() {
        *config_alpn = DEFAULT_ALPN.iter().map(|a| a.to_vec()).collect();
    }
}

fn quic_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Handshake, format!("quic: {what}: {e}"))
}

/// A stream as a gost connection.
fn stream_conn(
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
) -> BoxConn {
    Box::new(gost_x_rt::TokioConn::with_addrs(tokio::io::join(recv, send), local, peer))
}

/// `quic` listener.
pub fn new_listener(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let o = Options::parse(md)?;
    let mut tls = (*gost_x_tls::server_config(md)?).clone();
    alpn(&mut tls.alpn_protocols);
    tls.max_early_data_size = 0;
    let crypto = QuicServerConfig::try_from(Arc::new(tls))
        .map_err(|e| Error::config(format!("quic: TLS 1.3 is required: {e}")))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(o.transport()?));
    let addr = listen_addr(&opts.addr)?;
    let bind_err = |e: std::io::Error| {
        Error::with_source(ErrorKind::Bind, format!("listen on {}", opts.addr), e)
    };
    let endpoint = match &o.cipher {
        None => quinn::Endpoint::server(server, addr).map_err(bind_err)?,
        Some(key) => {
            let socket = std::net::UdpSocket::bind(addr).map_err(bind_err)?;
            let socket = cipher::CipherSocket::new(socket, key.clone()).map_err(bind_err)?;
            quinn::Endpoint::new_with_abstract_socket(
                quinn::EndpointConfig::default(),
                Some(server),
                Arc::new(socket),
                Arc::new(quinn::TokioRuntime),
            )
            .map_err(bind_err)?
        }
    };
    let local = endpoint.local_addr().ok();
    let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG).max(1);
    let (tx, rx) = mpsc::channel(backlog);
    let acceptor = tokio::spawn(accept_loop(endpoint, tx, o.handshake, local));
    Ok(BoxListener::new(QuicListener { queue: rx, local, acceptor }))
}

/// `host:port` (an empty host: every address) as a UDP socket address.
fn listen_addr(addr: &str) -> Result<SocketAddr> {
    let (host, port) = gost_core::addr::split_host_port(addr)?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::config(format!("invalid port {port:?} in listen address {addr:?}")))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if host.is_empty() {
        // Dual stack where the system has IPv6 (quinn's socket takes both families then).
        let v6 = std::net::UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).is_ok();
        let ip =
            if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
        return Ok(SocketAddr::new(ip, port));
    }
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, port)),
        Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| Error::with_source(ErrorKind::Bind, format!("resolve {host:?}"), e))?
            .next()
            .ok_or_else(|| Error::new(ErrorKind::Bind, format!("no address for {host:?}"))),
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    tx: mpsc::Sender<BoxConn>,
    handshake: Duration,
    local: Option<SocketAddr>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            incoming = endpoint.accept() => match incoming {
                Some(incoming) if conns.len() >= MAX_CONNECTIONS => {
                    tracing::debug!(peer = %incoming.remote_address(), "quic: too many connections, refused");
                    incoming.refuse();
                }
                // Under load, a client must first prove its address (a Retry round trip), so a
                // flood of forged Initials cannot fill the table with handshakes.
                Some(incoming)
                    if conns.len() >= VALIDATE_ABOVE
                        && !incoming.remote_address_validated()
                        && incoming.may_retry() =>
                {
                    let peer = incoming.remote_address();
                    if incoming.retry().is_err() {
                        tracing::debug!(%peer, "quic: retry failed");
                    }
                }
                Some(incoming) => {
                    conns.spawn(serve_connection(incoming, tx.clone(), handshake, local));
                }
                None => break,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            () = tx.closed() => break,
        }
    }
    endpoint.close(0u8.into(), b"");
}

/// Every stream the client opens on one connection goes to the queue (a full queue resets it).
async fn serve_connection(
    incoming: quinn::Incoming,
    tx: mpsc::Sender<BoxConn>,
    handshake: Duration,
    local: Option<SocketAddr>,
) {
    let peer = incoming.remote_address();
    let conn = match tokio::time::timeout(handshake, async { incoming.await }).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "quic: handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "quic: handshake timed out");
            return;
        }
    };
    loop {
        tokio::select! {
            stream = conn.accept_bi() => match stream {
                Ok((send, recv)) => {
                    let c = stream_conn(send, recv, local, Some(peer));
                    if tx.try_send(c).is_err() {
                        tracing::debug!(%peer, "quic: accept queue full, stream closed");
                    }
                }
                Err(e) => {
                    tracing::debug!(%peer, "quic: connection ended: {e}");
                    return;
                }
            },
            () = tx.closed() => {
                conn.close(0u8.into(), b"");
                return;
            }
        }
    }
}

struct QuicListener {
    queue: mpsc::Receiver<BoxConn>,
    local: Option<SocketAddr>,
    acceptor: JoinHandle<()>,
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl Listener for QuicListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        self.queue.recv().await.ok_or_else(|| Error::new(ErrorKind::Closed, "listener closed"))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}

/// `quic` dialer.
pub fn new_dialer(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let o = Options::parse(md)?;
    let (tls, server_name) = gost_x_tls::client_config(md)?;
    let mut tls = (*tls).clone();
    alpn(&mut tls.alpn_protocols);
    let crypto = QuicClientConfig::try_from(Arc::new(tls))
        .map_err(|e| Error::config(format!("quic: TLS 1.3 is required: {e}")))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(Arc::new(o.transport()?));
    Ok(BoxDialer::new(QuicDialer {
        cipher: o.cipher.clone(),
        client,
        server_name,
        handshake: o.handshake,
        conn: std::sync::Mutex::new(None),
        building: tokio::sync::Mutex::new(()),
    }))
}

struct QuicDialer {
    /// `cipherKey`.
    cipher: Option<Arc<ring::aead::LessSafeKey>>,
    client: quinn::ClientConfig,
    server_name: Option<String>,
    handshake: Duration,
    /// The node's live connection and its endpoint; the lock is never held across an await.
    conn: std::sync::Mutex<Option<(quinn::Endpoint, quinn::Connection)>>,
    /// Held while a connection is built (one at a time).
    building: tokio::sync::Mutex<()>,
}

impl QuicDialer {
    fn live(&self) -> Option<quinn::Connection> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((_, c)) if c.close_reason().is_none() => Some(c.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    /// A new stream; waits at most [`OPEN_TIMEOUT`] for the peer to allow one (its
    /// `maxStreams` are all in use meanwhile), as quic-go's `OpenStreamSync` under gost's
    /// dial deadline.
    async fn open(conn: &quinn::Connection) -> Result<BoxConn> {
        let opened = tokio::time::timeout(OPEN_TIMEOUT, conn.open_bi()).await.map_err(|_| {
            Error::new(ErrorKind::Timeout, "quic: no stream allowed by the peer in time")
        })?;
        let (send, recv) = opened.map_err(|e| quic_error("open a stream", e))?;
        Ok(stream_conn(send, recv, None, Some(conn.remote_address())))
    }

    async fn build(&self, addr: &Address, opts: &DialOptions) -> Result<quinn::Connection> {
        let target = *gost_x_rt::net::resolve(addr, Network::Udp)
            .await?
            .first()
            .ok_or_else(|| Error::new(ErrorKind::Dial, format!("quic: no address for {addr}")))?;
        let bind = if target.is_ipv6() {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        } else {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        };
        let socket_err =
            |e: std::io::Error| Error::with_source(ErrorKind::Dial, "quic: UDP socket", e);
        let endpoint = match &self.cipher {
            None => quinn::Endpoint::client(bind).map_err(socket_err)?,
            Some(key) => {
                let socket = std::net::UdpSocket::bind(bind).map_err(socket_err)?;
                let socket = cipher::CipherSocket::new(socket, key.clone()).map_err(socket_err)?;
                quinn::Endpoint::new_with_abstract_socket(
                    quinn::EndpointConfig::default(),
                    None,
                    Arc::new(socket),
                    Arc::new(quinn::TokioRuntime),
                )
                .map_err(socket_err)?
            }
        };
        let name = self.server_name.clone().unwrap_or_else(|| addr.host());
        let name =
            name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(&name).to_owned();
        let connecting = endpoint
            .connect_with(self.client.clone(), target, &name)
            .map_err(|e| Error::new(ErrorKind::Dial, format!("quic: connect to {addr}: {e}")))?;
        let limit = opts.timeout.map_or(self.handshake, |t| t.min(self.handshake));
        let conn = match tokio::time::timeout(limit, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(Error::new(
                    ErrorKind::Dial,
                    format!("quic: handshake with {addr}: {e}"),
                ));
            }
            Err(_) => {
                return Err(Error::new(ErrorKind::Timeout, format!("quic: handshake with {addr}")));
            }
        };
        *self.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some((endpoint, conn.clone()));
        Ok(conn)
    }
}

impl Dialer for QuicDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        if let Some(c) = self.live()
            && let Ok(conn) = Self::open(&c).await
        {
            return Ok(conn);
        }
        let _building = self.building.lock().await;
        if let Some(c) = self.live()
            && let Ok(conn) = Self::open(&c).await
        {
            return Ok(conn);
        }
        let conn = self.build(&addr, &opts).await?;
        Self::open(&conn).await
    }

    async fn handshake(&self, _conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        let at = opts.addr.map(|a| format!(" to {a}")).unwrap_or_default();
        Err(Error::unsupported(format!(
            "quic{at}: QUIC runs over UDP and cannot go through a tunnel of earlier hops; \
             put the quic node first in the chain"
        )))
    }

    fn multiplex(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
