//! Reverse-proxy tunnels through the real binary: a tunnel server with an entrypoint, tunnel
//! clients that only connect out (`-L rtcp://:0/origin -F tunnel://server?tunnel.id=...`),
//! visitors by Host (entrypoint) and by tunnel id, refusals, load sharing, and re-registration
//! after the server restarts. (Go gost as a peer: tests/tests/interop_go.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

const ID: &str = "4d21094e-b74c-4916-86c1-d9fa36ea677b";

fn get(entry: SocketAddr, host: &str) -> (bool, String) {
    curl(&["--max-time", "5", "-H", &format!("Host: {host}"), &format!("http://{entry}/")])
}

fn status(entry: SocketAddr, host: &str) -> String {
    let (_, code) = curl(&[
        "--max-time",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("Host: {host}"),
        &format!("http://{entry}/"),
    ]);
    code
}

/// Retries `get` until it answers `want` or `limit` passes (a client registers some time after
/// it starts); the last answer.
fn eventually(entry: SocketAddr, host: &str, want: &str, limit: Duration) -> (bool, String) {
    let deadline = Instant::now() + limit;
    loop {
        let (ok, body) = get(entry, host);
        if (ok && body == want) || Instant::now() > deadline {
            return (ok, body);
        }
        thread::sleep(Duration::from_millis(200));
    }
}

/// A tunnel server on `port` (0: any) with an entrypoint on `entry`, `example.test` mapped to
/// the tunnel ID; the server and the entrypoint address.
fn server(port: u16, entry: SocketAddr, extra: &str) -> Gost {
    let url = format!(
        "tunnel://127.0.0.1:{port}?entrypoint={entry}&tunnel=example.test:{ID},.wild.test:{ID}{extra}"
    );
    Gost::start(&["-L", &url], 1)
}

fn client(server: SocketAddr, origin: SocketAddr, extra: &str) -> Gost {
    Gost::spawn(&[
        "-L",
        &format!("rtcp://:0/{origin}"),
        "-F",
        &format!("tunnel://{server}?tunnel.id={ID}{extra}"),
    ])
}

#[test]
fn visitors_reach_a_tunnel_client_by_host_and_by_id() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("behind the NAT\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = server(0, entry, "");
    let _c = client(srv.addr(), origin, "");
    let (ok, body) = eventually(entry, "example.test", "behind the NAT\n", Duration::from_secs(10));
    assert!(ok && body == "behind the NAT\n", "by Host: {body:?}\n{}", srv.log());
    let (ok, body) = get(entry, "a.b.wild.test:80");
    assert!(ok && body == "behind the NAT\n", "by a wildcard rule: {body:?}");
    assert_eq!(status(entry, "unmapped.test"), "502", "an unmapped host");
    // A host no address can carry (a label over 63 bytes, a name over 255) is refused at the
    // entrypoint, and the tunnel client's registration is not disturbed by it.
    let long = format!("{}.wild.test", "a".repeat(300));
    assert_eq!(status(entry, &long), "502", "a host too long to be a name");
    let (ok, body) = get(entry, "example.test");
    assert!(ok && body == "behind the NAT\n", "right after: {body:?}");
    assert!(!_c.log().contains("binding again"), "the client lost its registration:\n{}", _c.log());
    // A visitor by tunnel id: the target's host must map to the tunnel.
    let visitor = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/example.test:80",
            "-F",
            &format!("tunnel://{}?tunnel.id={ID}", srv.addr()),
        ],
        1,
    );
    let (ok, body) = curl(&["--max-time", "5", &format!("http://{}/", visitor.addr())]);
    assert!(ok && body == "behind the NAT\n", "by id: {body:?}");
    let stranger = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/elsewhere.test:80",
            "-F",
            &format!("tunnel://{}?tunnel.id={ID}", srv.addr()),
        ],
        1,
    );
    let (ok, _) = curl(&["--max-time", "5", &format!("http://{}/", stranger.addr())]);
    assert!(!ok, "a host the ingress does not give to the tunnel is refused");
    // A relay CONNECT on the entrypoint names the tunnel id and needs no rule.
    let via_entry = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/elsewhere.test:80",
            "-F",
            &format!("tunnel://{entry}?tunnel.id={ID}"),
        ],
        1,
    );
    let (ok, body) = curl(&["--max-time", "5", &format!("http://{}/", via_entry.addr())]);
    assert!(ok && body == "behind the NAT\n", "by id on the entrypoint: {body:?}");
    // With tunnel.direct, an id alone is enough on the tunnel port too.
    let entry2 = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let direct = server(0, entry2, "&tunnel.direct=true");
    let _c2 = client(direct.addr(), origin, "");
    eventually(entry2, "example.test", "behind the NAT\n", Duration::from_secs(10));
    let visitor = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/elsewhere.test:80",
            "-F",
            &format!("tunnel://{}?tunnel.id={ID}", direct.addr()),
        ],
        1,
    );
    let (ok, body) = curl(&["--max-time", "5", &format!("http://{}/", visitor.addr())]);
    assert!(ok && body == "behind the NAT\n", "tunnel.direct: {body:?}");
}

