//! Creates chains and services from a [`Config`] and the component registries.

use std::sync::Arc;
use std::time::Duration;

use gost_core::{
    Address, BoxAuther, BoxChainer, BoxHop, BoxRouter, BoxService, ConnectorOptions, DialerOptions,
    Error, ErrorKind, HandlerOptions, ListenerOptions, Metadata, Node, Registries, Registry,
    Result, Transport,
};
use gost_x_auth::Users;
use gost_x_chain::selector::{DEFAULT_FAIL_TIMEOUT, DefaultSelector, from_metadata};
use gost_x_chain::{Chain, DefaultRouter, NodeHop, RouterOptions};
use gost_x_service::{DefaultService, ServiceOptions};

use crate::model::{Config, HopConfig, SelectorConfig, ServiceConfig};
use crate::names;

/// Registers every chain of `config` in `r.chains`, then creates every service (bound, not yet
/// serving) and registers it in `r.services`. Errors name the object at fault.
pub fn build(config: &Config, r: &Registries) -> Result<Vec<BoxService>> {
    for chain in &config.chains {
        let mut hops = Vec::with_capacity(chain.hops.len());
        for hop in &chain.hops {
            let built = build_hop(hop, r).map_err(|e| {
                e.wrap(ErrorKind::Config, format!("chain {}, hop {}", chain.name, hop.name))
            })?;
            hops.push((hop.name.clone(), built));
        }
        r.chains.register(&chain.name, BoxChainer::new(Chain::new(chain.name.clone(), hops)))?;
    }
    let mut services = Vec::with_capacity(config.services.len());
    for svc in &config.services {
        let built = build_service(svc, r)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("service {}", svc.name)))?;
        r.services.register(&svc.name, built.clone())?;
        services.push(built);
    }
    Ok(services)
}

/// Looks a component factory up, telling "not supported yet" (a gost name we lack) apart from a
/// plain unknown name.
fn factory<T: Clone>(reg: &Registry<T>, role: &str, kind: &str, gost_knows: bool) -> Result<T> {
    reg.get(kind).map_err(|_| {
        let ours = reg.names().join(", ");
        if gost_knows {
            Error::unsupported(format!(
                "{role} type {kind:?} is not supported yet (this build has: {ours})"
            ))
        } else {
            Error::config(format!("unknown {role} type {kind:?} (this build has: {ours})"))
        }
    })
}

fn selector_metadata(sel: Option<&SelectorConfig>, md: &Metadata) -> Metadata {
    let mut merged = md.clone();
    if let Some(sel) = sel {
        if !sel.strategy.is_empty() {
            merged.insert("strategy", sel.strategy.as_str());
        }
        merged.insert("maxFails", sel.max_fails);
        if !sel.fail_timeout.is_empty() {
            merged.insert("failTimeout", sel.fail_timeout.as_str());
        }
    }
    merged
}

fn build_hop(hop: &HopConfig, r: &Registries) -> Result<BoxHop> {
    let mut nodes = Vec::with_capacity(hop.nodes.len());
    for node in &hop.nodes {
        let addr = Address::parse(&node.addr)
            .map_err(|e| e.wrap(ErrorKind::Config, format!("node {}", node.name)))?;
        let connector_kind =
            if node.connector.kind.is_empty() { "http" } else { &node.connector.kind };
        let dialer_kind = if node.dialer.kind.is_empty() { "tcp" } else { &node.dialer.kind };
        let mut copts = ConnectorOptions::default();
        copts.node = node.name.clone();
        if let Some(auth) = &node.connector.auth {
            copts.username = Some(auth.username.clone());
            copts.password = Some(auth.password.clone());
        }
        let new_connector = factory(
            &r.connectors,
            "connector",
            connector_kind,
            names::is_connector(connector_kind),
        )?;
        let connector = new_connector(copts, &node.connector.metadata).map_err(|e| {
            e.wrap(ErrorKind::Config, format!("node {}: connector {connector_kind}", node.name))
        })?;
        let mut dopts = DialerOptions::default();
        dopts.node = node.name.clone();
        let new_dialer = factory(&r.dialers, "dialer", dialer_kind, names::is_dialer(dialer_kind))?;
        let dialer = new_dialer(dopts, &node.dialer.metadata).map_err(|e| {
            e.wrap(ErrorKind::Config, format!("node {}: dialer {dialer_kind}", node.name))
        })?;
        let mut built = Node::new(node.name.clone(), addr, Transport::new(dialer, connector));
        built.metadata = node.metadata.clone();
        nodes.push(Arc::new(built));
    }
    let sel: DefaultSelector<Arc<Node>> = from_metadata(
        &selector_metadata(hop.selector.as_ref(), &hop.metadata),
        DEFAULT_FAIL_TIMEOUT,
    )?;
    Ok(BoxHop::new(NodeHop::new(hop.name.clone(), nodes, Box::new(sel))))
}

