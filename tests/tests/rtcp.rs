//! Remote TCP port forwarding (`rtcp`) through socks5 and relay servers of our own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

const BODY: &str = "served behind the tunnel\n";

/// curl `http://127.0.0.1:port/` until it answers `BODY` or `limit` passes.
fn eventually_serves(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let (ok, body) = curl(&["--max-time", "2", &format!("http://127.0.0.1:{port}/")]);
        if ok && body == BODY {
            return true;
        }
        thread::sleep(Duration::from_millis(200));
    }
    false
}

fn rtcp_through(server_scheme: &str, node_scheme: &str) {
    let origin = http_server(BODY);
    let server_port = free_port();
    let server_args =
        ["-L".to_owned(), format!("{server_scheme}://127.0.0.1:{server_port}?bind=true")];
    let server_args: Vec<&str> = server_args.iter().map(String::as_str).collect();
    let server = Gost::start(&server_args, 1);
    let exposed = free_port();
    let client = Gost::spawn(&[
        "-L",
        &format!("rtcp://127.0.0.1:{exposed}/{origin}"),
        "-F",
        &format!("{node_scheme}://127.0.0.1:{server_port}"),
    ]);
    assert!(eventually_serves(exposed, Duration::from_secs(10)), "client log:\n{}", client.log());
    // The server dies: the exposed port goes away with it.
    drop(server);
    let (_, body) = curl(&["--max-time", "2", &format!("http://127.0.0.1:{exposed}/")]);
    assert_ne!(body, BODY);
    // The server comes back: the client binds again by itself.
    let _server = Gost::start(&server_args, 1);
    assert!(eventually_serves(exposed, Duration::from_secs(15)), "client log:\n{}", client.log());
}

#[test]
fn rtcp_through_socks5_rebinds_after_a_server_restart() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    rtcp_through("socks5", "socks5");
}

#[test]
fn rtcp_through_relay_rebinds_after_a_server_restart() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    rtcp_through("relay", "relay");
}

#[test]
fn rtcp_needs_bind_on_the_server() {
    let server = Gost::start(&["-L", "socks5://127.0.0.1:0"], 1);
    let exposed = free_port();
    let client = Gost::spawn(&[
        "-L",
        &format!("rtcp://127.0.0.1:{exposed}/127.0.0.1:9"),
        "-F",
        &format!("socks5://{}", server.addr()),
    ]);
    thread::sleep(Duration::from_millis(1500));
    assert!(!accepts(("127.0.0.1", exposed)));
    assert!(client.log().contains("remote bind: bind failed"), "{}", client.log());
}

/// Many short connections at once through a remote bind (relay and socks5): every one is
/// answered. (The service drops a listener's accept future whenever a connection ends first;
/// the bind listener used to lose the stream it was reading a header from, closing that
/// visitor unanswered: about one connection in six under this load.)
#[test]
fn concurrent_connections_through_a_remote_bind_are_all_served() {
    use std::io::{Read, Write};
    for (server_scheme, node_scheme) in [("relay", "relay"), ("socks5", "socks5")] {
        let origin = http_server(BODY);
        let server = Gost::start(&["-L", &format!("{server_scheme}://127.0.0.1:0?bind=true")], 1);
        let exposed = free_port();
        let client = Gost::spawn(&[
            "-L",
            &format!("rtcp://127.0.0.1:{exposed}/{origin}"),
            "-F",
            &format!("{node_scheme}://{}", server.addr()),
        ]);
        assert!(eventually_serves(exposed, Duration::from_secs(10)), "{}", client.log());
        let workers: Vec<_> = (0..32)
            .map(|_| {
                thread::spawn(move || {
                    let mut failed = 0;
                    for _ in 0..25 {
                        let mut s = connect(std::net::SocketAddr::from(([127, 0, 0, 1], exposed)));
                        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            .unwrap();
                        // (The test origin keeps the connection open: read until the body.)
                        let mut got = Vec::new();
                        let mut b = [0u8; 512];
                        while !String::from_utf8_lossy(&got).ends_with(BODY) {
                            match s.read(&mut b) {
                                Ok(n) if n > 0 => got.extend_from_slice(&b[..n]),
                                _ => break,
                            }
                        }
                        if !String::from_utf8_lossy(&got).ends_with(BODY) {
                            failed += 1;
                        }
                    }
                    failed
                })
            })
            .collect();
        let failed: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(failed, 0, "{server_scheme}: {failed} of 800 connections unanswered");
    }
}
