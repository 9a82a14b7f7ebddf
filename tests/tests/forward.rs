//! TCP port forwarding through the real binary: `gost -L tcp://:PORT/target`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::process::Command;
use std::sync::mpsc::channel;
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

fn forwarder(target: SocketAddr) -> Gost {
    Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{target}")], 1)
}

/// Sends `up` bytes and receives `down` bytes at the same time through `via`, against an origin
/// that does the mirror image; checks both directions byte-exact.
fn bulk_both_ways(via: SocketAddr, origin_listener: TcpListener, size: usize) {
    let up = pattern(size, 1);
    let down = pattern(size, 2);
    let (up_sum, down_copy) = (checksum(&up), down.clone());
    let origin = thread::spawn(move || {
        let (mut s, _) = origin_listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut w = s.try_clone().unwrap();
        let sender = thread::spawn(move || {
            w.write_all(&down_copy).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let got = read_all(&mut s);
        sender.join().unwrap();
        got
    });
    let mut c = connect(via);
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = c.try_clone().unwrap();
    let sender = thread::spawn(move || {
        w.write_all(&up).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got_down = read_all(&mut c);
    sender.join().unwrap();
    let got_up = origin.join().unwrap();
    assert_eq!(got_up.len(), size, "upload length");
    assert_eq!(checksum(&got_up), up_sum, "upload checksum");
    assert_eq!(got_down.len(), size, "download length");
    assert_eq!(checksum(&got_down), checksum(&down), "download checksum");
}

#[test]
fn forwards_64_mib_each_way_with_checksums() {
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let g = forwarder(origin.local_addr().unwrap());
    bulk_both_ways(g.addr(), origin, 64 << 20);
}

#[test]
fn forwards_through_a_chain_of_our_own_binaries() {
    // client gost --(forward node)--> server gost --> origin
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = forwarder(origin.local_addr().unwrap());
    let client = Gost::start(
        &["-L", "tcp://127.0.0.1:0/192.0.2.1:9", "-F", &format!("forward+tcp://{}", server.addr())],
        1,
    );
    bulk_both_ways(client.addr(), origin, 16 << 20);
}

#[test]
fn client_half_close_still_gets_the_response() {
    let origin = tcp_server(|mut s| {
        let req = read_all(&mut s); // until the client's EOF arrives through gost
        thread::sleep(Duration::from_millis(200));
        s.write_all(format!("got {} bytes", req.len()).as_bytes()).unwrap();
    });
    let g = forwarder(origin);
    let mut c = connect(g.addr());
    c.write_all(&[7u8; 1000]).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut c), b"got 1000 bytes");
}

#[test]
fn server_half_close_still_takes_the_upload() {
    let (tx, rx) = channel();
    let origin = tcp_server(move |mut s| {
        s.write_all(b"banner").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        tx.send(read_all(&mut s)).unwrap();
    });
    let g = forwarder(origin);
    let mut c = connect(g.addr());
    let mut banner = Vec::new();
    c.read_to_end(&mut banner).unwrap(); // EOF from the origin reaches us...
    assert_eq!(banner, b"banner");
    thread::sleep(Duration::from_millis(200));
    c.write_all(b"upload after eof").unwrap(); // ...and we can still send.
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), b"upload after eof");
}

