//! Shadowsocks (AEAD) through the real binary: our client and server with every method, bad
//! input, and shadowsocks-libev (`ss-server`, `ss-local`) as a peer in both directions. (Go gost
//! as a peer: the ss rows of tests/tests/interop_go.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

const BODY: &str = "hello through shadowsocks\n";
const METHODS: &[&str] = &["aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305"];

fn get_via(proxy: SocketAddr, origin: SocketAddr) -> (bool, String) {
    curl(&["-x", &format!("http://{proxy}"), &format!("http://{origin}/")])
}

#[test]
fn every_method_through_our_client_and_server() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    for method in METHODS.iter().chain(&["none"]) {
        let server = Gost::start(&["-L", &format!("ss://{method}:pa%3Ass@127.0.0.1:0")], 1);
        let node = format!("ss://{method}:pa%3Ass@{}", server.addr());
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let (ok, body) = get_via(client.addr(), origin);
        assert!(ok && body == BODY, "{method}: {body:?}\n{}", server.log());
        // And a bulk transfer both ways at once through a CONNECT tunnel.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let tunnel = http_connect(client.addr(), &l.local_addr().unwrap().to_string(), None);
        bulk_both_ways(tunnel, l, 4 << 20);
    }
    // Shadowsocks 2022: the password is a base64 key of the method's length.
    for (method, key) in [
        ("2022-blake3-aes-128-gcm", "MTIzNDU2Nzg5MDEyMzQ1Ng"),
        ("2022-blake3-aes-256-gcm", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"),
        ("2022-blake3-chacha20-poly1305", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI"),
    ] {
        let server = Gost::start(&["-L", &format!("ss://{method}:{key}@127.0.0.1:0")], 1);
        let node = format!("ss://{method}:{key}@{}", server.addr());
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let (ok, body) = get_via(client.addr(), origin);
        assert!(ok && body == BODY, "{method}: {body:?}\n{}", server.log());
        echo_round_trip(client.addr(), 4 << 20);
    }
    let (code, log) = run_to_exit(
        &["-L", "ss://2022-blake3-aes-128-gcm:short@127.0.0.1:0"],
        Duration::from_secs(20),
    );
    assert_ne!(code, Some(0), "a 2022 password that is not a 16-byte base64 key: {log}");
    // SIP002's base64 userinfo (URL-safe, no padding): aes-256-gcm:secret.
    let server = Gost::start(&["-L", "ss://YWVzLTI1Ni1nY206c2VjcmV0@127.0.0.1:0"], 1);
    let node = format!("ss://aes-256-gcm:secret@{}", server.addr());
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
    let (ok, body) = get_via(client.addr(), origin);
    assert!(ok && body == BODY, "base64 userinfo: {body:?}");
}

#[test]
fn wrong_passwords_and_garbage_get_no_reply_and_the_server_keeps_serving() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    let server = Gost::start(&["-L", "ss://aes-256-gcm:right@127.0.0.1:0"], 1);
    let wrong = format!("ss://aes-256-gcm:wrong@{}", server.addr());
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &wrong], 1);
    let (ok, body) = get_via(client.addr(), origin);
    assert!(!ok || body != BODY, "a wrong password must not get through");
    // Garbage, a salt and a truncated chunk, and a flood of garbage: closed, nothing sent back.
    for junk in [vec![0u8; 1], vec![0x42; 32 + 10], vec![0x17; 1 << 20]] {
        let mut s = connect(server.addr());
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let _ = s.write_all(&junk);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
        assert!(back.is_empty(), "{} junk bytes got {} bytes back", junk.len(), back.len());
    }
    // A probe that sends a bad request and waits learns nothing from when the server closes:
    // not at once (as if it had taken exactly the bytes it needed), only at `readTimeout`.
    let probed = Gost::start(&["-L", "ss://aes-256-gcm:right@127.0.0.1:0?readTimeout=2s"], 1);
    let mut s = connect(probed.addr());
    s.write_all(&[0x42; 100]).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
    let mut one = [0u8; 1];
    let early = s.read(&mut one);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut),
        "the server ended a bad request early: {early:?}"
    );
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(matches!(s.read(&mut one), Ok(0) | Err(_)), "closed at the deadline, nothing sent");
    // A real client is still served.
    let right = format!("ss://aes-256-gcm:right@{}", server.addr());
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &right], 1);
    let (ok, body) = get_via(client.addr(), origin);
    assert!(ok && body == BODY, "{body:?}");
    // An unknown method is a start-up error that names the supported ones.
    let (code, log) = run_to_exit(&["-L", "ss://rc4-md5:x@127.0.0.1:0"], Duration::from_secs(20));
    assert_ne!(code, Some(0));
    assert!(log.contains("aes-256-gcm") && log.contains("rc4-md5"), "{log}");
}

