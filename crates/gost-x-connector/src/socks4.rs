//! `socks4` (also `socks4a`): reaches the next address through a SOCKS4 server. Like gost it
//! always uses SOCKS4a (the server resolves names, even IP literals are sent as text) unless
//! `disable4a=true`, which resolves the name here and sends an IPv4 address. The node's user name
//! is sent as the user id.
//!
//! Metadata: `disable4a` (false).

use std::net::IpAddr;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, ErrorKind,
    Metadata, Network, Result,
};
use gost_proto::socks4::{self, Reply, Request};

/// The registry name.
pub const NAME: &str = "socks4";
/// gost's other name for it.
pub const ALIAS: &str = "socks4a";

struct Socks4Connector {
    node: String,
    userid: Vec<u8>,
    disable_4a: bool,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    Ok(BoxConnector::new(Socks4Connector {
        node: opts.node,
        userid: opts.username.unwrap_or_default().into_bytes(),
        disable_4a: md.get_bool(&["disable4a"])?.unwrap_or(false),
    }))
}

impl Connector for Socks4Connector {
    async fn connect(
        &self,
        mut conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported("socks4 connector: SOCKS4 carries no UDP"));
        }
        let (ip, host) = if self.disable_4a {
            let resolved = gost_x_rt::net::resolve(&target, Network::Tcp4).await?;
            match resolved.first().map(|sa| sa.ip()) {
                Some(IpAddr::V4(v4)) => (v4.octets(), None),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Dial,
                        format!("socks4: no IPv4 address for {target}"),
                    ));
                }
            }
        } else {
            ([0, 0, 0, 1], Some(target.host()))
        };
        let req = Request {
            cmd: socks4::CMD_CONNECT,
            port: target.port(),
            ip,
            userid: self.userid.clone(),
            host,
        };
        let mut out = Vec::with_capacity(64);
        req.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let reply = read_decoded(&mut conn, &mut buf, 64, Reply::decode).await?;
        if reply.code != socks4::REP_GRANTED {
            let kind = if reply.code == socks4::REP_IDENTD_MISMATCH {
                ErrorKind::Auth
            } else {
                ErrorKind::Connect
            };
            return Err(Error::new(
                kind,
                format!(
                    "socks4 node {}: connect to {target} refused (code {})",
                    self.node, reply.code
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}
