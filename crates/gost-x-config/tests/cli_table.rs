//! Command lines → effective configuration, compared as YAML text (what `gost ... -O yaml`
//! prints), one row per case, written by hand from gost's rules (shared/docs/features.md §2 and
//! go-gost/x `config/cmd/cmd.go` at the snapshot features.md names, which is the source of truth
//! where the two disagree).
//!
//! Every row asserts what gost produces. Every row runs even when an earlier one fails, and the
//! failure lists each failing row with the expected and actual text.
//!
//! Then the seed documents (shared/seeds/service.md, websocket.md): each YAML example that has a
//! CLI twin is parsed and compared with the CLI's configuration on the fields that decide how
//! gost runs (the CLI fans query keys into several scopes, so the metadata of each YAML scope
//! must be contained in the CLI's, not equal to it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gost_x_config::load::{self, Format};
use gost_x_config::model::{Config, ConfigValue, MetadataConfig};

/// One command line and the configuration gost makes of it.
struct Row {
    /// What the row is about (printed when it fails).
    name: &'static str,
    /// The `-L` values.
    l: &'static [&'static str],
    /// The `-F` values.
    f: &'static [&'static str],
    /// A substring of each warning expected, in order (none otherwise).
    warn: &'static [&'static str],
    /// The expected `-O yaml` output (indentation common to all lines is removed).
    yaml: &'static str,
}

