//! `socks5` (also `socks`): reaches the next address through a SOCKS5 server, with
//! user/password authentication when the node has credentials (`socks5://user:pass@host:port`).
//!
//! Offers no-auth, plus user/password when credentials are set. gost's TLS methods (0x80/0x82)
//! are not offered; Go servers accept the plain methods.
//!
//! Metadata: none yet (`notls`, `relay=udp` arrive with UDP support).

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, ErrorKind,
    Metadata, Network, Result,
};
use gost_proto::socks5::{
    self, Greeting, MethodSelection, Reply, Request, UserPassReply, UserPassRequest,
};

/// The registry name.
pub const NAME: &str = "socks5";
/// gost's other name for it.
pub const ALIAS: &str = "socks";

const MAX_MESSAGE: usize = 1024;

struct Socks5Connector {
    node: String,
    credentials: Option<(String, String)>,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, _md: &Metadata) -> Result<BoxConnector> {
    let credentials = opts.username.map(|u| (u, opts.password.unwrap_or_default()));
    Ok(BoxConnector::new(Socks5Connector { node: opts.node, credentials }))
}

impl Connector for Socks5Connector {
    async fn connect(
        &self,
        mut conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported(format!(
                "socks5 connector: {network} is not supported yet"
            )));
        }
        let mut out = Vec::with_capacity(300);
        let methods = if self.credentials.is_some() {
            vec![socks5::METHOD_NO_AUTH, socks5::METHOD_USER_PASS]
        } else {
            vec![socks5::METHOD_NO_AUTH]
        };
        Greeting { methods }.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let choice =
            read_decoded(&mut conn, &mut buf, MAX_MESSAGE, MethodSelection::decode).await?;
        match choice.method {
            socks5::METHOD_NO_AUTH => {}
            socks5::METHOD_USER_PASS => {
                let Some((user, pass)) = &self.credentials else {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("socks5 node {}: server wants a password", self.node),
                    ));
                };
                out.clear();
                UserPassRequest {
                    username: user.as_bytes().to_vec(),
                    password: pass.as_bytes().to_vec(),
                }
                .encode(&mut out)?;
                write_all(&mut conn, &out).await?;
                let status =
                    read_decoded(&mut conn, &mut buf, MAX_MESSAGE, UserPassReply::decode).await?;
                if status.status != 0 {
                    return Err(Error::new(
                        ErrorKind::Auth,
                        format!("socks5 node {}: credentials rejected", self.node),
                    ));
                }
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "socks5 node {}: no acceptable method (server chose {other:#04x})",
                        self.node
                    ),
                ));
            }
        }
        out.clear();
        Request { cmd: socks5::CMD_CONNECT, addr: target.clone() }.encode(&mut out)?;
        write_all(&mut conn, &out).await?;
        let reply = read_decoded(&mut conn, &mut buf, MAX_MESSAGE, Reply::decode).await?;
        if reply.rep != socks5::REP_SUCCEEDED {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "socks5 node {}: connect to {target} failed (reply {})",
                    self.node, reply.rep
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}