#[test]
fn two_clients_share_a_tunnel_and_a_restarted_server_gets_them_back() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let a = http_server("a\n");
    let b = http_server("b\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let port = free_port();
    let srv = server(port, entry, "");
    let _ca = client(srv.addr(), a, "");
    let _cb = client(srv.addr(), b, "");
    eventually(entry, "example.test", "a\n", Duration::from_secs(10));
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let (ok, body) = get(entry, "example.test");
        assert!(ok, "{body:?}");
        seen.insert(body);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "both clients serve the tunnel: {seen:?}");
    // The server goes away and comes back on the same port: the clients register again.
    drop(srv);
    assert_eq!(status(entry, "example.test"), "000", "no entrypoint while the server is down");
    let srv = server(port, entry, "");
    let (ok, body) = eventually(entry, "example.test", "a\n", Duration::from_secs(15));
    let (ok2, body2) = eventually(entry, "example.test", "b\n", Duration::from_secs(15));
    assert!(ok && ok2, "after the restart: {body:?} {body2:?}\n{}", srv.log());
}

#[test]
fn garbage_and_bad_registrations_are_refused_and_the_server_keeps_serving() {
    use std::io::{Read, Write};
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("ok\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = server(0, entry, "");
    // Not a relay request; a relay BIND without a tunnel id (status 1).
    for junk in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[1, 2, 0, 0][..]] {
        let mut s = connect(srv.addr());
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(junk).unwrap();
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
        assert!(back.is_empty() || back == [1, 1, 0, 0], "{junk:?} got {back:?}");
    }
    // Garbage on the entrypoint: a bad HTTP head, a TLS record that is not a ClientHello.
    for junk in [&b"\x00\x00\x00\r\n\r\n"[..], &[0x16, 3, 1, 0, 4, 2, 0, 0, 0][..]] {
        let mut s = connect(entry);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(junk).unwrap();
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
    }
    // A registered tunnel is still served.
    let _c = client(srv.addr(), origin, "");
    let (ok, body) = eventually(entry, "example.test", "ok\n", Duration::from_secs(10));
    assert!(ok && body == "ok\n", "{body:?}");
}

/// An ingress named by the tunnel server (`ingress=ing`) but created at run time through the
/// Web API: visitors follow it as soon as it exists, and follow its replacement.
#[test]
fn an_ingress_created_through_the_web_api_routes_visitors() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("via the api\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = Gost::start(
        &[
            "-L",
            &format!("tunnel://127.0.0.1:0?entrypoint={entry}&ingress=ing"),
            "-api",
            &api.to_string(),
        ],
        1,
    );
    let _c = client(srv.addr(), origin, "");
    thread::sleep(Duration::from_millis(500));
    assert_eq!(status(entry, "api.test"), "502", "no ingress yet");
    let rule = |host: &str| {
        format!(r#"{{"name":"ing","rules":[{{"hostname":"{host}","endpoint":"{ID}"}}]}}"#)
    };
    let (ok, out) =
        curl(&["-X", "POST", "-d", &rule("api.test"), &format!("http://{api}/config/ingresses")]);
    assert!(ok && out.contains("OK"), "{out}");
    let (ok, body) = eventually(entry, "api.test", "via the api\n", Duration::from_secs(10));
    assert!(ok && body == "via the api\n", "{body:?}\n{}", srv.log());
    let (ok, out) = curl(&[
        "-X",
        "PUT",
        "-d",
        &rule("*.renamed.test"),
        &format!("http://{api}/config/ingresses/ing"),
    ]);
    assert!(ok && out.contains("OK"), "{out}");
    assert_eq!(status(entry, "api.test"), "502", "the old rule is gone");
    let (ok, body) = get(entry, "x.renamed.test");
    assert!(ok && body == "via the api\n", "{body:?}");
    let (_, list) = curl(&[&format!("http://{api}/config/ingresses")]);
    assert!(list.contains("renamed.test"), "{list}");
}

