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

/// Tunnels by UUID.
#[derive(Default)]
pub struct Pool {
    tunnels: Mutex<HashMap<[u8; 16], Vec<Arc<Connector>>>>,
}

impl Pool {
    /// Adds `c` to `tunnel`; an error when the limits are reached.
    pub fn add(&self, tunnel: &TunnelId, c: Arc<Connector>) -> Result<()> {
        let mut all = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
        for list in all.values_mut() {
            list.retain(|c| !c.session.is_closed());
        }
        all.retain(|_, l| !l.is_empty());
        let total: usize = all.values().map(Vec::len).sum();
        let list = all.entry(tunnel.uuid()).or_default();
        if list.len() >= MAX_PER_TUNNEL || total >= MAX_CONNECTORS {
            return Err(Error::new(
                ErrorKind::Denied,
                format!("tunnel {tunnel}: too many connectors"),
            ));
        }
        list.push(c);
        Ok(())
    }

    /// Whether `tunnel` may take another connector.
    pub fn has_room(&self, tunnel: &TunnelId) -> bool {
        let all = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
        let live = |l: &Vec<Arc<Connector>>| l.iter().filter(|c| !c.session.is_closed()).count();
        let total: usize = all.values().map(live).sum();
        total < MAX_CONNECTORS && all.get(&tunnel.uuid()).map_or(0, live) < MAX_PER_TUNNEL
    }

    /// Closes every connector's session (the service stops).
    pub fn close_all(&self) {
        let all = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
        for c in all.values().flatten() {
            c.session.close();
        }
    }

    /// Removes the connector `id` of `tunnel`.
    pub fn remove(&self, tunnel: &TunnelId, id: &TunnelId) {
        let mut all = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = all.get_mut(&tunnel.uuid()) {
            list.retain(|c| !c.id.same(id));
            if list.is_empty() {
                all.remove(&tunnel.uuid());
            }
        }
    }

    /// A live connector of `tunnel` for a visitor of `udp` (or not).
    pub fn pick(&self, tunnel: &TunnelId, udp: bool) -> Option<Arc<Connector>> {
        let all = self.tunnels.lock().unwrap_or_else(|e| e.into_inner());
        let list = all.get(&tunnel.uuid())?;
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
        pool.add(&tunnel, tcp.clone()).unwrap();
        assert!(pool.pick(&tunnel, true).is_none(), "a UDP visitor never gets a TCP connector");
        pool.add(&tunnel, udp.clone()).unwrap();
        assert!(pool.pick(&tunnel, true).unwrap().id.same(&udp.id));
        assert!(pool.pick(&tunnel, false).unwrap().id.same(&tcp.id));
        // Weights 1 and 3: about a quarter / three quarters.
        let (heavy, _p3) = connector(3, 0, 3);
        pool.add(&tunnel, heavy.clone()).unwrap();
        let heavy_picks =
            (0..4000).filter(|_| pool.pick(&tunnel, false).unwrap().id.same(&heavy.id)).count();
        assert!((2600..3400).contains(&heavy_picks), "{heavy_picks} of 4000");
        // 255 takes everything while it is there.
        let (all, _p4) = connector(4, 0, 255);
        pool.add(&tunnel, all.clone()).unwrap();
        assert!((0..200).all(|_| pool.pick(&tunnel, false).unwrap().id.same(&all.id)));
        pool.remove(&tunnel, &all.id);
        assert!(pool.pick(&tunnel, false).is_some_and(|c| !c.id.same(&all.id)));
        // A closed session is skipped.
        heavy.session.close();
        tcp.session.close();
        assert!(pool.pick(&tunnel, false).is_none());
        assert!(pool.has_room(&tunnel));
    }
}
