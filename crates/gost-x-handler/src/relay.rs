//! `relay`: gost's own relay protocol (a small request with features: user auth, target address,
//! network). CONNECT over TCP, and over UDP with length-prefixed datagrams. With forward targets
//! (`-L relay://:8420/host:port`) the requested address is ignored and a target is chosen from
//! them, as gost does.
//!
//! The response is sent as soon as the target is connected, which works with Go clients in both
//! `nodelay` modes. With `bind=true`: TCP BIND (gost's rtcp: the port is bound here and every
//! connection comes back over an smux session on the request's connection), and gost's UDP
//! associate (BIND with the UDP flag: datagrams to any peer in UDP-tun frames). Datagrams leave through the router (the
//! chain, if any).
//!
//! Metadata: `readTimeout` (15s), `bind` (false), `udpBufferSize` (4096... 65535).

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::io::{read_decoded, recv_from, rewind, send_to, write_all};
use gost_core::{
    Address, BoxAuther, BoxBypass, BoxConn, BoxHandler, BoxHop, BoxRouter, Error, ErrorKind,
    Handler, HandlerOptions, Hop, Listener, Marker, Metadata, Network, Result, Router,
    SelectRequest, Session,
};
use gost_proto::relay::{self, Feature, Request, Response};

use crate::util;

/// The registry name.
pub const NAME: &str = "relay";

/// A request carries at most 64 KiB of features.
const MAX_REQUEST: usize = 4 + 65535;

struct RelayHandler {
    router: BoxRouter,
    forwarder: Option<BoxHop>,
    auther: Option<BoxAuther>,
    bypass: Option<BoxBypass>,
    read_timeout: Duration,
    idle: Option<Duration>,
    bind: bool,
    udp_buffer_size: usize,
    /// The smux options of BIND sessions (`mux.*`).
    mux: gost_smux::Config,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(RelayHandler {
        router: opts.router,
        forwarder: opts.forwarder,
        auther: opts.auther,
        bypass: opts.bypass,
        read_timeout: util::read_timeout(md)?,
        idle: util::idle_timeout(md)?,
        bind: md.get_bool(&["bind"])?.unwrap_or(false),
        udp_buffer_size: md.get_usize(&["udpBufferSize"])?.unwrap_or(4096).clamp(512, 65535),
        mux: gost_x_rt::mux::config(md)?,
    }))
}

async fn respond(conn: &mut BoxConn, status: u8) -> Result<()> {
    let mut out = Vec::with_capacity(4);
    Response::new(status).encode(&mut out)?;
    write_all(conn, &out).await?;
    Ok(())
}

/// Answers `status` and returns an error of `kind` saying `why`.
async fn refuse(conn: &mut BoxConn, status: u8, kind: ErrorKind, why: String) -> Result<()> {
    let _ = respond(conn, status).await;
    Err(Error::new(kind, format!("relay: {why}")))
}

