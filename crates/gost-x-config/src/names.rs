//! Every component type name Go gost registers (go-gost/x at the version in
//! `shared/docs/features.md`), so that the command line resolves a scheme exactly as gost does even
//! for components this build does not have yet (those then fail with "not supported yet" instead of
//! silently becoming something else).

pub const HANDLERS: &[&str] = &[
    "api", "auto", "dns", "file", "forward", "http", "http2", "http3", "masque", "metrics", "red",
    "redir", "redirect", "redu", "relay", "router", "rtcp", "rudp", "runix", "serial", "sni",
    "socks", "socks4", "socks4a", "socks5", "ss", "sshd", "ssu", "tap", "tcp", "tun", "tungo",
    "tunnel", "udp", "unix",
];

pub const LISTENERS: &[&str] = &[
    "dns", "dtls", "ftcp", "grpc", "h2", "h2c", "h3", "http2", "http3", "icmp", "icmp6", "kcp",
    "mtcp", "mtls", "mws", "mwss", "ohttp", "otls", "pht", "phts", "quic", "red", "redir",
    "redirect", "redu", "rtcp", "rudp", "runix", "serial", "ssh", "sshd", "stdio", "tap", "tcp",
    "tls", "tun", "tungo", "udp", "unix", "ws", "wss", "wt",
];

pub const CONNECTORS: &[&str] = &[
    "direct", "forward", "http", "http2", "masque", "relay", "router", "serial", "sni", "socks",
    "socks4", "socks4a", "socks5", "ss", "sshd", "ssu", "tcp", "tunnel", "unix", "virtual",
];

pub const DIALERS: &[&str] = &[
    "direct",
    "dtls",
    "ftcp",
    "grpc",
    "h2",
    "h2c",
    "h3",
    "h3-masque",
    "http2",
    "http3",
    "icmp",
    "icmp6",
    "kcp",
    "mtcp",
    "mtls",
    "mws",
    "mwss",
    "ohttp",
    "ohttps",
    "otls",
    "pht",
    "phts",
    "quic",
    "serial",
    "ssh",
    "sshd",
    "tcp",
    "tls",
    "udp",
    "unix",
    "utls",
    "virtual",
    "wg",
    "ws",
    "wss",
];

/// Listeners whose forwarding services keep the listener's name as handler (gost's rule for
/// `-L scheme://addr/target`).
pub const FORWARD_LISTENERS: &[&str] =
    &["tcp", "udp", "rtcp", "rudp", "tun", "tap", "dns", "unix", "runix", "serial"];

pub fn is_handler(name: &str) -> bool {
    HANDLERS.contains(&name)
}
pub fn is_listener(name: &str) -> bool {
    LISTENERS.contains(&name)
}
pub fn is_connector(name: &str) -> bool {
    CONNECTORS.contains(&name)
}
pub fn is_dialer(name: &str) -> bool {
    DIALERS.contains(&name)
}