/// UDP through a tunnel: `-L rudp://:0/echo -F tunnel://...` registers a UDP connector; a UDP
/// visitor (`-L udp://:port/example.test:53 -F tunnel://...`) reaches the echo server through it.
#[test]
fn udp_through_a_tunnel() {
    let echo = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut b) {
            let _ = echo.send_to(&b[..n], from);
        }
    });
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = server(0, entry, "");
    let _c = Gost::spawn(&[
        "-L",
        &format!("rudp://:0/{echo_addr}"),
        "-F",
        &format!("tunnel://{}?tunnel.id={ID}", srv.addr()),
    ]);
    let visitor = Gost::start(
        &[
            "-L",
            "udp://127.0.0.1:0/example.test:53",
            "-F",
            &format!("tunnel://{}?tunnel.id={ID}", srv.addr()),
        ],
        1,
    );
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = 0;
    for i in 0..200u32 {
        if answered == 5 || Instant::now() > deadline {
            break;
        }
        let d = format!("datagram {i} ").repeat(30);
        sock.send_to(d.as_bytes(), visitor.addr()).unwrap();
        let mut b = [0u8; 2048];
        if let Ok((n, _)) = sock.recv_from(&mut b) {
            assert_eq!(&b[..n], d.as_bytes());
            answered += 1;
        }
    }
    assert_eq!(answered, 5, "datagrams answered through the tunnel\n{}", srv.log());
}

/// Two tunnel servers sharing an SD (one process, the in-memory SD): a client registers with
/// one; visitors of the other reach it, by Host on its entrypoint and by tunnel id, through the
/// first server's entrypoint (what the SD says).
#[test]
fn a_second_server_finds_the_tunnel_through_the_sd() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("found through the sd\n");
    let (ea, eb) = (
        SocketAddr::from(([127, 0, 0, 1], free_port())),
        SocketAddr::from(([127, 0, 0, 1], free_port())),
    );
    let service = |name: &str, entry: SocketAddr| {
        format!(
            r#"{{"name": "{name}", "addr": "127.0.0.1:0", "listener": {{"type": "tcp"}},
                "handler": {{"type": "tunnel", "metadata": {{"entrypoint": "{entry}", "sd": "sd-0",
                  "ingress": "ing", "tunnel.direct": true}}}}}}"#
        )
    };
    let config = format!(
        r#"{{"services": [{}, {}],
            "sds": [{{"name": "sd-0"}}],
            "ingresses": [{{"name": "ing", "rules": [{{"hostname": "example.test", "endpoint": "{ID}"}}]}}]}}"#,
        service("service-0", ea),
        service("service-1", eb)
    );
    let servers = Gost::start(&["-C", &config], 2);
    let (a, b) = (servers.addrs[0], servers.addrs[1]);
    let _c = client(a, origin, "");
    let (ok, body) =
        eventually(ea, "example.test", "found through the sd\n", Duration::from_secs(10));
    assert!(ok && body == "found through the sd\n", "on the first server: {body:?}");
    let (ok, body) = get(eb, "example.test");
    assert!(
        ok && body == "found through the sd\n",
        "by Host on the second: {body:?}\n{}",
        servers.log()
    );
    let visitor = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/elsewhere.test:80",
            "-F",
            &format!("tunnel://{b}?tunnel.id={ID}"),
        ],
        1,
    );
    let (ok, body) = curl(&["--max-time", "5", &format!("http://{}/", visitor.addr())]);
    assert!(
        ok && body == "found through the sd\n",
        "by id on the second: {body:?}\n{}",
        servers.log()
    );
}

