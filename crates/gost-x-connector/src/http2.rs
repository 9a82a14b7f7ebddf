//! `http2`: reaches the next address through gost's HTTP/2 proxy: a `CONNECT` stream on the
//! HTTP/2 connection the `http2` dialer keeps to the node (`-F http2://user:pass@proxy:443`),
//! with `Proxy-Authorization: Basic` when the node has credentials. Only over the `http2`
//! dialer (as in gost).
//!
//! Metadata: `header` (a map of extra request headers).

use std::any::Any;
use std::collections::BTreeMap;

use gost_core::{
    Address, BoxConn, BoxConnector, ConnectOptions, Connector, ConnectorOptions, Error, ErrorKind,
    Metadata, Network, Result,
};
use gost_proto::http as wire;
use gost_x_h2::ProxySession;

/// The registry name.
pub const NAME: &str = "http2";

struct Http2Connector {
    node: String,
    authorization: Option<String>,
    headers: BTreeMap<String, String>,
}

/// Builds the connector.
pub fn new(opts: ConnectorOptions, md: &Metadata) -> Result<BoxConnector> {
    let authorization =
        opts.username.map(|u| wire::basic_auth_encode(&u, opts.password.as_deref().unwrap_or("")));
    let headers: BTreeMap<String, String> = md.get_string_map(&["header"])?.unwrap_or_default();
    let pairs: Vec<(String, String)> = headers.clone().into_iter().collect();
    gost_x_h2::check_headers(&pairs)?;
    Ok(BoxConnector::new(Http2Connector { node: opts.node, authorization, headers }))
}

impl Connector for Http2Connector {
    async fn connect(
        &self,
        conn: BoxConn,
        network: Network,
        target: Address,
        _opts: ConnectOptions,
    ) -> Result<BoxConn> {
        if network.is_udp() {
            return Err(Error::unsupported("http2 connector: UDP is not supported"));
        }
        let Some(session) = (&*conn as &dyn Any).downcast_ref::<ProxySession>() else {
            return Err(Error::config(format!(
                "http2 node {}: the http2 connector needs the http2 dialer (-F http2://...)",
                self.node
            )));
        };
        let mut headers: Vec<(String, String)> =
            self.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(auth) = &self.authorization {
            headers.push(("proxy-authorization".to_owned(), auth.clone()));
        }
        session.connect(&target.to_string(), headers).await.map_err(|e| {
            let kind = if e.to_string().contains("407") { ErrorKind::Auth } else { e.kind() };
            e.wrap(kind, format!("http2 node {}: CONNECT {target}", self.node))
        })
    }
}
