//! Proxy protocols through the real binary, with curl as the client where curl speaks them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, UdpSocket};
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

fn get(proxy_args: &[&str], origin: SocketAddr) -> (bool, String) {
    let url = format!("http://{origin}/");
    let mut args: Vec<&str> = proxy_args.to_vec();
    args.push(&url);
    curl(&args)
}

#[test]
fn curl_through_every_proxy_protocol_with_and_without_auth() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let g = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-L",
            "socks4://127.0.0.1:0",
            "-L",
            "socks5://127.0.0.1:0",
            "-L",
            "http://alice:s3cret@127.0.0.1:0",
            "-L",
            "socks5://alice:s3cret@127.0.0.1:0",
            "-L",
            "socks4://alice@127.0.0.1:0",
        ],
        6,
    );
    let a = |i: usize| g.addrs[i].to_string();
    let ok = |args: &[&str]| {
        let (ok, body) = get(args, origin);
        assert!(ok && body == BODY, "curl {args:?} failed: ok={ok} body={body:?}");
    };
    ok(&["-x", &format!("http://{}", a(0))]);
    ok(&["--socks4", &a(1)]);
    ok(&["--socks4a", &a(1)]);
    ok(&["--socks5", &a(2)]);
    ok(&["--socks5-hostname", &a(2)]);
    ok(&["-x", &format!("http://alice:s3cret@{}", a(3))]);
    ok(&["--socks5", &a(4), "--proxy-user", "alice:s3cret"]);
    ok(&["--socks5-hostname", &a(4), "--proxy-user", "alice:s3cret"]);
    ok(&["-x", &format!("socks4a://alice@{}", a(5))]);

    let refused = |args: &[&str]| {
        let (ok, body) = get(args, origin);
        assert!(!ok || body != BODY, "curl {args:?} should be refused, got {body:?}");
    };
    refused(&["-x", &format!("http://alice:wrong@{}", a(3))]);
    refused(&["-x", &format!("http://{}", a(3))]);
    refused(&["--socks5", &a(4), "--proxy-user", "alice:wrong"]);
    refused(&["--socks5", &a(4)]);
    refused(&["-x", &format!("socks4a://mallory@{}", a(5))]);

    // The 407 names the realm, as gost's does.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-i",
            "--max-time",
            "10",
            "-x",
            &format!("http://{}", a(3)),
            &format!("http://{origin}/"),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 407"), "{text}");
    assert!(text.contains("Proxy-Authenticate: Basic realm=\"gost\""), "{text}");
}

#[test]
fn auto_serves_http_socks4_and_socks5_on_one_port() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let g = Gost::start(&["-L", "127.0.0.1:0"], 1);
    let p = g.addr().to_string();
    for args in [
        vec!["-x".to_owned(), format!("http://{p}")],
        vec!["-p".to_owned(), "-x".to_owned(), format!("http://{p}")],
        vec!["--socks4".to_owned(), p.clone()],
        vec!["--socks4a".to_owned(), p.clone()],
        vec!["--socks5".to_owned(), p.clone()],
        vec!["--socks5-hostname".to_owned(), p.clone()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, body) = get(&args, origin);
        assert!(ok && body == BODY, "curl {args:?}: ok={ok} body={body:?}");
    }
    // With auth, auto asks every protocol for it.
    let g = Gost::start(&["-L", "auto://u:p@127.0.0.1:0"], 1);
    let p = g.addr().to_string();
    assert_eq!(get(&["-x", &format!("http://u:p@{p}")], origin).1, BODY);
    assert_eq!(get(&["--socks5", &p, "--proxy-user", "u:p"], origin).1, BODY);
    assert_ne!(get(&["--socks5", &p], origin).1, BODY);
}

#[test]
fn plain_http_keeps_the_client_connection_alive() {
    if !require_curl() {
        return;
    }
    let origin = http_server(BODY);
    let g = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    let url = format!("http://{origin}/");
    let (ok, out) =
        curl(&["-x", &format!("http://{}", g.addr()), "-w", "[%{num_connects}]", &url, &url]);
    assert!(ok);
    // Two bodies, and the second request opened no new connection.
    assert_eq!(out, format!("{BODY}[1]{BODY}[0]"));
}

