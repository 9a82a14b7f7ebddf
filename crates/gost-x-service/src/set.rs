//! The running services of a process, by name: started and stopped while the process runs (the
//! Web API creates, replaces and deletes services), and all stopped gracefully at the end.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_core::{BoxService, Error, ErrorKind, Result, Service, State};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

struct Running {
    service: BoxService,
    task: JoinHandle<()>,
}

struct Inner {
    running: Mutex<BTreeMap<String, Running>>,
    /// Set when [`Services::run`] begins its shutdown: nothing starts after that.
    closing: std::sync::atomic::AtomicBool,
    failures: mpsc::UnboundedSender<(String, Error)>,
    failed: Mutex<Option<mpsc::UnboundedReceiver<(String, Error)>>>,
}

/// A handle to the set of running services; clones share the set.
#[derive(Clone)]
pub struct Services(Arc<Inner>);

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Services").field(&self.names()).finish()
    }
}

impl Default for Services {
    fn default() -> Self {
        Services::new()
    }
}

/// How long [`Services::stop`] waits for a closed service to let go of its port.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(10);

impl Services {
    /// An empty set.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Services(Arc::new(Inner {
            running: Mutex::new(BTreeMap::new()),
            closing: std::sync::atomic::AtomicBool::new(false),
            failures: tx,
            failed: Mutex::new(Some(rx)),
        }))
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.0.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts serving `service` under `name` (on the current tokio runtime). A name already
    /// running is an error and the service is closed.
    pub fn start(&self, name: &str, service: BoxService) -> Result<()> {
        let mut running = self.running();
        if self.0.closing.load(std::sync::atomic::Ordering::Acquire) {
            service.close();
            return Err(Error::new(ErrorKind::Closed, "the process is shutting down"));
        }
        if running.contains_key(name) {
            service.close();
            return Err(Error::config(format!("service {name:?} is already running")));
        }
        let failures = self.0.failures.clone();
        let svc = service.clone();
        let owned = name.to_owned();
        let task = tokio::spawn(async move {
            if let Err(err) = svc.serve().await {
                let _ = failures.send((owned, err));
            }
        });
        running.insert(name.to_owned(), Running { service, task });
        Ok(())
    }

    /// The running service called `name`.
    pub fn get(&self, name: &str) -> Option<BoxService> {
        self.running().get(name).map(|r| r.service.clone())
    }

    /// The names of the running services, sorted.
    pub fn names(&self) -> Vec<String> {
        self.running().keys().cloned().collect()
    }

    /// Closes the service called `name` and waits until its port is free (its live connections
    /// go on in the background for their grace period). Returns whether it was running.
    pub async fn stop(&self, name: &str) -> bool {
        let Some(r) = self.running().remove(name) else { return false };
        r.service.close();
        released(r).await;
        true
    }

    /// Closes every service and waits until every port is free.
    pub async fn stop_all_ports(&self) {
        let all: Vec<Running> = std::mem::take(&mut *self.running()).into_values().collect();
        for r in &all {
            r.service.close();
        }
        for r in all {
            released(r).await;
        }
    }

    /// Serves until `shutdown` completes or a service fails for good; then closes every service
    /// and waits for each to finish (each lets its live connections end within its grace
    /// period). Returns the first failure, if any. Services may be started and stopped while
    /// this runs.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let taken = self.0.failed.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(mut failed) = taken else {
            return Err(Error::config("the service set is already running"));
        };
        let failure = tokio::select! {
            () = shutdown => {
                tracing::info!("shutting down");
                None
            }
            Some((name, err)) = failed.recv() => {
                Some(err.wrap(ErrorKind::Closed, format!("service {name}")))
            }
        };
        let all: Vec<Running> = {
            let mut running = self.running();
            self.0.closing.store(true, std::sync::atomic::Ordering::Release);
            std::mem::take(&mut *running).into_values().collect()
        };
        for r in &all {
            r.service.close();
        }
        for r in all {
            if let Err(e) = r.task.await {
                tracing::error!("a service task failed: {e}");
            }
        }
        // A failure while closing counts too, the first one wins.
        match (failure, failed.try_recv()) {
            (Some(err), _) | (None, Ok((_, err))) => Err(err),
            (None, Err(_)) => Ok(()),
        }
    }
}

/// Completes once a closed service has dropped its listener (state `closed`) or its task ended.
async fn released(r: Running) {
    let Running { service, mut task } = r;
    let wait_closed = async {
        while service.status().state != State::Closed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = &mut task => {}
        () = wait_closed => {}
        () = tokio::time::sleep(RELEASE_TIMEOUT) => {
            tracing::warn!("a closed service did not release its listener in {RELEASE_TIMEOUT:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DefaultService, ServiceOptions};
    use gost_core::{BoxConn, BoxHandler, Handler, ListenerOptions, Metadata, Session};

    struct Nothing;
    impl Handler for Nothing {
        async fn handle(&self, _conn: BoxConn, _s: Session) -> Result<()> {
            Ok(())
        }
    }

    fn service(name: &str, addr: &str) -> BoxService {
        let l = gost_x_listener::tcp::new(ListenerOptions::new(addr), &Metadata::new()).unwrap();
        BoxService::new(DefaultService::new(ServiceOptions::new(name), l, BoxHandler::new(Nothing)))
    }

    #[tokio::test]
    async fn start_stop_rebind_and_shutdown() {
        let set = Services::new();
        let s = service("a", "127.0.0.1:0");
        let addr = s.local_addr().unwrap();
        set.start("a", s).unwrap();
        assert!(set.start("a", service("a2", "127.0.0.1:0")).is_err(), "duplicate name");
        assert_eq!(set.names(), ["a"]);
        assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
        assert!(set.stop("a").await);
        assert!(!set.stop("a").await);
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "port closed");
        // The port is free again at once: a replacement binds it.
        set.start("a", service("a", &addr.to_string())).unwrap();
        let run = tokio::spawn({
            let set = set.clone();
            async move { set.run(tokio::time::sleep(Duration::from_millis(100))).await }
        });
        assert!(run.await.unwrap().is_ok());
        assert!(set.names().is_empty());
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        assert!(set.start("late", service("late", "127.0.0.1:0")).is_err(), "closing");
    }
}
