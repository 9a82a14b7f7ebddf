//! TCP helpers shared by listeners, dialers and the direct router.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use gost_core::{Address, BoxConn, Error, ErrorKind, Listener, Network, Result, ResultExt};
use tokio::net::{TcpListener, TcpStream};

use crate::TokioConn;

/// Go gost's default listen backlog.
pub const DEFAULT_BACKLOG: u32 = 128;

/// TCP keepalive settings. The default is Go's for every accepted and dialed socket: the first
/// probe after 15 s of silence, then every 15 s, and the connection is dropped after 9
/// unanswered probes, so a peer that vanished (power loss, NAT timeout) frees its socket and
/// task within about 2.5 minutes instead of never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// Silence before the first probe (`keepalive.idle`).
    pub idle: Duration,
    /// Between probes (`keepalive.interval`).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (`keepalive.count`).
    pub count: u32,
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive { idle: Duration::from_secs(15), interval: Duration::from_secs(15), count: 9 }
    }
}

impl KeepAlive {
    /// From a tcp listener's or dialer's metadata, as Go gost 3.3 reads it: `keepalive.idle`,
    /// `keepalive.interval`, `keepalive.count`; unset or zero values keep the default. (Go
    /// applies them only with `keepalive=true`; here they apply whenever they are set, since
    /// keepalive is on by default either way.)
    pub fn from_metadata(md: &gost_core::Metadata) -> Result<Self> {
        let mut ka = KeepAlive::default();
        if let Some(idle) = md.get_duration(&["keepalive.idle"])?.filter(|d| !d.is_zero()) {
            ka.idle = idle;
        }
        if let Some(every) = md.get_duration(&["keepalive.interval"])?.filter(|d| !d.is_zero()) {
            ka.interval = every;
        }
        if let Some(count) = md.get_usize(&["keepalive.count"])?.filter(|c| *c > 0) {
            ka.count = u32::try_from(count).unwrap_or(u32::MAX);
        }
        Ok(ka)
    }

    /// Turns keepalive on for `stream` with these settings. The kernel takes whole seconds
    /// (at least 1) and bounds them; a value it refuses is clamped rather than an error.
    pub fn apply(&self, stream: &TcpStream) -> std::io::Result<()> {
        socket2::SockRef::from(stream).set_tcp_keepalive(&self.config())
    }

    fn config(&self) -> socket2::TcpKeepalive {
        let secs = |d: Duration| Duration::from_secs(d.as_secs().clamp(1, 32_767));
        socket2::TcpKeepalive::new()
            .with_time(secs(self.idle))
            .with_interval(secs(self.interval))
            .with_retries(self.count.clamp(1, 127))
    }
}

/// Resolves `addr` with the system resolver, keeping only the families `network` allows.
pub async fn resolve(addr: &Address, network: Network) -> Result<Vec<SocketAddr>> {
    let all: Vec<SocketAddr> = match addr.clone().resolve_numeric() {
        Address::Ip(sa) => vec![sa],
        Address::Domain(host, port) => {
            refuse_odd_numeric(&host)?;
            tokio::net::lookup_host((host.as_str(), port))
                .await
                .with_context(ErrorKind::Dial, || format!("resolve {host}"))?
                .collect()
        }
    };
    let wanted: Vec<SocketAddr> = all
        .into_iter()
        .filter(|sa| match network {
            Network::Tcp4 | Network::Udp4 => sa.is_ipv4(),
            Network::Tcp6 | Network::Udp6 => sa.is_ipv6(),
            _ => true,
        })
        .collect();
    if wanted.is_empty() {
        return Err(Error::new(ErrorKind::Dial, format!("no {network} address for {addr}")));
    }
    Ok(wanted)
}

/// A name the system resolver might read differently from a bypass check
/// ([`gost_core::addr::misreadable_host`]) is refused, never looked up.
pub fn refuse_odd_numeric(host: &str) -> Result<()> {
    if gost_core::addr::misreadable_host(host) {
        return Err(Error::new(ErrorKind::Dial, format!("{host:?} is not a valid address")));
    }
    Ok(())
}

