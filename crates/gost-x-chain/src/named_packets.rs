//! Datagrams to named targets from a direct UDP socket (SOCKS5 UDP ASSOCIATE, UDP-over-TCP and
//! relay associations): each name is resolved the way the router resolves a TCP target (hosts,
//! then the resolver, then the system), the answer checked against the service's bypass, and
//! kept for a short while per association so that a stream of datagrams costs one lookup.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use gost_core::{Address, BoxFuture, BoxPacketConn, Network, PacketConn, Result};

use crate::router::DefaultRouter;

/// Names remembered per association, and for how long.
const CACHE_ENTRIES: usize = 16;
const CACHE_FOR: Duration = Duration::from_secs(60);

/// A lookup under way: the name, and the address it leads to.
type Lookup = (String, BoxFuture<'static, Result<IpAddr>>);

pub(crate) struct NamedPackets {
    inner: BoxPacketConn,
    router: DefaultRouter,
    cache: Vec<(String, IpAddr, Instant)>,
    lookup: Option<Lookup>,
}

impl NamedPackets {
    pub(crate) fn new(inner: BoxPacketConn, router: DefaultRouter) -> Self {
        NamedPackets { inner, router, cache: Vec::new(), lookup: None }
    }

    fn cached(&self, host: &str) -> Option<IpAddr> {
        let now = Instant::now();
        self.cache.iter().find(|(h, _, until)| h == host && *until > now).map(|(_, ip, _)| *ip)
    }

    fn remember(&mut self, host: String, ip: IpAddr) {
        let now = Instant::now();
        self.cache.retain(|(h, _, until)| *h != host && *until > now);
        if self.cache.len() >= CACHE_ENTRIES {
            self.cache.remove(0);
        }
        self.cache.push((host, ip, now + CACHE_FOR));
    }

    /// The address of `host`, looking it up (once at a time) if it is not cached.
    fn poll_address(&mut self, cx: &mut Context<'_>, host: &str) -> Poll<io::Result<IpAddr>> {
        if let Some(ip) = self.cached(host) {
            return Poll::Ready(Ok(ip));
        }
        if !matches!(&self.lookup, Some((h, _)) if h == host) {
            let router = self.router.clone();
            let name = host.to_owned();
            let fut: BoxFuture<'static, Result<IpAddr>> =
                Box::pin(async move { router.resolve_datagram_target(&name).await });
            self.lookup = Some((host.to_owned(), fut));
        }
        let Some((_, fut)) = self.lookup.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::Other.into()));
        };
        let found = ready!(fut.as_mut().poll(cx));
        self.lookup = None;
        match found {
            Ok(ip) => {
                self.remember(host.to_owned(), ip);
                Poll::Ready(Ok(ip))
            }
            Err(e) => Poll::Ready(Err(io::Error::other(e.to_string()))),
        }
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
            Address::Domain(host, port) => {
                let ip = ready!(this.poll_address(cx, host))?;
                Address::Ip(SocketAddr::new(ip, *port))
            }
            ip => ip.clone(),
        };
        Pin::new(&mut this.inner).poll_send_to(cx, buf, &target)
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
}

impl DefaultRouter {
    /// The address a datagram to `host` goes to: hosts, the resolver, then the system, and
    /// never one the service's bypass refuses.
    pub(crate) async fn resolve_datagram_target(&self, host: &str) -> Result<IpAddr> {
        let name = Address::Domain(host.to_owned(), 0);
        match self.resolve(Network::Udp, name.clone()).await? {
            Address::Ip(sa) => {
                self.check_resolved(Network::Udp, &name, sa).await?;
                Ok(sa.ip())
            }
            Address::Domain(..) => {
                let addrs = self.resolve_allowed(Network::Udp, &name).await?;
                addrs.first().map(|sa| sa.ip()).ok_or_else(|| {
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
        let err = send_to(&mut conn, b"x", &Address::Domain("1.2.3.256".into(), port)).await;
        assert!(err.is_err(), "a name read as an address we cannot parse is refused");
    }
}
