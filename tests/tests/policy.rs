//! Policy components through the real binary: admission, bypass (service, hop and node level),
//! hosts, resolver (against a tiny DNS server of the test's own), traffic, connection and rate
//! limits, authers with a users file reloaded on SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

const BODY: &str = "hello from the origin\n";

fn require_curl() -> bool {
    if have("curl") {
        return true;
    }
    eprintln!("SKIP: curl is not installed");
    false
}

fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("gost-e2e-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// The connection is closed by the server without a single byte sent back.
fn closed_without_reply(addr: SocketAddr) -> bool {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

/// Echoes one message through `addr`; false if the connection was closed instead.
fn echoes(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if s.write_all(b"ping").is_err() {
        return false;
    }
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"ping"
}

#[test]
fn admission_refuses_before_any_handshake() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let g = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0?admission=127.0.0.1",
            "-L",
            "http://127.0.0.1:0?admission=~127.0.0.2",
        ],
        2,
    );
    let url = format!("http://{origin}/");
    for addr in &g.addrs {
        // Both refuse 127.0.0.1: one blacklists it, the other whitelists only 127.0.0.2.
        let (ok, body) = curl(&["-x", &format!("http://{addr}"), &url]);
        assert!(!ok && body.is_empty(), "{addr}: 127.0.0.1 must be refused, got {body:?}");
        assert!(closed_without_reply(*addr));
        let (ok, body) = curl(&["--interface", "127.0.0.2", "-x", &format!("http://{addr}"), &url]);
        assert!(ok && body == BODY, "{addr}: 127.0.0.2 must be admitted: ok={ok} {body:?}");
    }
}

#[test]
fn service_bypass_refuses_matching_targets() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let g = Gost::start(
        &["-L", "http://127.0.0.1:0?bypass=*.blocked.test,127.0.0.3&hosts=ok.test:127.0.0.1"],
        1,
    );
    let proxy = format!("http://{}", g.addr());
    let port = origin.port();
    let (ok, body) = curl(&["-x", &proxy, &format!("http://ok.test:{port}/")]);
    assert!(ok && body == BODY, "ok.test: ok={ok} {body:?}");
    for target in [format!("http://a.blocked.test:{port}/"), format!("http://127.0.0.3:{port}/")] {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "-x", &proxy])
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "403", "{target}");
    }
    // SOCKS5 answers "not allowed by ruleset" (2) for a bypassed target.
    let g5 = Gost::start(&["-L", "socks5://127.0.0.1:0?bypass=127.0.0.0/8"], 1);
    let (_, body) = curl(&["--socks5", &g5.addr().to_string(), &format!("http://{origin}/")]);
    assert_ne!(body, BODY, "socks5 must refuse a bypassed target");
}

#[test]
fn hop_and_node_bypass_go_direct() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    // Nothing listens on the chain's node: only traffic that skips the chain can succeed.
    let dead = free_port();
    let hop = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("http://127.0.0.1:{dead}?bypass=127.0.0.1")],
        1,
    );
    let (ok, body) = curl(&["-x", &format!("http://{}", hop.addr()), &format!("http://{origin}/")]);
    assert!(ok && body == BODY, "bypassed by the hop: direct; ok={ok} {body:?}");
    let other = format!("http://127.0.0.5:{}/", origin.port());
    let (_, body) = curl(&["-x", &format!("http://{}", hop.addr()), &other]);
    assert_ne!(body, BODY, "not bypassed: through the dead node, so it fails");

    // Node level, from a config file: node a (alive, an upstream gost) bypasses ok.test; node b
    // (dead) is the only one left for other targets... so ok.test reaches the origin via a.
    let upstream = Gost::start(&["-L", "http://127.0.0.1:0?hosts=ok.test:127.0.0.1"], 1);
    let yaml = format!(
        "services:\n- name: s\n  addr: 127.0.0.1:0\n  handler: {{type: http, chain: c}}\n  listener: {{type: tcp}}\n\
         chains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - name: up\n      addr: {}\n      bypass: not-up\n      connector: {{type: http}}\n      dialer: {{type: tcp}}\n\
         bypasses:\n- name: not-up\n  whitelist: true\n  matchers: [ok.test]\n",
        upstream.addr()
    );
    let file = temp_file("node-bypass.yaml", &yaml);
    let g = Gost::start(&["-C", &file], 1);
    let proxy = format!("http://{}", g.addr());
    let (ok, body) = curl(&["-x", &proxy, &format!("http://ok.test:{}/", origin.port())]);
    assert!(ok && body == BODY, "ok.test through the node (only it knows the name): {body:?}");
    // Any other target is bypassed by the node's whitelist: the route is empty, gost dials
    // directly, and the origin answers without the upstream.
    drop(upstream);
    let (ok, body) = curl(&["-x", &proxy, &format!("http://{origin}/")]);
    assert!(ok && body == BODY, "127.0.0.1 bypasses the node: {body:?}");
    let (_, body) = curl(&["-x", &proxy, &format!("http://ok.test:{}/", origin.port())]);
    assert_ne!(body, BODY, "ok.test needs the (now stopped) upstream");
}