fn router(chain: Option<&str>, svc: &ServiceConfig, r: &Registries) -> Result<BoxRouter> {
    let mut opts = RouterOptions::default();
    if let Some(name) = chain {
        opts.chain = Some(r.chains.get(name)?);
    }
    opts.retries = svc.handler.metadata.get_usize(&["retries"])?.unwrap_or(0);
    if let Some(t) = svc.metadata.get_duration(&["dialTimeout"])? {
        opts.timeout = if t.is_zero() { Duration::from_secs(15) } else { t };
    }
    Ok(BoxRouter::new(DefaultRouter::new(opts)))
}

fn build_service(svc: &ServiceConfig, r: &Registries) -> Result<BoxService> {
    if svc.listener.chain.is_some() {
        return Err(Error::unsupported(
            "binding a listener through a chain (rtcp/rudp) is not supported yet",
        ));
    }
    let handler_kind = if svc.handler.kind.is_empty() { "auto" } else { &svc.handler.kind };
    let listener_kind = if svc.listener.kind.is_empty() { "tcp" } else { &svc.listener.kind };
    let new_handler =
        factory(&r.handlers, "handler", handler_kind, names::is_handler(handler_kind))?;
    let new_listener =
        factory(&r.listeners, "listener", listener_kind, names::is_listener(listener_kind))?;

    let mut hopts = HandlerOptions::new(router(svc.handler.chain.as_deref(), svc, r)?);
    hopts.service = svc.name.clone();
    if let Some(auth) = &svc.handler.auth {
        let users = Users::new([(auth.username.clone(), auth.password.clone())]);
        hopts.auther = Some(BoxAuther::new(users));
    }
    if let Some(fwd) = &svc.forwarder {
        let mut nodes = Vec::with_capacity(fwd.nodes.len());
        for node in &fwd.nodes {
            let addr = Address::parse(&node.addr)
                .map_err(|e| e.wrap(ErrorKind::Config, format!("forwarder node {}", node.name)))?;
            nodes.push(Arc::new(Node::target(node.name.clone(), addr)));
        }
        if !nodes.is_empty() {
            let sel: DefaultSelector<Arc<Node>> = from_metadata(
                &selector_metadata(fwd.selector.as_ref(), &Metadata::new()),
                DEFAULT_FAIL_TIMEOUT,
            )?;
            hopts.forwarder = Some(BoxHop::new(NodeHop::new(
                format!("{}-forwarder", svc.name),
                nodes,
                Box::new(sel),
            )));
        }
    }
    let handler = new_handler(hopts, &svc.handler.metadata)
        .map_err(|e| e.wrap(ErrorKind::Config, format!("handler {handler_kind}")))?;

    let mut lopts = ListenerOptions::new(svc.addr.clone());
    lopts.service = svc.name.clone();
    let listener = new_listener(lopts, &svc.listener.metadata).map_err(|e| {
        let kind = e.kind();
        e.wrap(kind, format!("listener {listener_kind}"))
    })?;
    Ok(BoxService::new(DefaultService::new(
        ServiceOptions::new(svc.name.clone()),
        listener,
        handler,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_cli;
    use gost_core::Service;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn registries() -> Registries {
        let r = Registries::new();
        gost_x_listener::register(&r).unwrap();
        gost_x_dialer::register(&r).unwrap();
        gost_x_handler::register(&r).unwrap();
        gost_x_connector::register(&r).unwrap();
        r
    }

    async fn serve(l: &str, f: &[&str], r: &Registries) -> BoxService {
        let p = parse_cli(&[l.to_owned()], &f.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        let svc = build(&p.config, r).unwrap().remove(0);
        tokio::spawn({
            let svc = svc.clone();
            async move { svc.serve().await }
        });
        svc
    }

    #[tokio::test]
    async fn forwarder_through_a_forward_chain() {
        let origin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin_addr = origin.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            s.write_all(b"from origin").await.unwrap();
        });
        // Server: plain forwarder to the origin.
        let r1 = registries();
        let server = serve(&format!("tcp://127.0.0.1:0/{origin_addr}"), &[], &r1).await;
        let server_addr = server.local_addr().unwrap();
        // Client: forwarder whose target is ignored by the forward node, which is the server.
        let r2 = registries();
        let client =
            serve("tcp://127.0.0.1:0/192.0.2.1:9", &[&format!("forward+tcp://{server_addr}")], &r2)
                .await;
        let mut c = tokio::net::TcpStream::connect(client.local_addr().unwrap()).await.unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "from origin");
    }

    #[tokio::test]
    async fn unsupported_and_unknown_types_are_explained() {
        let r = registries();
        let p = parse_cli(&["dns://127.0.0.1:0".into()], &[]).unwrap();
        let err = build(&p.config, &r).unwrap_err();
        assert!(err.to_string().contains("handler type \"dns\" is not supported yet"), "{err}");
        let mut cfg = p.config.clone();
        cfg.services[0].handler.kind = "nope".into();
        let err = build(&cfg, &r).unwrap_err();
        assert!(err.to_string().contains("unknown handler type \"nope\""), "{err}");
        let p =
            parse_cli(&["tcp://127.0.0.1:0/h:1".into()], &["tunnel://127.0.0.1:1".into()]).unwrap();
        let err = build(&p.config, &registries()).unwrap_err();
        assert!(
            err.to_string().contains("connector type \"tunnel\" is not supported yet"),
            "{err}"
        );
    }
}
