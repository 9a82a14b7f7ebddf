//! Routing and health through the real binary: node probes (tcp, http, cmd) steering a
//! forwarder before any client fails, matcher rules and priorities in hops, chain groups routing
//! by host, hop groups, the parallel and lowest-latency strategies, probe metrics, and the
//! start-up errors of bad rules and probes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gost_e2e::{Gost, curl, have, head_echo, named_origin as origin, run_to_exit, temp_dir};

fn healthy() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(true))
}

/// A loopback port nothing listens on.
fn dead_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn config(name: &str, yaml: &str) -> PathBuf {
    let dir = temp_dir(name);
    let path = dir.join("gost.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn start(name: &str, yaml: &str, services: usize) -> Gost {
    let path = config(name, yaml);
    Gost::start(&["-C", path.to_str().unwrap()], services)
}

/// What `curl` gets from `url` (through `proxy` if given); "" when it fails.
fn fetch(url: &str, proxy: Option<SocketAddr>, extra: &[&str]) -> String {
    let proxy = proxy.map(|p| format!("http://{p}"));
    let mut args: Vec<&str> = Vec::new();
    if let Some(p) = &proxy {
        args.extend(["-x", p]);
    }
    args.extend(extra);
    args.push(url);
    let (ok, body) = curl(&args);
    if ok { body } else { String::new() }
}

/// Polls until `fetch` returns `want` (up to `limit`).
fn eventually(limit: Duration, want: &str, mut fetch: impl FnMut() -> String) {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = fetch();
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never got {want:?} (last {last:?})");
}

#[test]
fn http_probes_steer_a_forwarder_away_and_back() {
    if !have("curl") {
        return;
    }
    let (a_ok, b_ok) = (healthy(), healthy());
    let (a, b) = (origin("A", a_ok.clone()), origin("B", b_ok));
    let probe = "probe: {type: http, httpPath: /health, interval: 100ms, timeout: 1s}";
    let g = start(
        "routing-http-probe",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp}}
  listener: {{type: tcp}}
  forwarder:
    selector: {{strategy: fifo, maxFails: 1, failTimeout: 500ms}}
    nodes:
    - {{name: a, addr: \"{a}\", {probe}}}
    - {{name: b, addr: \"{b}\", {probe}}}
metrics:
  addr: 127.0.0.1:0
api:
  addr: 127.0.0.1:0
"
        ),
        1,
    );
    let url = format!("http://{}/", g.addr());
    eventually(Duration::from_secs(5), "A", || fetch(&url, None, &[]));
    // A's health check fails: traffic moves to B without a client meeting an error (A still
    // serves, so only the probe can have moved it) ...
    a_ok.store(false, Ordering::Relaxed);
    eventually(Duration::from_secs(5), "B", || fetch(&url, None, &[]));
    // ... and stays there past failTimeout, while the probe still fails.
    std::thread::sleep(Duration::from_millis(800));
    for _ in 0..5 {
        assert_eq!(fetch(&url, None, &[]), "B");
    }
    let metrics = g.logged_addr("metrics service on ", Duration::from_secs(5));
    let text = fetch(&format!("http://{metrics}/metrics"), None, &[]);
    assert!(
        text.contains("gost_probe_up{") && text.contains("target=\"a\"} 0"),
        "probe series:\n{text}"
    );
    assert!(text.contains("target=\"b\"} 1"), "probe series:\n{text}");
    // The Web API shows each forward node's probe state.
    let api = g.logged_addr("api service on ", Duration::from_secs(5));
    let svc = fetch(&format!("http://{api}/config/services/fwd"), None, &[]);
    let svc: serde_json::Value = serde_json::from_str(&svc).unwrap();
    let nodes = &svc["data"]["forwarder"]["nodes"];
    assert_eq!(nodes[0]["status"]["probe"]["up"], false, "{svc}");
    assert!(nodes[0]["status"]["probe"]["error"].as_str().unwrap().contains("503"), "{svc}");
    assert_eq!(nodes[1]["status"]["probe"]["up"], true, "{svc}");
    // A passes again: back to A.
    a_ok.store(true, Ordering::Relaxed);
    eventually(Duration::from_secs(5), "A", || fetch(&url, None, &[]));
}

#[test]
fn a_tcp_probe_marks_a_dead_node_before_the_first_client() {
    if !have("curl") {
        return;
    }
    // A free port below the ephemeral range: nothing else takes it before we listen there.
    let dead = SocketAddr::from(([127, 0, 0, 1], gost_e2e::free_port()));
    let b = origin("B", healthy());
    let g = start(
        "routing-tcp-probe",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp}}
  listener: {{type: tcp}}
  forwarder:
    selector: {{strategy: fifo}}
    nodes:
    - {{name: dead, addr: \"{dead}\", probe: {{type: tcp, interval: 300ms, timeout: 1s}}}}
    - {{name: b, addr: \"{b}\"}}
"
        ),
        1,
    );
    g.wait_log("probe: state changed", Duration::from_secs(5));
    // The very first request goes to B: fifo would have sent it to the dead node first.
    let url = format!("http://{}/", g.addr());
    assert_eq!(fetch(&url, None, &[]), "B");
    // The node comes up: its next passing probe brings traffic back (fifo prefers it).
    let listener = std::net::TcpListener::bind(dead).unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut c in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            if c.read(&mut buf).unwrap_or(0) > 0 {
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA");
            }
        }
    });
    eventually(Duration::from_secs(5), "A", || fetch(&url, None, &[]));
}

