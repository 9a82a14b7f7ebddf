//! `tunnel`: the server of gost's reverse-proxy tunnel (`-L "tunnel://:8421?entrypoint=:80&
//! tunnel=example.com:UUID"`), over the relay protocol. See docs/tunnel.md.
//!
//! * Registration (relay BIND with a tunnel id): the client is answered with the address the
//!   server advertises (its requested host when ingress does not give that host to another
//!   tunnel, else the endpoint name: the first 8 bytes of MD5 over the id, in hex) and a new
//!   connector id; the connection then carries an smux session in which this side opens a
//!   stream per visitor (smux client; v2 with a 1 MiB stream buffer by default). A tunnel may
//!   have several connectors, picked by weight; the registration lasts as long as the session.
//! * Visitors (relay CONNECT with a tunnel id): the target's host must map to that tunnel in
//!   the ingress (or `tunnel.direct=true`); with `entrypoint.id` as the id, the ingress alone
//!   decides. Refusals are relay statuses as gost's: bypassed 3, no rule 7, another or a private
//!   tunnel 6, no connector 5, bad request 1, bad credentials 2.
//! * `entrypoint`: a public port whose visitors are routed through the ingress by HTTP `Host`,
//!   TLS SNI, or (first byte 0x01) a relay CONNECT naming a tunnel id.
//!
//! Each stream opened to a tunnel client starts with a relay response `OK, Addr(visitor),
//! Addr(target)`, then carries the visitor's bytes.

mod entrypoint;
mod pool;

use std::sync::Arc;
use std::time::Duration;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, Auther, BoxConn, BoxHandler, BoxIngress, BoxSd, Bypass, Error, ErrorKind, Handler,
    HandlerOptions, Ingress, IngressRule, Metadata, Network, Result, Sd, SdService, Session,
};
use gost_proto::relay::{self, Feature, Request, Response};
use gost_proto::tunnel_id::{FLAG_UDP, TunnelId};

use pool::{Connector, Pool};

/// The registry name.
pub const NAME: &str = "tunnel";

const MAX_REQUEST: usize = 4 + 65535;
/// How often a registration is renewed in the SD (gost's `tunnel.ttl`).
const DEFAULT_TTL: Duration = Duration::from_secs(15);
/// Bound on reading a request or an entrypoint visitor's head.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// What the handler and its entrypoints share.
pub(crate) struct Inner {
    /// This server's id (SD `node`, `Gost-Forwarded-Node`): new at each start, as gost's.
    node_id: String,
    auther: Option<gost_core::BoxAuther>,
    bypass: Option<gost_core::BoxBypass>,
    ingress: Option<BoxIngress>,
    sd: Option<BoxSd>,
    direct: bool,
    entrypoint_id: Option<TunnelId>,
    /// The `entrypoint` address as written (the SD `address`, as gost registers it).
    entrypoint: String,
    mux: gost_smux::Config,
    pool: Pool,
    /// Bound on a connection's relay request (gost has none; its clients send at once).
    read_timeout: Duration,
    /// Bound on an entrypoint visitor's first bytes (its HTTP head or ClientHello).
    head_timeout: Duration,
    ttl: Duration,
}

struct TunnelHandler {
    inner: Arc<Inner>,
    /// The entrypoint's accept loop, stopped with the handler or when the service closes.
    entrypoint: std::sync::Mutex<Option<entrypoint::Running>>,
}

