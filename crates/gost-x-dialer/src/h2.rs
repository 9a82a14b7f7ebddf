//! `h2` and `h2c`: gost's HTTP/2 tunnel transport on the client side (`-F socks5+h2://server:443`):
//! one HTTP/2 connection per node, kept and reused, a stream per connection (`CONNECT` to the
//! node, or `GET path`); a dead connection is rebuilt on the next dial. See `gost-x-h2`.
//!
//! Metadata: `host` (the `:authority`; the node address by default), `path` (a `GET` of this
//! path instead of `CONNECT`), `header` (extra request header fields, a map), `dialTimeout`
//! (5s), and (`h2`) every `tls` key.

use std::time::Duration;

use gost_core::{
    Address, BoxConn, BoxDialer, DialOptions, Dialer, DialerOptions, HandshakeOptions, Metadata,
    Network, Result,
};
use gost_x_rt::TokioConn;
use gost_x_rt::net::connect_tcp;
use gost_x_tls::TlsConnector;

/// The registry name of the TLS form.
pub const NAME: &str = "h2";
/// The registry name of the cleartext form.
pub const NAME_CLEAR: &str = "h2c";

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on building a connection (TCP, TLS, the HTTP/2 preface) when the caller sets none.
const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) struct H2Dialer {
    dial_timeout: Duration,
    /// Bound on building a connection when the caller sets none.
    build_timeout: Duration,
    tls: Option<(TlsConnector, Option<String>)>,
    host: Option<String>,
    path: Option<String>,
    headers: Vec<(String, String)>,
    /// gRPC tunnel calls instead of HTTP/2 tunnel requests.
    grpc: bool,
    /// `http2`: hands out the connection itself for the `http2` connector's requests.
    proxy: bool,
    keepalive: Option<gost_x_h2::Keepalive>,
    /// The live connections (another is opened when all are at the server's stream limit);
    /// the lock is never held across an await.
    clients: std::sync::Mutex<Vec<gost_x_h2::Client>>,
    /// Held while a connection is built (one build at a time).
    building: tokio::sync::Mutex<()>,
}

/// `h2`: HTTP/2 over TLS (ALPN `h2`).
pub fn new(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let mut dialer = H2Dialer::new(md, Some(h2_connector(md)?))?;
    dialer.host = md.get_string(&["host"])?.filter(|h| !h.is_empty());
    dialer.path = md.get_string(&["path"])?.filter(|p| !p.is_empty());
    Ok(BoxDialer::new(dialer))
}

/// `h2c`: HTTP/2 in clear, with prior knowledge.
pub fn new_clear(_opts: DialerOptions, md: &Metadata) -> Result<BoxDialer> {
    let mut dialer = H2Dialer::new(md, None)?;
    dialer.host = md.get_string(&["host"])?.filter(|h| !h.is_empty());
    dialer.path = md.get_string(&["path"])?.filter(|p| !p.is_empty());
    Ok(BoxDialer::new(dialer))
}

/// The `tls` keys' client configuration, asking for ALPN `h2`.
pub(crate) fn h2_connector(md: &Metadata) -> Result<(TlsConnector, Option<String>)> {
    let (config, server_name) = gost_x_tls::client_config(md)?;
    let mut config = (*config).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((TlsConnector::from(std::sync::Arc::new(config)), server_name))
}

impl H2Dialer {
    /// An h2 tunnel dialer (over `tls`, or in clear), its request from the common metadata.
    pub(crate) fn new(
        md: &Metadata,
        tls: Option<(TlsConnector, Option<String>)>,
    ) -> Result<H2Dialer> {
        let headers: Vec<(String, String)> =
            md.get_string_map(&["header"])?.unwrap_or_default().into_iter().collect();
        gost_x_h2::check_headers(&headers)?;
        Ok(H2Dialer {
            dial_timeout: md.get_duration(&["dialTimeout"])?.unwrap_or(DEFAULT_DIAL_TIMEOUT),
            build_timeout: DEFAULT_BUILD_TIMEOUT,
            tls,
            host: None,
            path: None,
            headers,
            grpc: false,
            proxy: false,
            keepalive: None,
            clients: std::sync::Mutex::new(Vec::new()),
            building: tokio::sync::Mutex::new(()),
        })
    }

