//! `socks5` (also `socks`): a SOCKS5 server (RFC 1928, RFC 1929 user/password).
//!
//! Commands: CONNECT; BIND and UDP ASSOCIATE when enabled with `bind=true` / `udp=true`; gost's
//! UDP-over-TCP (0xF3 with port 0) with `udp=true`. The
//! handshake must complete within `readTimeout`. Methods: with an auther, user/password (0x02)
//! only; without, no-auth (0x00). gost's TLS methods (0x80/0x82) are not offered by this server:
//! a Go client that offers `00 80` gets `00` and works.
//!
//! Metadata: `readTimeout` (15s), `bind` (false), `udp` (false), `udpBufferSize` /
//! `udp.bufferSize` (4096).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use gost_core::io::{read_decoded, recv_from, rewind, send_to, write_all};
use gost_core::{
    Address, BindOptions, BoxAuther, BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind,
    Handler, HandlerOptions, Listener, Metadata, Network, Result, Router, Session,
};
use gost_proto::socks5::{
    self, Greeting, MethodSelection, Reply, Request, UdpHeader, UserPassReply, UserPassRequest,
};
use tokio::net::UdpSocket;

use crate::util;

/// The registry name.
pub const NAME: &str = "socks5";
/// gost's other name for it.
pub const ALIAS: &str = "socks";

/// The largest handshake message (a request with a 255-byte domain is 262 bytes).
const MAX_MESSAGE: usize = 1024;

/// What a BIND client may send before its peer connects, kept for the peer.
const MAX_BIND_EARLY: usize = 64 * 1024;

struct Config {
    read_timeout: Duration,
    idle: Option<Duration>,
    bind: bool,
    udp: bool,
    udp_buffer_size: usize,
    /// The smux options of MBIND sessions (`mux.*`, as gost reads them here).
    mux: gost_smux::Config,
}

/// The SOCKS5 server; also used by the `auto` handler.
pub(crate) struct Socks5Handler {
    router: BoxRouter,
    auther: Option<BoxAuther>,
    bypass: Option<BoxBypass>,
    config: Config,
}

impl Socks5Handler {
    pub(crate) fn build(opts: &HandlerOptions, md: &Metadata) -> Result<Self> {
        let config = Config {
            read_timeout: util::read_timeout(md)?,
            idle: util::idle_timeout(md)?,
            bind: md.get_bool(&["bind"])?.unwrap_or(false),
            udp: md.get_bool(&["udp"])?.unwrap_or(false),
            udp_buffer_size: md
                .get_usize(&["udpBufferSize", "udp.bufferSize"])?
                .unwrap_or(4096)
                .clamp(512, 65535),
            mux: gost_x_rt::mux::config(md)?,
        };
        Ok(Socks5Handler {
            router: opts.router.clone(),
            auther: opts.auther.clone(),
            bypass: opts.bypass.clone(),
            config,
        })
    }
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(Socks5Handler::build(&opts, md)?))
}

async fn reply(conn: &mut BoxConn, rep: u8, addr: Option<SocketAddr>) -> Result<()> {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut out = Vec::with_capacity(22);
    Reply { rep, addr: Address::Ip(addr) }.encode(&mut out)?;
    write_all(conn, &out).await?;
    Ok(())
}

impl Socks5Handler {
    /// Method negotiation and authentication; returns the request.
    async fn handshake(
        &self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        session: &Session,
    ) -> Result<Request> {
        let greeting = read_decoded(conn, buf, MAX_MESSAGE, Greeting::decode).await?;
        let wanted =
            if self.auther.is_some() { socks5::METHOD_USER_PASS } else { socks5::METHOD_NO_AUTH };
        let method =
            if greeting.methods.contains(&wanted) { wanted } else { socks5::METHOD_NO_ACCEPTABLE };
        let mut out = Vec::with_capacity(2);
        MethodSelection { method }.encode(&mut out);
        write_all(conn, &out).await?;
        if method == socks5::METHOD_NO_ACCEPTABLE {
            return Err(Error::new(
                ErrorKind::Auth,
                format!("socks5: no acceptable method in {:?}", greeting.methods),
            ));
        }
        if method == socks5::METHOD_USER_PASS {
            let creds = read_decoded(conn, buf, MAX_MESSAGE, UserPassRequest::decode).await?;
            let user = String::from_utf8_lossy(&creds.username);
            let pass = String::from_utf8_lossy(&creds.password);
            let ok =
                util::authenticate(self.auther.as_ref(), &user, &pass, session.client_addr).await;
            let mut out = Vec::with_capacity(2);
            UserPassReply { status: if ok { 0 } else { 1 } }.encode(&mut out);
            write_all(conn, &out).await?;
            if !ok {
                return Err(Error::new(ErrorKind::Auth, format!("socks5: user {user:?} rejected")));
            }
        }
        read_decoded(conn, buf, MAX_MESSAGE, Request::decode).await
    }

