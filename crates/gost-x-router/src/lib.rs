//! # gost-x-router
//!
//! gost's route tables (`routers:` objects): each route sends a destination, an IP or a CIDR
//! network, to a gateway. A lookup takes the first route, in configured order, whose destination
//! is the address as written or whose network contains it (gost's rule; not longest prefix).
//! The TUN/TAP mode reads them; the Web API manages them as kind `routers`.

use std::net::IpAddr;
use std::sync::RwLock;

use gost_core::{Error, Result, RouteEntry, RouteTable};
use gost_x_matcher::Cidr;

/// One parsed route.
#[derive(Debug, Clone)]
struct Route {
    entry: RouteEntry,
    net: Option<Cidr>,
}

/// A route table from configuration (inline routes and file lines), replaceable on reload.
#[derive(Debug, Default)]
pub struct StaticRoutes {
    routes: RwLock<Vec<Route>>,
}

impl StaticRoutes {
    /// Replaces the routes.
    pub fn set_routes(&self, routes: Vec<RouteEntry>) {
        let parsed =
            routes.into_iter().map(|entry| Route { net: Cidr::parse(&entry.dst), entry }).collect();
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = parsed;
    }
}

impl RouteTable for StaticRoutes {
    async fn route(&self, dst: &str) -> Option<RouteEntry> {
        let ip = dst.parse::<IpAddr>().ok();
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes
            .iter()
            .find(|r| r.entry.dst == dst || ip.zip(r.net).is_some_and(|(ip, net)| net.contains(ip)))
            .map(|r| r.entry.clone())
    }

    fn routes(&self) -> Vec<RouteEntry> {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        routes.iter().map(|r| r.entry.clone()).collect()
    }
}

/// Checks one route: a destination that is an IP or a CIDR network (a `/` that is no valid CIDR
/// is an error), and a gateway.
pub fn route(dst: &str, gateway: &str) -> Result<RouteEntry> {
    let (dst, gateway) = (dst.trim(), gateway.trim());
    if dst.is_empty() || gateway.is_empty() {
        return Err(Error::config(format!("route {dst:?} -> {gateway:?}: needs dst and gateway")));
    }
    if dst.contains('/') && Cidr::parse(dst).is_none() {
        return Err(Error::config(format!("route {dst:?}: not a CIDR network")));
    }
    if !dst.contains('/') && dst.parse::<IpAddr>().is_err() {
        return Err(Error::config(format!("route {dst:?}: not an IP address or CIDR network")));
    }
    Ok(RouteEntry { dst: dst.to_owned(), gateway: gateway.to_owned() })
}

/// Routes from file lines, `DST GATEWAY` each (`#` comments and blank lines already removed);
/// a malformed line is an error naming it.
pub fn parse_lines(lines: &[String]) -> Result<Vec<RouteEntry>> {
    lines
        .iter()
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(dst), Some(gw)) => route(dst, gw),
                _ => Err(Error::config(format!("route line {line:?}: expected `DST GATEWAY`"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_route_in_order_that_contains_the_address() {
        let t = StaticRoutes::default();
        let lines = ["10.0.0.0/8 192.168.1.1", "10.1.0.0/16 192.168.1.2", "172.16.0.5 10.9.9.9"];
        t.set_routes(parse_lines(&lines.map(String::from)).unwrap());
        assert_eq!(t.route("10.1.2.3").await.unwrap().gateway, "192.168.1.1", "configured order");
        assert_eq!(t.route("172.16.0.5").await.unwrap().gateway, "10.9.9.9");
        assert!(t.route("172.16.0.6").await.is_none());
        assert!(t.route("not-an-ip").await.is_none());
        assert_eq!(t.routes().len(), 3);
    }

    #[test]
    fn bad_routes_are_errors() {
        for bad in ["10.0.0.0/99 1.1.1.1", "10.0.0.0/8", "nope 1.1.1.1"] {
            assert!(parse_lines(&[bad.to_owned()]).is_err(), "{bad}");
        }
        assert!(route("fd00::/8", "fd00::1").is_ok());
    }
}