    /// Makes it gost's gRPC tunnel: calls of `path` with `:authority` `host` (else the node's
    /// host, without its port, as gost's), `keepalive` pings, connections built within `build`.
    pub(crate) fn grpc(
        mut self,
        host: Option<String>,
        path: String,
        keepalive: Option<gost_x_h2::Keepalive>,
        build: Duration,
    ) -> H2Dialer {
        self.grpc = true;
        self.host = host;
        self.path = Some(path);
        self.keepalive = keepalive;
        self.build_timeout = build;
        self
    }

    fn request(&self, addr: &Address) -> gost_x_h2::Request {
        let host = match (&self.host, self.grpc) {
            (Some(h), _) => h.clone(),
            (None, true) => addr.host(),
            (None, false) => addr.to_string(),
        };
        gost_x_h2::Request {
            host,
            scheme: if self.tls.is_some() { "https" } else { "http" },
            path: self.path.clone(),
            headers: self.headers.clone(),
            grpc: self.grpc,
        }
    }

    /// TLS (for `h2`) and the HTTP/2 preface over `conn`.
    async fn upgrade(&self, conn: BoxConn, addr: Option<&Address>) -> Result<gost_x_h2::Client> {
        let conn = match &self.tls {
            Some((connector, server_name)) => {
                let host = addr.map(Address::host).unwrap_or_default();
                let name = gost_x_tls::server_name(server_name.as_deref(), &host)?;
                gost_x_tls::connect(connector, name, conn).await?
            }
            None => conn,
        };
        gost_x_h2::Client::handshake(conn, self.keepalive).await
    }

    /// A new connection to `addr`: TCP, TLS (for `h2`), the HTTP/2 preface.
    async fn build(&self, addr: &Address, opts: &DialOptions) -> Result<gost_x_h2::Client> {
        let limit = opts.timeout.unwrap_or(self.build_timeout);
        let dial_timeout = opts.timeout.map_or(self.dial_timeout, |t| t.min(self.dial_timeout));
        let build = async {
            let stream = connect_tcp(addr, Network::Tcp, dial_timeout).await?;
            self.upgrade(Box::new(TokioConn::tcp(stream)), Some(addr)).await
        };
        gost_x_rt::timeout(limit, &format!("h2 connection to {addr}"), build).await
    }

    /// Makes it gost's `http2` dialer: the connection goes to the `http2` connector.
    pub(crate) fn proxy(mut self) -> H2Dialer {
        self.proxy = true;
        self
    }

    /// A live connection with room for another stream (dead ones are dropped).
    fn pick(&self) -> Option<gost_x_h2::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(gost_x_h2::Client::is_usable);
        clients.iter().find(|c| c.has_room()).cloned()
    }

    fn forget(&self, client: &gost_x_h2::Client) {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| !c.same(client));
    }

    fn keep(&self, client: gost_x_h2::Client) {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).push(client);
    }

    /// A stream on a live connection, if one has room and still opens streams.
    async fn open_live(&self, addr: &Address) -> Option<BoxConn> {
        let client = self.pick()?;
        match client.open(&self.request(addr)).await {
            Ok(conn) => Some(conn),
            Err(err) => {
                tracing::debug!(%addr, "h2 connection unusable, rebuilding: {err}");
                self.forget(&client);
                None
            }
        }
    }
}

impl Dialer for H2Dialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        if self.proxy {
            if let Some(client) = self.pick() {
                return Ok(Box::new(gost_x_h2::ProxySession::new(client)));
            }
            let _building = self.building.lock().await;
            if let Some(client) = self.pick() {
                return Ok(Box::new(gost_x_h2::ProxySession::new(client)));
            }
            let client = self.build(&addr, &opts).await?;
            self.keep(client.clone());
            return Ok(Box::new(gost_x_h2::ProxySession::new(client)));
        }
        if let Some(conn) = self.open_live(&addr).await {
            return Ok(conn);
        }
        let _building = self.building.lock().await;
        if let Some(conn) = self.open_live(&addr).await {
            return Ok(conn);
        }
        let client = self.build(&addr, &opts).await?;
        let conn = client.open(&self.request(&addr)).await?;
        self.keep(client);
        Ok(conn)
    }

    /// The node is reached through earlier hops: an HTTP/2 connection of its own over that
    /// tunnel (its stream keeps it alive).
    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        let addr = opts.addr.clone().unwrap_or_else(|| Address::Domain(String::new(), 0));
        let client = self.upgrade(conn, opts.addr.as_ref()).await?;
        if self.proxy {
            return Ok(Box::new(gost_x_h2::ProxySession::new(client)));
        }
        client.open(&self.request(&addr)).await
    }

    fn multiplex(&self) -> bool {
        true
    }
}