#[test]
fn two_hundred_concurrent_connections() {
    let g = forwarder(echo_server());
    let addr = g.addr();
    let workers: Vec<_> = (0..200u64)
        .map(|i| {
            thread::spawn(move || {
                let data = pattern(16 * 1024, i + 10);
                let mut c = connect(addr);
                let mut w = c.try_clone().unwrap();
                let sent = data.clone();
                let sender = thread::spawn(move || {
                    w.write_all(&sent).unwrap();
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let back = read_all(&mut c);
                sender.join().unwrap();
                back == data
            })
        })
        .collect();
    let ok = workers.into_iter().map(|w| w.join().unwrap()).filter(|ok| *ok).count();
    assert_eq!(ok, 200);
}

#[test]
fn refused_upstream_closes_the_client_promptly_and_recovers() {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = dead.local_addr().unwrap();
    drop(dead);
    let g = forwarder(target);
    let mut c = connect(g.addr());
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "no data from a dead upstream");
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
    // The upstream comes back: the next client reaches it at once (a lone target is never
    // held back by the fail filter).
    let back = TcpListener::bind(target).unwrap();
    thread::spawn(move || {
        let (mut s, _) = back.accept().unwrap();
        s.write_all(b"back").unwrap();
    });
    let mut c2 = connect(g.addr());
    assert_eq!(read_all(&mut c2), b"back");
}

#[test]
fn curl_through_the_forwarder() {
    if !have("curl") {
        eprintln!("SKIP curl_through_the_forwarder: curl is not installed");
        return;
    }
    let origin = http_server("hello through gost\n");
    let g = forwarder(origin);
    let url = format!("http://{}/", g.addr());
    let out = Command::new("curl").args(["-s", "--max-time", "10", &url, &url]).output().unwrap();
    assert!(out.status.success(), "curl failed: {}", String::from_utf8_lossy(&out.stderr));
    // Two requests on one kept-alive connection.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello through gost\nhello through gost\n");
}

#[test]
fn several_targets_are_balanced_round_robin() {
    let a = tcp_server(|mut s| s.write_all(b"a").unwrap());
    let b = tcp_server(|mut s| s.write_all(b"b").unwrap());
    let g = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{a},{b}")], 1);
    let mut seen = String::new();
    for _ in 0..4 {
        let mut c = connect(g.addr());
        seen.push_str(&String::from_utf8(read_all(&mut c)).unwrap());
    }
    assert_eq!(seen, "abab");
}

#[test]
fn sigterm_stops_gost_cleanly() {
    let mut g = forwarder(echo_server());
    g.signal("TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(5)), Some(0), "log:\n{}", g.log());
}

#[test]
fn sigint_lets_live_connections_finish() {
    let origin = tcp_server(|mut s| {
        let req = read_all(&mut s);
        thread::sleep(Duration::from_millis(500));
        s.write_all(format!("late answer to {}", String::from_utf8_lossy(&req)).as_bytes())
            .unwrap();
    });
    let mut g = Gost::start(&["-D", "-L", &format!("tcp://127.0.0.1:0/{origin}")], 1);
    let mut c = connect(g.addr());
    c.write_all(b"q").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    g.wait_log("forward: connected", Duration::from_secs(10));
    g.signal("INT");
    assert_eq!(read_all(&mut c), b"late answer to q");
    assert_eq!(g.wait_exit(Duration::from_secs(5)), Some(0), "log:\n{}", g.log());
}

#[test]
fn several_services_in_one_process() {
    let a = tcp_server(|mut s| s.write_all(b"a").unwrap());
    let b = tcp_server(|mut s| s.write_all(b"b").unwrap());
    let g = Gost::start(
        &["-L", &format!("tcp://127.0.0.1:0/{a}"), "-L", &format!("tcp://127.0.0.1:0/{b}")],
        2,
    );
    assert_eq!(read_all(&mut connect(g.addrs[0])), b"a");
    assert_eq!(read_all(&mut connect(g.addrs[1])), b"b");
}

/// gost 3.3's `idleTimeout`: a relayed connection that moves nothing either way for that long
/// is closed; one that keeps talking (either way) is not. Forwarder and HTTP CONNECT.
#[test]
fn idle_timeout_closes_quiet_connections_only() {
    let echo = echo_server();
    let fwd = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}?idleTimeout=1s")], 1);
    let proxy = Gost::start(&["-L", "http://127.0.0.1:0?idleTimeout=1s"], 1);
    let open = |which: &str| match which {
        "forward" => connect(fwd.addr()),
        _ => http_connect(proxy.addr(), &echo.to_string(), None),
    };
    for which in ["forward", "http"] {
        // Busy: a byte every 400 ms for 3 s, echoed back.
        let mut busy = open(which);
        busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 1];
        for _ in 0..8 {
            thread::sleep(Duration::from_millis(400));
            busy.write_all(b"x").unwrap();
            busy.read_exact(&mut b).unwrap();
        }
        // Quiet: closed between one and two periods after its last byte.
        let mut quiet = open(which);
        quiet.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        quiet.write_all(b"y").unwrap();
        quiet.read_exact(&mut b).unwrap();
        let started = Instant::now();
        let n = quiet.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0, "{which}: the quiet connection is closed");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_millis(3500),
            "{which}: closed after {waited:?}"
        );
    }
}