/// Sends `size` bytes through an HTTP CONNECT tunnel to an echo server while reading them
/// back, and compares; no half-close.
fn echo_round_trip(proxy: SocketAddr, size: usize) {
    let echo = echo_server();
    let mut tunnel = http_connect(proxy, &echo.to_string(), None);
    let data = pattern(size, 9);
    let mut w = tunnel.try_clone().unwrap();
    let up = data.clone();
    let writer = thread::spawn(move || w.write_all(&up).is_ok());
    let mut back = vec![0u8; size];
    tunnel.read_exact(&mut back).unwrap();
    assert!(writer.join().unwrap());
    assert_eq!(checksum(&back), checksum(&data), "the echo differs");
}

/// Waits until something accepts on `addr`.
fn wait_accepting(addr: SocketAddr, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !accepts(addr) {
        assert!(Instant::now() < deadline, "{what} never listened on {addr}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shadowsocks_libev_in_both_directions() {
    if !have("ss-server") || !have("ss-local") || !have("curl") {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI=true: shadowsocks-libev (ss-server, ss-local) and curl are needed");
        eprintln!("SKIP: shadowsocks-libev (ss-server, ss-local) or curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    for method in METHODS {
        // Our client to ss-server.
        let port = free_port();
        let server = Gost::spawn_command({
            let mut c = Command::new("ss-server");
            c.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-k", "pass", "-m", method]);
            c
        });
        let server_addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_accepting(server_addr, "ss-server");
        let node = format!("ss://{method}:pass@{server_addr}");
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let (ok, body) = get_via(client.addr(), origin);
        assert!(ok && body == BODY, "ours → ss-server {method}: {body:?}\n{}", server.log());
        // ss-libev drops what it still holds for the target when the client half-closes, so
        // this transfer is an echo that ends with a full close.
        echo_round_trip(client.addr(), 4 << 20);
        drop(server);

        // ss-local to our server.
        let ours = Gost::start(&["-L", &format!("ss://{method}:pass@127.0.0.1:0")], 1);
        let local_port = free_port();
        let local = Gost::spawn_command({
            let mut c = Command::new("ss-local");
            c.args(["-s", "127.0.0.1", "-p", &ours.addr().port().to_string()]);
            c.args(["-l", &local_port.to_string(), "-b", "127.0.0.1", "-k", "pass", "-m", method]);
            c
        });
        let local_addr = SocketAddr::from(([127, 0, 0, 1], local_port));
        wait_accepting(local_addr, "ss-local");
        let (ok, body) =
            curl(&["--socks5-hostname", &local_addr.to_string(), &format!("http://{origin}/")]);
        assert!(ok && body == BODY, "ss-local → ours {method}: {body:?}\n{}", local.log());
    }
}

#[test]
fn ss_local_udp_through_our_ssu_server() {
    if !have("ss-local") {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI=true: shadowsocks-libev (ss-local) is needed");
        eprintln!("SKIP: shadowsocks-libev (ss-local) is not installed");
        return;
    }
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    for method in METHODS {
        // ss-local sends TCP and UDP to one port: ss on TCP and ssu on UDP, same number.
        let port = free_port();
        let ours = Gost::start(
            &[
                "-L",
                &format!("ss://{method}:pass@127.0.0.1:{port}"),
                "-L",
                &format!("ssu://{method}:pass@127.0.0.1:{port}"),
            ],
            2,
        );
        let local_port = free_port();
        let local = Gost::spawn_command({
            let mut c = Command::new("ss-local");
            c.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-u"]);
            c.args(["-l", &local_port.to_string(), "-b", "127.0.0.1", "-k", "pass", "-m", method]);
            c
        });
        let local_addr = SocketAddr::from(([127, 0, 0, 1], local_port));
        wait_accepting(local_addr, "ss-local");
        let (rep, relay, _control) =
            socks5_request(local_addr, 3, "0.0.0.0:0".parse().unwrap(), None);
        assert_eq!(rep, 0);
        let relay = if relay.ip().is_unspecified() {
            SocketAddr::new(local_addr.ip(), relay.port())
        } else {
            relay
        };
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let SocketAddr::V4(echo4) = echo_addr else { unreachable!() };
        for i in 0..5u8 {
            let mut d = vec![0, 0, 0, 1];
            d.extend_from_slice(&echo4.ip().octets());
            d.extend_from_slice(&echo4.port().to_be_bytes());
            d.extend_from_slice(&[i; 100]);
            let mut answered = false;
            for _ in 0..3 {
                sock.send_to(&d, relay).unwrap();
                let mut buf = [0u8; 2048];
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    assert_eq!(&buf[..10], &d[..10], "{method}: the answer names the echo server");
                    assert_eq!(&buf[10..n], &[i; 100]);
                    answered = true;
                    break;
                }
            }
            assert!(answered, "{method}: datagram {i} unanswered\n{}\n{}", local.log(), ours.log());
        }
    }
}

/// A SOCKS5 UDP ASSOCIATE at `proxy`, then five datagrams to `echo` and back.
fn socks5_udp_round_trips(proxy: SocketAddr, echo: SocketAddr, what: &str) {
    let (rep, relay, _control) = socks5_request(proxy, 3, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 0, "{what}");
    let relay =
        if relay.ip().is_unspecified() { SocketAddr::new(proxy.ip(), relay.port()) } else { relay };
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let SocketAddr::V4(echo4) = echo else { unreachable!() };
    for i in 0..5u8 {
        let mut d = vec![0, 0, 0, 1];
        d.extend_from_slice(&echo4.ip().octets());
        d.extend_from_slice(&echo4.port().to_be_bytes());
        d.extend_from_slice(&[i; 300]);
        let mut answered = false;
        for _ in 0..3 {
            sock.send_to(&d, relay).unwrap();
            let mut buf = [0u8; 2048];
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                assert_eq!(&buf[..10], &d[..10], "{what}: the answer names the echo server");
                assert_eq!(&buf[10..n], &[i; 300], "{what}");
                answered = true;
                break;
            }
        }
        assert!(answered, "{what}: datagram {i} unanswered");
    }
}

fn udp_echo() -> SocketAddr {
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = echo.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    addr
}

/// Shadowsocks 2022 keys (base64, 16 and 32 bytes; no `/`, which a URL's user info cannot hold).
const KEY128: &str = "MTIzNDU2Nzg5MDEyMzQ1Ng==";
const KEY256: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=";

/// Every method with a password it takes.
fn methods_and_passwords() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = METHODS.iter().chain(&["none"]).map(|m| (*m, "pass")).collect();
    all.push(("2022-blake3-aes-128-gcm", KEY128));
    all.push(("2022-blake3-aes-256-gcm", KEY256));
    all.push(("2022-blake3-chacha20-poly1305", KEY256));
    all
}

