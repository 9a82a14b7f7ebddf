//! `http`: reaches the next address through an HTTP proxy with `CONNECT`, sending
//! `Proxy-Authorization: Basic` when the node has credentials (`http://user:pass@host:port`).
//!
//! Metadata: `header` (a map of extra request headers).

use std::collections::BTreeMap;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, ErrorKind,
    Metadata, Network, Result,
};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};

/// The registry name.
pub const NAME: &str = "http";

struct HttpConnector {
    node: String,
    authorization: Option<String>,
    headers: BTreeMap<String, String>,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let authorization =
        opts.username.map(|u| wire::basic_auth_encode(&u, opts.password.as_deref().unwrap_or("")));
    Ok(BoxConnector::new(HttpConnector {
        node: opts.node,
        authorization,
        headers: md.get_string_map(&["header"])?.unwrap_or_default(),
    }))
}

impl Connector for HttpConnector {
    async fn connect(
        &self,
        mut conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported("http connector: UDP is not supported yet"));
        }
        let authority = target.to_string();
        let mut headers = vec![
            ("Host".to_owned(), authority.as_bytes().to_vec()),
            ("Proxy-Connection".to_owned(), b"keep-alive".to_vec()),
        ];
        if let Some(auth) = &self.authorization {
            headers.push(("Proxy-Authorization".to_owned(), auth.as_bytes().to_vec()));
        }
        for (k, v) in &self.headers {
            headers.push((k.clone(), v.as_bytes().to_vec()));
        }
        let req = RequestHead { method: "CONNECT".into(), target: authority, version: 1, headers };
        let mut out = Vec::with_capacity(256);
        req.encode(&mut out);
        write_all(&mut conn, &out).await?;
        let mut buf = Vec::new();
        let resp = read_decoded(&mut conn, &mut buf, wire::MAX_HEAD, ResponseHead::decode).await?;
        if resp.status != 200 {
            let kind = if resp.status == 407 { ErrorKind::Auth } else { ErrorKind::Connect };
            return Err(Error::new(
                kind,
                format!(
                    "http node {}: CONNECT {target} answered {} {}",
                    self.node, resp.status, resp.reason
                ),
            ));
        }
        Ok(rewind(conn, buf))
    }
}