/// A UDP DNS server answering A queries for `name` with 127.0.0.1 (others: no such name).
fn dns_server(name: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    use gost_proto::dns::{Query, respond};
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else { return };
            let Ok(q) = Query::decode(&buf[..n]) else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let ips = if q.name == name { vec!["127.0.0.1".parse().unwrap()] } else { vec![] };
            let _ = socket.send_to(&respond(&q, &ips, 60).unwrap(), peer);
        }
    });
    (addr, count)
}

#[test]
fn resolver_uses_the_configured_nameserver() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let (dns, queries) = dns_server("resolved.test");
    let g = Gost::start(&["-L", &format!("http://127.0.0.1:0?resolver=udp://{dns}")], 1);
    let proxy = format!("http://{}", g.addr());
    let (ok, body) = curl(&["-x", &proxy, &format!("http://resolved.test:{}/", origin.port())]);
    assert!(ok && body == BODY, "ok={ok} {body:?}; log:\n{}", g.log());
    assert!(queries.load(Ordering::SeqCst) >= 1);
    let (_, body) = curl(&["-x", &proxy, &format!("http://unknown.test:{}/", origin.port())]);
    assert_ne!(body, BODY, "a name the nameserver does not know fails");
}

/// Downloads `size` bytes through `addr` (a forwarder to a server that sends them), returning
/// how long it took.
fn timed_download(addr: SocketAddr, size: usize) -> Duration {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let start = Instant::now();
    let got = read_all(&mut s);
    assert_eq!(got.len(), size);
    start.elapsed()
}

#[test]
fn traffic_limit_slows_a_transfer_to_the_rate() {
    const SIZE: usize = 5 << 20;
    let data = Arc::new(pattern(SIZE, 3));
    let origin = tcp_server(move |mut s| {
        let _ = s.write_all(&data);
    });
    let g = Gost::start(
        &[
            "-L",
            &format!("tcp://127.0.0.1:0/{origin}?limiter.out=1MB"),
            "-L",
            &format!("tcp://127.0.0.1:0/{origin}"),
        ],
        2,
    );
    let limited = timed_download(g.addrs[0], SIZE);
    let free = timed_download(g.addrs[1], SIZE);
    eprintln!("5 MiB at 1 MiB/s: {limited:?}; unlimited: {free:?}");
    // A full 1 MiB bucket to start with, then 4 MiB at 1 MiB/s: about 4 s.
    assert!(limited >= Duration::from_secs(3) && limited <= Duration::from_secs(12), "{limited:?}");
    assert!(free < Duration::from_secs(2), "{free:?}");
}