/// Builds the handler (and binds its entrypoint, if it has one).
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let mut ingress = opts.ingress.clone();
    if ingress.is_none() {
        // gost: inline rules `tunnel=host:uuid,host:uuid` when no ingress is named.
        let rules: Vec<IngressRule> = md
            .get_string(&["tunnel"])?
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.split_once(':'))
            .map(|(h, e)| IngressRule { hostname: h.to_owned(), endpoint: e.to_owned() })
            .collect();
        if !rules.is_empty() {
            ingress = Some(BoxIngress::new(gost_x_ingress::RuleIngress::new(rules)));
        }
    }
    let entrypoint_id = match md.get_string(&["entrypoint.id"])?.filter(|s| !s.is_empty()) {
        Some(s) => Some(
            TunnelId::parse(&s)
                .ok_or_else(|| Error::config(format!("entrypoint.id {s:?} is not a UUID")))?,
        ),
        None => None,
    };
    let inner = Arc::new(Inner {
        node_id: TunnelId::new(gost_x_rt::random_uuid(), 0, 0).uuid_string(),
        auther: opts.auther,
        bypass: opts.bypass,
        ingress,
        sd: opts.sd,
        direct: md.get_bool(&["tunnel.direct"])?.unwrap_or(false),
        entrypoint_id,
        entrypoint: md.get_string(&["entrypoint"])?.unwrap_or_default(),
        mux: gost_x_rt::mux::tunnel_config(md)?,
        pool: Pool::default(),
        read_timeout: md
            .get_duration(&["readTimeout"])?
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_READ_TIMEOUT),
        head_timeout: md
            .get_duration(&["entrypoint.readTimeout"])?
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_READ_TIMEOUT),
        ttl: md.get_duration(&["tunnel.ttl"])?.filter(|d| !d.is_zero()).unwrap_or(DEFAULT_TTL),
    });
    let running = if inner.entrypoint.is_empty() {
        None
    } else {
        Some(entrypoint::start(inner.clone(), &inner.entrypoint, &opts.service)?)
    };
    Ok(BoxHandler::new(TunnelHandler { inner, entrypoint: std::sync::Mutex::new(running) }))
}

/// A request's parts as the tunnel reads them: the first `Addr` is the visitor (source), a
/// later one the target; the `Network` feature alone says UDP.
struct Parts {
    cmd: u8,
    udp: bool,
    user: Option<(String, String)>,
    src: Option<Address>,
    dst: Option<Address>,
    tunnel: TunnelId,
}

fn parts(req: &Request) -> Parts {
    let mut addrs = req.addrs();
    let src = addrs.next().cloned();
    let dst = addrs.last().cloned();
    let udp = req.features.iter().rev().find_map(|f| match f {
        Feature::Network(n) => Some(*n == relay::NETWORK_UDP),
        _ => None,
    });
    Parts {
        cmd: req.cmd & relay::CMD_MASK,
        udp: udp.unwrap_or(false),
        user: req.user_auth().map(|(u, p)| (u.to_owned(), p.to_owned())),
        src,
        dst,
        tunnel: req.tunnel().map(|t| TunnelId(*t)).unwrap_or_default(),
    }
}

async fn respond(conn: &mut BoxConn, status: u8, features: Vec<Feature>) -> Result<()> {
    let mut out = Vec::with_capacity(64);
    Response { status, features }.encode(&mut out)?;
    write_all(conn, &out).await?;
    Ok(())
}

/// Refuses with `status`, naming why for the log.
async fn refuse(mut conn: BoxConn, status: u8, why: String) -> Result<()> {
    let _ = respond(&mut conn, status, Vec::new()).await;
    let kind = match status {
        relay::STATUS_UNAUTHORIZED => ErrorKind::Auth,
        relay::STATUS_FORBIDDEN | relay::STATUS_HOST_UNREACHABLE => ErrorKind::Denied,
        relay::STATUS_BAD_REQUEST => ErrorKind::Protocol,
        _ => ErrorKind::Dial,
    };
    Err(Error::new(kind, format!("tunnel: {why}")))
}

/// The host of an address, for ingress lookups.
fn host_of(a: &Address) -> String {
    match a {
        Address::Ip(sa) => sa.ip().to_string(),
        Address::Domain(h, _) => h.clone(),
    }
}

