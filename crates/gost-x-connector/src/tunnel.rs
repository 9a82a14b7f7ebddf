//! `tunnel`: the client of gost's reverse-proxy tunnel (`-F tunnel://server:8421?tunnel.id=
//! UUID`), over the relay protocol. See docs/tunnel.md.
//!
//! * Registration (`-L rtcp://:0/127.0.0.1:8000 -F tunnel://...`): relay BIND with `Addr(src)`,
//!   `Addr(dst)` (the address asked for; an empty host is sent as 0.0.0.0) and `Tunnel(id)`;
//!   the server answers with the address it advertises and a connector id, then the connection
//!   carries an smux session in which the *server* opens a stream per visitor (this side is
//!   the smux server), each starting with a relay response naming the visitor and its target.
//!   The rtcp listener binds again when the session ends (a server restart).
//! * Visiting (`-L tcp://:9000/example.com:80 -F tunnel://...`): relay CONNECT with
//!   `Addr(src)`, `Addr(dst)` and `Tunnel(id)`, the response read at once.
//!
//! Metadata: `tunnel.id` / `tunnelID` (a random id when absent, as gost's), `tunnel.weight`
//! (1-255; 255 takes the tunnel's traffic exclusively), `mux.*` (smux v2 with a 1 MiB stream
//! buffer by default, as gost's tunnel; both ends must agree).

use std::net::SocketAddr;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BindOptions, BoxConn, BoxConnector, BoxListener, ConnectOptions, Connector,
    ConnectorOptions, Error, Metadata, Network, Result,
};
use gost_proto::relay::{self, Feature, Request, Response};
use gost_proto::tunnel_id::TunnelId;

/// The registry name.
pub const NAME: &str = "tunnel";

const MAX_RESPONSE: usize = 4 + 65535;

struct TunnelConnector {
    node: String,
    credentials: Option<(String, String)>,
    id: TunnelId,
    mux: gost_smux::Config,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let id = match md.get_string(&["tunnel.id", "tunnelID"])?.filter(|s| !s.is_empty()) {
        Some(text) => TunnelId::parse(&text)
            .ok_or_else(|| Error::config(format!("tunnel.id {text:?} is not a UUID")))?,
        None => TunnelId::new(gost_x_rt::random_uuid(), 0, 0),
    };
    let weight = md.get_int(&["tunnel.weight"])?.unwrap_or(0);
    // Go writes `uint8(weight)`: 256 wraps to 0 (which counts as 1), not to 255 (exclusive).
    let id = TunnelId::new(id.uuid(), 0, (weight.max(0) % 256) as u8);
    Ok(BoxConnector::new(TunnelConnector {
        node: opts.node,
        credentials: opts.username.map(|u| (u, opts.password.unwrap_or_default())),
        id,
        mux: gost_x_rt::mux::tunnel_config(md)?,
    }))
}

fn status_error(node: &str, what: &str, status: u8) -> Error {
    let kind = relay::status_error_kind(status);
    Error::new(kind, format!("tunnel node {node}: {what} refused (status {status})"))
}

impl TunnelConnector {
    /// `[Network udp] [UserAuth] Addr(src) Addr(dst) Tunnel(id)`, as gost orders them.
    fn features(&self, udp: bool, src: Address, dst: Address) -> Vec<Feature> {
        let mut f = Vec::with_capacity(5);
        if udp {
            f.push(Feature::Network(relay::NETWORK_UDP));
        }
        if let Some((user, pass)) = &self.credentials {
            f.push(Feature::UserAuth { username: user.clone(), password: pass.clone() });
        }
        f.push(Feature::Addr(src));
        f.push(Feature::Addr(dst));
        f.push(Feature::Tunnel(self.id.0));
        f
    }

    /// Sends `req` and reads the response; the connection with what was read past it.
    async fn exchange(
        &self,
        mut conn: BoxConn,
        req: Request,
        what: &str,
    ) -> Result<(BoxConn, Response)> {
        let mut out = Vec::with_capacity(96);
        req.encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let resp = read_decoded(&mut conn, &mut buf, MAX_RESPONSE, Response::decode).await?;
        if resp.status != relay::STATUS_OK {
            return Err(status_error(&self.node, what, resp.status));
        }
        Ok((rewind(conn, buf), resp))
    }
}

fn unspecified() -> Address {
    Address::Ip(SocketAddr::from(([0, 0, 0, 0], 0)))
}