#[test]
fn udp_through_an_ssu_node_to_our_server_and_to_ss_server() {
    let echo = udp_echo();
    for (method, password) in methods_and_passwords() {
        let server = Gost::start(&["-L", &format!("ssu://{method}:{password}@127.0.0.1:0")], 1);
        let node = format!("ssu://{method}:{password}@{}", server.addr());
        let edge = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node], 1);
        socks5_udp_round_trips(edge.addr(), echo, &format!("ours → ours {method}"));
        // A UDP port forwarder through the same node.
        let fwd = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{echo}"), "-F", &node], 1);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.send_to(b"forwarded", fwd.addr()).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = sock.recv_from(&mut buf).expect("the forwarded datagram's answer");
        assert_eq!(&buf[..n], b"forwarded");
    }
    // ssu over stream transports (Go's UDP over TCP): a shadowsocks stream of UDP-tun frames.
    for (method, password) in [("aes-256-gcm", "pass"), ("2022-blake3-aes-128-gcm", KEY128)] {
        for transport in ["tcp", "tls", "ws"] {
            let url = |at: &str| format!("ssu+{transport}://{method}:{password}@{at}");
            let server = Gost::start(&["-L", &url("127.0.0.1:0")], 1);
            let node = url(&server.addr().to_string());
            let edge = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node], 1);
            socks5_udp_round_trips(edge.addr(), echo, &format!("ssu+{transport} {method}"));
        }
    }
    // An ssu node behind another hop: as in Go, later hops are reached through the one before
    // by TCP, so the ssu node speaks over that stream (its server on a stream listener).
    let relay = Gost::start(&["-L", "relay://127.0.0.1:0"], 1);
    let server = Gost::start(&["-L", "ssu+tcp://aes-128-gcm:pass@127.0.0.1:0"], 1);
    let hops = [
        "-L".to_owned(),
        "socks5://127.0.0.1:0?udp=true".to_owned(),
        "-F".to_owned(),
        format!("relay://{}", relay.addr()),
        "-F".to_owned(),
        format!("ssu://aes-128-gcm:pass@{}", server.addr()),
    ];
    let hops: Vec<&str> = hops.iter().map(String::as_str).collect();
    let edge = Gost::start(&hops, 1);
    socks5_udp_round_trips(edge.addr(), echo, "a relay hop, then ssu over its stream");
    if !have("ss-server") {
        eprintln!("SKIP the ss-server cells: shadowsocks-libev is not installed");
        return;
    }
    for method in METHODS {
        let port = free_udp_port();
        let server = Gost::spawn_command({
            let mut c = Command::new("ss-server");
            c.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-k", "pass", "-m", method, "-U"]);
            c
        });
        thread::sleep(Duration::from_millis(300));
        let node = format!("ssu://{method}:pass@127.0.0.1:{port}");
        let edge = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node], 1);
        socks5_udp_round_trips(edge.addr(), echo, &format!("ours → ss-server {method}"));
        drop(server);
    }
}

