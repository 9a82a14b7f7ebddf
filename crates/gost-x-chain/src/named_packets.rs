//! Datagrams to named targets from a direct UDP socket (SOCKS5 UDP ASSOCIATE, UDP-over-TCP and
//! relay associations): each name is resolved the way the router resolves a TCP target (hosts,
//! then the resolver, then the system), the answer checked against the service's bypass, and
//! kept for a short while per association so that a stream of datagrams costs one lookup.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use gost_core::{Address, BoxFuture, BoxPacketConn, Network, PacketConn, Result};

use crate::router::DefaultRouter;

/// Targets remembered per association, and for how long (a failure or a refusal for less, so
/// a stream of datagrams to a bad name does not start a lookup each).
const CACHE_ENTRIES: usize = 16;
const CACHE_FOR: Duration = Duration::from_secs(60);
const FAILURE_FOR: Duration = Duration::from_secs(5);

/// What a target led to: its address, or why not.
type Verdict = std::result::Result<SocketAddr, String>;

/// A lookup under way: the target, and what it leads to.
type Lookup = ((String, u16), BoxFuture<'static, Result<SocketAddr>>);

pub(crate) struct NamedPackets {
    inner: BoxPacketConn,
    router: DefaultRouter,
    /// Per (name, port): the bypass speaks of an address with its port.
    cache: Vec<((String, u16), Verdict, Instant)>,
    lookup: Option<Lookup>,
}

impl NamedPackets {
    pub(crate) fn new(inner: BoxPacketConn, router: DefaultRouter) -> Self {
        NamedPackets { inner, router, cache: Vec::new(), lookup: None }
    }

    fn cached(&self, key: &(String, u16)) -> Option<Verdict> {
        let now = Instant::now();
        self.cache.iter().find(|(k, _, until)| k == key && *until > now).map(|(_, v, _)| v.clone())
    }

    fn remember(&mut self, key: (String, u16), verdict: Verdict) {
        let now = Instant::now();
        let until = now + if verdict.is_ok() { CACHE_FOR } else { FAILURE_FOR };
        self.cache.retain(|(k, _, t)| *k != key && *t > now);
        if self.cache.len() >= CACHE_ENTRIES {
            drop(self.cache.remove(0));
        }
        self.cache.push((key, verdict, until));
    }

    /// Where a datagram to `host:port` goes, looking it up (once at a time) if not cached.
    fn poll_target(
        &mut self,
        cx: &mut Context<'_>,
        host: &str,
        port: u16,
    ) -> Poll<io::Result<SocketAddr>> {
        let key = (host.to_owned(), port);
        if let Some(verdict) = self.cached(&key) {
            return Poll::Ready(verdict.map_err(io::Error::other));
        }
        if !matches!(&self.lookup, Some((k, _)) if *k == key) {
            let router = self.router.clone();
            let name = host.to_owned();
            let fut: BoxFuture<'static, Result<SocketAddr>> =
                Box::pin(async move { router.resolve_datagram_target(&name, port).await });
            self.lookup = Some((key.clone(), fut));
        }
        let Some((_, fut)) = self.lookup.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::Other.into()));
        };
        let found = ready!(fut.as_mut().poll(cx));
        self.lookup = None;
        let verdict = found.map_err(|e| e.to_string());
        self.remember(key, verdict.clone());
        Poll::Ready(verdict.map_err(io::Error::other))
    }
}

impl PacketConn for NamedPackets {
    fn poll_recv_from(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, Address)>> {
        Pin::new(&mut self.inner).poll_recv_from(cx, buf)
    }

    fn poll_send_to(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: &Address,
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let target = match target {
            Address::Domain(host, port) => Address::Ip(ready!(this.poll_target(cx, host, *port))?),
            ip => ip.clone(),
        };
        Pin::new(&mut this.inner).poll_send_to(cx, buf, &target)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
}

impl DefaultRouter {
    /// The address a datagram to `host:port` goes to: hosts, the resolver, then the system,
    /// and never one the service's bypass refuses (with that port).
    pub(crate) async fn resolve_datagram_target(
        &self,
        host: &str,
        port: u16,
    ) -> Result<SocketAddr> {
        let name = Address::Domain(host.to_owned(), port);
        match self.resolve(Network::Udp, name.clone()).await? {
            Address::Ip(sa) => {
                self.check_resolved(Network::Udp, &name, sa).await?;
                Ok(sa)
            }
            Address::Domain(..) => {
                let addrs = self.resolve_allowed(Network::Udp, &name).await?;
                addrs.first().copied().ok_or_else(|| {
                    gost_core::Error::new(
                        gost_core::ErrorKind::Dial,
                        format!("no address for {host}"),
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RouterOptions;
    use gost_core::io::{recv_from, send_to};
    use gost_core::{BoxHostMapper, HostMapper};
    use std::net::IpAddr;

    struct Mapped;
    impl HostMapper for Mapped {
        async fn lookup(&self, _: Network, host: String) -> Option<Vec<IpAddr>> {
            (host == "mapped.test").then(|| vec![IpAddr::from([127, 0, 0, 1])])
        }
    }

    #[tokio::test]
    async fn datagrams_to_a_mapped_name_reach_its_address() {
        let target = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = target.local_addr().unwrap().port();
        let mut opts = RouterOptions::default();
        opts.hosts = Some(BoxHostMapper::new(Mapped));
        let router = DefaultRouter::new(opts);
        let mut conn = gost_core::Router::dial_packet(&router, None).await.unwrap();
        for i in 0..3u8 {
            send_to(&mut conn, &[i], &Address::Domain("mapped.test".into(), port)).await.unwrap();
            let mut b = [0u8; 4];
            let (n, from) = target.recv_from(&mut b).await.unwrap();
            assert_eq!(&b[..n], &[i]);
            target.send_to(b"ok", from).await.unwrap();
            let (n, _) = recv_from(&mut conn, &mut b).await.unwrap();
            assert_eq!(&b[..n], b"ok");
        }
    }

    /// A blacklist of 127.0.0.1 on one port only.
    struct OnePort(u16);
    impl gost_core::Bypass for OnePort {
        async fn contains(&self, _: Network, target: Address) -> bool {
            matches!(target, Address::Ip(sa) if sa.ip() == IpAddr::from([127, 0, 0, 1]) && sa.port() == self.0)
        }
    }

    #[tokio::test]
    async fn a_port_specific_rule_holds_for_named_datagram_targets() {
        let target = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = target.local_addr().unwrap().port();
        let mut opts = RouterOptions::default();
        opts.hosts = Some(BoxHostMapper::new(Mapped));
        opts.bypass = Some(gost_core::BoxBypass::new(OnePort(port)));
        let router = DefaultRouter::new(opts);
        let mut conn = gost_core::Router::dial_packet(&router, None).await.unwrap();
        for _ in 0..2 {
            let to = Address::Domain("mapped.test".into(), port);
            assert!(send_to(&mut conn, b"x", &to).await.is_err(), "refused, also from the cache");
        }
        // Another port of the same name is fine.
        let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = Address::Domain("mapped.test".into(), other.local_addr().unwrap().port());
        send_to(&mut conn, b"y", &to).await.unwrap();
        let mut b = [0u8; 4];
        assert_eq!(other.recv(&mut b).await.unwrap(), 1);
    }
}