    async fn connect(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        target: Address,
        session: &Session,
    ) -> Result<()> {
        if util::bypassed(self.bypass.as_ref(), Network::Tcp, &target).await {
            reply(&mut conn, socks5::REP_NOT_ALLOWED, None).await?;
            return Err(Error::new(ErrorKind::Denied, format!("socks5: {target} is bypassed")));
        }
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => c,
            Err(err) => {
                // gost answers every CONNECT failure with "network unreachable".
                let _ = reply(&mut conn, socks5::REP_NETWORK_UNREACHABLE, None).await;
                return Err(err);
            }
        };
        reply(&mut conn, socks5::REP_SUCCEEDED, upstream.local_addr()).await?;
        tracing::debug!(sid = session.id, %target, "socks5: connected");
        let mut conn = rewind(conn, buf);
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.config.idle).await?;
        Ok(())
    }

    async fn bind(
        &self,
        mut conn: BoxConn,
        mut buf: Vec<u8>,
        addr: Address,
        session: &Session,
    ) -> Result<()> {
        if !self.config.bind {
            reply(&mut conn, socks5::REP_NOT_ALLOWED, None).await?;
            return Err(Error::new(
                ErrorKind::Denied,
                "socks5: BIND is disabled (bind=true enables it)",
            ));
        }
        let mut listener =
            match self.router.bind(Network::Tcp, addr.clone(), BindOptions::default()).await {
                Ok(l) => l,
                Err(err) => {
                    let _ = reply(&mut conn, socks5::REP_GENERAL_FAILURE, None).await;
                    return Err(err);
                }
            };
        let port = listener.local_addr().map_or(0, |a| a.port());
        let ip = conn.local_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        reply(&mut conn, socks5::REP_SUCCEEDED, Some(SocketAddr::new(ip, port))).await?;
        tracing::debug!(sid = session.id, port, "socks5: bound");
        // Wait for the peer; the client closing the control connection cancels the bind. What
        // the client sends meanwhile is kept for the peer, up to MAX_BIND_EARLY bytes: a BIND
        // client (FTP's active mode) has nothing to say before the peer comes, so more ends the
        // bind (the port and the task are not held for a client that cannot be read any more).
        // On the heap: an array here would be part of every connection's handler future.
        let mut probe = vec![0u8; 512];
        let mut peer = loop {
            tokio::select! {
                accepted = listener.accept() => break accepted?,
                n = gost_core::io::read(&mut conn, &mut probe) => match n? {
                    0 => return Err(Error::new(ErrorKind::Closed, "socks5: client closed during BIND")),
                    n => {
                        buf.extend_from_slice(&probe[..n]);
                        if buf.len() > MAX_BIND_EARLY {
                            return Err(Error::protocol(format!(
                                "socks5: more than {MAX_BIND_EARLY} bytes sent before the BIND peer came"
                            )));
                        }
                    }
                },
            }
        };
        drop(listener);
        reply(&mut conn, socks5::REP_SUCCEEDED, peer.peer_addr()).await?;
        let mut conn = rewind(conn, buf);
        gost_x_rt::relay_idle(&mut conn, &mut peer, self.config.idle).await?;
        Ok(())
    }

    /// gost's MBIND (0xF2): bind `addr` here and carry every connection to it back over an smux
    /// session on this connection (gost's rtcp over socks5).
    async fn mux_bind(
        &self,
        mut conn: BoxConn,
        buf: Vec<u8>,
        addr: Address,
        session: &Session,
    ) -> Result<()> {
        if !self.config.bind {
            reply(&mut conn, socks5::REP_NOT_ALLOWED, None).await?;
            return Err(Error::new(
                ErrorKind::Denied,
                "socks5: BIND is disabled (bind=true enables it)",
            ));
        }
        let listener =
            match self.router.bind(Network::Tcp, addr.clone(), BindOptions::default()).await {
                Ok(l) => l,
                Err(err) => {
                    let _ = reply(&mut conn, socks5::REP_GENERAL_FAILURE, None).await;
                    return Err(err);
                }
            };
        let port = listener.local_addr().map_or(0, |a| a.port());
        let ip = conn.local_addr().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        reply(&mut conn, socks5::REP_SUCCEEDED, Some(SocketAddr::new(ip, port))).await?;
        tracing::info!(sid = session.id, %addr, port, "socks5: remote bind");
        let conn = rewind(conn, buf);
        crate::mux_bind::serve(conn, listener, self.config.mux.clone(), |peer| {
            let mut out = Vec::with_capacity(22);
            let peer = peer.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
            Reply { rep: socks5::REP_SUCCEEDED, addr: Address::Ip(peer) }.encode(&mut out)?;
            Ok(out)
        })
        .await
    }

    async fn udp_associate(&self, mut conn: BoxConn, session: &Session) -> Result<()> {
        if !self.config.udp {
            reply(&mut conn, socks5::REP_NOT_ALLOWED, None).await?;
            return Err(Error::new(
                ErrorKind::Denied,
                "socks5: UDP is disabled (udp=true enables it)",
            ));
        }
        let local_ip = conn.local_addr().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |a| a.ip());
        let client_ip = conn.peer_addr().map(|a| a.ip());
        let relay_socket = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
            Ok(s) => s,
            Err(err) => {
                let _ = reply(&mut conn, socks5::REP_GENERAL_FAILURE, None).await;
                return Err(err.into());
            }
        };
        // Datagrams leave through the router: a local socket, or the chain's last node.
        let mut outbound = match self.router.dial_packet(None).await {
            Ok(p) => p,
            Err(err) => {
                let _ = reply(&mut conn, socks5::REP_GENERAL_FAILURE, None).await;
                return Err(err);
            }
        };
        reply(&mut conn, socks5::REP_SUCCEEDED, relay_socket.local_addr().ok()).await?;
        tracing::debug!(sid = session.id, relay = ?relay_socket.local_addr().ok(), "socks5: udp associate");

        let size = self.config.udp_buffer_size;
        let mut from_client = vec![0u8; size];
        let mut from_target = vec![0u8; size];
        let mut packet = Vec::with_capacity(size + 262);
        let mut client_udp: Option<SocketAddr> = None;
        let mut control = [0u8; 64];
        loop {
            tokio::select! {
                // The association lives as long as the control connection.
                n = gost_core::io::read(&mut conn, &mut control) => {
                    if n.unwrap_or(0) == 0 {
                        return Ok(());
                    }
                }
                got = relay_socket.recv_from(&mut from_client) => {
                    let (n, from) = got.map_err(Error::from)?;
                    let from = SocketAddr::new(from.ip().to_canonical(), from.port());
                    if client_ip.is_some_and(|ip| ip != from.ip()) {
                        continue; // only the TCP client may use its association
                    }
                    client_udp = Some(from);
                    let Some(datagram) = from_client.get(..n) else { continue };
                    let Ok((header, offset)) = UdpHeader::decode(datagram) else { continue };
                    if header.frag != 0 || util::bypassed(self.bypass.as_ref(), Network::Udp, &header.addr).await {
                        continue;
                    }
                    let payload = datagram.get(offset..).unwrap_or(&[]);
                    if let Err(e) = send_to(&mut outbound, payload, &header.addr).await {
                        tracing::debug!(sid = session.id, to = %header.addr, "socks5: udp send: {e}");
                    }
                }
                got = recv_from(&mut outbound, &mut from_target) => {
                    let (n, from) = got.map_err(Error::from)?;
                    let Some(client) = client_udp else { continue };
                    packet.clear();
                    UdpHeader { frag: 0, addr: from }.encode(&mut packet)?;
                    packet.extend_from_slice(from_target.get(..n).unwrap_or(&[]));
                    let _ = relay_socket.send_to(&packet, client).await;
                }
            }
        }
    }
}