impl Handler for TunnelHandler {
    /// The service stops: the entrypoint's port is let go and every tunnel client's session
    /// closed (their registrations end at once; the clients register again elsewhere or later).
    fn close(&self) {
        drop(self.entrypoint.lock().unwrap_or_else(|e| e.into_inner()).take());
        self.inner.pool.close_all();
    }

    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let read = read_decoded(&mut conn, &mut buf, MAX_REQUEST, Request::decode);
        let req = gost_x_rt::timeout(self.inner.read_timeout, "tunnel request", read).await?;
        let p = parts(&req);
        if p.tunnel.is_zero() {
            return refuse(conn, relay::STATUS_BAD_REQUEST, "no tunnel id".into()).await;
        }
        if let Some(auther) = &self.inner.auther {
            let (user, pass) = p.user.clone().unwrap_or_default();
            if auther.authenticate(user, pass, session.client_addr).await.is_none() {
                return refuse(conn, relay::STATUS_UNAUTHORIZED, "bad credentials".into()).await;
            }
        }
        let conn = rewind(conn, buf);
        match p.cmd {
            relay::CMD_BIND => self.inner.bind(conn, p, &session).await,
            relay::CMD_CONNECT => self.inner.connect(conn, p, &req, &session).await,
            other => refuse(conn, relay::STATUS_BAD_REQUEST, format!("command {other:#x}")).await,
        }
    }
}