/// Removes the leading newline and the indentation common to every non-empty line.
fn dedent(s: &str) -> String {
    let s = s.strip_prefix('\n').unwrap_or(s);
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in s.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Runs every row and fails once at the end, listing each failing row.
fn check(rows: &[Row]) {
    let mut failures = Vec::new();
    for row in rows {
        if let Err(why) = check_row(row) {
            failures.push(format!("--- row {:?}: -L {:?} -F {:?}\n{why}", row.name, row.l, row.f));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

fn check_row(row: &Row) -> Result<(), String> {
    let expected = dedent(row.yaml);
    // The expected text must itself be a valid configuration.
    let expected_config = load::parse(&expected, Format::Yaml, "expected")
        .map_err(|e| format!("the row's expected YAML does not parse: {e}"))?;
    let parsed = gost_x_config::parse_cli(&strings(row.l), &strings(row.f))
        .map_err(|e| format!("parse_cli failed: {e}"))?;
    let actual =
        load::write(&parsed.config, Format::Yaml).map_err(|e| format!("write failed: {e}"))?;
    let mut problems = Vec::new();
    if actual != expected {
        let note = if parsed.config == expected_config {
            " (same configuration, different text: fix the row's formatting)"
        } else {
            ""
        };
        problems.push(format!("YAML differs{note}\n{}", diff(&expected, &actual)));
    }
    let warnings_ok = parsed.warnings.len() == row.warn.len()
        && parsed.warnings.iter().zip(row.warn).all(|(w, want)| w.contains(want));
    if !warnings_ok {
        problems.push(format!("warnings: expected {:?}, got {:?}", row.warn, parsed.warnings));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// A line diff good enough for short texts: `-` expected only, `+` actual only.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    // Longest common subsequence table.
    let mut t = vec![vec![0usize; a.len() + 1]; e.len() + 1];
    for i in (0..e.len()).rev() {
        for j in (0..a.len()).rev() {
            t[i][j] = if e[i] == a[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < e.len() || j < a.len() {
        if i < e.len() && j < a.len() && e[i] == a[j] {
            out.push_str(&format!("   {}\n", e[i]));
            i += 1;
            j += 1;
        } else if j < a.len() && (i == e.len() || t[i][j + 1] >= t[i + 1][j]) {
            out.push_str(&format!(" + {}\n", a[j]));
            j += 1;
        } else {
            out.push_str(&format!(" - {}\n", e[i]));
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Schemes
// ---------------------------------------------------------------------------------------------

const SCHEMES: &[Row] = &[
    Row {
        name: "missing scheme: auto handler on tcp",
        l: &[":8080", "127.0.0.1:8081"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: auto
              listener:
                type: tcp
            - name: service-1
              addr: 127.0.0.1:8081
              handler:
                type: auto
              listener:
                type: tcp
        ",
    },
    Row {
        name: "single scheme naming a handler and a listener: x+x",
        l: &["tcp://:8080", "udp://:5353", "rtcp://:2222"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
            - name: service-1
              addr: :5353
              handler:
                type: udp
              listener:
                type: udp
            - name: service-2
              addr: :2222
              handler:
                type: rtcp
              listener:
                type: rtcp
        ",
    },
    Row {
        name: "handler-only schemes: x+tcp",
        l: &["http://:8080", "socks5://:1080", "relay://:8420", "forward://:9000", "socks://:1081"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
              listener:
                type: tcp
            - name: service-1
              addr: :1080
              handler:
                type: socks5
              listener:
                type: tcp
            - name: service-2
              addr: :8420
              handler:
                type: relay
              listener:
                type: tcp
            - name: service-3
              addr: :9000
              handler:
                type: forward
              listener:
                type: tcp
            - name: service-4
              addr: :1081
              handler:
                type: socks
              listener:
                type: tcp
        ",
    },
    Row {
        name: "listener-only schemes: auto+x",
        l: &["ws://:8081", "wss://:8082", "mws://:8083", "mwss://:8084", "tls://:8085"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8081
              handler:
                type: auto
              listener:
                type: ws
            - name: service-1
              addr: :8082
              handler:
                type: auto
              listener:
                type: wss
            - name: service-2
              addr: :8083
              handler:
                type: auto
              listener:
                type: mws
            - name: service-3
              addr: :8084
              handler:
                type: auto
              listener:
                type: mwss
            - name: service-4
              addr: :8085
              handler:
                type: auto
              listener:
                type: tls
        ",
    },
    Row {
        name: "https is http+tls; ssu defaults to udp",
        l: &["https://:8443", "ssu://:8338"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: http
              listener:
                type: tls
            - name: service-1
              addr: :8338
              handler:
                type: ssu
              listener:
                type: udp
        ",
    },
    Row {
        name: "a+b",
        l: &["socks5+tls://:1080", "http+wss://:8443", "relay+mws://:8444"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :1080
              handler:
                type: socks5
              listener:
                type: tls
            - name: service-1
              addr: :8443
              handler:
                type: http
              listener:
                type: wss
            - name: service-2
              addr: :8444
              handler:
                type: relay
              listener:
                type: mws
        ",
    },
    Row {
        name: "unknown schemes fall back (gost: silently; here with a warning)",
        l: &["foo://:8080", "http+bar://:8081", "ssu+nope://:8338", "a+b+c://:8082"],
        f: &[],
        warn: &["\"foo\"", "\"bar\"", "\"nope\"", "\"a\"", "\"b+c\""],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: auto
              listener:
                type: tcp
            - name: service-1
              addr: :8081
              handler:
                type: http
              listener:
                type: tcp
            - name: service-2
              addr: :8338
              handler:
                type: ssu
              listener:
                type: udp
            - name: service-3
              addr: :8082
              handler:
                type: auto
              listener:
                type: tcp
        ",
    },
    Row {
        name: "unknown -F scheme: http over tcp",
        l: &["http://:8080"],
        f: &["foo://:8081"],
        warn: &["\"foo\""],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8081
                  connector:
                    type: http
                  dialer:
                    type: tcp
        ",
    },
];

#[test]
fn schemes() {
    check(SCHEMES);
}

// ---------------------------------------------------------------------------------------------
// Forward paths
// ---------------------------------------------------------------------------------------------

const FORWARD: &[Row] = &[
    Row {
        name: "tcp forwarder (the handler is named after the listener)",
        l: &[
            "tcp://:8080/192.0.2.1:80",
            "http://:8081/192.0.2.1:80",
            "forward://:8082/192.0.2.1:80/",
        ],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
            - name: service-1
              addr: :8081
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
            - name: service-2
              addr: :8082
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
        ",
    },
    Row {
        name: "other listeners get the forward handler; relay is kept",
        l: &["ws://:8080/192.0.2.1:80", "relay://:8420/192.0.2.1:80", "relay+wss://:8443/:1080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: forward
              listener:
                type: ws
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
            - name: service-1
              addr: :8420
              handler:
                type: relay
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
            - name: service-2
              addr: :8443
              handler:
                type: relay
              listener:
                type: wss
              forwarder:
                nodes:
                - name: target-0
                  addr: :1080
        ",
    },
    Row {
        name: "udp forwarder with a query key in every scope",
        l: &["udp://:53/8.8.8.8:53?ttl=10s"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :53
              handler:
                type: udp
                metadata:
                  ttl: 10s
              listener:
                type: udp
                metadata:
                  ttl: 10s
              forwarder:
                nodes:
                - name: target-0
                  addr: 8.8.8.8:53
              metadata:
                ttl: 10s
        ",
    },
    Row {
        name: "comma-separated targets; IPv6",
        l: &["tcp://:8080/10.0.0.1:80,10.0.0.2:80", "tcp://[::1]:8081/[::1]:80"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:80
                - name: target-1
                  addr: 10.0.0.2:80
            - name: service-1
              addr: '[::1]:8081'
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: '[::1]:80'
        ",
    },
    Row {
        name: "selector keys make the forwarder's selector",
        l: &["tcp://:8080/10.0.0.1:80,10.0.0.2:80?strategy=fifo&maxFails=2&failTimeout=10s"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                selector:
                  strategy: fifo
                  maxFails: 2
                  failTimeout: 10s
                nodes:
                - name: target-0
                  addr: 10.0.0.1:80
                - name: target-1
                  addr: 10.0.0.2:80
        ",
    },
    Row {
        name: "strategy alone: the other selector fields take the command-line defaults",
        l: &["tcp://:8080/a.example:80,b.example:80?strategy=fifo"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                selector:
                  strategy: fifo
                  maxFails: 1
                  failTimeout: 30s
                nodes:
                - name: target-0
                  addr: a.example:80
                - name: target-1
                  addr: b.example:80
        ",
    },
    Row {
        name: "an unknown handler with a path: the listener's forwarder",
        l: &["foo+tcp://:8080/192.0.2.1:80"],
        f: &[],
        warn: &["unknown handler \"foo\""],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
        ",
    },
];

#[test]
fn forward_paths() {
    check(FORWARD);
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

const AUTH: &[Row] = &[
    Row {
        name: "user:pass@ is the handler's auth (percent-decoded; a user alone has no password)",
        l: &["http://user:pass@:8080", "socks5://u:p%40ss@:1080", "http://user@:8081"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                auth:
                  username: user
                  password: pass
              listener:
                type: tcp
            - name: service-1
              addr: :1080
              handler:
                type: socks5
                auth:
                  username: u
                  password: p@ss
              listener:
                type: tcp
            - name: service-2
              addr: :8081
              handler:
                type: http
                auth:
                  username: user
              listener:
                type: tcp
        ",
    },
    Row {
        name: "auth=base64(user:pass); user info wins over it",
        l: &["socks5://:1080?auth=dXNlcjpwYXNz", "http://a:b@:8080?auth=dXNlcjpwYXNz"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :1080
              handler:
                type: socks5
                auth:
                  username: user
                  password: pass
              listener:
                type: tcp
            - name: service-1
              addr: :8080
              handler:
                type: http
                auth:
                  username: a
                  password: b
              listener:
                type: tcp
        ",
    },
    Row {
        name: "ssh listener: credentials belong to the listener",
        l: &["ssh://u:p@:2222"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :2222
              handler:
                type: auto
              listener:
                type: ssh
                auth:
                  username: u
                  password: p
        ",
    },
    Row {
        name: "shadowsocks: SIP002 user info, or method:password as written",
        l: &["ss://YWVzLTI1Ni1nY206cGFzcw@:8388", "ssu://aes-256-gcm:pass@:8338"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8388
              handler:
                type: ss
                auth:
                  username: aes-256-gcm
                  password: pass
              listener:
                type: tcp
            - name: service-1
              addr: :8338
              handler:
                type: ssu
                auth:
                  username: aes-256-gcm
                  password: pass
              listener:
                type: udp
        ",
    },
    Row {
        name: "-F auth=base64 is the connector's auth",
        l: &["http://:8080"],
        f: &["socks5://:1080?auth=dTpw"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :1080
                  connector:
                    type: socks5
                    auth:
                      username: u
                      password: p
                  dialer:
                    type: tcp
                metadata:
                  auth: dTpw
        ",
    },
    Row {
        name: "-F ssh dialer: credentials belong to the dialer",
        l: &["http://:8080"],
        f: &["ssh://u:p@:2222"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :2222
                  connector:
                    type: http
                  dialer:
                    type: ssh
                    auth:
                      username: u
                      password: p
        ",
    },
];

#[test]
fn credentials() {
    check(AUTH);
}

// ---------------------------------------------------------------------------------------------
// Query keys
// ---------------------------------------------------------------------------------------------

const QUERY: &[Row] = &[
    Row {
        name: "-L keys: unprefixed to service+listener+handler, prefixed to one scope",
        l: &["tcp://:8080/192.0.2.1:80?a=1&service.b=2&listener.c=3&handler.d=4&hop.e=5"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
                metadata:
                  a: '1'
                  d: '4'
                  hop.e: '5'
              listener:
                type: tcp
                metadata:
                  a: '1'
                  c: '3'
                  hop.e: '5'
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
              metadata:
                a: '1'
                b: '2'
                hop.e: '5'
        ",
    },
    Row {
        name: "-F keys: unprefixed to hop+node+connector+dialer, prefixed to one scope",
        l: &["http://:8080"],
        f: &["socks5://:1080?a=1&hop.b=2&node.c=3&connector.d=4&dialer.e=5&service.f=6"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :1080
                  connector:
                    type: socks5
                    metadata:
                      a: '1'
                      d: '4'
                      service.f: '6'
                  dialer:
                    type: tcp
                    metadata:
                      a: '1'
                      e: '5'
                      service.f: '6'
                  metadata:
                    a: '1'
                    c: '3'
                    service.f: '6'
                metadata:
                  a: '1'
                  b: '2'
                  service.f: '6'
        ",
    },
    Row {
        name: "retries=N is handler.retries",
        l: &["http://:8080?retries=2"],
        f: &[":8081"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                retries: 2
                chain: chain-0
              listener:
                type: tcp
                metadata:
                  retries: '2'
              metadata:
                retries: '2'
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8081
                  connector:
                    type: http
                  dialer:
                    type: tcp
        ",
    },
    Row {
        name: "-L interface/so_mark/proxyProtocol/netns are service metadata",
        l: &["tcp://:8080/192.0.2.1:80?interface=eth0&so_mark=7&proxyProtocol=1&netns=ns1"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.0.2.1:80
              metadata:
                interface: eth0
                netns: ns1
                proxyProtocol: 1
                so_mark: 7
        ",
    },
    Row {
        name: "-F interface/so_mark are hop metadata",
        l: &["http://:8080"],
        f: &["http://:8081?interface=eth0&so_mark=7&x=1"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8081
                  connector:
                    type: http
                    metadata:
                      x: '1'
                  dialer:
                    type: tcp
                    metadata:
                      x: '1'
                  metadata:
                    x: '1'
                metadata:
                  interface: eth0
                  so_mark: 7
                  x: '1'
        ",
    },
    Row {
        name: "-L certFile/keyFile/caFile are listener.tls",
        l: &[
            "tls://:8443?certFile=cert.pem&keyFile=key.pem&caFile=ca.pem",
            "tls://:8444?ca=ca.pem",
        ],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: auto
              listener:
                type: tls
                tls:
                  certFile: cert.pem
                  keyFile: key.pem
                  caFile: ca.pem
            - name: service-1
              addr: :8444
              handler:
                type: auto
              listener:
                type: tls
        ",
    },
    Row {
        name: "-F secure/serverName are dialer.tls",
        l: &["http://:8080"],
        f: &["tls://srv.example:443?secure=true&serverName=other.example"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: srv.example:443
                  connector:
                    type: http
                  dialer:
                    type: tls
                    tls:
                      secure: true
                      serverName: other.example
                metadata:
                  secure: 'true'
                  serverName: other.example
        ",
    },
    Row {
        name: "dns=a,b is a list",
        l: &["dns://:5353?dns=1.1.1.1,8.8.8.8"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :5353
              handler:
                type: dns
                metadata:
                  dns:
                  - 1.1.1.1
                  - 8.8.8.8
              listener:
                type: dns
                metadata:
                  dns:
                  - 1.1.1.1
                  - 8.8.8.8
              metadata:
                dns:
                - 1.1.1.1
                - 8.8.8.8
        ",
    },
    Row {
        name: "boolean options stay strings in every scope",
        l: &["socks5://:1080?udp=true&bind=true", "mwss://:8443?mux.version=2"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :1080
              handler:
                type: socks5
                metadata:
                  bind: 'true'
                  udp: 'true'
              listener:
                type: tcp
                metadata:
                  bind: 'true'
                  udp: 'true'
              metadata:
                bind: 'true'
                udp: 'true'
            - name: service-1
              addr: :8443
              handler:
                type: auto
                metadata:
                  mux.version: '2'
              listener:
                type: mwss
                metadata:
                  mux.version: '2'
              metadata:
                mux.version: '2'
        ",
    },
];

#[test]
fn query_keys() {
    check(QUERY);
}

// ---------------------------------------------------------------------------------------------
// Chains
// ---------------------------------------------------------------------------------------------

const CHAINS: &[Row] = &[
    Row {
        name: "-F defaults: no scheme is http over tcp, a listener-only name is http over it",
        l: &["http://:8080"],
        f: &[":8081", "ws://:8443"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8081
                  connector:
                    type: http
                  dialer:
                    type: tcp
              - name: hop-1
                nodes:
                - name: node-0
                  addr: :8443
                  connector:
                    type: http
                  dialer:
                    type: ws
        ",
    },
    Row {
        name: "-F with a host name: dialer.tls.serverName defaults to it",
        l: &["http://:8080"],
        f: &["proxy.example:3128"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: proxy.example:3128
                  connector:
                    type: http
                  dialer:
                    type: tcp
                    tls:
                      serverName: proxy.example
        ",
    },
    Row {
        // Deliberate difference (docs/compat-go.md): gost sets dialer.tls.serverName to the
        // URL host of the whole list ("10.0.0.1:3128,10.0.0.2"), which no TLS server would
        // match; we set none for a list, so each node presents its own host.
        name: "comma node list: one hop, several nodes",
        l: &["http://:8080"],
        f: &["http://10.0.0.1:3128,10.0.0.2:3128?strategy=fifo"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                selector:
                  strategy: fifo
                  maxFails: 1
                  failTimeout: 30s
                nodes:
                - name: node-0
                  addr: 10.0.0.1:3128
                  connector:
                    type: http
                  dialer:
                    type: tcp
                - name: node-1
                  addr: 10.0.0.2:3128
                  connector:
                    type: http
                  dialer:
                    type: tcp
        ",
    },
    Row {
        name: "several -F: several hops, in order",
        l: &["http://:8080"],
        f: &["socks5+tls://u:p@a.example:1080", "relay+mws://b.example:8443"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: a.example:1080
                  connector:
                    type: socks5
                    auth:
                      username: u
                      password: p
                  dialer:
                    type: tls
                    tls:
                      serverName: a.example
              - name: hop-1
                nodes:
                - name: node-0
                  addr: b.example:8443
                  connector:
                    type: relay
                  dialer:
                    type: mws
                    tls:
                      serverName: b.example
        ",
    },
    Row {
        name: "rtcp binds through the chain (listener.chain); udp uses it as handler.chain",
        l: &["rtcp://:2222/192.168.1.10:22", "udp://:5353/10.0.0.1:53"],
        f: &["relay+wss://srv.example:443"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :2222
              handler:
                type: rtcp
              listener:
                type: rtcp
                chain: chain-0
              forwarder:
                nodes:
                - name: target-0
                  addr: 192.168.1.10:22
            - name: service-1
              addr: :5353
              handler:
                type: udp
                chain: chain-0
              listener:
                type: udp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:53
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: srv.example:443
                  connector:
                    type: relay
                  dialer:
                    type: wss
                    tls:
                      serverName: srv.example
        ",
    },
    Row {
        name: "seed service.md: ignoreChain",
        l: &["http://:8080?ignoreChain=true", "socks://:1080"],
        f: &["http://:8000"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
                metadata:
                  ignoreChain: 'true'
              listener:
                type: tcp
                metadata:
                  ignoreChain: 'true'
              metadata:
                ignoreChain: 'true'
            - name: service-1
              addr: :1080
              handler:
                type: socks
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8000
                  connector:
                    type: http
                  dialer:
                    type: tcp
        ",
    },
];

#[test]
fn chains() {
    check(CHAINS);
}

// ---------------------------------------------------------------------------------------------
// Every CLI example of the seed documents
// ---------------------------------------------------------------------------------------------

const SEEDS: &[Row] = &[
    Row {
        name: "service.md: gost -L http://:8080",
        l: &["http://:8080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
              listener:
                type: tcp
        ",
    },
    // `gost -L http://:8080 -- -L http://:8000 -- -L socks://:1080 -F http://:8000`: every group
    // after `--` runs in its own process, which parses its flags on its own (the binary answers
    // ` -- ` with "not supported yet"); the three groups:
    Row {
        name: "service.md: multiple processes, group 1",
        l: &["http://:8080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
              listener:
                type: tcp
        ",
    },
    Row {
        name: "service.md: multiple processes, group 2",
        l: &["http://:8000"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8000
              handler:
                type: http
              listener:
                type: tcp
        ",
    },
    Row {
        name: "service.md: multiple processes, group 3",
        l: &["socks://:1080"],
        f: &["http://:8000"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :1080
              handler:
                type: socks
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8000
                  connector:
                    type: http
                  dialer:
                    type: tcp
        ",
    },
    Row {
        name: "websocket.md: gost -L ws://:8080",
        l: &["ws://:8080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: auto
              listener:
                type: ws
        ",
    },
    Row {
        name: "websocket.md: gost -L wss://:8080",
        l: &["wss://:8080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: auto
              listener:
                type: wss
        ",
    },
    Row {
        name: "websocket.md: gost -L mws://:8443 / gost -L mwss://:8443",
        l: &["mws://:8443", "mwss://:8443"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: auto
              listener:
                type: mws
            - name: service-1
              addr: :8443
              handler:
                type: auto
              listener:
                type: mwss
        ",
    },
    Row {
        name: "websocket.md: gost -L wss://:8443?path=/ws",
        l: &["wss://:8443?path=/ws"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: auto
                metadata:
                  path: /ws
              listener:
                type: wss
                metadata:
                  path: /ws
              metadata:
                path: /ws
        ",
    },
    Row {
        name: "websocket.md: gost -L http://:8080 -F wss://:8443?path=/ws",
        l: &["http://:8080"],
        f: &["wss://:8443?path=/ws"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8443
                  connector:
                    type: http
                    metadata:
                      path: /ws
                  dialer:
                    type: wss
                    metadata:
                      path: /ws
                  metadata:
                    path: /ws
                metadata:
                  path: /ws
        ",
    },
    Row {
        name: "websocket.md: gost -L http://:8080 -F wss://:8443?host=example.com",
        l: &["http://:8080"],
        f: &["wss://:8443?host=example.com"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8443
                  connector:
                    type: http
                    metadata:
                      host: example.com
                  dialer:
                    type: wss
                    metadata:
                      host: example.com
                  metadata:
                    host: example.com
                metadata:
                  host: example.com
        ",
    },
    Row {
        name: "websocket.md: gost -L http://:8080 -F \"wss://:8443?keepalive=true&ttl=15s\"",
        l: &["http://:8080"],
        f: &["wss://:8443?keepalive=true&ttl=15s"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: :8443
                  connector:
                    type: http
                    metadata:
                      keepalive: 'true'
                      ttl: 15s
                  dialer:
                    type: wss
                    metadata:
                      keepalive: 'true'
                      ttl: 15s
                  metadata:
                    keepalive: 'true'
                    ttl: 15s
                metadata:
                  keepalive: 'true'
                  ttl: 15s
        ",
    },
    Row {
        name: "websocket.md: http+wss, socks5+wss, relay+wss",
        l: &["http+wss://:8443", "socks5+wss://:8444", "relay+wss://:8445"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: http
              listener:
                type: wss
            - name: service-1
              addr: :8444
              handler:
                type: socks5
              listener:
                type: wss
            - name: service-2
              addr: :8445
              handler:
                type: relay
              listener:
                type: wss
        ",
    },
    Row {
        name: "websocket.md: gost -L wss://:8443/:1080 -L socks5://:1080",
        l: &["wss://:8443/:1080", "socks5://:1080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: forward
              listener:
                type: wss
              forwarder:
                nodes:
                - name: target-0
                  addr: :1080
            - name: service-1
              addr: :1080
              handler:
                type: socks5
              listener:
                type: tcp
        ",
    },
    Row {
        name: "websocket.md: gost -L forward+wss://:8443/:1080 -L socks5://:1080",
        l: &["forward+wss://:8443/:1080", "socks5://:1080"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: forward
              listener:
                type: wss
              forwarder:
                nodes:
                - name: target-0
                  addr: :1080
            - name: service-1
              addr: :1080
              handler:
                type: socks5
              listener:
                type: tcp
        ",
    },
    Row {
        name: "websocket.md: gost -L socks5+wss://:8443",
        l: &["socks5+wss://:8443"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8443
              handler:
                type: socks5
              listener:
                type: wss
        ",
    },
    Row {
        name: "features.md §2.5: -F wss://srv:8443?path=/ws&host=cdn.example",
        l: &["http://:8080"],
        f: &["wss://srv:8443?path=/ws&host=cdn.example"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                nodes:
                - name: node-0
                  addr: srv:8443
                  connector:
                    type: http
                    metadata:
                      host: cdn.example
                      path: /ws
                  dialer:
                    type: wss
                    tls:
                      serverName: srv
                    metadata:
                      host: cdn.example
                      path: /ws
                  metadata:
                    host: cdn.example
                    path: /ws
                metadata:
                  host: cdn.example
                  path: /ws
        ",
    },
];

#[test]
fn seed_command_lines() {
    check(SEEDS);
}

// ---------------------------------------------------------------------------------------------
// Port ranges
// ---------------------------------------------------------------------------------------------

const PORT_RANGES: &[Row] = &[
    Row {
        name: "N ports, N targets: pairwise",
        l: &["tcp://:8000-8002/10.0.0.1:9000-9002"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8000
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
            - name: service-1
              addr: :8001
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-1
                  addr: 10.0.0.1:9001
            - name: service-2
              addr: :8002
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-2
                  addr: 10.0.0.1:9002
        ",
    },
    Row {
        name: "N ports, one target: shared; names continue over every -L",
        l: &["tcp://:8000-8001/10.0.0.1:9000", ":9000"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8000
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
            - name: service-1
              addr: :8001
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
            - name: service-2
              addr: :9000
              handler:
                type: auto
              listener:
                type: tcp
        ",
    },
    Row {
        name: "more ports than targets: the extra services get no forwarder",
        l: &["tcp://:8000-8002/10.0.0.1:9000,10.0.0.2:9000"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8000
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
            - name: service-1
              addr: :8001
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-1
                  addr: 10.0.0.2:9000
            - name: service-2
              addr: :8002
              handler:
                type: tcp
              listener:
                type: tcp
        ",
    },
    Row {
        name: "one port, a target range: one service, every target",
        l: &["tcp://:8080/10.0.0.1:9000-9001", "127.0.0.1:7000-7001"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              handler:
                type: tcp
              listener:
                type: tcp
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
                - name: target-1
                  addr: 10.0.0.1:9001
            - name: service-1
              addr: 127.0.0.1:7000
              handler:
                type: auto
              listener:
                type: tcp
            - name: service-2
              addr: 127.0.0.1:7001
              handler:
                type: auto
              listener:
                type: tcp
        ",
    },
];

#[test]
fn port_ranges() {
    check(PORT_RANGES);
}

// ---------------------------------------------------------------------------------------------
// Query keys that create named objects
// ---------------------------------------------------------------------------------------------

const NAMED_OBJECTS: &[Row] = &[
    // gost consumes these keys from the handler's metadata only; the listener and service keep
    // them. The traffic limit is `"$ IN OUT"` even when OUT is empty (gost's Sprintf leaves the
    // trailing space).
    Row {
        name: "features.md §2.5: limiter.in, climiter, bypass with ~ (whitelist)",
        l: &["http://:8080?limiter.in=10MB&climiter=100&bypass=~*.corp,10.0.0.0/8"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              bypass: bypass-0
              limiter: limiter-0
              climiter: climiter-0
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  bypass: ~*.corp,10.0.0.0/8
                  climiter: '100'
                  limiter.in: 10MB
              metadata:
                bypass: ~*.corp,10.0.0.0/8
                climiter: '100'
                limiter.in: 10MB
            bypasses:
            - name: bypass-0
              whitelist: true
              matchers:
              - '*.corp'
              - 10.0.0.0/8
            limiters:
            - name: limiter-0
              limits:
              - $ 10MB
            climiters:
            - name: climiter-0
              limits:
              - $ 100
        ",
    },
    Row {
        name: "admission, resolver (+prefer), hosts, limiter.out + limiter.conn.*, rlimiter (deliberate difference: gost writes `$  1MB`, which its own parser reads as IN; we write `$ 0 1MB`)",
        l: &[
            "http://:8080?admission=127.0.0.1,10.0.0.0/8",
            "http://:8081?resolver=1.1.1.1,udp://8.8.8.8:53&prefer=ipv4",
            "http://:8082?hosts=example.com:127.0.0.1,foo.local:10.0.0.1",
            "http://:8083?limiter.out=1MB&limiter.conn.in=100KB&limiter.conn.out=200KB&rlimiter=10.5",
        ],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              admission: admission-0
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  admission: 127.0.0.1,10.0.0.0/8
              metadata:
                admission: 127.0.0.1,10.0.0.0/8
            - name: service-1
              addr: :8081
              resolver: resolver-0
              handler:
                type: http
                metadata:
                  prefer: ipv4
              listener:
                type: tcp
                metadata:
                  prefer: ipv4
                  resolver: 1.1.1.1,udp://8.8.8.8:53
              metadata:
                prefer: ipv4
                resolver: 1.1.1.1,udp://8.8.8.8:53
            - name: service-2
              addr: :8082
              hosts: hosts-0
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  hosts: example.com:127.0.0.1,foo.local:10.0.0.1
              metadata:
                hosts: example.com:127.0.0.1,foo.local:10.0.0.1
            - name: service-3
              addr: :8083
              limiter: limiter-0
              rlimiter: rlimiter-0
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  limiter.conn.in: 100KB
                  limiter.conn.out: 200KB
                  limiter.out: 1MB
                  rlimiter: '10.5'
              metadata:
                limiter.conn.in: 100KB
                limiter.conn.out: 200KB
                limiter.out: 1MB
                rlimiter: '10.5'
            admissions:
            - name: admission-0
              matchers:
              - 127.0.0.1
              - 10.0.0.0/8
            resolvers:
            - name: resolver-0
              nameservers:
              - addr: 1.1.1.1
                prefer: ipv4
              - addr: udp://8.8.8.8:53
                prefer: ipv4
            hosts:
            - name: hosts-0
              mappings:
              - hostname: example.com
                ip: 127.0.0.1
              - hostname: foo.local
                ip: 10.0.0.1
            limiters:
            - name: limiter-0
              limits:
              - $ 0 1MB
              - $$ 100KB 200KB
            rlimiters:
            - name: rlimiter-0
              limits:
              - $ 10.5
        ",
    },
    // gost builds the hops before the services, so the -F bypass is bypass-0 and the -L one
    // bypass-1; on -F the keys are consumed from every scope. (Hop selector: none, no keys.)
    Row {
        name: "-F bypass, resolver, hosts belong to the hop; numbering is shared with -L",
        l: &["http://:8080?bypass=*.corp"],
        f: &["http://:8081?bypass=10.0.0.0/8&resolver=1.1.1.1&hosts=a.local:10.0.0.2"],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              bypass: bypass-1
              handler:
                type: http
                chain: chain-0
              listener:
                type: tcp
                metadata:
                  bypass: '*.corp'
              metadata:
                bypass: '*.corp'
            chains:
            - name: chain-0
              hops:
              - name: hop-0
                bypass: bypass-0
                resolver: resolver-0
                hosts: hosts-0
                nodes:
                - name: node-0
                  addr: :8081
                  connector:
                    type: http
                  dialer:
                    type: tcp
            bypasses:
            - name: bypass-0
              matchers:
              - 10.0.0.0/8
            - name: bypass-1
              matchers:
              - '*.corp'
            resolvers:
            - name: resolver-0
              nameservers:
              - addr: 1.1.1.1
            hosts:
            - name: hosts-0
              mappings:
              - hostname: a.local
                ip: 10.0.0.2
        ",
    },
    Row {
        name: "one object per service: climiter-0, climiter-1",
        l: &["http://:8080?climiter=10", "http://:8081?climiter=20"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8080
              climiter: climiter-0
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  climiter: '10'
              metadata:
                climiter: '10'
            - name: service-1
              addr: :8081
              climiter: climiter-1
              handler:
                type: http
              listener:
                type: tcp
                metadata:
                  climiter: '20'
              metadata:
                climiter: '20'
            climiters:
            - name: climiter-0
              limits:
              - $ 10
            - name: climiter-1
              limits:
              - $ 20
        ",
    },
    // gost creates the objects in its loop over the *expanded* services, so every port of a
    // range gets its own limiter (a `$` limit is per service, not shared by the range).
    Row {
        name: "a port range: one object per expanded service",
        l: &["tcp://:8000-8001/10.0.0.1:9000?climiter=10"],
        f: &[],
        warn: &[],
        yaml: "
            services:
            - name: service-0
              addr: :8000
              climiter: climiter-0
              handler:
                type: tcp
              listener:
                type: tcp
                metadata:
                  climiter: '10'
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
              metadata:
                climiter: '10'
            - name: service-1
              addr: :8001
              climiter: climiter-1
              handler:
                type: tcp
              listener:
                type: tcp
                metadata:
                  climiter: '10'
              forwarder:
                nodes:
                - name: target-0
                  addr: 10.0.0.1:9000
              metadata:
                climiter: '10'
            climiters:
            - name: climiter-0
              limits:
              - $ 10
            - name: climiter-1
              limits:
              - $ 10
        ",
    },
];

#[test]
fn named_object_keys() {
    check(NAMED_OBJECTS);
}

// ---------------------------------------------------------------------------------------------
// Seed equivalence: YAML examples against their CLI twins
// ---------------------------------------------------------------------------------------------

/// service.md, "Service".
const SEED_SERVICE_HTTP: &str = "
services:
- name: service-0
  addr: \":8080\"
  handler:
    type: http
  listener:
    type: tcp
";

// websocket.md writes `addr: :` in its first three examples, which YAML reads as a map, not an
// address (a documentation typo): the CLI twins listen on :8080, :8080 and :8443, so these
// constants say so.

/// websocket.md, "Websocket".
const SEED_WS: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: auto
  listener:
    type: ws
";

/// websocket.md, "Websocket Secure".
const SEED_WSS: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: auto
  listener:
    type: wss
";

/// websocket.md, "Multiplexing" (`mux.version: 1` is the default the CLI leaves out).
const SEED_MWS: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: auto
  listener:
    type: mws
    # type: mwss
    metadata:
      mux.version: 1
";

/// websocket.md, "Custom Request Path", server. The document indents `metadata:` and `path:`
/// with TAB characters (a typo YAML rejects); normalised to spaces here.
const SEED_WSS_PATH_SERVER: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: auto
  listener:
    type: wss
    metadata:
      path: /ws
";

/// websocket.md, "Custom Request Path", client.
const SEED_WSS_PATH_CLIENT: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: http
    chain: chain-0
  listener:
    type: tcp
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :8443
      connector:
        type: http
      dialer:
        type: wss
        metadata:
          path: /ws
";

/// websocket.md, "Custom Request Hostname".
const SEED_WSS_HOST: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: http
    chain: chain-0
  listener:
    type: tcp
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :8443
      connector:
        type: http
      dialer:
        type: wss
        metadata:
          host: example.com
";

/// websocket.md, "Custom HTTP Request Headers" (no CLI twin; parsed only).
const SEED_WSS_HEADER: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: http
    chain: chain-0
  listener:
    type: tcp
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :8443
      connector:
        type: http
      dialer:
        type: wss
        metadata:
          header:
            User-Agent: \"gost/3.0\"
            foo: bar
";

/// websocket.md, "Keep-Alive".
const SEED_WSS_KEEPALIVE: &str = "
services:
- name: service-0
  addr: :8080
  handler:
    type: http
    chain: chain-0
  listener:
    type: tcp
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: node-0
      addr: :8443
      connector:
        type: http
      dialer:
        type: wss
        metadata:
          keepalive: true
          ttl: 15s
";

/// websocket.md, "HTTP Over Websocket".
const SEED_HTTP_WSS: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: http
  listener:
    type: wss
    # type: mwss
";

/// websocket.md, "SOCKS5 Over Websocket".
const SEED_SOCKS5_WSS: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: socks5
  listener:
    type: wss
    # type: mwss
";

/// websocket.md, "Relay Over Websocket".
const SEED_RELAY_WSS: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: relay
  listener:
    type: wss
    # type: mwss
";

/// websocket.md, "Port Forwarding".
const SEED_WSS_FORWARD: &str = "
services:
- name: service-0
  addr: :8443
  handler:
    type: forward
  listener:
    type: wss
  forwarder:
    nodes:
    - name: target-0
      addr: :1080
- name: service-1
  addr: :1080
  handler:
    type: socks5
  listener:
    type: tcp
";

/// service.md, "Execute Commands" (no CLI twin: lists cannot come from the command line).
const SEED_SERVICE_COMMANDS: &str = "
services:
- name: service-0
  addr: :8080
  metadata:
    preUp:
    - echo pre-up
    postUp:
    - echo post-up
    preDown:
    - echo pre-down
    postDown:
    - echo post-down
  handler:
    type: http
  listener:
    type: tcp
";

/// A CLI example and the YAML example it is documented as equivalent to.
struct Twin {
    l: &'static [&'static str],
    f: &'static [&'static str],
    yaml: &'static str,
    /// (YAML key, value) pairs the YAML spells out and the CLI leaves at their default.
    defaults: &'static [(&'static str, &'static str)],
}

const TWINS: &[Twin] = &[
    Twin { l: &["http://:8080"], f: &[], yaml: SEED_SERVICE_HTTP, defaults: &[] },
    Twin { l: &["ws://:8080"], f: &[], yaml: SEED_WS, defaults: &[] },
    Twin { l: &["wss://:8080"], f: &[], yaml: SEED_WSS, defaults: &[] },
    Twin { l: &["mws://:8443"], f: &[], yaml: SEED_MWS, defaults: &[("mux.version", "1")] },
    Twin { l: &["wss://:8443?path=/ws"], f: &[], yaml: SEED_WSS_PATH_SERVER, defaults: &[] },
    Twin {
        l: &["http://:8080"],
        f: &["wss://:8443?path=/ws"],
        yaml: SEED_WSS_PATH_CLIENT,
        defaults: &[],
    },
    Twin {
        l: &["http://:8080"],
        f: &["wss://:8443?host=example.com"],
        yaml: SEED_WSS_HOST,
        defaults: &[],
    },
    Twin {
        l: &["http://:8080"],
        f: &["wss://:8443?keepalive=true&ttl=15s"],
        yaml: SEED_WSS_KEEPALIVE,
        defaults: &[],
    },
    Twin { l: &["http+wss://:8443"], f: &[], yaml: SEED_HTTP_WSS, defaults: &[] },
    Twin { l: &["socks5+wss://:8443"], f: &[], yaml: SEED_SOCKS5_WSS, defaults: &[] },
    Twin { l: &["relay+wss://:8443"], f: &[], yaml: SEED_RELAY_WSS, defaults: &[] },
    Twin {
        l: &["wss://:8443/:1080", "socks5://:1080"],
        f: &[],
        yaml: SEED_WSS_FORWARD,
        defaults: &[],
    },
    Twin {
        l: &["forward+wss://:8443/:1080", "socks5://:1080"],
        f: &[],
        yaml: SEED_WSS_FORWARD,
        defaults: &[],
    },
];

/// A metadata value as gost reads it: a string, whatever YAML type it was written as.
fn text(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Int(i) => i.to_string(),
        ConfigValue::Float(f) => f.to_string(),
        ConfigValue::Str(s) => s.clone(),
        ConfigValue::Null(()) => String::new(),
        other => format!("{other:?}"),
    }
}

/// Every key of `file` is in `cli` with the same value (keys and values case-insensitive), or is
/// a listed default the CLI leaves out.
fn md_contained(
    at: &str,
    file: &MetadataConfig,
    cli: &MetadataConfig,
    defaults: &[(&str, &str)],
    out: &mut Vec<String>,
) {
    for (k, v) in file {
        let want = text(v);
        let got = cli.iter().find(|(ck, _)| ck.eq_ignore_ascii_case(k)).map(|(_, cv)| text(cv));
        match got {
            Some(g) if g.eq_ignore_ascii_case(&want) => {}
            None if defaults
                .iter()
                .any(|(dk, dv)| dk.eq_ignore_ascii_case(k) && dv.eq_ignore_ascii_case(&want)) => {}
            other => out.push(format!("{at}.metadata.{k}: file {want:?}, CLI {other:?}")),
        }
    }
}

fn or<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() { default } else { s }
}

/// The differences that change how gost runs `file` compared with `cli` (selectors and fanned
/// out metadata aside).
fn running_differences(cli: &Config, file: &Config, defaults: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut same = |what: String, a: String, b: String| {
        if a != b {
            out.push(format!("{what}: file {b:?}, CLI {a:?}"));
        }
    };
    same("services".into(), cli.services.len().to_string(), file.services.len().to_string());
    same("chains".into(), cli.chains.len().to_string(), file.chains.len().to_string());
    let mut md = Vec::new();
    for (c, f) in cli.services.iter().zip(&file.services) {
        let at = format!("service {}", f.name);
        same(format!("{at} name"), c.name.clone(), f.name.clone());
        same(format!("{at} addr"), c.addr.clone(), f.addr.clone());
        same(
            format!("{at} handler.type"),
            or(&c.handler.kind, "auto").into(),
            or(&f.handler.kind, "auto").into(),
        );
        same(
            format!("{at} listener.type"),
            or(&c.listener.kind, "tcp").into(),
            or(&f.listener.kind, "tcp").into(),
        );
        same(
            format!("{at} handler.chain"),
            format!("{:?}", c.handler.chain),
            format!("{:?}", f.handler.chain),
        );
        same(
            format!("{at} listener.chain"),
            format!("{:?}", c.listener.chain),
            format!("{:?}", f.listener.chain),
        );
        same(
            format!("{at} handler.auth"),
            format!("{:?}", c.handler.auth),
            format!("{:?}", f.handler.auth),
        );
        let targets = |s: &gost_x_config::model::ServiceConfig| {
            s.forwarder.as_ref().map(|fw| {
                fw.nodes.iter().map(|n| format!("{}={}", n.name, n.addr)).collect::<Vec<_>>()
            })
        };
        same(
            format!("{at} forwarder.nodes"),
            format!("{:?}", targets(c)),
            format!("{:?}", targets(f)),
        );
        md_contained(&at, &f.metadata, &c.metadata, defaults, &mut md);
        md_contained(
            &format!("{at}.handler"),
            &f.handler.metadata,
            &c.handler.metadata,
            defaults,
            &mut md,
        );
        md_contained(
            &format!("{at}.listener"),
            &f.listener.metadata,
            &c.listener.metadata,
            defaults,
            &mut md,
        );
    }
    for (c, f) in cli.chains.iter().zip(&file.chains) {
        same("chain name".into(), c.name.clone(), f.name.clone());
        same(format!("chain {} hops", f.name), c.hops.len().to_string(), f.hops.len().to_string());
        for (ch, fh) in c.hops.iter().zip(&f.hops) {
            let at = format!("chain {}, hop {}", f.name, fh.name);
            same(format!("{at} name"), ch.name.clone(), fh.name.clone());
            same(format!("{at} nodes"), ch.nodes.len().to_string(), fh.nodes.len().to_string());
            md_contained(&at, &fh.metadata, &ch.metadata, defaults, &mut md);
            for (cn, fnode) in ch.nodes.iter().zip(&fh.nodes) {
                let at = format!("{at}, node {}", fnode.name);
                same(format!("{at} name"), cn.name.clone(), fnode.name.clone());
                same(format!("{at} addr"), cn.addr.clone(), fnode.addr.clone());
                same(
                    format!("{at} connector.type"),
                    or(&cn.connector.kind, "http").into(),
                    or(&fnode.connector.kind, "http").into(),
                );
                same(
                    format!("{at} dialer.type"),
                    or(&cn.dialer.kind, "tcp").into(),
                    or(&fnode.dialer.kind, "tcp").into(),
                );
                same(
                    format!("{at} connector.auth"),
                    format!("{:?}", cn.connector.auth),
                    format!("{:?}", fnode.connector.auth),
                );
                md_contained(&at, &fnode.metadata, &cn.metadata, defaults, &mut md);
                md_contained(
                    &format!("{at}.connector"),
                    &fnode.connector.metadata,
                    &cn.connector.metadata,
                    defaults,
                    &mut md,
                );
                md_contained(
                    &format!("{at}.dialer"),
                    &fnode.dialer.metadata,
                    &cn.dialer.metadata,
                    defaults,
                    &mut md,
                );
            }
        }
    }
    out.extend(md);
    out
}

#[test]
fn seed_yaml_runs_like_its_cli_twin() {
    let mut failures = Vec::new();
    for twin in TWINS {
        let file = load::parse(twin.yaml, Format::Yaml, "seed").unwrap();
        let cli = gost_x_config::parse_cli(&strings(twin.l), &strings(twin.f)).unwrap();
        let diffs = running_differences(&cli.config, &file, twin.defaults);
        if !diffs.is_empty() {
            failures.push(format!("-L {:?} -F {:?}:\n  {}", twin.l, twin.f, diffs.join("\n  ")));
        }
    }
    // The mwss variant of the multiplexing example (`# type: mwss`).
    let mwss = SEED_MWS.replace("type: mws\n", "type: mwss\n");
    let file = load::parse(&mwss, Format::Yaml, "seed").unwrap();
    let cli = gost_x_config::parse_cli(&strings(&["mwss://:8443"]), &[]).unwrap();
    let diffs = running_differences(&cli.config, &file, &[("mux.version", "1")]);
    if !diffs.is_empty() {
        failures.push(format!("-L mwss://:8443:\n  {}", diffs.join("\n  ")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The comparison does see differences: ws is not wss, a missing path is not /ws.
    let ws = gost_x_config::parse_cli(&strings(&["ws://:8080"]), &[]).unwrap().config;
    let wss = load::parse(SEED_WSS, Format::Yaml, "seed").unwrap();
    assert!(!running_differences(&ws, &wss, &[]).is_empty());
    let no_path = gost_x_config::parse_cli(&strings(&["wss://:8443"]), &[]).unwrap().config;
    let path = load::parse(SEED_WSS_PATH_SERVER, Format::Yaml, "seed").unwrap();
    let diffs = running_differences(&no_path, &path, &[]);
    assert!(diffs.iter().any(|d| d.contains("listener.metadata.path")), "{diffs:?}");
}

#[test]
fn every_seed_yaml_example_parses() {
    for (name, text) in [
        ("service", SEED_SERVICE_HTTP),
        ("ws", SEED_WS),
        ("wss", SEED_WSS),
        ("mws", SEED_MWS),
        ("wss path server", SEED_WSS_PATH_SERVER),
        ("wss path client", SEED_WSS_PATH_CLIENT),
        ("wss host", SEED_WSS_HOST),
        ("wss header", SEED_WSS_HEADER),
        ("wss keepalive", SEED_WSS_KEEPALIVE),
        ("http+wss", SEED_HTTP_WSS),
        ("socks5+wss", SEED_SOCKS5_WSS),
        ("relay+wss", SEED_RELAY_WSS),
        ("wss forward", SEED_WSS_FORWARD),
        ("preUp/postDown", SEED_SERVICE_COMMANDS),
    ] {
        let config = load::parse(text, Format::Yaml, name).unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.services.is_empty(), "{name}");
        // Written back and read again, it is the same configuration.
        let again = load::write(&config, Format::Yaml).unwrap();
        assert_eq!(load::parse(&again, Format::Yaml, name).unwrap(), config, "{name}");
    }
    // The header map keeps its keys' case.
    let c = load::parse(SEED_WSS_HEADER, Format::Yaml, "header").unwrap();
    let md = &c.chains[0].hops[0].nodes[0].dialer.metadata;
    let Some(ConfigValue::Map(header)) = md.get("header") else { panic!("header: {md:?}") };
    assert_eq!(header.get("User-Agent"), Some(&ConfigValue::Str("gost/3.0".into())));
}

/// The documentation typos the constants above correct are real: YAML rejects the TABs, and
/// `addr: :` is not an address.
#[test]
fn seed_typos_are_what_the_constants_correct() {
    let tabs =
        SEED_WSS_PATH_SERVER.replace("    metadata:\n      path", "\t\tmetadata:\n\t\t  path");
    assert!(tabs.contains('\t'));
    assert!(load::parse(&tabs, Format::Yaml, "websocket.md").is_err());
    let colon = SEED_WS.replace("addr: :8080", "addr: :");
    assert!(load::parse(&colon, Format::Yaml, "websocket.md").is_err());
}
