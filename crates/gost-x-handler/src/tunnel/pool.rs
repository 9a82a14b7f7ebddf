//! The connectors of each tunnel: smux sessions registered by tunnel clients, picked by weight
//! for each visitor among those of the visitor's network (TCP or UDP), a weight of 255 taking
//! the traffic exclusively, as gost's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gost_core::{BoxConn, Error, ErrorKind, Result};
use gost_proto::tunnel_id::TunnelId;
use gost_smux::Session;

/// Connectors one tunnel may have at once, and connectors in all: registrations past these are
/// refused (a registration flood holds no more).
pub const MAX_PER_TUNNEL: usize = 256;
pub const MAX_CONNECTORS: usize = 16384;

/// A registered tunnel client.
pub struct Connector {
    pub id: TunnelId,
    pub session: Session,
    pub local: Option<SocketAddr>,
    pub peer: Option<SocketAddr>,
}

/// Tunnels by UUID, and the registrations answered but not yet added (they count against the
/// limits, so concurrent registrations cannot overshoot them).
#[derive(Default)]
pub struct Pool {
    tunnels: Mutex<Tunnels>,
}

#[derive(Default)]
struct Tunnels {
    lists: HashMap<[u8; 16], Vec<Arc<Connector>>>,
    pending: HashMap<[u8; 16], usize>,
}

impl Tunnels {
    fn prune(&mut self) {
        for list in self.lists.values_mut() {
            list.retain(|c| !c.session.is_closed());
        }
        self.lists.retain(|_, l| !l.is_empty());
    }

    fn unpend(&mut self, tunnel: [u8; 16]) {
        if let Some(n) = self.pending.get_mut(&tunnel) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.pending.remove(&tunnel);
            }
        }
    }
}

/// A place held in a tunnel for a registration being answered; released when dropped unless
/// [`Reservation::fill`] put a connector in it.
pub struct Reservation<'a> {
    pool: &'a Pool,
    tunnel: [u8; 16],
    filled: bool,
}

impl Reservation<'_> {
    /// Puts `c` in the held place.
    pub fn fill(mut self, c: Arc<Connector>) {
        let mut all = self.pool.lock();
        all.unpend(self.tunnel);
        all.lists.entry(self.tunnel).or_default().push(c);
        self.filled = true;
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.filled {
            self.pool.lock().unpend(self.tunnel);
        }
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tunnels> {
        self.tunnels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds a place for a connector of `tunnel`; an error when the limits are reached.
    pub fn reserve(&self, tunnel: &TunnelId) -> Result<Reservation<'_>> {
        let mut all = self.lock();
        all.prune();
        let uuid = tunnel.uuid();
        let total =
            all.lists.values().map(Vec::len).sum::<usize>() + all.pending.values().sum::<usize>();
        let here =
            all.lists.get(&uuid).map_or(0, Vec::len) + all.pending.get(&uuid).copied().unwrap_or(0);
        if here >= MAX_PER_TUNNEL || total >= MAX_CONNECTORS {
            return Err(Error::new(
                ErrorKind::Denied,
                format!("tunnel {tunnel}: too many connectors"),
            ));
        }
        *all.pending.entry(uuid).or_default() += 1;
        Ok(Reservation { pool: self, tunnel: uuid, filled: false })
    }

    /// Closes every connector's session (the service stops).
    pub fn close_all(&self) {
        let all = self.lock();
        for c in all.lists.values().flatten() {
            c.session.close();
        }
    }

    /// Removes the connector `id` of `tunnel`.
    pub fn remove(&self, tunnel: &TunnelId, id: &TunnelId) {
        let mut all = self.lock();
        if let Some(list) = all.lists.get_mut(&tunnel.uuid()) {
            list.retain(|c| !c.id.same(id));
            if list.is_empty() {
                all.lists.remove(&tunnel.uuid());
            }
        }
    }

    /// A live connector of `tunnel` for a visitor of `udp` (or not).
    pub fn pick(&self, tunnel: &TunnelId, udp: bool) -> Option<Arc<Connector>> {
        let all = self.lock();
        let list = all.lists.get(&tunnel.uuid())?;
        // (gost takes a tunnel's only connector whatever its network; a UDP visitor on a TCP
        // connector cannot work, so here the network always has to match.)
        let live = list.iter().filter(|c| !c.session.is_closed());
        let mut candidates: Vec<&Arc<Connector>> = Vec::new();
        let mut exclusive = false;
        for c in live.filter(|c| c.id.is_udp() == udp) {
            match (exclusive, c.id.weight() == 255) {
                (false, true) => {
                    exclusive = true;
                    candidates.clear();
                    candidates.push(c);
                }
                (true, false) => {}
                _ => candidates.push(c),
            }
        }
        let weight = |c: &Arc<Connector>| u64::from(c.id.weight().max(1));
        let total: u64 = candidates.iter().map(|c| weight(c)).sum();
        if total == 0 {
            return None;
        }
        let mut r = random_u64() % total;
        for c in candidates {
            if r < weight(c) {
                return Some(Arc::clone(c));
            }
            r -= weight(c);
        }
        None
    }

    /// Opens a stream to a connector of `tunnel`, trying up to three connectors.
    pub async fn open(&self, tunnel: &TunnelId, udp: bool) -> Result<BoxConn> {
        let mut last = None;
        for _ in 0..3 {
            let Some(c) = self.pick(tunnel, udp) else { break };
            match gost_x_rt::mux::open(&c.session, c.local, c.peer).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    c.session.close();
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(ErrorKind::Dial, format!("tunnel {tunnel} is not available"))
        }))
    }
}

