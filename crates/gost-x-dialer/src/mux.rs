//! The session cache shared by the multiplexing dialers (mws, mwss, mtls): one smux session per
//! node, a new stream per connection, a dead session rebuilt on the next dial.

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::{Address, BoxConn, DialOptions, Dialer, HandshakeOptions, Result};
use gost_smux::Session;

use crate::ws::WsDialer;

/// What the session is carried on.
pub(crate) enum Carrier {
    /// WebSocket (with TLS for mwss).
    Ws(WsDialer),
    /// TLS.
    Tls(crate::tls::TlsDialer),
}

impl Carrier {
    async fn dial(&self, addr: &Address, opts: &DialOptions) -> Result<BoxConn> {
        match self {
            Carrier::Ws(ws) => ws.dial_tcp(addr, opts).await,
            Carrier::Tls(tls) => tls.dial(addr.clone(), opts.clone()).await,
        }
    }

    async fn upgrade(&self, conn: BoxConn, addr: Option<&Address>) -> Result<BoxConn> {
        match self {
            Carrier::Ws(ws) => ws.upgrade(conn, addr).await,
            Carrier::Tls(tls) => {
                let mut opts = HandshakeOptions::default();
                opts.addr = addr.cloned();
                tls.handshake(conn, opts).await
            }
        }
    }
}

type Cached = (Session, Option<SocketAddr>, Option<SocketAddr>);

/// Bound on building a session (carrier dial, upgrade, smux start) when the caller sets none.
const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) struct MuxDialer {
    carrier: Carrier,
    config: gost_smux::Config,
    /// The live session; the lock is never held across an await.
    session: std::sync::Mutex<Option<Cached>>,
    /// Held while a session is built: dials that find no live session wait for that one build
    /// (single flight) instead of each dialing a carrier, while dials that find a live session
    /// never touch it.
    building: tokio::sync::Mutex<()>,
}

impl MuxDialer {
    pub(crate) fn new(carrier: Carrier, config: gost_smux::Config) -> Self {
        MuxDialer {
            carrier,
            config,
            session: std::sync::Mutex::new(None),
            building: tokio::sync::Mutex::new(()),
        }
    }

    fn live(&self) -> Option<Cached> {
        let cached = self.session.lock().unwrap_or_else(|e| e.into_inner());
        cached.as_ref().filter(|(s, _, _)| !s.is_closed()).cloned()
    }

    /// A stream on the live session, if there is one that still opens streams.
    async fn open_live(&self, addr: &Address) -> Option<BoxConn> {
        let (session, local, peer) = self.live()?;
        match gost_x_rt::mux::open(&session, local, peer).await {
            Ok(conn) => Some(conn),
            Err(err) => {
                tracing::debug!(%addr, "mux session unusable, rebuilding: {err}");
                // Forget it (unless another dial has replaced it already); its live streams,
                // if any, keep it up until they end.
                let mut cached = self.session.lock().unwrap_or_else(|e| e.into_inner());
                if cached.as_ref().is_some_and(|(s, _, _)| s.same_session(&session)) {
                    *cached = None;
                }
                None
            }
        }
    }
}

impl Dialer for MuxDialer {
    async fn dial(&self, addr: Address, opts: DialOptions) -> Result<BoxConn> {
        if let Some(conn) = self.open_live(&addr).await {
            return Ok(conn);
        }
        let _building = self.building.lock().await;
        // The dial that held the lock before may have built one.
        if let Some(conn) = self.open_live(&addr).await {
            return Ok(conn);
        }
        let limit = opts.timeout.unwrap_or(DEFAULT_BUILD_TIMEOUT);
        let build = async {
            let conn = self.carrier.dial(&addr, &opts).await?;
            let carrier = self.carrier.upgrade(conn, Some(&addr)).await?;
            gost_x_rt::mux::client(carrier, self.config.clone())
        };
        let what = format!("mux session to {addr}");
        let (session, local, peer) = gost_x_rt::timeout(limit, &what, build).await?;
        let stream = gost_x_rt::mux::open(&session, local, peer).await?;
        *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some((session, local, peer));
        Ok(stream)
    }

    /// The node is reached through earlier hops: a session of its own over that tunnel.
    async fn handshake(&self, conn: BoxConn, opts: HandshakeOptions) -> Result<BoxConn> {
        let carrier = self.carrier.upgrade(conn, opts.addr.as_ref()).await?;
        let (session, local, peer) = gost_x_rt::mux::client(carrier, self.config.clone())?;
        // The stream keeps the session alive; both end together.
        gost_x_rt::mux::open(&session, local, peer).await
    }

    fn multiplex(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read_exact, write_all};
    use gost_core::{ErrorKind, Metadata};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    fn mws() -> MuxDialer {
        let carrier = Carrier::Ws(WsDialer::build(&Metadata::new(), None).unwrap());
        MuxDialer::new(carrier, gost_smux::Config::default())
    }

    fn opts(timeout: Duration) -> DialOptions {
        let mut o = DialOptions::default();
        o.timeout = Some(timeout);
        o
    }

    /// A node that accepts TCP and then never answers the upgrade; counts connections.
    async fn silent_node() -> (Address, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                seen.fetch_add(1, Ordering::Relaxed);
                held.push(s);
            }
        });
        (addr, count)
    }

    /// An mws node whose streams echo; counts sessions.
    async fn echo_node() -> (Address, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = Address::Ip(l.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                seen.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let opts = gost_x_ws::ServerOptions::from_metadata(&Metadata::new()).unwrap();
                    let conn = gost_x_ws::accept(Box::new(gost_x_rt::TokioConn::tcp(s)), &opts)
                        .await
                        .unwrap();
                    let (session, _, _) =
                        gost_x_rt::mux::server(conn, gost_smux::Config::default()).unwrap();
                    while let Ok(stream) = session.accept_stream().await {
                        tokio::spawn(async move {
                            let (mut r, mut w) = tokio::io::split(stream);
                            let _ = tokio::io::copy(&mut r, &mut w).await;
                        });
                    }
                });
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn a_session_that_never_comes_up_times_out_and_is_built_once_at_a_time() {
        let (addr, conns) = silent_node().await;
        let d = Arc::new(mws());
        let started = std::time::Instant::now();
        let mut dials = Vec::new();
        for _ in 0..4 {
            let (d, addr) = (d.clone(), addr.clone());
            dials.push(tokio::spawn(async move {
                d.dial(addr, opts(Duration::from_millis(300))).await
            }));
        }
        for dial in dials {
            let done = tokio::time::timeout(Duration::from_secs(5), dial).await;
            let err = done.expect("the build must be bounded").unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        }
        // One build at a time (each bounded), never one carrier per waiting dial at once.
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(conns.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn concurrent_dials_share_one_session() {
        let (addr, sessions) = echo_node().await;
        let d = Arc::new(mws());
        let mut dials = Vec::new();
        for i in 0..8u8 {
            let (d, addr) = (d.clone(), addr.clone());
            dials.push(tokio::spawn(async move {
                let mut c = d.dial(addr, opts(Duration::from_secs(5))).await.unwrap();
                write_all(&mut c, &[i; 3]).await.unwrap();
                let mut back = [0u8; 3];
                read_exact(&mut c, &mut back).await.unwrap();
                assert_eq!(back, [i; 3]);
            }));
        }
        for dial in dials {
            dial.await.unwrap();
        }
        assert_eq!(sessions.load(Ordering::Relaxed), 1);
    }
}
