//! The configuration model: gost's config file (YAML or JSON) with its keys and nesting, which
//! the command line builds too. Unknown keys are errors (see [`crate::load`]); sections whose
//! feature has not landed yet parse, and [`Config::check_supported`] names them at start-up.

use std::collections::BTreeMap;

use gost_core::{Error, Metadata, Result, Value};
use serde::{Deserialize, Serialize};

/// Any value (metadata, and sections kept as-is until their feature lands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true`/`false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<ConfigValue>),
    /// A map.
    Map(BTreeMap<String, ConfigValue>),
    /// `null`.
    Null(()),
}

impl From<&ConfigValue> for Value {
    fn from(v: &ConfigValue) -> Value {
        match v {
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Int(i) => Value::Int(*i),
            ConfigValue::Float(f) => Value::Float(*f),
            ConfigValue::Str(s) => Value::Str(s.clone()),
            ConfigValue::List(l) => Value::List(l.iter().map(Value::from).collect()),
            ConfigValue::Map(m) => {
                Value::Map(m.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
            ConfigValue::Null(()) => Value::Null,
        }
    }
}

impl From<&str> for ConfigValue {
    fn from(s: &str) -> Self {
        ConfigValue::Str(s.to_owned())
    }
}

/// A `metadata` block: keys as written (gost matches them case-insensitively).
pub type MetadataConfig = BTreeMap<String, ConfigValue>;

/// The component view of a metadata block.
pub fn to_metadata(md: &MetadataConfig) -> Metadata {
    md.iter().map(|(k, v)| (k.as_str(), Value::from(v))).collect()
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<HopConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authers: Vec<AutherConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admissions: Vec<MatcherListConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<MatcherListConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<ResolverConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostsConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limiters: Vec<LimiterConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub climiters: Vec<LimiterConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimiters: Vec<LimiterConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingresses: Vec<IngressConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routers: Vec<RouterConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sds: Vec<SdConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observers: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorders: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewriters: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<CacheConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loggers: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling: Option<ConfigValue>,
}

/// `services[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceConfig {
    pub name: String,
    #[serde(default)]
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub climiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quotas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loggers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewriter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorders: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<ConfigValue>,
    #[serde(default)]
    pub handler: HandlerConfig,
    #[serde(default)]
    pub listener: ListenerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarder: Option<ForwarderConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
    /// Read-only, filled by the Web API; accepted and ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConfigValue>,
}

/// `handler`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HandlerConfig {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_group: Option<ChainGroupConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observer: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `listener`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ListenerConfig {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_group: Option<ChainGroupConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `auth`: a user name and password (or a users `file`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// `tls` (a service, node or top-level block).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub secure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<TlsOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, rename = "rejectUnknownSNI", skip_serializing_if = "is_false")]
    pub reject_unknown_sni: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_names: Vec<String>,
}

/// `tls.options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TlsOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
}

impl TlsConfig {
    /// Adds this block's settings to a component's metadata (where the TLS code reads them);
    /// keys already in the metadata win.
    pub fn apply_to(&self, md: &mut Metadata) {
        let mut set = |k: &str, v: Value| {
            if !md.contains(k) {
                md.insert(k, v);
            }
        };
        if let Some(v) = &self.cert_file {
            set("certFile", v.as_str().into());
        }
        if let Some(v) = &self.key_file {
            set("keyFile", v.as_str().into());
        }
        if let Some(v) = &self.ca_file {
            set("caFile", v.as_str().into());
        }
        if self.secure {
            set("secure", true.into());
        }
        if let Some(v) = &self.server_name {
            set("serverName", v.as_str().into());
        }
        if self.reject_unknown_sni {
            set("rejectUnknownSNI", true.into());
        }
        if !self.server_names.is_empty() {
            set(
                "serverNames",
                Value::List(self.server_names.iter().map(|a| a.as_str().into()).collect()),
            );
        }
        if let Some(o) = &self.options {
            if let Some(v) = &o.min_version {
                set("minVersion", v.as_str().into());
            }
            if let Some(v) = &o.max_version {
                set("maxVersion", v.as_str().into());
            }
            if !o.alpn.is_empty() {
                set("alpn", Value::List(o.alpn.iter().map(|a| a.as_str().into()).collect()));
            }
        }
    }
}

/// `forwarder`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForwarderConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<ForwardNodeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_group: Option<HopGroupConfig>,
}

/// `forwarder.nodes[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForwardNodeConfig {
    #[serde(default)]
    pub name: String,
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<NodeMatcherConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpNodeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Read-only (its probe's state), filled by the Web API; accepted and ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConfigValue>,
}

/// `selector`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SelectorConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub strategy: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_fails: i64,
    /// A Go duration (`30s`); a bare number means seconds here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_timeout: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<ConfigValue>,
}