#[test]
fn cmd_probes_follow_the_command_and_a_hanging_one_is_killed() {
    if !have("curl") {
        return;
    }
    let dir = temp_dir("routing-cmd-probe");
    let flag = dir.join("a-is-up");
    let _ = std::fs::remove_file(&flag);
    let (a, b) = (origin("A", healthy()), origin("B", healthy()));
    let g = start(
        "routing-cmd-probe-cfg",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp}}
  listener: {{type: tcp}}
  forwarder:
    selector: {{strategy: fifo}}
    nodes:
    - name: a
      addr: \"{a}\"
      probe: {{type: cmd, command: 'test -f {flag}', interval: 100ms, timeout: 2s}}
    - name: hangs
      addr: \"{a}\"
      probe: {{type: cmd, command: 'sleep 30', interval: 100ms, timeout: 300ms}}
    - name: b
      addr: \"{b}\"
",
            flag = flag.display()
        ),
        1,
    );
    let url = format!("http://{}/", g.addr());
    eventually(Duration::from_secs(5), "B", || fetch(&url, None, &[]));
    std::fs::write(&flag, b"").unwrap();
    eventually(Duration::from_secs(5), "A", || fetch(&url, None, &[]));
    std::fs::remove_file(&flag).unwrap();
    eventually(Duration::from_secs(5), "B", || fetch(&url, None, &[]));
    assert!(g.log().contains("still running after"), "the hanging probe was cut:\n{}", g.log());
}

/// Chains whose single node is a `forward` node to an origin: whatever goes through the chain
/// reaches that origin, so its answer tells which chain carried the request.
fn forward_chain(name: &str, origin: SocketAddr) -> String {
    format!(
        "- name: {name}
  hops:
  - name: hop-0
    nodes:
    - name: {name}-node
      addr: \"{origin}\"
      connector: {{type: forward}}
      dialer: {{type: tcp}}
"
    )
}