impl Socks5Handler {
    /// gost's UDP-over-TCP (command 0xF3, port 0): the TCP stream itself carries the datagrams,
    /// each as a UDP-tun frame naming its destination (client to server) or source (back).
    async fn udp_tun(
        &self,
        mut conn: BoxConn,
        mut buf: Vec<u8>,
        addr: Address,
        session: &Session,
    ) -> Result<()> {
        // A port means UDP BIND (gost's rudp): that port is bound here and the stream carries
        // its datagrams; port 0 is a relay to any peer through the router.
        let binding = addr.port() != 0;
        let allowed = if binding { self.config.bind } else { self.config.udp };
        if !allowed {
            reply(&mut conn, socks5::REP_NOT_ALLOWED, None).await?;
            let why = if binding {
                "UDP bind needs bind=true"
            } else {
                "UDP is disabled (udp=true enables it)"
            };
            return Err(Error::new(ErrorKind::Denied, format!("socks5: {why}")));
        }
        let outbound = if binding {
            crate::mux_bind::bind_udp(&addr).await
        } else {
            self.router.dial_packet(None).await
        };
        let mut outbound = match outbound {
            Ok(p) => p,
            Err(err) => {
                let _ = reply(&mut conn, socks5::REP_GENERAL_FAILURE, None).await;
                return Err(err);
            }
        };
        reply(&mut conn, socks5::REP_SUCCEEDED, outbound.local_addr()).await?;
        tracing::debug!(sid = session.id, "socks5: udp tunnel");
        util::relay_udp_tun(
            &mut conn,
            &mut buf,
            &mut outbound,
            self.bypass.as_ref(),
            self.config.udp_buffer_size,
            session,
        )
        .await
    }
}

