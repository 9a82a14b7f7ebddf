//! A tunnel server's public entrypoint (`entrypoint=:80`): each visitor is routed through the
//! ingress by what its first bytes say. `0x01`: a relay CONNECT naming a tunnel id (taken as
//! it is, as gost does); `0x16`: TLS, by the ClientHello's server name (port 443); anything
//! else: HTTP, by the `Host` of the first request (port 80), answered 502 (no route, or a
//! private tunnel) or 503 (no connector, or a request that already went through this node)
//! with an empty body, as gost's.
//!
//! Unlike gost (which proxies HTTP request by request), a visitor's connection goes to the
//! tunnel its first request names, and later requests on it follow.

use std::net::SocketAddr;
use std::sync::Arc;

use gost_core::io::{read, read_decoded, write_all};
use gost_core::{Address, BoxConn, Error, ErrorKind, Ingress, Result};
use gost_proto::http::RequestHead;
use gost_proto::relay::{self, Request};
use gost_proto::tunnel_id::TunnelId;

use super::{Inner, Route};

/// The running accept loop: stopped when dropped (with the handler).
pub(crate) struct Running(tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The largest request head or ClientHello read before routing.
const MAX_HEAD: usize = 64 * 1024;
/// Visitors being routed at once (reading their head, at most [`MAX_HEAD`] each); more are
/// closed at once until some are routed.
const MAX_ROUTING: usize = 1024;

/// Binds `addr` now (an error if it cannot be bound) and serves it in the background.
pub(crate) fn start(inner: Arc<Inner>, addr: &str, service: &str) -> Result<Running> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| Error::config("tunnel entrypoint: no runtime to serve it"))?;
    let listener = {
        let _guard = runtime.enter();
        gost_x_rt::net::listen_tcp(addr, 1024)?
    };
    let name = format!("{service}-ep-{addr}");
    tracing::info!(entrypoint = %addr, service = %name, "tunnel: entrypoint listening");
    let routing = Arc::new(tokio::sync::Semaphore::new(MAX_ROUTING));
    Ok(Running(runtime.spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(service = %name, "tunnel entrypoint: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = routing.clone().try_acquire_owned() else {
                tracing::debug!(%peer, "tunnel entrypoint: too many visitors being routed; closed");
                continue;
            };
            let inner = inner.clone();
            tokio::spawn(async move {
                let conn: BoxConn = Box::new(gost_x_rt::TokioConn::tcp(stream));
                if let Err(e) = serve(&inner, conn, peer, permit).await {
                    tracing::debug!(%peer, "tunnel entrypoint: {e}");
                }
            });
        }
    })))
}

async fn serve(
    inner: &Inner,
    mut conn: BoxConn,
    peer: SocketAddr,
    routing: tokio::sync::OwnedSemaphorePermit,
) -> Result<()> {
    // What routes a visitor must come within `entrypoint.readTimeout` (a visitor that sends
    // nothing, or a head a byte at a time, holds nothing for long).
    let deadline = tokio::time::Instant::now() + inner.head_timeout;
    let mut buf = vec![0u8; 1];
    let first = tokio::time::timeout_at(deadline, read(&mut conn, &mut buf));
    if first.await.map_err(|_| timed_out())?? == 0 {
        return Ok(());
    }
    match buf[0] {
        relay::VERSION => by_tunnel_id(inner, conn, buf, peer, (deadline, routing)).await,
        0x16 => by_server_name(inner, conn, buf, peer, (deadline, routing)).await,
        _ => by_host(inner, conn, buf, peer, (deadline, routing)).await,
    }
}

fn timed_out() -> Error {
    Error::new(ErrorKind::Timeout, "tunnel entrypoint: nothing to route by in time")
}

/// The tunnel the ingress gives `host` (`host:port`): `Err(true)` for a private one.
async fn route(inner: &Inner, host: &str) -> std::result::Result<TunnelId, bool> {
    let Some(ingress) = &inner.ingress else { return Err(false) };
    let rule = ingress.get_rule(host.to_owned()).await.ok_or(false)?;
    let tid = TunnelId::parse(&rule.endpoint).ok_or(false)?;
    if tid.is_private() {
        return Err(true);
    }
    Ok(tid)
}

/// `0x01`: a relay CONNECT with a tunnel id, no ingress check (gost's entrypoint).
async fn by_tunnel_id(
    inner: &Inner,
    mut conn: BoxConn,
    mut buf: Vec<u8>,
    peer: SocketAddr,
    (deadline, routing): (tokio::time::Instant, tokio::sync::OwnedSemaphorePermit),
) -> Result<()> {
    let read = read_decoded(&mut conn, &mut buf, 4 + 65535, Request::decode);
    let req = tokio::time::timeout_at(deadline, read).await.map_err(|_| timed_out())??;
    let conn = gost_core::io::rewind(conn, buf);
    let p = super::parts(&req);
    let tid = TunnelId::new(p.tunnel.uuid(), 0, 0);
    if tid.is_zero() {
        return super::refuse(conn, relay::STATUS_BAD_REQUEST, "no tunnel id".into()).await;
    }
    let Some(dst) = p.dst.clone() else {
        return super::refuse(conn, relay::STATUS_BAD_REQUEST, "no target address".into()).await;
    };
    let src = p.src.clone().or(Some(Address::Ip(peer)));
    let session = gost_core::Session::default();
    drop(routing);
    inner.visit(conn, tid, p.udp, src, dst, Some(&req), &session).await
}