#[test]
fn connection_limit_refuses_the_third_concurrent_connection() {
    let echo = echo_server();
    let g = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}?climiter=2")], 1);
    let mut a = TcpStream::connect(g.addr()).unwrap();
    let mut b = TcpStream::connect(g.addr()).unwrap();
    assert!(echoes(&mut a) && echoes(&mut b));
    let mut c = TcpStream::connect(g.addr()).unwrap();
    assert!(!echoes(&mut c), "third concurrent connection must be closed");
    drop(a);
    // The slot comes back once the first connection is gone.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = TcpStream::connect(g.addr()).unwrap();
        if echoes(&mut d) {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never given back");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(echoes(&mut b));
}

#[test]
fn rate_limit_refuses_bursts_above_it() {
    let echo = echo_server();
    let g = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}?rlimiter=2")], 1);
    let results: Vec<bool> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(g.addr()).unwrap();
            echoes(&mut s)
        })
        .collect();
    assert_eq!(results.iter().filter(|ok| **ok).count(), 2, "{results:?}");
    assert!(results[0] && results[1]);
    // After a second the bucket has refilled.
    thread::sleep(Duration::from_millis(1100));
    let mut s = TcpStream::connect(g.addr()).unwrap();
    assert!(echoes(&mut s));
}

#[test]
fn authers_with_a_users_file_reloaded_on_sighup() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let users = temp_file("users.txt", "bob b0b # from the file\n");
    let yaml = format!(
        "services:\n- name: s\n  addr: 127.0.0.1:0\n  handler: {{type: http, auther: users}}\n  listener: {{type: tcp}}\n\
         authers:\n- name: users\n  auths: [{{username: alice, password: s3cret}}]\n  file: {{path: {users}}}\n"
    );
    let file = temp_file("authers.yaml", &yaml);
    let g = Gost::start(&["-C", &file], 1);
    let get = |user: &str| {
        let (_, body) =
            curl(&["-x", &format!("http://{user}@{}", g.addr()), &format!("http://{origin}/")]);
        body == BODY
    };
    assert!(get("alice:s3cret"));
    assert!(get("bob:b0b"));
    assert!(!get("bob:wrong"));
    assert!(!get("carol:c4rol"));
    std::fs::write(&users, "carol c4rol\n").unwrap();
    g.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !get("carol:c4rol") {
        assert!(Instant::now() < deadline, "carol never accepted; log:\n{}", g.log());
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!get("bob:b0b"), "bob left the file");
    assert!(get("alice:s3cret"), "inline users stay");
    // A broken file keeps the previous users.
    std::fs::remove_file(&users).unwrap();
    g.signal("HUP");
    thread::sleep(Duration::from_millis(300));
    assert!(get("carol:c4rol"));
}

#[test]
fn a_bypass_file_is_reread_every_reload_period() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let list = temp_file("bypass-reload.txt", "# nothing yet\n");
    let yaml = format!(
        "services:\n- name: s\n  addr: 127.0.0.1:0\n  bypass: b\n  handler: {{type: http}}\n  listener: {{type: tcp}}\n\
         bypasses:\n- name: b\n  file: {{path: {list}}}\n  reload: 1s\n"
    );
    let g = Gost::start(&["-C", &temp_file("bypass-reload.yaml", &yaml)], 1);
    let get = || curl(&["-x", &format!("http://{}", g.addr()), &format!("http://{origin}/")]).1;
    assert_eq!(get(), BODY);
    std::fs::write(&list, "127.0.0.1\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while get() == BODY {
        assert!(Instant::now() < deadline, "the new file was never applied; log:\n{}", g.log());
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn unknown_names_and_bad_limits_are_clear_errors() {
    let (code, log) =
        run_to_exit(&["-L", "http://127.0.0.1:0?climiter=lots"], Duration::from_secs(10));
    assert_ne!(code, Some(0));
    assert!(log.contains("\"lots\" is not a number"), "{log}");
    let yaml = "services:\n- name: s\n  addr: 127.0.0.1:0\n  bypass: nope\n";
    let file = temp_file("unknown.yaml", yaml);
    let (code, log) = run_to_exit(&["-C", &file], Duration::from_secs(10));
    assert_ne!(code, Some(0));
    assert!(log.contains("unknown bypass \"nope\""), "{log}");
}