/// Shadowsocks 2022 with users: a client names its key with an identity header
/// (`method:iPSK:uPSK`); the server (`users` metadata) takes that user's key, over TCP (`ss`)
/// and UDP (`ssu`). A key that is no user's, or no identity header, is refused.
#[test]
fn users_2022_name_their_keys_over_tcp_and_udp() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    const M: &str = "2022-blake3-aes-128-gcm";
    const ALICE: &str = "YWJjZGVmZ2hpamtsbW5vcA==";
    const STRANGER: &str = "cXJzdHV2d3h5ejAxMjM0NQ==";
    let handler = |kind: &str| {
        format!(
            r#"{{"type": "{kind}", "auth": {{"username": "{M}", "password": "{KEY128}"}},
                "metadata": {{"users": {{"alice": "{ALICE}", "bob": "Ym9iYm9iYm9iYm9iYm9iYg=="}}}}}}"#
        )
    };
    let config = format!(
        r#"{{"services": [
            {{"name": "service-0", "addr": "127.0.0.1:0", "handler": {}, "listener": {{"type": "tcp"}}}},
            {{"name": "service-1", "addr": "127.0.0.1:0", "handler": {}, "listener": {{"type": "udp"}}}}
        ]}}"#,
        handler("ss"),
        handler("ssu")
    );
    let server = Gost::start(&["-C", &config], 2);
    let (tcp, udp) = (server.addrs[0], server.addrs[1]);
    let origin = http_server(BODY);
    let echo = udp_echo();
    let alice = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("ss://{M}:{KEY128}:{ALICE}@{tcp}")],
        1,
    );
    let (ok, body) = get_via(alice.addr(), origin);
    assert!(ok && body == BODY, "alice over TCP: {body:?}\n{}", server.log());
    let alice_udp = Gost::start(
        &[
            "-L",
            "socks5://127.0.0.1:0?udp=true",
            "-F",
            &format!("ssu://{M}:{KEY128}:{ALICE}@{udp}"),
        ],
        1,
    );
    socks5_udp_round_trips(alice_udp.addr(), echo, "alice over UDP");
    for who in [format!("{KEY128}:{STRANGER}"), KEY128.to_owned()] {
        let node = format!("ss://{M}:{who}@{tcp}");
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let (ok, body) = curl(&[
            "--max-time",
            "3",
            "-x",
            &format!("http://{}", client.addr()),
            &format!("http://{origin}/"),
        ]);
        assert!(!(ok && body == BODY), "{who} is no user, yet TCP went through");
        let node = format!("ssu://{M}:{who}@{udp}");
        let client = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{echo}"), "-F", &node], 1);
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        sock.send_to(b"anyone there?", client.addr()).unwrap();
        let mut buf = [0u8; 64];
        assert!(sock.recv_from(&mut buf).is_err(), "{who} is no user, yet UDP went through");
    }
    // The same forwarder with alice's key does get its answer (the check above can fail).
    let node = format!("ssu://{M}:{KEY128}:{ALICE}@{udp}");
    let client = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{echo}"), "-F", &node], 1);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(b"anyone there?", client.addr()).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = sock.recv_from(&mut buf).expect("alice's forwarded datagram is answered");
    assert_eq!(&buf[..n], b"anyone there?");
}