/// Connects to `addr` (trying each resolved address in turn) with TCP_NODELAY on. The whole
/// attempt is bounded by `timeout`.
pub async fn connect_tcp(addr: &Address, network: Network, timeout: Duration) -> Result<TcpStream> {
    let attempt = async {
        let addrs = resolve(addr, network).await?;
        connect_first(&addrs, addr).await
    };
    crate::timeout(timeout, &format!("dial {addr}"), attempt).await
}

/// Connects to the first of `addrs` (already resolved from `addr`) that accepts, with
/// TCP_NODELAY on, bounded by `timeout`.
pub async fn connect_tcp_to(
    addrs: &[SocketAddr],
    addr: &Address,
    timeout: Duration,
) -> Result<TcpStream> {
    crate::timeout(timeout, &format!("dial {addr}"), connect_first(addrs, addr)).await
}

async fn connect_first(addrs: &[SocketAddr], addr: &Address) -> Result<TcpStream> {
    let mut last = None;
    for &sa in addrs {
        match TcpStream::connect(sa).await {
            Ok(stream) => {
                // NODELAY failing only costs latency.
                let _ = stream.set_nodelay(true);
                // Go's default keepalive: without it a peer that vanished holds the socket
                // (and its relay task) forever.
                let _ = KeepAlive::default().apply(&stream);
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => Error::with_source(ErrorKind::Dial, format!("dial {addr}"), e),
        None => Error::new(ErrorKind::Dial, format!("dial {addr}: no address")),
    })
}

/// Binds a listening TCP socket the way Go's `net.Listen("tcp", addr)` does: an empty host means
/// every interface, dual-stack (`[::]` with IPV6_V6ONLY off, or `0.0.0.0` on a host without
/// IPv6); SO_REUSEADDR on. Must be called inside a tokio runtime.
pub fn listen_tcp(addr: &str, backlog: u32) -> Result<TcpListener> {
    listen_tcp_with(addr, backlog, false)
}

/// [`listen_tcp`], with `transparent`: `IP_TRANSPARENT` (and `IPV6_TRANSPARENT`) on the
/// socket, for a TPROXY target (Linux; needs `CAP_NET_ADMIN`).
pub fn listen_tcp_with(addr: &str, backlog: u32, transparent: bool) -> Result<TcpListener> {
    let bind_tcp = |sa, backlog| bind_tcp(sa, backlog, transparent);
    let (host, port) = gost_core::addr::split_host_port(addr)?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::config(format!("invalid port {port:?} in listen address {addr:?}")))?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let result = if host.is_empty() {
        match bind_tcp(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port), backlog) {
            Err(e) if no_ipv6(&e) => {
                bind_tcp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port), backlog)
            }
            other => other,
        }
    } else {
        let ip: IpAddr = match host.parse() {
            Ok(ip) => ip,
            // A host name: bind its first address, as Go does.
            Err(_) => std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
                .with_context(ErrorKind::Bind, || format!("resolve listen host {host:?}"))?
                .next()
                .map(|sa| sa.ip())
                .ok_or_else(|| Error::new(ErrorKind::Bind, format!("no address for {host:?}")))?,
        };
        bind_tcp(SocketAddr::new(ip, port), backlog)
    };
    result.with_context(ErrorKind::Bind, || format!("listen on {addr}"))
}

#[cfg(target_os = "linux")]
fn set_transparent(socket: &socket2::Socket, v6: bool) -> std::io::Result<()> {
    if v6 { socket.set_ip_transparent_v6(true) } else { socket.set_ip_transparent_v4(true) }
}

#[cfg(not(target_os = "linux"))]
fn set_transparent(_socket: &socket2::Socket, _v6: bool) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "tproxy is Linux only"))
}