/// A node's `http` block (gost: how a sniffing forwarder treats HTTP requests to the node).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpNodeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// gost's older name for `requestHeader`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request_header: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub response_header: BTreeMap<String, String>,
    /// gost's older name for `rewriteURL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite: Vec<UrlRewriteConfig>,
    #[serde(default, rename = "rewriteURL", skip_serializing_if = "Vec::is_empty")]
    pub rewrite_url: Vec<UrlRewriteConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite_body: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite_request_body: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrite_response_body: Vec<ConfigValue>,
    /// Statuses that mark the node failed: `429,5xx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_codes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
}

/// `rewriteURL[]`: a regexp and its replacement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlRewriteConfig {
    #[serde(rename = "match", alias = "Match")]
    pub pattern: String,
    #[serde(default, alias = "Replacement")]
    pub replacement: String,
}

/// `matcher` of a node, or of a chain or hop in a group (gost 3.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeMatcherConfig {
    /// The routing rule, e.g. ``Host(`*.example.com`) && PathPrefix(`/api`)``.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rule: String,
    /// 0: the rule's length (more specific rules first); negative: always through the selector.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i64,
    /// The most of a request body read for body rules (gost: 1 MiB default, 10 MiB at most).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub body_size: i64,
}

/// `probe` of a node, or of a chain or hop in a group (gost 3.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProbeConfig {
    /// `tcp` (default), `http` or `cmd`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_host: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expected_status: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Failed probes in a row before down (an extension; 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failure_threshold: i64,
    /// Passed probes in a row before up again (an extension; 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub success_threshold: i64,
}

/// `chainGroup` of a handler or listener (gost 3.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChainGroupConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chains: Vec<ChainGroupEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
}

/// `chainGroup.chains[]`: a chain's name, or the name with a matcher and a probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ChainGroupEntry {
    /// `- chain-0`.
    Name(String),
    /// `- {chain: chain-0, matcher: ..., probe: ...}`.
    Entry(Box<GroupEntryConfig>),
}

impl ChainGroupEntry {
    /// The entry with its optional parts.
    pub fn parts(&self) -> GroupEntryConfig {
        match self {
            ChainGroupEntry::Name(n) => GroupEntryConfig { chain: n.clone(), ..Default::default() },
            ChainGroupEntry::Entry(e) => (**e).clone(),
        }
    }
}

/// A chain of a chain group, or a hop of a hop group, with its matcher and probe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GroupEntryConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hop: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<NodeMatcherConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeConfig>,
}

/// `forwarder.hopGroup` (gost 3.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HopGroupConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<GroupEntryConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
}

/// `chains[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChainConfig {
    pub name: String,
    #[serde(default)]
    pub hops: Vec<HopConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `hops[]` (inside a chain, or top-level and referred to by name).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HopConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<SelectorConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `nodes[]` of a hop.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodeConfig {
    #[serde(default)]
    pub name: String,
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypass: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bypasses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosts: Option<String>,
    #[serde(default)]
    pub connector: ConnectorConfig,
    #[serde(default)]
    pub dialer: DialerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<NodeMatcherConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpNodeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockopts: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
    /// Read-only (its probe's state), filled by the Web API; accepted and ignored on input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConfigValue>,
}

/// `connector`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectorConfig {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `dialer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DialerConfig {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: MetadataConfig,
}

/// `authers[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AutherConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auths: Vec<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `admissions[]` and `bypasses[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatcherListConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub whitelist: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `resolvers[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResolverConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `hosts[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HostsConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mappings: Vec<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `ingresses[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<IngressRuleConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `caches[]`: a named store (gost 3.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CacheConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryCacheConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
}

/// `caches[].memory`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemoryCacheConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_size: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_interval: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub eviction: String,
}

/// `routers[]`: a route table (gost's `router`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouterConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouterRouteConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `routers[].routes[]`: `dst` (or the older `net`) and its `gateway`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouterRouteConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst: Option<String>,
    pub gateway: String,
}

/// `ingresses[].rules[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IngressRuleConfig {
    pub hostname: String,
    pub endpoint: String,
}

/// `sds[]`: without a plugin, an in-memory registry shared by the services of this process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SdConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `limiters[]`, `climiters[]`, `rlimiters[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimiterConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<ConfigValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<ConfigValue>,
}

/// `log`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<ConfigValue>,
}

/// `api`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiConfig {
    #[serde(default)]
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub accesslog: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
}

/// `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MetricsConfig {
    #[serde(default)]
    pub addr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auther: Option<String>,
}