impl RelayHandler {
    async fn connect(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        network: Network,
        req: &Request,
        session: &Session,
    ) -> Result<()> {
        // Forward mode: the service's own targets, whatever the client asked for.
        let (target, node) = match &self.forwarder {
            Some(hop) => {
                let pick =
                    SelectRequest::for_network(network).with_client_addr(session.client_addr);
                match hop.select(pick).await {
                    Some(node) => (node.addr.clone(), Some(node)),
                    None => {
                        let why = "no forward target available".to_owned();
                        return refuse(
                            &mut conn,
                            relay::STATUS_SERVICE_UNAVAILABLE,
                            ErrorKind::NoRoute,
                            why,
                        )
                        .await;
                    }
                }
            }
            None => match req.addr() {
                // An empty host with port 0 (gost's empty address) names nothing to connect to.
                Some(addr)
                    if addr
                        .as_socket_addr()
                        .is_some_and(|a| a.ip().is_unspecified() && a.port() == 0) =>
                {
                    let why = "CONNECT without an address".to_owned();
                    return refuse(&mut conn, relay::STATUS_BAD_REQUEST, ErrorKind::Protocol, why)
                        .await;
                }
                Some(addr) => (addr.clone(), None),
                None => {
                    let why = "CONNECT without an address".to_owned();
                    return refuse(&mut conn, relay::STATUS_BAD_REQUEST, ErrorKind::Protocol, why)
                        .await;
                }
            },
        };
        if util::bypassed(self.bypass.as_ref(), network, &target).await {
            let why = format!("{target} is bypassed");
            return refuse(&mut conn, relay::STATUS_FORBIDDEN, ErrorKind::Denied, why).await;
        }
        if network.is_udp() {
            return self.connect_udp(conn, buf, target, session).await;
        }
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => {
                if let Some(node) = &node {
                    node.marker.reset();
                }
                c
            }
            Err(err) => {
                let status = match &node {
                    Some(node) => {
                        node.marker.mark();
                        relay::STATUS_HOST_UNREACHABLE
                    }
                    None => relay::STATUS_NETWORK_UNREACHABLE,
                };
                let _ = respond(&mut conn, status).await;
                return Err(err);
            }
        };
        respond(&mut conn, relay::STATUS_OK).await?;
        tracing::debug!(sid = session.id, %target, "relay: connected");
        let mut conn = rewind(conn, buf);
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.idle).await?;
        Ok(())
    }

    /// UDP over the relay stream: every datagram, both ways, is `LEN(u16) | payload`, to and
    /// from one target.
    async fn connect_udp(
        &self,
        mut conn: BoxConn,
        mut buf: Vec<u8>,
        target: Address,
        session: &Session,
    ) -> Result<()> {
        let mut outbound = match self.router.dial_packet(Some(target.clone())).await {
            Ok(p) => p,
            Err(err) => {
                let _ = respond(&mut conn, relay::STATUS_NETWORK_UNREACHABLE).await;
                return Err(err);
            }
        };
        respond(&mut conn, relay::STATUS_OK).await?;
        tracing::debug!(sid = session.id, %target, "relay: udp connected");
        // Consumes the length once the whole datagram is buffered; the payload is then the
        // front of `buf` (no copy per datagram).
        let decode_frame = |b: &[u8]| -> Result<Option<(usize, usize)>> {
            let Some(len) = relay::decode_datagram_len(b) else { return Ok(None) };
            Ok((b.len() >= 2 + len).then_some((len, 2)))
        };
        let mut from_target = vec![0u8; self.udp_buffer_size];
        let mut frame = Vec::with_capacity(self.udp_buffer_size + 2);
        loop {
            tokio::select! {
                datagram = read_decoded(&mut conn, &mut buf, 2 + 65535, decode_frame) => {
                    match datagram {
                        Ok(len) => {
                            let len = len.min(buf.len());
                            let _ = send_to(&mut outbound, &buf[..len], &target).await;
                            buf.drain(..len);
                        }
                        Err(e) if e.kind() == ErrorKind::Closed && buf.is_empty() => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                got = recv_from(&mut outbound, &mut from_target) => {
                    let (n, _) = got.map_err(Error::from)?;
                    frame.clear();
                    relay::encode_datagram(from_target.get(..n).unwrap_or(&[]), &mut frame)?;
                    write_all(&mut conn, &frame).await?;
                }
            }
        }
    }

    /// gost's UDP "associate" (BIND with the UDP flag): answer OK with the bound address, then
    /// UDP-tun frames naming each datagram's peer flow both ways.
    async fn associate_udp(
        &self,
        mut conn: BoxConn,
        mut buf: Vec<u8>,
        req: &Request,
        session: &Session,
    ) -> Result<()> {
        // An address with a port is a UDP BIND (gost's rudp): that port is bound here.
        let outbound = match req.addr().filter(|a| a.port() != 0) {
            Some(addr) => crate::mux_bind::bind_udp(addr).await,
            None => self.router.dial_packet(None).await,
        };
        let mut outbound = match outbound {
            Ok(p) => p,
            Err(err) => {
                let _ = respond(&mut conn, relay::STATUS_SERVICE_UNAVAILABLE).await;
                return Err(err);
            }
        };
        let bound = outbound.local_addr().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut out = Vec::with_capacity(32);
        Response { status: relay::STATUS_OK, features: vec![Feature::Addr(Address::Ip(bound))] }
            .encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        tracing::debug!(sid = session.id, "relay: udp associate");
        util::relay_udp_tun(
            &mut conn,
            &mut buf,
            &mut outbound,
            self.bypass.as_ref(),
            self.udp_buffer_size,
            session,
        )
        .await
    }
}

impl RelayHandler {
    /// TCP BIND (gost's rtcp over relay): listen on the requested address, answer OK with the
    /// address bound, then carry every connection back over an smux session on this connection,
    /// each stream starting with a response naming the peer.
    async fn bind_tcp(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        req: &Request,
        session: &Session,
    ) -> Result<()> {
        let addr =
            req.addr().cloned().unwrap_or_else(|| Address::Ip(SocketAddr::from(([0, 0, 0, 0], 0))));
        let listener = match self
            .router
            .bind(Network::Tcp, addr.clone(), gost_core::BindOptions::default())
            .await
        {
            Ok(l) => l,
            Err(err) => {
                let _ = respond(&mut conn, relay::STATUS_SERVICE_UNAVAILABLE).await;
                return Err(err);
            }
        };
        let bound = listener.local_addr().unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut out = Vec::with_capacity(32);
        Response { status: relay::STATUS_OK, features: vec![Feature::Addr(Address::Ip(bound))] }
            .encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        tracing::info!(sid = session.id, %addr, %bound, "relay: remote bind");
        let conn = rewind(conn, buf);
        crate::mux_bind::serve(conn, listener, self.mux.clone(), |peer| {
            let peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            let mut out = Vec::with_capacity(32);
            Response { status: relay::STATUS_OK, features: vec![Feature::Addr(Address::Ip(peer))] }
                .encode(&mut out)?;
            Ok(out)
        })
        .await
    }
}

impl Handler for RelayHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let req = gost_x_rt::timeout(
            self.read_timeout,
            "relay request",
            read_decoded(&mut conn, &mut buf, MAX_REQUEST, Request::decode),
        )
        .await?;
        if self.auther.is_some() {
            let (user, pass) = req.user_auth().unwrap_or(("", ""));
            if !util::authenticate(self.auther.as_ref(), user, pass, session.client_addr).await {
                let why = format!("user {user:?} rejected");
                return refuse(&mut conn, relay::STATUS_UNAUTHORIZED, ErrorKind::Auth, why).await;
            }
        }
        let udp = req.cmd & relay::FLAG_UDP != 0 || req.network() == Some(relay::NETWORK_UDP);
        let network = if udp { Network::Udp } else { Network::Tcp };
        match req.cmd & relay::CMD_MASK {
            0 | relay::CMD_CONNECT => self.connect(conn, buf, network, &req, &session).await,
            relay::CMD_BIND if !self.bind => {
                let why = "BIND is disabled (bind=true enables it)".to_owned();
                refuse(&mut conn, relay::STATUS_FORBIDDEN, ErrorKind::Denied, why).await
            }
            relay::CMD_BIND if udp => self.associate_udp(conn, buf, &req, &session).await,
            relay::CMD_BIND => self.bind_tcp(conn, buf, &req, &session).await,
            other => {
                let why = format!("command {other:#04x} is not supported");
                refuse(&mut conn, relay::STATUS_BAD_REQUEST, ErrorKind::Unsupported, why).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        options, options_with_user, outcome, ping_pong, ping_pong_origin, port_bytes, read_n,
        read_to_end, serve,
    };
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn connect_with_addr_answers_ok_then_relays() {
        let origin = ping_pong_origin().await;
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        // VER CMD FEALEN=10 | Addr(type 2, len 7): ATYP 1, 127.0.0.1, PORT
        let mut req = vec![1, 1, 0, 10, 2, 0, 7, 1, 127, 0, 0, 1];
        req.extend_from_slice(&port_bytes(origin));
        client.write_all(&req).await.unwrap();
        assert_eq!(read_n(&mut client, 4).await, [1, 0, 0, 0]);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn bad_credentials_get_unauthorized() {
        let h = new(options_with_user("alice", "secret"), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        // §3.1's example: CONNECT example.com:80 as u/p.
        let req = b"\x01\x01\x00\x19\x01\x00\x04\x01u\x01p\x02\x00\x0f\x03\x0bexample.com\x00\x50";
        client.write_all(req).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, [1, 2, 0, 0]);
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
    }

    #[tokio::test]
    async fn connect_without_address_is_a_bad_request() {
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        client.write_all(&[1, 1, 0, 0]).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, [1, 1, 0, 0]);
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[tokio::test]
    async fn other_version_is_closed_without_a_response() {
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        client.write_all(&[2, 1, 0, 0]).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, b"");
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Protocol);
    }
}
