//! A listener whose connections need work before the handler may have them (a TLS or
//! WebSocket handshake, a multiplexed session that yields many streams). A background task
//! accepts TCP connections and runs each upgrade in its own task, so one slow or hostile client
//! never holds up the others; finished connections wait in a queue of `backlog` entries.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use gost_core::{BoxConn, Error, ErrorKind, Listener, Result};
use gost_x_rt::TokioConn;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Where an upgrade delivers its connections (one, or one per multiplexed stream).
pub(crate) type Queue = mpsc::Sender<BoxConn>;

/// Turns one accepted TCP connection into zero or more upgraded connections.
pub(crate) type Upgrade =
    Arc<dyn Fn(BoxConn, Queue) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[cfg(feature = "ws")]
/// Serves one multiplexed session: every stream the client opens goes to the queue. A full queue
/// closes the stream (as gost does); the session ends with its carrier.
pub(crate) async fn serve_session(conn: BoxConn, config: gost_smux::Config, queue: Queue) {
    let peer = conn.peer_addr();
    let (session, local, peer_addr) = match gost_x_rt::mux::server(conn, config) {
        Ok(s) => s,
        Err(err) => {
            tracing::debug!(?peer, "mux: {err}");
            return;
        }
    };
    loop {
        tokio::select! {
            stream = session.accept_stream() => match stream {
                Ok(stream) => {
                    let conn = gost_x_rt::mux::stream_conn(stream, local, peer_addr);
                    if queue.try_send(conn).is_err() {
                        tracing::debug!(?peer, "mux: accept queue full, stream closed");
                    }
                }
                Err(err) => {
                    tracing::debug!(?peer, "mux session ended: {err}");
                    return;
                }
            },
            () = queue.closed() => {
                session.close();
                return;
            }
        }
    }
}

pub(crate) struct UpgradeListener {
    queue: mpsc::Receiver<BoxConn>,
    local: Option<SocketAddr>,
    acceptor: JoinHandle<()>,
}

impl UpgradeListener {
    /// Starts accepting on `listener`. Must be called inside a tokio runtime.
    pub(crate) fn spawn(listener: TcpListener, backlog: usize, upgrade: Upgrade) -> Self {
        let local = listener.local_addr().ok();
        let (tx, rx) = mpsc::channel(backlog.max(1));
        let acceptor = tokio::spawn(async move {
            let mut upgrades = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let conn: BoxConn = Box::new(TokioConn::tcp(stream));
                            upgrades.spawn(upgrade(conn, tx.clone()));
                        }
                        Err(err) => {
                            // EMFILE and friends: back off a little instead of spinning.
                            tracing::warn!("accept: {err}");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                    },
                    Some(_) = upgrades.join_next(), if !upgrades.is_empty() => {}
                    () = tx.closed() => break,
                }
            }
            // Dropping the set aborts upgrades still running (and the sessions they serve).
        });
        UpgradeListener { queue: rx, local, acceptor }
    }
}

impl Drop for UpgradeListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl Listener for UpgradeListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        self.queue.recv().await.ok_or_else(|| Error::new(ErrorKind::Closed, "listener closed"))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
}