impl Config {
    /// Appends `other` (gost's merge of several sources: lists appended; `tls`, `log`, `api`,
    /// `metrics`, `profiling` replaced by the later source).
    pub fn merge(&mut self, other: Config) {
        self.services.extend(other.services);
        self.chains.extend(other.chains);
        self.hops.extend(other.hops);
        self.authers.extend(other.authers);
        self.admissions.extend(other.admissions);
        self.bypasses.extend(other.bypasses);
        self.resolvers.extend(other.resolvers);
        self.hosts.extend(other.hosts);
        self.limiters.extend(other.limiters);
        self.climiters.extend(other.climiters);
        self.rlimiters.extend(other.rlimiters);
        self.ingresses.extend(other.ingresses);
        self.routers.extend(other.routers);
        self.sds.extend(other.sds);
        self.observers.extend(other.observers);
        self.recorders.extend(other.recorders);
        self.rewriters.extend(other.rewriters);
        self.caches.extend(other.caches);
        self.quotas.extend(other.quotas);
        self.loggers.extend(other.loggers);
        if other.tls.is_some() {
            self.tls = other.tls;
        }
        if other.log.is_some() {
            self.log = other.log;
        }
        if other.api.is_some() {
            self.api = other.api;
        }
        if other.metrics.is_some() {
            self.metrics = other.metrics;
        }
        if other.profiling.is_some() {
            self.profiling = other.profiling;
        }
    }

    /// Names the first part of the configuration whose feature this build does not have yet,
    /// so that nothing starts half-way. Duplicate names are errors too.
    pub fn check_supported(&self) -> Result<()> {
        let sections: [(&str, bool); 6] = [
            ("`observers`", !self.observers.is_empty()),
            ("`recorders`", !self.recorders.is_empty()),
            ("`rewriters`", !self.rewriters.is_empty()),
            ("`quotas`", !self.quotas.is_empty()),
            ("`loggers`", !self.loggers.is_empty()),
            ("`profiling`", self.profiling.is_some()),
        ];
        for (what, used) in sections {
            if used {
                return not_yet(what);
            }
        }
        for i in &self.ingresses {
            if i.redis.is_some() || i.http.is_some() || i.plugin.is_some() {
                return not_yet(&format!("ingress {:?}: `redis`, `http` and `plugin`", i.name));
            }
        }
        for sd in &self.sds {
            if sd.plugin.is_some() {
                return not_yet(&format!("sd {:?}: `plugin`", sd.name));
            }
        }
        unique("service", self.services.iter().map(|s| s.name.as_str()))?;
        unique("chain", self.chains.iter().map(|c| c.name.as_str()))?;
        unique("hop", self.hops.iter().map(|h| h.name.as_str()))?;
        for s in &self.services {
            s.check_supported()?;
        }
        for c in &self.chains {
            c.check_supported()?;
        }
        for h in &self.hops {
            h.check_supported()?;
        }
        Ok(())
    }
}

fn not_yet(what: &str) -> Result<()> {
    Err(Error::unsupported(format!("{what} is not supported yet")))
}

fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(Error::config(format!("{kind} name {n:?} is used twice")));
        }
    }
    Ok(())
}

impl ServiceConfig {
    /// Names the first field of this service that this build does not support yet.
    pub fn check_supported(&self) -> Result<()> {
        let s = self;
        let at = |field: &str| format!("service {}: `{field}`", s.name);
        let refs: [(&str, bool); 7] = [
            ("handler.limiter", s.handler.limiter.is_some()),
            ("quotas", !s.quotas.is_empty()),
            ("observer", s.observer.is_some() || s.handler.observer.is_some()),
            ("recorders", !s.recorders.is_empty()),
            ("logger", s.logger.is_some() || !s.loggers.is_empty()),
            ("rewriter", s.rewriter.is_some()),
            ("listener.auth", s.listener.auth.is_some() || s.listener.auther.is_some()),
        ];
        for (field, used) in refs {
            if used {
                return not_yet(&at(field));
            }
        }
        if s.handler.auth.as_ref().is_some_and(|a| a.file.is_some()) {
            return not_yet(&at("handler.auth.file"));
        }
        Ok(())
    }
}

impl ChainConfig {
    /// Names the first part of this chain that this build does not support yet.
    pub fn check_supported(&self) -> Result<()> {
        for h in &self.hops {
            h.check_supported().map_err(|e| {
                let kind = e.kind();
                e.wrap(kind, format!("chain {}", self.name))
            })?;
        }
        Ok(())
    }
}

impl HopConfig {
    /// Names the first part of this hop that this build does not support yet.
    pub fn check_supported(&self) -> Result<()> {
        let h = self;
        let at = |field: &str| format!("hop {}: `{field}`", h.name);
        if h.resolver.is_some() || h.hosts.is_some() {
            return not_yet(&at("resolver/hosts"));
        }
        if h.plugin.is_some() || h.file.is_some() || h.redis.is_some() || h.http.is_some() {
            return not_yet(&at("node loaders"));
        }
        Ok(())
    }
}
