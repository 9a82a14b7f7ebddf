//! The configuration model, named after gost's config file keys (`services`, `chains`, `hops`,
//! `nodes`, `handler`, `listener`, `forwarder`, `connector`, `dialer`, `metadata`).

use gost_core::Metadata;

/// A whole configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The services to run.
    pub services: Vec<ServiceConfig>,
    /// Named chains services refer to.
    pub chains: Vec<ChainConfig>,
}

/// `services[]`: a listener, a handler and an optional forwarder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceConfig {
    /// `name` (`service-0`, ...).
    pub name: String,
    /// `addr`: where to listen (`:8080`).
    pub addr: String,
    /// `handler`.
    pub handler: HandlerConfig,
    /// `listener`.
    pub listener: ListenerConfig,
    /// `forwarder`: targets for port forwarding.
    pub forwarder: Option<ForwarderConfig>,
    /// `metadata`: service options (`enableStats`, `dialTimeout`, hooks, ...).
    pub metadata: Metadata,
}

/// `handler`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HandlerConfig {
    /// `type` (`auto` when empty).
    pub kind: String,
    /// `chain`: the chain to route through.
    pub chain: Option<String>,
    /// `auth`: single user for proxy handlers.
    pub auth: Option<AuthConfig>,
    /// `metadata`.
    pub metadata: Metadata,
}

/// `listener`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListenerConfig {
    /// `type` (`tcp` when empty).
    pub kind: String,
    /// `chain`: for listeners that bind through a chain (`rtcp`, `rudp`).
    pub chain: Option<String>,
    /// `auth`.
    pub auth: Option<AuthConfig>,
    /// `metadata`.
    pub metadata: Metadata,
}

/// `auth`: a user name and password.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
}

/// `forwarder`: the targets of a port forwarder, with a selector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForwarderConfig {
    /// `nodes`.
    pub nodes: Vec<ForwardNodeConfig>,
    /// `selector`.
    pub selector: Option<SelectorConfig>,
}

/// `forwarder.nodes[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardNodeConfig {
    /// `name` (`target-0`, ...).
    pub name: String,
    /// `addr`: `host:port`.
    pub addr: String,
}

/// `selector`: how one node is picked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectorConfig {
    /// `strategy`: `round`, `rand`, `fifo`, `hash`.
    pub strategy: String,
    /// `maxFails`.
    pub max_fails: i64,
    /// `failTimeout` as written (`30s`).
    pub fail_timeout: String,
}

/// `chains[]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChainConfig {
    /// `name`.
    pub name: String,
    /// `hops`, in order.
    pub hops: Vec<HopConfig>,
}

/// `hops[]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HopConfig {
    /// `name`.
    pub name: String,
    /// `nodes`.
    pub nodes: Vec<NodeConfig>,
    /// `selector`.
    pub selector: Option<SelectorConfig>,
    /// `metadata`.
    pub metadata: Metadata,
}

/// `nodes[]` of a hop.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeConfig {
    /// `name`.
    pub name: String,
    /// `addr`.
    pub addr: String,
    /// `connector`.
    pub connector: ConnectorConfig,
    /// `dialer`.
    pub dialer: DialerConfig,
    /// `metadata`.
    pub metadata: Metadata,
}

/// `connector`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectorConfig {
    /// `type` (`http` when empty).
    pub kind: String,
    /// `auth`.
    pub auth: Option<AuthConfig>,
    /// `metadata`.
    pub metadata: Metadata,
}

/// `dialer`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DialerConfig {
    /// `type` (`tcp` when empty).
    pub kind: String,
    /// `auth`.
    pub auth: Option<AuthConfig>,
    /// `metadata`.
    pub metadata: Metadata,
}