/// A relay BIND registering tunnel `ID` (src and dst 127.0.0.1:0 / 0.0.0.0:0).
fn bind_request() -> Vec<u8> {
    let mut f = vec![2, 0, 7, 1, 127, 0, 0, 1, 0, 0];
    f.extend_from_slice(&[2, 0, 7, 1, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&[3, 0, 20]);
    let hex: String = ID.chars().filter(|c| *c != '-').collect();
    for i in 0..16 {
        f.push(u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap());
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    let mut req = vec![1, 2];
    req.extend_from_slice(&(f.len() as u16).to_be_bytes());
    req.extend_from_slice(&f);
    req
}

/// A hostile crowd: registrations of one tunnel id until the server refuses them (a tunnel
/// holds at most 256 clients), visitors that connect to the tunnel port or the entrypoint and
/// send nothing or half a head (dropped after `readTimeout` / `entrypoint.readTimeout`). Memory
/// stays bounded and a visitor of another tunnel is still served.
#[test]
fn a_registration_flood_is_bounded_and_silent_visitors_are_dropped() {
    use std::io::{Read, Write};
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    const OTHER: &str = "0b0c0d0e-0000-4000-8000-000000000001";
    let origin = http_server("still served\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = Gost::start(
        &[
            "-L",
            &format!(
                "tunnel://127.0.0.1:0?entrypoint={entry}&tunnel=flood.test:{ID},ok.test:{OTHER}\
                 &readTimeout=1s&entrypoint.readTimeout=1s"
            ),
        ],
        1,
    );
    let before = rss_kib(srv.pid());
    let mut held = Vec::new();
    let mut accepted = 0;
    for _ in 0..300 {
        let mut s = connect(srv.addr());
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&bind_request()).unwrap();
        let mut head = [0u8; 4];
        if s.read_exact(&mut head).is_ok() && head[1] == 0 {
            let mut features = vec![0u8; usize::from(u16::from_be_bytes([head[2], head[3]]))];
            s.read_exact(&mut features).unwrap();
            accepted += 1;
        }
        held.push(s);
    }
    assert_eq!(accepted, 256, "registrations past the limit are refused");
    // Silent visitors: closed after the read timeouts.
    let started = Instant::now();
    let mut silent = vec![connect(srv.addr()), connect(entry)];
    let mut half = connect(entry);
    half.write_all(b"GET / HTTP/1.1\r\nHost: ok.te").unwrap();
    silent.push(half);
    for s in &mut silent {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut b = [0u8; 16];
        assert!(matches!(s.read(&mut b), Ok(0) | Err(_)));
    }
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "silent visitors held {:?}",
        started.elapsed()
    );
    let grown = rss_kib(srv.pid()).saturating_sub(before);
    assert!(grown < 96 * 1024, "256 registrations grew the server by {grown} KiB");
    // Another tunnel is served meanwhile.
    let _c = Gost::spawn(&[
        "-L",
        &format!("rtcp://:0/{origin}"),
        "-F",
        &format!("tunnel://{}?tunnel.id={OTHER}", srv.addr()),
    ]);
    let (ok, body) = eventually(entry, "ok.test", "still served\n", Duration::from_secs(10));
    assert!(ok && body == "still served\n", "{body:?}");
}

