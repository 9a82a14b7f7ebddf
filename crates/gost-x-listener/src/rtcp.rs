//! `rtcp`: remote TCP port forwarding (`-L rtcp://:2222/127.0.0.1:22 -F socks5://server:1080`).
//! The port is bound on the chain's last node (SOCKS5 MBIND or relay BIND, the server needing
//! `bind=true`); every connection to it is carried back and handed to the service's handler
//! (gost's forward handler, which takes it to the target). When the chain drops, the bind is
//! re-established, backing off from 1 s to 5 s. Without a chain the port is bound locally.
//!
//! Metadata: `backlog` (128, local binds only).

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::{
    Address, BindOptions, BoxConn, BoxListener, BoxRouter, Listener, ListenerOptions, Metadata,
    Network, Result, Router,
};
use gost_x_rt::net::{DEFAULT_BACKLOG, TcpAcceptor, listen_tcp};

/// The registry name.
pub const NAME: &str = "rtcp";

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Binds `opts.addr` on the chain's last node (or locally without a chain).
pub fn new(opts: ListenerOptions, md: &Metadata) -> Result<BoxListener> {
    let Some(router) = opts.router else {
        let backlog = md.get_usize(&["backlog"])?.unwrap_or(DEFAULT_BACKLOG as usize);
        let l = listen_tcp(&opts.addr, u32::try_from(backlog).unwrap_or(u32::MAX))?;
        return Ok(BoxListener::new(TcpAcceptor::new(l)));
    };
    let mut bind = BindOptions::default();
    bind.mux = true;
    Ok(remote(router, Address::parse(&opts.addr)?, Network::Tcp, bind))
}

/// A listener whose port lives on the chain's last node (shared with `rudp`): bound on the first
/// accept, bound again whenever the chain drops.
pub(crate) fn remote(
    router: BoxRouter,
    addr: Address,
    network: Network,
    bind: BindOptions,
) -> BoxListener {
    BoxListener::new(RemoteListener {
        router,
        addr,
        network,
        bind,
        current: None,
        retry: Duration::ZERO,
        binding: None,
    })
}

/// A bind in progress (the wait before it, then the bind through the chain).
type Binding = std::pin::Pin<Box<dyn std::future::Future<Output = Result<BoxListener>> + Send>>;

struct RemoteListener {
    router: BoxRouter,
    addr: Address,
    network: Network,
    bind: BindOptions,
    current: Option<BoxListener>,
    retry: Duration,
    /// Kept across calls: the service drops an accept future whenever another event comes
    /// first, and a bind must not start over (or be lost half-way) each time.
    binding: Option<Binding>,
}

impl Listener for RemoteListener {
    async fn accept(&mut self) -> Result<BoxConn> {
        loop {
            let listener = match self.current.as_mut() {
                Some(l) => l,
                None => {
                    let binding = self.binding.get_or_insert_with(|| {
                        let (router, network, addr, bind, wait) = (
                            self.router.clone(),
                            self.network,
                            self.addr.clone(),
                            self.bind.clone(),
                            self.retry,
                        );
                        Box::pin(async move {
                            if !wait.is_zero() {
                                tokio::time::sleep(wait).await;
                            }
                            router.bind(network, addr, bind).await
                        })
                    });
                    let bound = binding.await;
                    self.binding = None;
                    match bound {
                        Ok(l) => {
                            tracing::info!(addr = %self.addr, network = %self.network, "remote bind: bound through the chain");
                            self.retry = Duration::ZERO;
                            self.current.insert(l)
                        }
                        Err(err) => {
                            self.retry = if self.retry.is_zero() {
                                FIRST_RETRY
                            } else {
                                (self.retry * 2).min(MAX_RETRY)
                            };
                            tracing::warn!(addr = %self.addr, network = %self.network, "remote bind: bind failed: {err}; retrying in {:?}", self.retry);
                            continue;
                        }
                    }
                }
            };
            match listener.accept().await {
                Ok(conn) => return Ok(conn),
                Err(err) => {
                    tracing::warn!(addr = %self.addr, network = %self.network, "remote bind: lost ({err}); binding again");
                    self.current = None;
                    self.retry = FIRST_RETRY;
                }
            }
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        // The port is on the remote node; report the address asked for.
        self.addr.as_socket_addr()
    }
}