/// A random number for weighted picks (not secret).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    gost_x_rt::fill_random(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_proto::tunnel_id::FLAG_UDP;

    /// A connector with `flags` and `weight` over a session whose peer is kept alive by the
    /// returned task handle.
    fn connector(n: u8, flags: u8, weight: u8) -> (Arc<Connector>, gost_smux::Session) {
        let (a, b) = tokio::io::duplex(1 << 16);
        let cfg = gost_smux::Config::default();
        let session = gost_smux::Session::client(a, cfg.clone()).unwrap();
        let peer = gost_smux::Session::server(b, cfg).unwrap();
        let c = Connector {
            id: TunnelId::new([n; 16], flags, weight),
            session,
            local: None,
            peer: None,
        };
        (Arc::new(c), peer)
    }

    #[tokio::test]
    async fn picks_by_network_and_weight_and_255_takes_all() {
        let pool = Pool::default();
        let tunnel = TunnelId::new([9; 16], 0, 0);
        assert!(pool.pick(&tunnel, false).is_none(), "no connector");
        let (tcp, _p1) = connector(1, 0, 1);
        let (udp, _p2) = connector(2, FLAG_UDP, 1);
        pool.reserve(&tunnel).unwrap().fill(tcp.clone());
        assert!(pool.pick(&tunnel, true).is_none(), "a UDP visitor never gets a TCP connector");
        pool.reserve(&tunnel).unwrap().fill(udp.clone());
        assert!(pool.pick(&tunnel, true).unwrap().id.same(&udp.id));
        assert!(pool.pick(&tunnel, false).unwrap().id.same(&tcp.id));
        // Weights 1 and 3: about a quarter / three quarters.
        let (heavy, _p3) = connector(3, 0, 3);
        pool.reserve(&tunnel).unwrap().fill(heavy.clone());
        let heavy_picks =
            (0..4000).filter(|_| pool.pick(&tunnel, false).unwrap().id.same(&heavy.id)).count();
        assert!((2600..3400).contains(&heavy_picks), "{heavy_picks} of 4000");
        // 255 takes everything while it is there.
        let (all, _p4) = connector(4, 0, 255);
        pool.reserve(&tunnel).unwrap().fill(all.clone());
        assert!((0..200).all(|_| pool.pick(&tunnel, false).unwrap().id.same(&all.id)));
        pool.remove(&tunnel, &all.id);
        assert!(pool.pick(&tunnel, false).is_some_and(|c| !c.id.same(&all.id)));
        // A closed session is skipped.
        heavy.session.close();
        tcp.session.close();
        assert!(pool.pick(&tunnel, false).is_none());
        assert!(pool.reserve(&tunnel).is_ok());
    }

    #[tokio::test]
    async fn reservations_count_against_the_limit_until_dropped() {
        let pool = Pool::default();
        let tunnel = TunnelId::new([7; 16], 0, 0);
        let held: Vec<_> = (0..MAX_PER_TUNNEL).map(|_| pool.reserve(&tunnel).unwrap()).collect();
        assert!(pool.reserve(&tunnel).is_err(), "pending registrations fill the tunnel");
        drop(held);
        let (c, _peer) = connector(1, 0, 1);
        pool.reserve(&tunnel).unwrap().fill(c.clone());
        assert!(pool.pick(&tunnel, false).unwrap().id.same(&c.id));
        let held: Vec<_> = (1..MAX_PER_TUNNEL).map(|_| pool.reserve(&tunnel).unwrap()).collect();
        assert!(pool.reserve(&tunnel).is_err(), "a filled place still counts");
        drop(held);
    }
}