/// The endpoint name of a tunnel: the first 8 bytes of MD5 over its id's text, in hex.
fn endpoint_name(tunnel: &TunnelId) -> String {
    use md5::Digest;
    let digest = md5::Md5::digest(tunnel.uuid_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Inner {
    /// A tunnel client registers: answer, then serve its session until it ends.
    async fn bind(&self, mut conn: BoxConn, p: Parts, session: &Session) -> Result<()> {
        let Ok(place) = self.pool.reserve(&p.tunnel) else {
            return refuse(
                conn,
                relay::STATUS_SERVICE_UNAVAILABLE,
                format!("tunnel {}: too many clients", p.tunnel),
            )
            .await;
        };
        let flags = if p.udp { FLAG_UDP } else { 0 };
        let connector_id = TunnelId::new(gost_x_rt::random_uuid(), flags, p.tunnel.weight());
        let endpoint = endpoint_name(&p.tunnel);
        let (host, port) = match &p.dst {
            Some(a) => (host_of(a), a.port()),
            None => (String::new(), 0),
        };
        let mut advertised = endpoint.clone();
        if !(host.is_empty() || host == "0.0.0.0" || host == "::")
            && let Some(ingress) = &self.ingress
        {
            advertised = host.clone();
            if host != endpoint
                && let Some(rule) = ingress.get_rule(host.clone()).await
                && rule.endpoint != p.tunnel.uuid_string()
            {
                advertised = endpoint.clone();
            }
        }
        let addr = Address::parse(&format!("{advertised}:{port}"))
            .unwrap_or_else(|_| Address::Domain(endpoint.clone(), port));
        respond(
            &mut conn,
            relay::STATUS_OK,
            vec![Feature::Addr(addr), Feature::Tunnel(connector_id.0)],
        )
        .await?;
        let (mux, local, peer) = gost_x_rt::mux::client(conn, self.mux.clone())?;
        let connector = Arc::new(Connector { id: connector_id, session: mux.clone(), local, peer });
        place.fill(connector);
        // However this ends (the session, or the service dropping this future), the client
        // leaves the pool and its session closes.
        let _registered = Registered {
            pool: &self.pool,
            tunnel: p.tunnel,
            id: connector_id,
            session: mux.clone(),
        };
        if let Some(ingress) = &self.ingress {
            let tunnel = p.tunnel.uuid_string();
            ingress
                .set_rule(IngressRule { hostname: endpoint.clone(), endpoint: tunnel.clone() })
                .await;
            if advertised != endpoint {
                ingress
                    .set_rule(IngressRule { hostname: advertised.clone(), endpoint: tunnel })
                    .await;
            }
        }
        let service = SdService {
            id: connector_id.uuid_string(),
            name: p.tunnel.uuid_string(),
            node: self.node_id.clone(),
            network: if p.udp { "udp" } else { "tcp" }.to_owned(),
            address: self.entrypoint.clone(),
        };
        if let Some(sd) = &self.sd
            && let Err(e) = sd.register(service.clone()).await
        {
            tracing::warn!(sid = session.id, "tunnel: sd register: {e}");
        }
        tracing::info!(
            sid = session.id,
            tunnel = %p.tunnel,
            connector = %connector_id,
            endpoint = %advertised,
            "tunnel: connector registered"
        );
        // The registration lives as long as the session; streams the client opens are closed
        // (only this side opens them). The SD entry is renewed every `tunnel.ttl`.
        let mut renew = tokio::time::interval(self.ttl);
        renew.tick().await;
        let ended = loop {
            tokio::select! {
                s = mux.accept_stream() => match s {
                    Ok(stream) => drop(stream),
                    Err(e) => break e,
                },
                _ = renew.tick() => {
                    if let Some(sd) = &self.sd
                        && let Err(e) = sd.renew(service.clone()).await
                    {
                        tracing::debug!(sid = session.id, "tunnel: sd renew: {e}");
                    }
                }
            }
        };
        if let Some(sd) = &self.sd {
            let _ = sd.deregister(service).await;
        }
        tracing::info!(sid = session.id, tunnel = %p.tunnel, connector = %connector_id, "tunnel: connector gone ({ended})");
        Ok(())
    }

    /// A visitor on the tunnel port.
    async fn connect(
        &self,
        conn: BoxConn,
        p: Parts,
        req: &Request,
        session: &Session,
    ) -> Result<()> {
        let Some(dst) = p.dst.clone() else {
            return refuse(conn, relay::STATUS_BAD_REQUEST, "no target address".into()).await;
        };
        let network = if p.udp { Network::Udp } else { Network::Tcp };
        if let Some(b) = &self.bypass
            && b.contains(network, dst.clone()).await
        {
            return refuse(conn, relay::STATUS_FORBIDDEN, format!("{dst} is bypassed")).await;
        }
        let host = host_of(&dst);
        let mut tid = None;
        if let Some(ingress) = &self.ingress
            && !host.is_empty()
            && let Some(rule) = ingress.get_rule(host.clone()).await
        {
            tid = TunnelId::parse(&rule.endpoint);
        }
        if self.entrypoint_id.is_some_and(|e| e.same(&p.tunnel)) {
            match tid {
                None => {
                    return refuse(
                        conn,
                        relay::STATUS_NETWORK_UNREACHABLE,
                        format!("no ingress rule for {host}"),
                    )
                    .await;
                }
                Some(t) if t.is_private() => {
                    return refuse(
                        conn,
                        relay::STATUS_HOST_UNREACHABLE,
                        format!("{host}: a private tunnel"),
                    )
                    .await;
                }
                Some(_) => {}
            }
        } else {
            if self.direct {
                tid = Some(p.tunnel);
            }
            if !tid.is_some_and(|t| t.same(&p.tunnel)) {
                return refuse(
                    conn,
                    relay::STATUS_HOST_UNREACHABLE,
                    format!("{host} is not served by tunnel {} (an ingress rule, or tunnel.direct=true)", p.tunnel),
                )
                .await;
            }
        }
        let Some(tid) = tid else {
            return refuse(conn, relay::STATUS_HOST_UNREACHABLE, "no tunnel".into()).await;
        };
        let src = p.src.clone().or_else(|| session.client_addr.map(Address::Ip));
        self.visit(conn, tid, p.udp, src, dst, Some(req), session).await
    }

    /// Carries a visitor to a connector of `tid` (answering it OK first), or to the node that
    /// holds one (SD), or refuses it with 5.
    #[allow(clippy::too_many_arguments)]
    async fn visit(
        &self,
        mut conn: BoxConn,
        tid: TunnelId,
        udp: bool,
        src: Option<Address>,
        dst: Address,
        original: Option<&Request>,
        session: &Session,
    ) -> Result<()> {
        match self.open(&tid, udp, src.clone(), dst.clone()).await {
            Ok(Route::Local(mut stream)) => {
                respond(&mut conn, relay::STATUS_OK, Vec::new()).await?;
                tracing::debug!(sid = session.id, tunnel = %tid, %dst, "tunnel: visitor connected");
                gost_x_rt::relay(&mut conn, &mut stream).await?;
                Ok(())
            }
            Ok(Route::Remote(mut node)) => {
                // Another node holds the tunnel: the request goes on to its entrypoint.
                if let Some(req) = original {
                    let mut out = Vec::with_capacity(96);
                    req.encode(&mut out)?;
                    write_all(&mut node, &out).await?;
                }
                gost_x_rt::relay(&mut conn, &mut node).await?;
                Ok(())
            }
            Err(e) => refuse(conn, relay::STATUS_SERVICE_UNAVAILABLE, e.to_string()).await,
        }
    }

    /// A stream to a connector of `tid` with its header written, or a connection to the
    /// entrypoint of the node that has one.
    async fn open(
        &self,
        tid: &TunnelId,
        udp: bool,
        src: Option<Address>,
        dst: Address,
    ) -> Result<Route> {
        // The stream's header is encoded before a stream is opened: one that cannot be encoded
        // (a target no address can carry) must not reach the tunnel client, which would take
        // a bad header for a broken session and register again.
        let src = src.unwrap_or_else(|| Address::Ip(std::net::SocketAddr::from(([0, 0, 0, 0], 0))));
        let mut header = Vec::with_capacity(64);
        Response {
            status: relay::STATUS_OK,
            features: vec![Feature::Addr(src), Feature::Addr(dst)],
        }
        .encode(&mut header)?;
        match self.pool.open(tid, udp).await {
            Ok(mut stream) => {
                write_all(&mut stream, &header).await?;
                Ok(Route::Local(stream))
            }
            Err(local) => {
                let Some(sd) = &self.sd else { return Err(local) };
                let network = if udp { "udp" } else { "tcp" };
                let found = sd.get(tid.uuid_string()).await?;
                // (An entry naming this server's own entrypoint, left by an earlier run of
                // it, would send the visitor round in circles.)
                let Some(other) = found.into_iter().find(|s| {
                    s.node != self.node_id && s.network == network && s.address != self.entrypoint
                }) else {
                    return Err(local);
                };
                if other.address.is_empty() {
                    return Err(local);
                }
                let stream = tokio::time::timeout(
                    Duration::from_secs(15),
                    tokio::net::TcpStream::connect(other.address.as_str()),
                )
                .await
                .map_err(|_| {
                    Error::new(ErrorKind::Timeout, format!("tunnel node {}", other.address))
                })?
                .map_err(|e| {
                    Error::with_source(ErrorKind::Dial, format!("tunnel node {}", other.address), e)
                })?;
                Ok(Route::Remote(Box::new(gost_x_rt::TokioConn::tcp(stream))))
            }
        }
    }
}

/// A registration in the pool, undone when dropped.
struct Registered<'a> {
    pool: &'a Pool,
    tunnel: TunnelId,
    id: TunnelId,
    session: gost_smux::Session,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.pool.remove(&self.tunnel, &self.id);
        self.session.close();
    }
}

/// Where a visitor goes.
enum Route {
    Local(BoxConn),
    Remote(BoxConn),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_are_gosts() {
        // MD5("4d21094e-b74c-4916-86c1-d9fa36ea677b")[..8]: what Go 3.3.0 advertised for it.
        let id = TunnelId::parse("4d21094e-b74c-4916-86c1-d9fa36ea677b").unwrap();
        assert_eq!(endpoint_name(&id), "a6265c6d9847a4be");
    }
}