/// A hostile network against a 2022 ssu server: every datagram a real client sent, replayed
/// (from the recorder's own socket and from a fresh one) and tampered, plus a flood of
/// garbage from many sources. Nothing replayed or forged reaches the target, memory stays flat,
/// and the real client goes on being served.
#[test]
fn ssu_2022_refuses_replayed_and_forged_datagrams() {
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    // An echo server that counts what reaches it.
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    let reached = Arc::new(AtomicUsize::new(0));
    let count = reached.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let server = Gost::start(
        &["-L", &format!("ssu://2022-blake3-aes-128-gcm:{KEY128}@127.0.0.1:0?ttl=30s")],
        1,
    );
    // A recorder between the client gost and the server: passes datagrams both ways and keeps
    // a copy of what the client sent.
    let edge_side = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_side = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    server_side.connect(server.addr()).unwrap();
    let recorded = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let client_addr = Arc::new(Mutex::new(None));
    {
        let (edge_side, server_side, recorded, client_addr) = (
            edge_side.try_clone().unwrap(),
            server_side.clone(),
            recorded.clone(),
            client_addr.clone(),
        );
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok((n, from)) = edge_side.recv_from(&mut buf) {
                *client_addr.lock().unwrap() = Some(from);
                recorded.lock().unwrap().push(buf[..n].to_vec());
                let _ = server_side.send(&buf[..n]);
            }
        });
    }
    {
        let (edge_side, server_side, client_addr) =
            (edge_side.try_clone().unwrap(), server_side.clone(), client_addr.clone());
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = server_side.recv(&mut buf) {
                if let Some(to) = *client_addr.lock().unwrap() {
                    let _ = edge_side.send_to(&buf[..n], to);
                }
            }
        });
    }
    let node =
        format!("ssu://2022-blake3-aes-128-gcm:{KEY128}@{}", edge_side.local_addr().unwrap());
    let fwd =
        Gost::start(&["-L", &format!("udp://127.0.0.1:0/{echo_addr}?ttl=30s"), "-F", &node], 1);
    let app = UdpSocket::bind("127.0.0.1:0").unwrap();
    app.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let round_trip = |i: u8| {
        app.send_to(&[i; 64], fwd.addr()).unwrap();
        let mut buf = [0u8; 128];
        let (n, _) = app.recv_from(&mut buf).expect("the real client's answer");
        assert_eq!(&buf[..n], &[i; 64]);
    };
    for i in 0..3 {
        round_trip(i);
    }
    assert_eq!(reached.load(Ordering::SeqCst), 3);
    let before = rss_kib(server.pid());
    let captured = recorded.lock().unwrap().clone();
    assert_eq!(captured.len(), 3);
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in &captured {
        for _ in 0..50 {
            server_side.send(d).unwrap();
            stranger.send_to(d, server.addr()).unwrap();
        }
        // Tampered: one bit in the header, the body or the tag.
        for at in [3, 20, d.len() - 1] {
            let mut t = d.clone();
            t[at] ^= 0x10;
            stranger.send_to(&t, server.addr()).unwrap();
        }
    }
    // Garbage from 200 sources, 50 datagrams each.
    for s in 0..200u32 {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        for j in 0..50u32 {
            let junk: Vec<u8> = (0..600).map(|k| (k as u32 ^ s ^ j) as u8).collect();
            let _ = sock.send_to(&junk, server.addr());
        }
    }
    thread::sleep(Duration::from_millis(500));
    assert_eq!(
        reached.load(Ordering::SeqCst),
        3,
        "a replayed or forged datagram reached the target"
    );
    // The real client goes on.
    for i in 3..6 {
        round_trip(i);
    }
    assert_eq!(reached.load(Ordering::SeqCst), 6);
    let grown = rss_kib(server.pid()).saturating_sub(before);
    assert!(grown < 16 * 1024, "the server grew {grown} KiB under the flood");
}

