//! # gost-x-sd
//!
//! [`MemorySd`]: service discovery kept in memory (an `sds` object without a plugin). Tunnel
//! services of one process that name the same SD see each other's tunnels; across processes
//! gost uses an SD plugin (the plugins issue). An instance expires [`MemorySd::ttl`] after its
//! last registration or renewal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gost_core::{Error, ErrorKind, Result, Sd, SdService};

/// The instances of one service by id, with when each was last renewed.
type Instances = HashMap<String, (SdService, Instant)>;

/// Instances by service name.
#[derive(Debug)]
pub struct MemorySd {
    ttl: Duration,
    services: Mutex<HashMap<String, Instances>>,
}

/// How long an instance lives without a renewal (gost's tunnel servers renew every 15 s
/// by default).
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

/// The instances kept at most: more registrations are refused.
pub const MAX_INSTANCES: usize = 65536;

impl Default for MemorySd {
    fn default() -> Self {
        MemorySd::new(DEFAULT_TTL)
    }
}

impl MemorySd {
    /// A registry whose instances live `ttl` after their last renewal.
    pub fn new(ttl: Duration) -> Self {
        MemorySd { ttl, services: Mutex::default() }
    }

    /// The time an instance lives without a renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn upsert(&self, service: SdService, must_exist: bool) -> Result<()> {
        if service.name.is_empty() || service.id.is_empty() {
            return Err(Error::config("sd: a service needs a name and an id"));
        }
        let mut all = self.services.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let known = all.get(&service.name).is_some_and(|m| m.contains_key(&service.id));
        if must_exist && !known {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("sd: {} is not registered", service.id),
            ));
        }
        if !known {
            let ttl = self.ttl;
            all.values_mut().for_each(|m| m.retain(|_, (_, at)| now.duration_since(*at) < ttl));
            all.retain(|_, m| !m.is_empty());
            if all.values().map(HashMap::len).sum::<usize>() >= MAX_INSTANCES {
                return Err(Error::new(ErrorKind::Denied, "sd: too many instances"));
            }
        }
        let id = service.id.clone();
        all.entry(service.name.clone()).or_default().insert(id, (service, now));
        Ok(())
    }
}

impl Sd for MemorySd {
    async fn register(&self, service: SdService) -> Result<()> {
        self.upsert(service, false)
    }

    async fn deregister(&self, service: SdService) -> Result<()> {
        let mut all = self.services.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = all.get_mut(&service.name) {
            m.remove(&service.id);
            if m.is_empty() {
                all.remove(&service.name);
            }
        }
        Ok(())
    }

    async fn renew(&self, service: SdService) -> Result<()> {
        self.upsert(service, true)
    }

    async fn get(&self, name: String) -> Result<Vec<SdService>> {
        let all = self.services.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        Ok(all
            .get(&name)
            .map(|m| {
                m.values()
                    .filter(|(_, at)| now.duration_since(*at) < self.ttl)
                    .map(|(s, _)| s.clone())
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, id: &str) -> SdService {
        SdService { id: id.into(), name: name.into(), node: "n1".into(), ..Default::default() }
    }

    #[tokio::test]
    async fn register_renew_get_deregister_and_expiry() {
        let sd = MemorySd::new(Duration::from_millis(200));
        sd.register(svc("t", "a")).await.unwrap();
        sd.register(svc("t", "b")).await.unwrap();
        assert_eq!(sd.get("t".into()).await.unwrap().len(), 2);
        assert!(sd.get("other".into()).await.unwrap().is_empty());
        assert!(sd.renew(svc("t", "nope")).await.is_err(), "renewing the unknown");
        sd.deregister(svc("t", "a")).await.unwrap();
        assert_eq!(sd.get("t".into()).await.unwrap(), vec![svc("t", "b")]);
        std::thread::sleep(Duration::from_millis(120));
        sd.renew(svc("t", "b")).await.unwrap();
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(sd.get("t".into()).await.unwrap().len(), 1, "renewed, still alive");
        std::thread::sleep(Duration::from_millis(250));
        assert!(sd.get("t".into()).await.unwrap().is_empty(), "expired");
        assert!(sd.register(svc("", "x")).await.is_err());
    }
}