impl Handler for Socks5Handler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let req = gost_x_rt::timeout(
            self.config.read_timeout,
            "socks5 handshake",
            self.handshake(&mut conn, &mut buf, &session),
        )
        .await?;
        match req.cmd {
            socks5::CMD_CONNECT => self.connect(conn, buf, req.addr, &session).await,
            socks5::CMD_BIND => self.bind(conn, buf, req.addr, &session).await,
            socks5::CMD_MUX_BIND => self.mux_bind(conn, buf, req.addr, &session).await,
            socks5::CMD_UDP_ASSOCIATE => self.udp_associate(conn, &session).await,
            socks5::CMD_UDP_TUN => self.udp_tun(conn, buf, req.addr, &session).await,
            other => {
                reply(&mut conn, socks5::REP_COMMAND_NOT_SUPPORTED, None).await?;
                Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("socks5: command {other:#04x} is not supported"),
                ))
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

    /// `05 01 00 01 127.0.0.1 PORT` for `origin`.
    fn connect_request(origin: SocketAddr) -> Vec<u8> {
        let mut req = vec![5, 1, 0, 1, 127, 0, 0, 1];
        req.extend_from_slice(&port_bytes(origin));
        req
    }

    #[tokio::test]
    async fn no_auth_connect_relays_both_ways() {
        let origin = ping_pong_origin().await;
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        client.write_all(&[5, 1, 0]).await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, [5, 0]);
        client.write_all(&connect_request(origin)).await.unwrap();
        let rep = read_n(&mut client, 10).await;
        // Success, bound address = the outbound socket's local address (IPv4 loopback).
        assert_eq!(rep[..8], [5, 0, 0, 1, 127, 0, 0, 1]);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn user_password_accepted_and_rejected() {
        let origin = ping_pong_origin().await;
        let h = new(options_with_user("alice", "secret"), &Metadata::new()).unwrap();

        let (mut client, task) = serve(&h).await;
        client.write_all(&[5, 2, 0, 2]).await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, [5, 2]);
        client.write_all(b"\x01\x05alice\x06secret").await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, [1, 0]);
        client.write_all(&connect_request(origin)).await.unwrap();
        assert_eq!(read_n(&mut client, 10).await[..2], [5, 0]);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();

        let (mut client, task) = serve(&h).await;
        client.write_all(&[5, 1, 2]).await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, [5, 2]);
        client.write_all(b"\x01\x05alice\x05wrong").await.unwrap();
        assert_eq!(read_to_end(&mut client).await, [1, 1], "01 01, then closed");
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
    }

    #[tokio::test]
    async fn unsupported_command_gets_07() {
        let h = new(options(), &Metadata::new()).unwrap();
        let (mut client, task) = serve(&h).await;
        client.write_all(&[5, 1, 0]).await.unwrap();
        assert_eq!(read_n(&mut client, 2).await, [5, 0]);
        client.write_all(&[5, 0x09, 0, 1, 127, 0, 0, 1, 0, 80]).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, [5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Unsupported);
    }

    #[tokio::test]
    async fn bind_and_udp_disabled_get_02() {
        let h = new(options(), &Metadata::new()).unwrap();
        for cmd in [socks5::CMD_BIND, socks5::CMD_UDP_ASSOCIATE] {
            let (mut client, task) = serve(&h).await;
            client.write_all(&[5, 1, 0]).await.unwrap();
            assert_eq!(read_n(&mut client, 2).await, [5, 0]);
            client.write_all(&[5, cmd, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
            assert_eq!(read_to_end(&mut client).await, [5, 2, 0, 1, 0, 0, 0, 0, 0, 0], "cmd {cmd}");
            assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Denied);
        }
    }
}