/// shadowsocks-rust's `ssserver` and `sslocal`, from $SSRUST_BIN (tests/interop/fetch-ssrust.sh;
/// .ci/run sets it), or None when it is not there (outside CI, the test is skipped).
fn ssrust_bin() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("SSRUST_BIN").map(std::path::PathBuf::from).or_else(|| {
        let dir = std::path::PathBuf::from(std::env::var_os("HOME")?).join(".cache/ssrust/bin");
        dir.join("ssserver").exists().then_some(dir)
    });
    if dir.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "CI: shadowsocks-rust is missing (tests/interop/fetch-ssrust.sh)"
        );
        eprintln!("SKIP: shadowsocks-rust is not built (tests/interop/fetch-ssrust.sh)");
    }
    dir
}

/// Shadowsocks 2022 against shadowsocks-rust (SIP022's reference implementation), every 2022
/// method, TCP and UDP, both ways. Our ssu client needs `sip022=true` for its AES datagrams
/// (the default derives the subkey as Go gost does); our server takes both.
#[test]
fn shadowsocks_rust_2022_in_both_directions() {
    let Some(bin) = ssrust_bin() else { return };
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    let echo = udp_echo();
    for (method, key) in [
        ("2022-blake3-aes-128-gcm", KEY128),
        ("2022-blake3-aes-256-gcm", KEY256),
        ("2022-blake3-chacha20-poly1305", KEY256),
    ] {
        // Our client (TCP and UDP) to ssserver.
        let port = free_port();
        let server = Gost::spawn_command({
            let mut c = Command::new(bin.join("ssserver"));
            c.args(["-s", &format!("127.0.0.1:{port}"), "-m", method, "-k", key, "-U"]);
            c
        });
        wait_accepting(format!("127.0.0.1:{port}").parse().unwrap(), "ssserver");
        let node = format!("ss://{method}:{key}@127.0.0.1:{port}");
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let (ok, body) = get_via(client.addr(), origin);
        assert!(ok && body == BODY, "ours → ssserver {method}: {body:?}\n{}", server.log());
        echo_round_trip(client.addr(), 1 << 20);
        let node = format!("ssu://{method}:{key}@127.0.0.1:{port}?sip022=true");
        let edge = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true", "-F", &node], 1);
        socks5_udp_round_trips(edge.addr(), echo, &format!("ours → ssserver {method} UDP"));
        drop(server);
        // sslocal (a SOCKS5 proxy, TCP and UDP) to our ss + ssu server on one port.
        let ours = Gost::start(&["-L", &format!("ss://{method}:{key}@127.0.0.1:0")], 1);
        let port = ours.addr().port();
        let ours_udp = Gost::start(&["-L", &format!("ssu://{method}:{key}@127.0.0.1:{port}")], 1);
        let local_port = free_port();
        let local = Gost::spawn_command({
            let mut c = Command::new(bin.join("sslocal"));
            c.args([
                "-b",
                &format!("127.0.0.1:{local_port}"),
                "-s",
                &format!("127.0.0.1:{port}"),
                "-m",
                method,
                "-k",
                key,
                "-U",
            ]);
            c
        });
        let local_addr: SocketAddr = format!("127.0.0.1:{local_port}").parse().unwrap();
        wait_accepting(local_addr, "sslocal");
        let (ok, body) =
            curl(&["-x", &format!("socks5h://{local_addr}"), &format!("http://{origin}/")]);
        assert!(ok && body == BODY, "sslocal → ours {method}: {body:?}\n{}", local.log());
        socks5_udp_round_trips(local_addr, echo, &format!("sslocal → ours {method} UDP"));
        drop((ours, ours_udp));
    }
}