#[test]
fn a_chain_group_routes_by_host_and_goes_direct_otherwise() {
    if !have("curl") {
        return;
    }
    let (a, b, direct) = (origin("A", healthy()), origin("B", healthy()), origin("C", healthy()));
    let g = start(
        "routing-chain-group",
        &format!(
            "services:
- name: proxy
  addr: 127.0.0.1:0
  handler:
    type: http
    chainGroup:
      chains:
      - chain: chain-a
        matcher: {{rule: 'Host(`a.test`) || Host(`*.a.test`)'}}
      - chain: chain-b
        matcher: {{rule: 'HostRegexp(`^b[0-9]+\\.test$`)'}}
  listener: {{type: tcp}}
chains:
{}{}",
            forward_chain("chain-a", a),
            forward_chain("chain-b", b)
        ),
        1,
    );
    let p = Some(g.addr());
    assert_eq!(fetch("http://a.test/", p, &[]), "A");
    assert_eq!(fetch("http://www.a.test/", p, &[]), "A");
    assert_eq!(fetch("http://b7.test/", p, &[]), "B");
    // No chain matches: direct, as gost.
    assert_eq!(fetch(&format!("http://{direct}/"), p, &[]), "C");
}

#[test]
fn node_rules_pick_the_most_specific_node_and_fail_over_by_priority() {
    if !have("curl") {
        return;
    }
    let (api_ok, site_ok) = (healthy(), healthy());
    let (api, site, rest) =
        (origin("API", api_ok.clone()), origin("SITE", site_ok), origin("REST", healthy()));
    let probe = "probe: {type: http, httpPath: /health, interval: 100ms}";
    let g = start(
        "routing-node-rules",
        &format!(
            "services:
- name: proxy
  addr: 127.0.0.1:0
  handler: {{type: http, chain: chain-0}}
  listener: {{type: tcp}}
chains:
- name: chain-0
  hops:
  - name: hop-0
    nodes:
    - name: rest
      addr: \"{rest}\"
      connector: {{type: forward}}
    - name: site
      addr: \"{site}\"
      connector: {{type: forward}}
      matcher: {{rule: 'Host(`*.example.test`)'}}
    - name: api
      addr: \"{api}\"
      connector: {{type: forward}}
      matcher: {{rule: 'Host(`api.example.test`) && Network(`tcp`)'}}
      {probe}
"
        ),
        1,
    );
    let p = Some(g.addr());
    assert_eq!(fetch("http://api.example.test/", p, &[]), "API");
    assert_eq!(fetch("http://www.example.test/", p, &[]), "SITE");
    assert_eq!(fetch("http://other.test/", p, &[]), "REST");
    // The most specific node's probe fails: the next rule that matches takes over.
    api_ok.store(false, Ordering::Relaxed);
    eventually(Duration::from_secs(5), "SITE", || fetch("http://api.example.test/", p, &[]));
    api_ok.store(true, Ordering::Relaxed);
    eventually(Duration::from_secs(5), "API", || fetch("http://api.example.test/", p, &[]));
}

#[test]
fn a_hop_group_routes_sniffed_hosts_to_hops() {
    if !have("curl") {
        return;
    }
    let (a, b) = (origin("A", healthy()), origin("B", healthy()));
    let g = start(
        "routing-hop-group",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true}}}}
  listener: {{type: tcp}}
  forwarder:
    hopGroup:
      hops:
      - hop: hop-a
        matcher: {{rule: 'Host(`a.test`) && PathPrefix(`/app`)'}}
      - hop: hop-b
        matcher: {{rule: '!(Host(`a.test`) && PathPrefix(`/app`))'}}
