//! Defects a review found in the data path, each tried through the real binary as a client (or
//! a hostile one) would: uploads through the HTTP proxy, WebSocket Ping floods, SOCKS5 BIND
//! floods, forged UDP answers, and TCP keepalive on relayed sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

/// An origin that follows RFC 9110 for uploads: `100 Continue` when asked, then reads the body
/// (Content-Length) and answers `200` with the body's length and checksum.
fn upload_origin() -> SocketAddr {
    tcp_server(|s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let (mut length, mut expect) = (0usize, false);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            expect |= lower.starts_with("expect:") && lower.contains("100-continue");
            if h == "\r\n" {
                break;
            }
        }
        if expect {
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).unwrap();
        let answer = format!("{} {}\n", body.len(), checksum(&body));
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}", answer.len());
        w.write_all(resp.as_bytes()).unwrap();
    })
}

#[test]
fn curl_uploads_through_the_http_proxy_get_100_continue_and_the_answer() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = upload_origin();
    let g = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    // curl sends `Expect: 100-continue` for bodies over 1 MiB and waits for the 100.
    let body = pattern(3 << 20, 7);
    let dir = std::env::temp_dir().join(format!("gost-upload-{}", std::process::id()));
    std::fs::write(&dir, &body).unwrap();
    let out = Command::new("curl")
        .args(["-sS", "-v", "--max-time", "20", "-x", &format!("http://{}", g.addr()), "-T"])
        .arg(&dir)
        .arg(format!("http://{origin}/upload"))
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}\nlog:\n{}", g.log());
    assert_eq!(stdout, format!("{} {}\n", body.len(), checksum(&body)));
    assert!(stderr.contains("Expect: 100-continue"), "{stderr}");
    assert!(stderr.contains("< HTTP/1.1 100 Continue"), "the 100 is relayed: {stderr}");
}

/// Upgrades `s` to WebSocket on `/ws` by hand.
fn ws_upgrade(s: &mut TcpStream) {
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .unwrap();
    let head = read_head(s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[test]
fn a_websocket_ping_flood_from_a_client_that_never_reads_keeps_memory_flat() {
    let g = Gost::start(&["-L", "ws://127.0.0.1:0"], 1);
    let mut s = connect(g.addr());
    ws_upgrade(&mut s);
    // Masked Pings with the largest control payload (125 bytes), 64 MiB of them, never reading
    // the Pongs.
    let mut ping = vec![0x89, 0x80 | 125, 1, 2, 3, 4];
    ping.extend((0..125u8).map(|i| i ^ [1, 2, 3, 4][usize::from(i) % 4]));
    let burst: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 8192).collect();
    let before = rss_kib(g.pid());
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0usize;
    while sent < 64 << 20 && Instant::now() < deadline {
        if s.write_all(&burst).is_err() {
            break;
        }
        sent += burst.len();
    }
    let grown = rss_kib(g.pid()).saturating_sub(before);
    assert!(sent >= 32 << 20, "gost stopped reading Pings after {sent} bytes");
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB for {} MiB of Pings", sent >> 20);
    // And a fresh client is still served.
    let mut other = connect(g.addr());
    ws_upgrade(&mut other);
}

#[test]
fn socks5_bind_keeps_a_little_early_data_and_ends_a_flood() {
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0?bind=true"], 1);
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    // A little data before the peer comes is kept and delivered.
    let (rep, bound, mut client) = socks5_request(g.addr(), 2, any, None);
    assert_eq!(rep, 0);
    let early = pattern(20_000, 4);
    client.write_all(&early).unwrap();
    thread::sleep(Duration::from_millis(200));
    let mut peer = connect(SocketAddr::from(([127, 0, 0, 1], bound.port())));
    let mut second = [0u8; 10];
    client.read_exact(&mut second).unwrap();
    assert_eq!(second[1], 0, "second BIND reply");
    client.shutdown(Shutdown::Write).unwrap();
    assert!(read_all(&mut peer) == early, "early data arrives intact");

    // A flood before the peer comes ends the bind: memory stays flat, and the port is freed.
    let (rep, bound, client) = socks5_request(g.addr(), 2, any, None);
    assert_eq!(rep, 0);
    let bound = SocketAddr::from(([127, 0, 0, 1], bound.port()));
    let data = pattern(64 << 20, 3);
    let before = rss_kib(g.pid());
    let mut w = client.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0;
    while sent < data.len() {
        match w.write(&data[sent..(sent + 65536).min(data.len())]) {
            Ok(n) => sent += n,
            Err(_) => break, // closed (or pushed back)
        }
    }
    let grown = rss_kib(g.pid()).saturating_sub(before);
    assert!(sent < 32 << 20, "gost kept reading: {sent} bytes taken");
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB while BIND waited");
    let deadline = Instant::now() + Duration::from_secs(5);
    while accepts(bound) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!accepts(bound), "the bound port is released");
}

/// Forwards one datagram from a client to a target through `via`, forges an answer to the
/// outbound port from a third socket first, then lets the target answer: the client must get
/// only the target's answer.
fn forged_answer_is_dropped(via: SocketAddr, target: &UdpSocket) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    client.send_to(b"query", via).unwrap();
    let mut buf = [0u8; 64];
    let (n, outbound) = target.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"query");
    let spoofer = UdpSocket::bind("127.0.0.1:0").unwrap();
    spoofer.send_to(b"forged", outbound).unwrap();
    thread::sleep(Duration::from_millis(200));
    target.send_to(b"answer", outbound).unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"answer", "the first datagram back must be the target's");
}

#[test]
fn udp_forwarding_takes_answers_only_from_the_target() {
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let t = target.local_addr().unwrap();
    // Direct, and through a relay node (whose UDP connect dials the target).
    let direct = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{t}")], 1);
    forged_answer_is_dropped(direct.addr(), &target);
    let relay = Gost::start(&["-L", "relay://127.0.0.1:0"], 1);
    let chained = Gost::start(
        &["-L", &format!("udp://127.0.0.1:0/{t}"), "-F", &format!("relay://{}", relay.addr())],
        1,
    );
    forged_answer_is_dropped(chained.addr(), &target);
}

/// The `timer_active` field of the established sockets in /proc/net/tcp whose local (or remote)
/// port is `port`: 2 is the keepalive timer on an idle socket, 0 none.
fn timers(port: u16, local: bool) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let addr = if local { cols[1] } else { cols[2] };
        let p = addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
        if p == Some(port) && cols[3] == "01" {
            out.push(cols[5].split(':').next().unwrap_or("").to_owned());
        }
    }
    out
}

#[test]
fn relayed_sockets_have_tcp_keepalive_on_both_sides() {
    let echo = echo_server();
    let g = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}")], 1);
    let mut c = connect(g.addr());
    c.write_all(b"ping").unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).unwrap();
    // Let delayed ACKs settle, then the only timer left on an idle socket is keepalive's.
    thread::sleep(Duration::from_millis(500));
    let accepted = timers(g.addr().port(), true);
    let dialed = timers(echo.port(), false);
    assert_eq!(accepted, ["02"], "the accepted socket (timer_active 2 = keepalive)");
    assert_eq!(dialed, ["02"], "the socket dialed to the target");
    // The client's own socket has no keepalive: the check can tell the difference.
    assert_eq!(timers(g.addr().port(), false), ["00"]);
}