/// The destination a connection redirected by netfilter (`REDIRECT`, `DNAT`) was sent to
/// (`SO_ORIGINAL_DST`; Linux).
#[cfg(target_os = "linux")]
pub fn original_dst(stream: &TcpStream) -> std::io::Result<SocketAddr> {
    let sock = socket2::SockRef::from(stream);
    let addr = if stream.local_addr()?.is_ipv6() {
        sock.original_dst_v6()?
    } else {
        sock.original_dst_v4()?
    };
    addr.as_socket().ok_or_else(|| std::io::Error::other("original destination is not IP"))
}

/// Not available off Linux.
#[cfg(not(target_os = "linux"))]
pub fn original_dst(_stream: &TcpStream) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "SO_ORIGINAL_DST is Linux only"))
}

/// Whether a bind failed because this host has no IPv6 at all.
fn no_ipv6(e: &std::io::Error) -> bool {
    const EAFNOSUPPORT: i32 = 97;
    e.kind() == std::io::ErrorKind::AddrNotAvailable || e.raw_os_error() == Some(EAFNOSUPPORT)
}

fn bind_tcp(sa: SocketAddr, backlog: u32, transparent: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if transparent {
        set_transparent(&socket, sa.is_ipv6())?;
    }
    if sa.is_ipv6() && sa.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    // Accepted sockets inherit keepalive from the listening one (Linux copies these options
    // to each connection it accepts): Go's default, without four syscalls per connection.
    let _ = socket.set_tcp_keepalive(&KeepAlive::default().config());
    socket.bind(&sa.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    TcpListener::from_std(socket.into())
}

/// The pause after a failed accept, as gost's: 1 s, doubling, at most 5 s; a success resets it.
/// An accept error such as EMFILE persists until something else frees descriptors, so retrying
/// at once would only spin.
#[derive(Debug, Default, Clone, Copy)]
pub struct AcceptBackoff {
    last: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(5);

    /// Records a failure; returns how long to wait before the next accept.
    pub fn failed(&mut self) -> Duration {
        self.last = if self.last.is_zero() { Self::FIRST } else { (self.last * 2).min(Self::MAX) };
        self.last
    }

    /// Records a success.
    pub fn succeeded(&mut self) {
        self.last = Duration::ZERO;
    }
}

/// A bound tokio TCP listener as a gost-core [`Listener`]; accepted sockets get TCP_NODELAY and
/// keepalive (Go's default unless [`TcpAcceptor::with_keepalive`] says otherwise).
#[derive(Debug)]
pub struct TcpAcceptor {
    listener: TcpListener,
    local: Option<SocketAddr>,
    keepalive: Option<KeepAlive>,
}

impl TcpAcceptor {
    /// Wraps a listening socket.
    pub fn new(listener: TcpListener) -> Self {
        let local = listener.local_addr().ok();
        TcpAcceptor { listener, local, keepalive: None }
    }

    /// Accepted sockets get `keepalive` instead of the default.
    pub fn with_keepalive(mut self, keepalive: KeepAlive) -> Self {
        self.keepalive = Some(keepalive);
        self
    }
}

impl Listener for TcpAcceptor {
    async fn accept(&mut self) -> Result<BoxConn> {
        // Every accept error on a listening socket is temporary (EMFILE, ECONNABORTED, ...): the
        // socket stays open and the service's loop backs off and retries.
        let (stream, _) = self.listener.accept().await.context(ErrorKind::Io, "accept")?;
        let conn = TokioConn::tcp(stream);
        if let Some(ka) = &self.keepalive {
            // Without it the connection still works, with the default keepalive.
            let _ = ka.apply(conn.get_ref());
        }
        Ok(Box::new(conn))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listen_and_connect() {
        let l = listen_tcp("127.0.0.1:0", DEFAULT_BACKLOG).unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let s = connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await.unwrap();
        assert!(s.nodelay().unwrap());
        assert!(connect_tcp(&addr, Network::Tcp6, Duration::from_secs(5)).await.is_err());
    }

    #[test]
    fn accept_backoff_doubles_to_five_seconds_and_resets() {
        let mut b = AcceptBackoff::default();
        let waits: Vec<u64> = (0..5).map(|_| b.failed().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn accepted_and_dialed_sockets_get_keepalive() {
        let custom =
            KeepAlive { idle: Duration::from_secs(30), interval: Duration::from_secs(5), count: 3 };
        let mut l = TcpAcceptor::new(listen_tcp("127.0.0.1:0", DEFAULT_BACKLOG).unwrap())
            .with_keepalive(custom);
        let addr = Address::Ip(l.local_addr().unwrap());
        let dialed =
            TokioConn::tcp(connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await.unwrap());
        let accepted = l.accept().await.unwrap();
        let accepted = (&*accepted as &dyn std::any::Any)
            .downcast_ref::<TokioConn<TcpStream>>()
            .expect("a TCP connection");
        let settings = |s: &TcpStream| {
            let r = socket2::SockRef::from(s);
            (
                r.keepalive().unwrap(),
                r.tcp_keepalive_time().unwrap(),
                r.tcp_keepalive_interval().unwrap(),
                r.tcp_keepalive_retries().unwrap(),
            )
        };
        let go = (true, Duration::from_secs(15), Duration::from_secs(15), 9);
        assert_eq!(settings(dialed.get_ref()), go);
        // Without a custom setting an accepted socket has Go's default, from the listener.
        let mut plain = TcpAcceptor::new(listen_tcp("127.0.0.1:0", DEFAULT_BACKLOG).unwrap());
        let plain_addr = Address::Ip(plain.local_addr().unwrap());
        let _client = connect_tcp(&plain_addr, Network::Tcp, Duration::from_secs(5)).await.unwrap();
        let inherited = plain.accept().await.unwrap();
        let inherited = (&*inherited as &dyn std::any::Any)
            .downcast_ref::<TokioConn<TcpStream>>()
            .expect("a TCP connection");
        assert_eq!(settings(inherited.get_ref()), go, "inherited from the listening socket");
        assert_eq!(
            settings(accepted.get_ref()),
            (true, Duration::from_secs(30), Duration::from_secs(5), 3)
        );
        let md =
            gost_core::Metadata::new().with("keepalive.idle", "1m").with("keepalive.count", "4");
        let ka = KeepAlive::from_metadata(&md).unwrap();
        assert_eq!(
            ka,
            KeepAlive {
                idle: Duration::from_secs(60),
                interval: Duration::from_secs(15),
                count: 4
            }
        );
        assert!(
            KeepAlive::from_metadata(&gost_core::Metadata::new().with("keepalive.count", "x"))
                .is_err()
        );
    }

    #[tokio::test]
    async fn empty_host_listens_on_all_interfaces_dual_stack() {
        let l = listen_tcp(":0", DEFAULT_BACKLOG).unwrap();
        let local = l.local_addr().unwrap();
        assert!(local.ip().is_unspecified());
        // IPv4 clients reach the [::] socket too.
        let v4 = Address::parse(&format!("127.0.0.1:{}", local.port())).unwrap();
        connect_tcp(&v4, Network::Tcp, Duration::from_secs(5)).await.unwrap();
    }

    #[tokio::test]
    async fn bad_addresses_are_errors() {
        assert_eq!(listen_tcp("127.0.0.1", 1).unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(listen_tcp("127.0.0.1:x", 1).unwrap_err().kind(), ErrorKind::Config);
        let taken = listen_tcp("127.0.0.1:0", 1).unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        // SO_REUSEADDR does not allow two listeners on one port.
        assert_eq!(listen_tcp(&addr, 1).unwrap_err().kind(), ErrorKind::Bind);
    }

    #[tokio::test]
    async fn refused_dial_is_a_retryable_error() {
        let l = listen_tcp("127.0.0.1:0", 1).unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        drop(l);
        let err = connect_tcp(&addr, Network::Tcp, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert!(err.is_retryable());
    }
}