#[test]
fn https_through_connect() {
    if !require_curl() || !have("openssl") || !have("python3") {
        eprintln!("SKIP https_through_connect: needs curl, openssl and python3");
        return;
    }
    let dir = std::env::temp_dir().join(format!("gost-e2e-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = format!(
        "import http.server, ssl\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(200); self.send_header('Content-Length', '6'); self.end_headers(); self.wfile.write(b'secure')\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n\
         c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('{}', '{}')\n\
         s.socket = c.wrap_socket(s.socket, server_side=True)\n\
         s.serve_forever()\n",
        cert.display(),
        key.display()
    );
    let mut py = std::process::Command::new("python3").args(["-c", &script]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let g = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    let (ok, body) =
        curl(&["-k", "-x", &format!("http://{}", g.addr()), &format!("https://localhost:{port}/")]);
    let _ = py.kill();
    let _ = py.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "curl https through CONNECT failed");
    assert_eq!(body, "secure");
}

fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    addr
}

/// UDP ASSOCIATE on `proxy`, then 20 datagrams to a UDP echo server and back.
fn associate_round_trip(proxy: SocketAddr) {
    let echo = udp_echo();
    let (rep, relay, control) = socks5_request(proxy, 3, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 0);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let SocketAddr::V4(echo4) = echo else { unreachable!() };
    for seq in 0..20u32 {
        let mut dgram = vec![0, 0, 0, 1];
        dgram.extend_from_slice(&echo4.ip().octets());
        dgram.extend_from_slice(&echo4.port().to_be_bytes());
        let payload = format!("query {seq}");
        dgram.extend_from_slice(payload.as_bytes());
        client.send_to(&dgram, relay).unwrap();
        let mut buf = [0u8; 2048];
        let (n, _) = client.recv_from(&mut buf).unwrap();
        // The reply names the echo server as its source.
        assert_eq!(&buf[..10], &dgram[..10]);
        assert_eq!(&buf[10..n], payload.as_bytes());
    }
    drop(control);
}

#[test]
fn socks5_udp_associate_relays_datagrams() {
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true"], 1);
    associate_round_trip(g.addr());
    // Without udp=true the command is refused with "not allowed".
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0"], 1);
    let (rep, _, _) = socks5_request(g.addr(), 3, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 2);
}

#[test]
fn udp_associate_through_socks5_and_relay_chains() {
    // socks5 node: gost's UDP-over-TCP (0xF3) carries the datagrams to the server.
    let server = Gost::start(&["-L", "socks5://u:p@127.0.0.1:0?udp=true"], 1);
    let client = Gost::start(
        &["-L", "socks5://127.0.0.1:0?udp=true", "-F", &format!("socks5://u:p@{}", server.addr())],
        1,
    );
    associate_round_trip(client.addr());
    // relay node: gost's UDP associate (BIND + UDP flag), which needs bind=true on the server.
    let server = Gost::start(&["-L", "relay://u:p@127.0.0.1:0?bind=true"], 1);
    let client = Gost::start(
        &["-L", "socks5://127.0.0.1:0?udp=true", "-F", &format!("relay://u:p@{}", server.addr())],
        1,
    );
    associate_round_trip(client.addr());
}

#[test]
fn relay_udp_connect_frames_datagrams_with_a_length() {
    let echo = udp_echo();
    let SocketAddr::V4(echo4) = echo else { unreachable!() };
    let g = Gost::start(&["-L", "relay://127.0.0.1:0"], 1);
    let mut s = connect(g.addr());
    // CONNECT|UDP, features: Network(udp), Addr(echo).
    let mut features = vec![4, 0, 2, 0, 1, 2, 0, 7, 1];
    features.extend_from_slice(&echo4.ip().octets());
    features.extend_from_slice(&echo4.port().to_be_bytes());
    let mut req = vec![1, 0x81];
    req.extend_from_slice(&(features.len() as u16).to_be_bytes());
    req.extend_from_slice(&features);
    s.write_all(&req).unwrap();
    let mut resp = [0u8; 4];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(resp, [1, 0, 0, 0]);
    for seq in 0..20u32 {
        let payload = format!("datagram {seq}");
        let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(payload.as_bytes());
        s.write_all(&frame).unwrap();
        let mut back = vec![0u8; frame.len()];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, frame);
    }
}

