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