impl Connector for TunnelConnector {
    /// A visitor: CONNECT to `target` through the tunnel.
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported(
                "tunnel connector: datagrams go through connect_packet",
            ));
        }
        let src = conn.local_addr().map_or_else(unspecified, Address::Ip);
        let req = Request {
            cmd: relay::CMD_CONNECT,
            features: self.features(false, src, target.clone()),
        };
        let (conn, _) =
            self.exchange(conn, req, &format!("visit {target} through tunnel {}", self.id)).await?;
        Ok(conn)
    }

    /// Registration: BIND with the tunnel id, then the streams the server opens.
    async fn bind(
        &self,
        conn: BoxConn,
        network: Network,
        addr: Address,
        _opts: BindOptions,
    ) -> Result<BoxListener> {
        let udp = network.is_udp();
        // gost sends an empty bind host as 0.0.0.0.
        let dst = match &addr {
            Address::Domain(host, port) if host.is_empty() => {
                Address::Ip(SocketAddr::from(([0, 0, 0, 0], *port)))
            }
            other => other.clone(),
        };
        let src = conn.local_addr().map_or_else(unspecified, Address::Ip);
        let cmd = if udp { relay::CMD_BIND | relay::FLAG_UDP } else { relay::CMD_BIND };
        let req = Request { cmd, features: self.features(udp, src, dst) };
        let (conn, resp) =
            self.exchange(conn, req, &format!("register tunnel {}", self.id)).await?;
        let advertised = resp.addr().cloned();
        tracing::info!(
            tunnel = %self.id,
            endpoint = ?advertised.as_ref().map(ToString::to_string),
            "tunnel: registered"
        );
        let streams = crate::bind::listener(
            conn,
            crate::bind::StreamHeader::Relay,
            advertised.as_ref().and_then(Address::as_socket_addr),
            self.mux.clone(),
        )?;
        if !udp {
            return Ok(streams);
        }
        // rudp: each stream is one visitor's datagrams, `LEN | payload` framed.
        Ok(BoxListener::new(DatagramStreams(streams)))
    }

    /// A UDP visitor: CONNECT with the UDP network to `target`, then `LEN | payload` frames.
    async fn connect_packet(
        &self,
        conn: BoxConn,
        target: Option<Address>,
    ) -> Result<gost_core::BoxPacketConn> {
        let Some(target) = target else {
            return Err(Error::unsupported(
                "UDP through a tunnel needs a target (udp://:port/host:port)",
            ));
        };
        let src = conn.local_addr().map_or_else(unspecified, Address::Ip);
        let req = Request {
            cmd: relay::CMD_CONNECT | relay::FLAG_UDP,
            features: self.features(true, src, target.clone()),
        };
        let (conn, _) = self
            .exchange(conn, req, &format!("visit udp {target} through tunnel {}", self.id))
            .await?;
        Ok(Box::new(crate::datagram::FramedPacketConn::new(
            conn,
            crate::datagram::Framing::LengthPrefixed(target),
        )))
    }
}

/// The streams of a UDP registration, each a datagram connection.
struct DatagramStreams(BoxListener);

impl gost_core::Listener for DatagramStreams {
    async fn accept(&mut self) -> Result<BoxConn> {
        let stream = self.0.accept().await?;
        Ok(Box::new(crate::len_datagrams::LenDatagrams::new(stream)))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_weights_and_mux_defaults() {
        let md = Metadata::new()
            .with("tunnel.id", "4d21094e-b74c-4916-86c1-d9fa36ea677b")
            .with("tunnel.weight", 255i64);
        let c = TunnelConnector {
            node: "n".into(),
            credentials: None,
            id: TunnelId::default(),
            mux: gost_x_rt::mux::tunnel_config(&md).unwrap(),
        };
        assert_eq!((c.mux.version, c.mux.max_stream_buffer), (2, 1 << 20));
        assert!(new(ConnectorOptions::default(), &md).is_ok());
        let bad = Metadata::new().with("tunnel.id", "not-a-uuid");
        assert!(new(ConnectorOptions::default(), &bad).is_err());
        let f = c.features(false, unspecified(), Address::Domain("x.test".into(), 80));
        assert!(matches!(&f[..], [Feature::Addr(_), Feature::Addr(_), Feature::Tunnel(_)]));
    }
}