/// `0x16`: TLS, routed by the ClientHello's server name; nothing is answered on failure.
async fn by_server_name(
    inner: &Inner,
    mut conn: BoxConn,
    mut buf: Vec<u8>,
    peer: SocketAddr,
    (deadline, routing): (tokio::time::Instant, tokio::sync::OwnedSemaphorePermit),
) -> Result<()> {
    // The ClientHello stays in `buf` (nothing consumed): it goes on to the tunnel as it came.
    let hello = read_decoded(&mut conn, &mut buf, MAX_HEAD, |b| {
        Ok(gost_proto::tls::client_hello_sni(b)?.map(|(sni, _)| (sni, 0)))
    });
    let sni = tokio::time::timeout_at(deadline, hello).await.map_err(|_| timed_out())??;
    let Some(name) = sni.filter(|n| !n.is_empty()) else {
        return Err(Error::protocol("tunnel entrypoint: TLS without a server name"));
    };
    let host = if name.contains(':') { name.clone() } else { format!("{name}:443") };
    let tid = route(inner, &host).await.map_err(|_| {
        Error::new(ErrorKind::Denied, format!("tunnel entrypoint: no route to {host}"))
    })?;
    let dst = Address::parse(&host)
        .map_err(|e| e.wrap(ErrorKind::Protocol, "tunnel entrypoint: server name"))?;
    drop(routing);
    carry(inner, conn, buf, tid, Address::Ip(peer), dst).await
}

/// HTTP, routed by the first request's `Host`.
async fn by_host(
    inner: &Inner,
    mut conn: BoxConn,
    mut buf: Vec<u8>,
    peer: SocketAddr,
    (deadline, routing): (tokio::time::Instant, tokio::sync::OwnedSemaphorePermit),
) -> Result<()> {
    // The head is taken off `buf` (it goes on rewritten); what follows it stays.
    let head = read_decoded(&mut conn, &mut buf, MAX_HEAD, RequestHead::decode);
    let mut head = tokio::time::timeout_at(deadline, head).await.map_err(|_| timed_out())??;
    let version = head.version;
    let answer =
        |status: &'static str| format!("HTTP/1.{version} {status}\r\nContent-Length: 0\r\n\r\n");
    let Some(host) = head.header_str("Host").map(str::to_owned).filter(|h| !h.is_empty()) else {
        write_all(&mut conn, answer("503 Service Unavailable").as_bytes()).await?;
        return Err(Error::protocol("tunnel entrypoint: a request without Host"));
    };
    let looped = head
        .header_str("Gost-Forwarded-Node")
        .is_some_and(|v| v.split(',').any(|n| n.trim() == inner.node_id));
    if looped {
        write_all(&mut conn, answer("503 Service Unavailable").as_bytes()).await?;
        return Err(Error::protocol("tunnel entrypoint: a request that looped back"));
    }
    let host = if host.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        && !host.ends_with(']')
    {
        host
    } else {
        format!("{host}:80")
    };
    let tid = match route(inner, &host).await {
        Ok(tid) => tid,
        Err(_) => {
            write_all(&mut conn, answer("502 Bad Gateway").as_bytes()).await?;
            return Err(Error::new(
                ErrorKind::Denied,
                format!("tunnel entrypoint: no route to {host}"),
            ));
        }
    };
    head.remove_header("Gost-Record");
    if head.header("Gost-Sid").is_none() {
        let sid = TunnelId::new(gost_x_rt::random_uuid(), 0, 0).uuid_string();
        head.set_header("Gost-Sid", sid.as_bytes());
    }
    head.set_header("Gost-Forwarded-Node", inner.node_id.as_bytes());
    let mut rewritten = Vec::with_capacity(buf.len() + 96);
    head.encode(&mut rewritten);
    rewritten.extend_from_slice(&buf);
    let Ok(dst) = Address::parse(&host) else {
        write_all(&mut conn, answer("502 Bad Gateway").as_bytes()).await?;
        return Err(Error::protocol(format!("tunnel entrypoint: a bad Host {host:?}")));
    };
    drop(routing);
    carry(inner, conn, rewritten, tid, Address::Ip(peer), dst).await
}

/// Opens the tunnel and passes `first` (what the visitor sent, as rewritten), then relays. A
/// tunnel with no connector gets HTTP visitors a 503.
async fn carry(
    inner: &Inner,
    mut conn: BoxConn,
    first: Vec<u8>,
    tid: TunnelId,
    src: Address,
    dst: Address,
) -> Result<()> {
    let is_http = first.first().is_some_and(|b| *b != 0x16);
    let mut stream = match inner.open(&tid, false, Some(src), dst).await {
        Ok(Route::Local(s)) | Ok(Route::Remote(s)) => s,
        Err(e) => {
            if is_http {
                write_all(
                    &mut conn,
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            }
            return Err(e);
        }
    };
    write_all(&mut stream, &first).await?;
    gost_x_rt::relay(&mut conn, &mut stream).await?;
    Ok(())
}