/// TLS on the entrypoint is routed by the ClientHello's server name without being terminated:
/// the tunnel client's target receives the visitor's ClientHello as it was sent. A private
/// tunnel (`$id`) is not reachable by name.
#[test]
fn tls_visitors_are_routed_by_server_name_and_private_tunnels_are_not() {
    use std::io::Read;
    use std::sync::mpsc;
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let tx = std::sync::Mutex::new(tx);
    let origin = tcp_server(move |mut s| {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = vec![0u8; 4096];
        let n = s.read(&mut b).unwrap_or(0);
        let _ = tx.lock().unwrap().send(b[..n].to_vec());
    });
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let url =
        format!("tunnel://127.0.0.1:0?entrypoint={entry}&tunnel=tls.test:{ID},hidden.test:${ID}");
    let srv = Gost::start(&["-L", &url], 1);
    let _c = client(srv.addr(), origin, "");
    // curl's TLS handshake goes nowhere (the origin is no TLS server): what matters is where
    // its ClientHello lands.
    let deadline = Instant::now() + Duration::from_secs(10);
    let hello = loop {
        let _ = curl(&[
            "--max-time",
            "2",
            "-k",
            "--resolve",
            &format!("tls.test:{}:127.0.0.1", entry.port()),
            &format!("https://tls.test:{}/", entry.port()),
        ]);
        if let Ok(h) = rx.recv_timeout(Duration::from_millis(500)) {
            break h;
        }
        assert!(Instant::now() < deadline, "no ClientHello reached the target\n{}", srv.log());
    };
    assert_eq!(hello.first(), Some(&0x16), "a TLS record");
    assert!(hello.windows(8).any(|w| w == b"tls.test"), "the ClientHello as sent");
    assert_eq!(status(entry, "hidden.test"), "502", "a private tunnel by name");
}

/// Replacing a tunnel service through the Web API while a client is registered: the old one
/// lets go of its entrypoint port and its clients at once (not after the grace period), the new
/// one starts on the same ports, and the client registers with it.
#[test]
fn a_tunnel_service_replaced_through_the_api_frees_its_ports_at_once() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("replaced\n");
    let (port, entry, api) = (
        free_port(),
        SocketAddr::from(([127, 0, 0, 1], free_port())),
        SocketAddr::from(([127, 0, 0, 1], free_port())),
    );
    let srv = Gost::start(
        &[
            "-L",
            &format!("tunnel://127.0.0.1:{port}?entrypoint={entry}&tunnel=example.test:{ID}"),
            "-api",
            &api.to_string(),
        ],
        1,
    );
    let _c = client(srv.addr(), origin, "");
    eventually(entry, "example.test", "replaced\n", Duration::from_secs(10));
    let body = format!(
        r#"{{"name": "service-0", "addr": "127.0.0.1:{port}", "listener": {{"type": "tcp"}},
            "handler": {{"type": "tunnel", "metadata": {{"entrypoint": "{entry}",
              "tunnel": "example.test:{ID}"}}}}}}"#
    );
    let started = Instant::now();
    let (ok, out) = curl(&[
        "--max-time",
        "20",
        "-X",
        "PUT",
        "-d",
        &body,
        &format!("http://{api}/config/services/service-0"),
    ]);
    assert!(ok && out.contains("OK"), "{out}\n{}", srv.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the replacement took {:?}",
        started.elapsed()
    );
    let (ok, body) = eventually(entry, "example.test", "replaced\n", Duration::from_secs(15));
    assert!(ok && body == "replaced\n", "after the replacement: {body:?}\n{}", srv.log());
}

/// A visitor naming the server's `entrypoint.id` is routed by the ingress alone (any target
/// host the ingress maps), and refused for a host it does not map.
#[test]
fn the_entrypoint_id_routes_visitors_by_the_ingress() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    const PUBLIC: &str = "99999999-9999-4999-8999-999999999999";
    let origin = http_server("public\n");
    let entry = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let srv = server(0, entry, &format!("&entrypoint.id={PUBLIC}"));
    let _c = client(srv.addr(), origin, "");
    eventually(entry, "example.test", "public\n", Duration::from_secs(10));
    let visit = |target: &str| {
        let v = Gost::start(
            &[
                "-L",
                &format!("tcp://127.0.0.1:0/{target}"),
                "-F",
                &format!("tunnel://{}?tunnel.id={PUBLIC}", srv.addr()),
            ],
            1,
        );
        curl(&["--max-time", "5", &format!("http://{}/", v.addr())])
    };
    let (ok, body) = visit("x.wild.test:80");
    assert!(ok && body == "public\n", "a mapped host: {body:?}\n{}", srv.log());
    let (ok, body) = visit("unmapped.test:80");
    assert!(!(ok && body == "public\n"), "an unmapped host got through");
}