/// A 16 MiB transfer both ways through `client gost -L http -F <node>` to `server gost -L <node>`.
fn chain_bulk(server_url: &str, node_url: impl Fn(SocketAddr) -> String) {
    let server = Gost::start(&["-L", server_url], 1);
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node_url(server.addr())], 1);
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = origin.local_addr().unwrap().to_string();
    let size = 16 << 20;
    let (up, down) = (pattern(size, 3), pattern(size, 4));
    let down_sum = checksum(&down);
    let origin_thread = thread::spawn(move || {
        let (mut s, _) = origin.accept().unwrap();
        let mut w = s.try_clone().unwrap();
        let sender = thread::spawn(move || {
            w.write_all(&down).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let got = read_all(&mut s);
        sender.join().unwrap();
        got
    });
    let mut tunnel = http_connect(client.addr(), &target, None);
    let mut w = tunnel.try_clone().unwrap();
    let up_sum = checksum(&up);
    let sender = thread::spawn(move || {
        w.write_all(&up).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got_down = read_all(&mut tunnel);
    sender.join().unwrap();
    let got_up = origin_thread.join().unwrap();
    assert_eq!((got_up.len(), checksum(&got_up)), (size, up_sum), "{server_url}: upload");
    assert_eq!((got_down.len(), checksum(&got_down)), (size, down_sum), "{server_url}: download");
}

#[test]
fn socks5_connector_16_mib() {
    chain_bulk("socks5://u:p@127.0.0.1:0", |a| format!("socks5://u:p@{a}"));
}

#[test]
fn http_connector_16_mib() {
    chain_bulk("http://u:p@127.0.0.1:0", |a| format!("http://u:p@{a}"));
}

#[test]
fn socks4_connector_16_mib() {
    chain_bulk("socks4://127.0.0.1:0", |a| format!("socks4://{a}"));
}

#[test]
fn relay_connector_16_mib() {
    chain_bulk("relay://u:p@127.0.0.1:0", |a| format!("relay://u:p@{a}"));
    chain_bulk("relay://127.0.0.1:0", |a| format!("relay://{a}?nodelay=true"));
}

#[test]
fn relay_server_speaks_first_target_works() {
    // The target talks first (like SSH): the lazy response must not hold the banner back.
    let banner = tcp_server(|mut s| {
        s.write_all(b"SSH-2.0-test\r\n").unwrap();
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
    });
    let server = Gost::start(&["-L", "relay://127.0.0.1:0"], 1);
    let client = Gost::start(
        &[
            "-L",
            &format!("tcp://127.0.0.1:0/{banner}"),
            "-F",
            &format!("relay://{}", server.addr()),
        ],
        1,
    );
    let mut c = connect(client.addr());
    let mut line = [0u8; 14];
    c.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"SSH-2.0-test\r\n");
}

/// Sends `bytes`, half-closes, and returns everything the server answers before closing.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.write_all(bytes);
    let _ = s.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn bad_input_gets_the_right_answer_and_the_service_survives() {
    let origin = http_server(BODY);
    let g = Gost::start(
        &[
            "-L",
            "socks5://u:p@127.0.0.1:0",
            "-L",
            "socks4://127.0.0.1:0",
            "-L",
            "http://127.0.0.1:0",
            "-L",
            "relay://127.0.0.1:0",
            "-L",
            "127.0.0.1:0",
        ],
        5,
    );
    let (s5, s4, http, relay, auto) = (g.addrs[0], g.addrs[1], g.addrs[2], g.addrs[3], g.addrs[4]);
    // SOCKS5: no acceptable method -> 05 FF; bad version / zero methods / truncated -> close.
    assert_eq!(exchange(s5, &[5, 1, 0]), [5, 0xFF]);
    assert_eq!(exchange(s5, &[4, 1, 0]), b"");
    assert_eq!(exchange(s5, &[5, 0]), b"");
    assert_eq!(exchange(s5, &[5]), b"");
    // Unsupported command after a good handshake -> reply 07.
    let noauth = Gost::start(&["-L", "socks5://127.0.0.1:0"], 1);
    let (rep, _, _) = socks5_request(noauth.addr(), 0x09, "127.0.0.1:1".parse().unwrap(), None);
    assert_eq!(rep, 7);
    // Oversize: a domain length byte promising more than is ever sent, then EOF -> close.
    assert_eq!(exchange(noauth.addr(), &[5, 1, 0, 5, 1, 0, 3, 255, b'a']), [5, 0]);
    // SOCKS4: BIND is closed without a reply; a garbage request is closed.
    assert_eq!(exchange(s4, &[4, 2, 0, 80, 127, 0, 0, 1, 0]), b"");
    assert_eq!(exchange(s4, &[4, 1, 0]), b"");
    // HTTP: garbage -> 400.
    let resp = exchange(http, b"\x00\x01\x02 garbage\r\n\r\n");
    assert!(resp.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&resp));
    let resp = exchange(http, b"GET ftp://x/ HTTP/1.1\r\n\r\n");
    assert!(resp.starts_with(b"HTTP/1.1 400"), "{}", String::from_utf8_lossy(&resp));
    // Relay: a bad version is closed without a response, a CONNECT without address gets 1.
    assert_eq!(exchange(relay, &[2, 1, 0, 0]), b"");
    assert_eq!(exchange(relay, &[1, 1, 0, 0]), [1, 1, 0, 0]);
    // Random bytes on every port.
    for addr in [s5, s4, http, relay, auto] {
        for seed in 0..5u64 {
            let _ = exchange(addr, &pattern(1000, seed + 100));
        }
    }
    // Everything still serves.
    if have("curl") {
        assert_eq!(get(&["--socks5", &s5.to_string(), "--proxy-user", "u:p"], origin).1, BODY);
        assert_eq!(get(&["--socks4", &s4.to_string()], origin).1, BODY);
        assert_eq!(get(&["-x", &format!("http://{http}")], origin).1, BODY);
        assert_eq!(get(&["-x", &format!("http://{auto}")], origin).1, BODY);
    }
    assert!(!g.log().contains("panicked"), "{}", g.log());
}

#[test]
fn silent_clients_are_dropped_after_read_timeout_with_bounded_memory() {
    let g = Gost::start(&["-L", "127.0.0.1:0?readTimeout=2s"], 1);
    // Each idle client costs two descriptors here (ours and gost's is in another process).
    let clients = 1000.min(open_file_limit().saturating_sub(200));
    let before = rss_kib(g.pid());
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = connect(g.addr());
        // Half of them send half a handshake.
        if i % 2 == 0 {
            c.write_all(&[5, 2, 0]).unwrap();
        }
        conns.push(c);
    }
    thread::sleep(Duration::from_millis(500));
    let during = rss_kib(g.pid());
    let growth = during.saturating_sub(before);
    eprintln!(
        "{clients} idle clients: RSS {before} KiB -> {during} KiB (+{} B each)",
        growth * 1024 / clients as u64
    );
    // A waiting handshake must stay small (a few KiB), not hold relay-sized buffers.
    assert!(growth < 16 * clients as u64, "RSS grew by {growth} KiB for {clients} idle clients");
    // All are dropped after the 2 s timeout.
    let start = Instant::now();
    for c in &mut conns {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        // The half-handshake half gets the method reply first, then EOF.
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
    assert!(start.elapsed() < Duration::from_secs(8), "took {:?}", start.elapsed());
    // And the service still works.
    let (rep, _, _) = socks5_request(g.addr(), 1, "127.0.0.1:1".parse().unwrap(), None);
    assert_eq!(rep, 3); // nothing listens on port 1: "network unreachable", as gost answers
}

#[test]
fn socks5_udp_over_tcp_carries_datagrams_in_the_stream() {
    let echo = udp_echo();
    let SocketAddr::V4(echo4) = echo else { unreachable!() };
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true"], 1);
    let (rep, _, mut s) = socks5_request(g.addr(), 0xF3, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 0);
    for seq in 0..50u32 {
        let payload = format!("datagram {seq}");
        let mut frame = (payload.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&[0xFF, 1]);
        frame.extend_from_slice(&echo4.ip().octets());
        frame.extend_from_slice(&echo4.port().to_be_bytes());
        frame.extend_from_slice(payload.as_bytes());
        s.write_all(&frame).unwrap();
        // The answer: the same header shape naming the echo server as source, then the payload.
        let mut back = vec![0u8; frame.len()];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back[..2], &frame[..2]);
        assert_eq!(&back[3..], &frame[3..]);
    }
}

#[test]
fn socks5_bind_accepts_one_peer_and_relays() {
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0?bind=true"], 1);
    let (rep, bound, mut control) = socks5_request(g.addr(), 2, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 0);
    assert_eq!(
        bound.ip().to_string(),
        "127.0.0.1",
        "first reply names the control connection's IP"
    );
    // The peer connects to the announced port; the second reply names it.
    let mut peer = connect(bound);
    let mut second = [0u8; 10];
    control.read_exact(&mut second).unwrap();
    assert_eq!(&second[..2], &[5, 0]);
    let peer_port = u16::from_be_bytes([second[8], second[9]]);
    assert_eq!(peer_port, peer.local_addr().unwrap().port());
    peer.write_all(b"from peer").unwrap();
    let mut got = [0u8; 9];
    control.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from peer");
    control.write_all(b"to peer").unwrap();
    let mut back = [0u8; 7];
    peer.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"to peer");
    // BIND is refused without bind=true.
    let g = Gost::start(&["-L", "socks5://127.0.0.1:0"], 1);
    let (rep, _, _) = socks5_request(g.addr(), 2, "0.0.0.0:0".parse().unwrap(), None);
    assert_eq!(rep, 2);
}