hops:
- name: hop-a
  nodes: [{{name: a, addr: \"{a}\"}}]
- name: hop-b
  nodes: [{{name: b, addr: \"{b}\"}}]
"
        ),
        1,
    );
    let base = format!("http://{}", g.addr());
    assert_eq!(fetch(&format!("{base}/app/x"), None, &["-H", "Host: a.test"]), "A");
    assert_eq!(fetch(&format!("{base}/other"), None, &["-H", "Host: a.test"]), "B");
    assert_eq!(fetch(&format!("{base}/app/x"), None, &[]), "B");
}

#[test]
fn parallel_races_past_a_dead_node_where_fifo_fails() {
    if !have("curl") {
        return;
    }
    let (dead, live) = (dead_port(), origin("LIVE", healthy()));
    let yaml = |strategy: &str| {
        format!(
            "services:
- name: proxy
  addr: 127.0.0.1:0
  handler: {{type: http, chain: chain-0}}
  listener: {{type: tcp}}
chains:
- name: chain-0
  hops:
  - name: hop-0
    selector: {{strategy: {strategy}}}
    nodes:
    - {{name: dead, addr: \"{dead}\", connector: {{type: forward}}}}
    - {{name: live, addr: \"{live}\", connector: {{type: forward}}}}
"
        )
    };
    let fifo = start("routing-fifo", &yaml("fifo"), 1);
    assert_eq!(fetch("http://x.test/", Some(fifo.addr()), &[]), "", "fifo tries the dead node");
    let parallel = start("routing-parallel", &yaml("parallel"), 1);
    for _ in 0..5 {
        assert_eq!(fetch("http://x.test/", Some(parallel.addr()), &[]), "LIVE");
    }
}

#[test]
fn lowest_latency_takes_the_fastest_probe() {
    if !have("curl") {
        return;
    }
    let (slow, fast) = (origin("SLOW", healthy()), origin("FAST", healthy()));
    let g = start(
        "routing-lowest",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp}}
  listener: {{type: tcp}}
  forwarder:
    selector: {{strategy: lowest}}
    nodes:
    - {{name: slow, addr: \"{slow}\", probe: {{type: cmd, command: 'sleep 0.3', interval: 200ms}}}}
    - {{name: fast, addr: \"{fast}\", probe: {{type: cmd, command: 'true', interval: 200ms}}}}
"
        ),
        1,
    );
    let url = format!("http://{}/", g.addr());
    eventually(Duration::from_secs(5), "FAST", || fetch(&url, None, &[]));
    for _ in 0..5 {
        assert_eq!(fetch(&url, None, &[]), "FAST");
    }
}

#[test]
fn bad_rules_and_probes_are_start_up_errors_naming_them() {
    for (what, node_extra, needle) in [
        ("rule", "matcher: {rule: 'Host(`a.test`'}", "Host(`a.test`"),
        ("unknown matcher", "matcher: {rule: 'Hots(`a.test`)'}", "unknown matcher Hots"),
        ("probe type", "probe: {type: icmp}", "unknown type \"icmp\""),
        ("cmd", "probe: {type: cmd}", "needs a command"),
        ("interval", "probe: {type: tcp, interval: soon}", "interval"),
    ] {
        let path = config(
            "routing-bad",
            &format!(
                "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp}}
  listener: {{type: tcp}}
  forwarder:
    nodes:
    - {{name: n, addr: 127.0.0.1:1, {node_extra}}}
"
            ),
        );
        let (code, log) = run_to_exit(&["-C", path.to_str().unwrap()], Duration::from_secs(10));
        assert_ne!(code, Some(0), "{what}: {log}");
        assert!(code.is_some(), "{what}: did not exit: {log}");
        assert!(log.contains(needle) && log.contains("node n"), "{what}: {log}");
    }
}

/// `curl -s -i` with `args`; the whole answer with `\r` removed.
fn curl_i(args: &[&str]) -> String {
    let out = std::process::Command::new("curl")
        .args(["-s", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

#[test]
fn forwarder_nodes_http_settings_rewrite_and_authenticate() {
    if !have("curl") {
        return;
    }
    let echo = head_echo("200 OK");
    let g = start(
        "routing-node-http",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true}}}}
  listener: {{type: tcp}}
  forwarder:
    nodes:
    - name: a
      addr: \"{echo}\"
      http:
        host: backend.test
        requestHeader: {{X-From: gost, X-Drop: \"\"}}
        responseHeader: {{X-Node: a, X-Origin: \"\"}}
        rewriteURL: [{{match: '^/old/(.*)$', replacement: '/new/$1'}}]
        auth: {{username: u, password: p}}
"
        ),
        1,
    );
    let base = format!("http://{}", g.addr());
    let out = curl_i(&["-u", "u:p", "-H", "X-Drop: 1", &format!("{base}/old/x?q=1")]);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\nX-Node: a\n") && !out.contains("X-Origin"), "response headers:\n{out}");
    assert!(out.contains("\nConnection: close\n"), "one request per connection by default:\n{out}");
    assert!(out.contains("GET /new/x?q=1 HTTP/1.1\n"), "rewritten path:\n{out}");
    assert!(out.contains("\nHost: backend.test\n") && out.contains("\nX-From: gost\n"), "{out}");
    assert!(!out.contains("X-Drop"), "a header set to nothing is removed:\n{out}");
    let out = curl_i(&[&format!("{base}/old/x")]);
    assert!(out.starts_with("HTTP/1.1 401") && out.contains("WWW-Authenticate: Basic"), "{out}");
    let out = curl_i(&["-u", "u:wrong", &format!("{base}/")]);
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
}

#[test]
fn fail_codes_mark_the_node_and_the_next_request_goes_elsewhere() {
    if !have("curl") {
        return;
    }
    let (sick, well) = (head_echo("503 Busy"), head_echo("200 OK"));
    let g = start(
        "routing-fail-codes",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true, http.keepalive: true}}}}
  listener: {{type: tcp}}
  forwarder:
    selector: {{strategy: fifo, maxFails: 1, failTimeout: 30s}}
    nodes:
    - {{name: sick, addr: \"{sick}\", http: {{failCodes: '429,5xx'}}}}
    - {{name: well, addr: \"{well}\"}}
"
        ),
        1,
    );
    let url = format!("http://{}/", g.addr());
    // The first answer passes through (and closes the connection); the node is marked.
    let out = curl_i(&[&url]);
    assert!(out.starts_with("HTTP/1.1 503") && out.contains("Connection: close"), "{out}");
    for _ in 0..3 {
        assert!(curl_i(&[&url]).starts_with("HTTP/1.1 200"));
    }
    // With http.keepalive, two requests on one connection.
    let out = curl_i(&[&url, &url]);
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
}

/// An origin counting its requests: `n=COUNT` as the body; `/private` answers `no-store`; when
/// `up` is false it closes every connection without answering.
fn counting_origin(up: Arc<AtomicBool>) -> SocketAddr {
    use std::io::{BufRead, BufReader, Write};
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    gost_e2e::tcp_server(move |mut s| {
        if !up.load(Ordering::Relaxed) {
            return;
        }
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!("n={n}");
        let extra = if line.contains("/private") { "Cache-Control: no-store\r\n" } else { "" };
        let _ = s.write_all(
            format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len())
                .as_bytes(),
        );
    })
}

#[test]
fn the_http_cache_answers_hits_refreshes_and_serves_stale() {
    if !have("curl") {
        return;
    }
    let up = healthy();
    let origin = counting_origin(up.clone());
    let g = start(
        "routing-cache",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  cache: c1
  handler:
    type: tcp
    metadata: {{sniffing: true, cache.ttl: 1s, cache.status.404: 1h, cache.serveStale: true}}
  listener: {{type: tcp}}
  forwarder:
    nodes: [{{name: o, addr: \"{origin}\"}}]
caches:
- name: c1
  memory: {{maxSize: 100, maxBytes: 1000000, eviction: lru}}
api:
  addr: 127.0.0.1:0
"
        ),
        1,
    );
    let base = format!("http://{}", g.addr());
    let get = |path: &str, extra: &[&str]| fetch(&format!("{base}{path}"), None, extra);
    assert_eq!(get("/a", &[]), "n=1");
    assert_eq!(get("/a", &[]), "n=1", "a hit");
    assert_eq!(get("/b", &[]), "n=2");
    // Not kept: private answers, requests with credentials, POSTs.
    assert_eq!(get("/private", &[]), "n=3");
    assert_eq!(get("/private", &[]), "n=4");
    assert_eq!(get("/c", &["-u", "u:p"]), "n=5");
    assert_eq!(get("/c", &["-u", "u:p"]), "n=6");
    assert_eq!(get("/a", &["-X", "POST"]), "n=7");
    // Expired: the next request goes to the origin and refreshes the entry.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(get("/a", &[]), "n=8");
    assert_eq!(get("/a", &[]), "n=8");
    // Expired and the origin fails: the stale answer.
    std::thread::sleep(Duration::from_millis(1200));
    up.store(false, Ordering::Relaxed);
    assert_eq!(get("/a", &[]), "n=8", "served stale");
    assert_eq!(get("/never-seen", &[]), "", "nothing to serve: an error");
    // The cache is a Web API object.
    let api = g.logged_addr("api service on ", Duration::from_secs(5));
    let caches = fetch(&format!("http://{api}/config/caches"), None, &[]);
    assert!(
        caches.contains("\"name\":\"c1\"") && caches.contains("\"eviction\":\"lru\""),
        "{caches}"
    );
}

/// Body rules (`BodyJSON`) see the body even when it arrives after the head: the forwarder reads
/// the prefix its rules need before choosing.
#[test]
fn body_rules_wait_for_the_body() {
    use std::io::{Read, Write};
    let (rpc, rest) = (origin("RPC", healthy()), origin("REST", healthy()));
    let g = start(
        "routing-body",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true}}}}
  listener: {{type: tcp}}
  forwarder:
    nodes:
    - {{name: rpc, addr: \"{rpc}\", matcher: {{rule: 'Method(`POST`) && BodyJSON(`method`, `^eth_`)', bodySize: 4096}}}}
    - {{name: rest, addr: \"{rest}\", matcher: {{rule: '!BodyJSON(`method`, `^eth_`)', priority: -1}}}}
"
        ),
        1,
    );
    let ask = |body: &str, chunked: bool| {
        let mut s = gost_e2e::connect(g.addr());
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {}", body.len())
        };
        s.write_all(format!("POST /rpc HTTP/1.1\r\nHost: x.test\r\n{framing}\r\n\r\n").as_bytes())
            .unwrap();
        // The body comes later, in two pieces.
        std::thread::sleep(Duration::from_millis(300));
        let wire = if chunked {
            format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
        } else {
            body.to_owned()
        };
        let (a, b) = wire.split_at(wire.len() / 2);
        s.write_all(a.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let call = r#"{"jsonrpc":"2.0","method":"eth_blockNumber","id":1}"#;
    let other = r#"{"jsonrpc":"2.0","method":"net_version","id":2}"#;
    assert!(ask(call, false).ends_with("RPC"));
    assert!(ask(other, false).ends_with("REST"));
    assert!(ask(call, true).ends_with("RPC"));
    assert!(ask(other, true).ends_with("REST"));
}

/// A forward node with `tls`: the forwarder speaks TLS to it (plain HTTP clients reach an HTTPS
/// backend), in the HTTP mode and when relaying bytes.
#[test]
fn forward_nodes_with_tls_are_reached_over_tls() {
    if !have("curl") {
        return;
    }
    let dir = temp_dir("routing-node-tls");
    std::fs::write(dir.join("a.txt"), "over tls\n").unwrap();
    let backend = Gost::start(&["-L", &format!("file+tls://127.0.0.1:0?dir={}", dir.display())], 1);
    for sniffing in [true, false] {
        let g = start(
            "routing-node-tls-cfg",
            &format!(
                "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: {sniffing}}}}}
  listener: {{type: tcp}}
  forwarder:
    nodes:
    - {{name: https, addr: \"{}\", tls: {{serverName: gost.run}}}}
",
                backend.addr()
            ),
            1,
        );
        assert_eq!(
            fetch(&format!("http://{}/a.txt", g.addr()), None, &[]),
            "over tls\n",
            "sniffing={sniffing}"
        );
    }
}

/// Hostile clients of the forwarder's HTTP mode: an endless header is cut at the head bound
/// (400); a head that never ends is relayed as it is after `sniffing.timeout` and reaped by
/// `idleTimeout`; a body the rules wait for that never comes ends at `readTimeout`; real clients
/// are served meanwhile.
#[test]
fn the_http_mode_bounds_hostile_clients() {
    use std::io::{Read, Write};
    let (rpc, rest) = (origin("RPC", healthy()), origin("REST", healthy()));
    let g = start(
        "routing-hostile",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true, sniffing.timeout: 1s, readTimeout: 1s, idleTimeout: 1s}}}}
  listener: {{type: tcp}}
  forwarder:
    nodes:
    - {{name: rpc, addr: \"{rpc}\", matcher: {{rule: 'BodyRegexp(`rpc`)'}}}}
    - {{name: rest, addr: \"{rest}\"}}
"
        ),
        1,
    );
    let read_all = |s: &mut std::net::TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    };
    // An endless header line: the head bound answers 400 and closes.
    let mut endless = gost_e2e::connect(g.addr());
    endless.write_all(b"GET / HTTP/1.1\r\nHost: x.test\r\nX-Junk: ").unwrap();
    let junk = vec![b'a'; 8192];
    for _ in 0..40 {
        if endless.write_all(&junk).is_err() {
            break;
        }
    }
    let out = read_all(&mut endless);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    // A head that never ends (after `sniffing.timeout` it is relayed as it is, and `idleTimeout`
    // reaps it), and a promised body that never comes (`readTimeout`): both closed.
    for opening in [
        &b"GET / HTTP/1.1\r\nHost: x.test\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 100\r\n\r\nrp",
    ] {
        let mut slow = gost_e2e::connect(g.addr());
        slow.write_all(opening).unwrap();
        let started = Instant::now();
        let _ = read_all(&mut slow);
        assert!(started.elapsed() < Duration::from_secs(5), "held {:?}", started.elapsed());
    }
    // Real clients still get served.
    assert_eq!(fetch(&format!("http://{}/", g.addr()), None, &[]), "REST");
}

/// Body rules on a hop group's entries wait for the body too.
#[test]
fn hop_group_body_rules_wait_for_the_body() {
    use std::io::{Read, Write};
    let (rpc, rest) = (origin("RPC", healthy()), origin("REST", healthy()));
    let g = start(
        "routing-group-body",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true}}}}
  listener: {{type: tcp}}
  forwarder:
    hopGroup:
      hops:
      - {{hop: hop-rpc, matcher: {{rule: 'BodyRegexp(`\"method\"`)'}}}}
      - {{hop: hop-rest, matcher: {{rule: '!BodyRegexp(`\"method\"`)'}}}}
hops:
- {{name: hop-rpc, nodes: [{{name: rpc, addr: \"{rpc}\"}}]}}
- {{name: hop-rest, nodes: [{{name: rest, addr: \"{rest}\"}}]}}
"
        ),
        1,
    );
    let ask = |body: &str| {
        let mut s = gost_e2e::connect(g.addr());
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head =
            format!("POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: {}\r\n\r\n", body.len());
        s.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(body.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    assert!(ask(r#"{"method":"x"}"#).ends_with("RPC"));
    assert!(ask(r#"{"other":1}"#).ends_with("REST"));
}

/// A body that stalls mid-way (no body rules: it is being relayed) ends at `readTimeout`.
#[test]
fn a_stalled_body_is_cut_in_the_http_mode() {
    use std::io::{Read, Write};
    let echo = head_echo("200 OK");
    let g = start(
        "routing-stalled-body",
        &format!(
            "services:
- name: fwd
  addr: 127.0.0.1:0
  handler: {{type: tcp, metadata: {{sniffing: true, readTimeout: 1s}}}}
  listener: {{type: tcp}}
  forwarder:
    nodes: [{{name: echo, addr: \"{echo}\"}}]
"
        ),
        1,
    );
    let mut s = gost_e2e::connect(g.addr());
    s.write_all(b"POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 100\r\n\r\nab").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(started.elapsed() < Duration::from_secs(5), "held {:?}", started.elapsed());
}
