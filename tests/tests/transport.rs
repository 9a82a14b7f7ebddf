//! Transports (tls, ws, wss; mws, mwss) through the real binary, with curl at the edge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, TcpListener};

use gost_e2e::*;

const BODY: &str = "hello over the transport\n";

fn curl_via(proxy: SocketAddr, origin: SocketAddr) -> (bool, String) {
    curl(&["-x", &format!("http://{proxy}"), &format!("http://{origin}/")])
}

/// `client gost -L http -F <connector>+<transport>://server` against
/// `server gost -L <handler>+<transport>://`, with curl through the client.
fn proxy_over(transport: &str, handler: &str, server_query: &str, client_query: &str) {
    let origin = http_server(BODY);
    let server =
        Gost::start(&["-L", &format!("{handler}+{transport}://127.0.0.1:0{server_query}")], 1);
    let node = format!("{handler}+{transport}://{}{client_query}", server.addr());
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
    let (ok, body) = curl_via(client.addr(), origin);
    assert!(
        ok && body == BODY,
        "{handler} over {transport}: ok={ok} body={body:?}\nserver log:\n{}\nclient log:\n{}",
        server.log(),
        client.log()
    );
}

#[test]
fn http_socks5_and_relay_over_each_transport() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    for transport in ["tls", "ws", "wss", "mws", "mwss", "mtls", "h2", "h2c", "pht", "phts"] {
        for handler in ["http", "socks5", "relay"] {
            proxy_over(transport, handler, "", "");
        }
    }
    // gRPC over TLS (the default) and in clear.
    for handler in ["http", "socks5", "relay"] {
        proxy_over("grpc", handler, "", "");
        proxy_over("grpc", handler, "?grpcInsecure=true", "?grpc.insecure=true");
    }
    // smux version 2 on both ends.
    proxy_over("mws", "socks5", "?mux.version=2", "?mux.version=2");
    proxy_over("mwss", "relay", "?mux.version=2", "?mux.version=2");
}

/// 64 MiB each way through `client -L tcp -F forward+<t>` to `server -L <t>://.../origin`.
fn bulk_over(transport: &str) {
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = origin.local_addr().unwrap();
    let server = Gost::start(&["-L", &format!("{transport}://127.0.0.1:0/{target}")], 1);
    let client = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/192.0.2.1:9",
            "-F",
            &format!("forward+{transport}://{}", server.addr()),
        ],
        1,
    );
    bulk_both_ways(connect(client.addr()), origin, 64 << 20);
}

#[test]
fn bulk_64_mib_over_tls() {
    bulk_over("tls");
}

#[test]
fn bulk_64_mib_over_ws() {
    bulk_over("ws");
}

#[test]
fn bulk_64_mib_over_wss() {
    bulk_over("wss");
}

#[test]
fn bulk_64_mib_over_mws() {
    bulk_over("mws");
}

#[test]
fn bulk_64_mib_over_mwss() {
    bulk_over("mwss");
}

#[test]
fn bulk_64_mib_over_mtls() {
    bulk_over("mtls");
}

/// `n` CONNECT tunnels at once through the HTTP proxy at `proxy` to `echo`, 64 KiB each way
/// with a half-close: how many came back whole.
fn echo_through(proxy: SocketAddr, echo: SocketAddr, n: u64) -> usize {
    let workers: Vec<_> = (0..n)
        .map(|i| {
            std::thread::spawn(move || {
                let mut tunnel = http_connect(proxy, &echo.to_string(), None);
                let data = pattern(64 * 1024, i + 1);
                let mut w = tunnel.try_clone().unwrap();
                let sent = data.clone();
                let writer = std::thread::spawn(move || {
                    std::io::Write::write_all(&mut w, &sent).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let back = read_all(&mut tunnel);
                writer.join().unwrap();
                back == data
            })
        })
        .collect();
    workers.into_iter().map(|w| w.join().unwrap()).filter(|ok| *ok).count()
}

#[test]
fn hundred_concurrent_connections_share_one_mwss_session() {
    let echo = echo_server();
    let server = Gost::start(&["-L", "relay+mwss://127.0.0.1:0"], 1);
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("relay+mwss://{}", server.addr())],
        1,
    );
    assert_eq!(echo_through(client.addr(), echo, 100), 100);
    // All of them rode one carrier connection to the server.
    assert_eq!(established_to(server.addr().port()), 1);
}

#[test]
fn a_dead_mws_session_is_rebuilt() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    let port = free_port();
    let listen = format!("mws://127.0.0.1:{port}");
    let server = Gost::start(&["-L", &listen], 1);
    let client =
        Gost::start(&["-L", "http://127.0.0.1:0", "-F", &format!("mws://127.0.0.1:{port}")], 1);
    assert_eq!(curl_via(client.addr(), origin).1, BODY);
    drop(server); // kills the server: the cached session dies with it
    let (_, body) = curl_via(client.addr(), origin);
    assert_ne!(body, BODY);
    let _server = Gost::start(&["-L", &listen], 1);
    assert_eq!(curl_via(client.addr(), origin).1, BODY, "client log:\n{}", client.log());
}

#[test]
fn websocket_seed_examples() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    // gost -L ws://:P, wss://, mws://, mwss://: the auto handler on a WebSocket listener; the client
    // side `-F ws://` (and the others) is the http connector over it.
    for scheme in ["ws", "wss", "mws", "mwss"] {
        let server = Gost::start(&["-L", &format!("{scheme}://127.0.0.1:0")], 1);
        let client = Gost::start(
            &["-L", "http://127.0.0.1:0", "-F", &format!("{scheme}://{}", server.addr())],
            1,
        );
        assert_eq!(curl_via(client.addr(), origin).1, BODY, "{scheme}");
    }
    // Custom path, host, keepalive and ttl on the client; the same path on the server.
    let server = Gost::start(&["-L", "wss://127.0.0.1:0?path=/tunnel"], 1);
    let node =
        format!("wss://{}?path=/tunnel&host=example.com&keepalive=true&ttl=1s", server.addr());
    let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
    assert_eq!(curl_via(client.addr(), origin).1, BODY);
    // Keep-alive pings (answered by the server's pongs) keep an idle tunnel open past twice
    // the ttl; without pongs the client would drop it after 2 s.
    let echo = echo_server();
    let mut tunnel = http_connect(client.addr(), &echo.to_string(), None);
    std::thread::sleep(std::time::Duration::from_millis(3500));
    std::io::Write::write_all(&mut tunnel, b"still there?").unwrap();
    let mut back = [0u8; 12];
    std::io::Read::read_exact(&mut tunnel, &mut back).unwrap();
    assert_eq!(&back, b"still there?");
    // Port forwarding over websocket: -L wss://:P/:T -L socks5://:T, i.e. a websocket entry to
    // the SOCKS5 service.
    let socks = Gost::start(&["-L", "socks5://127.0.0.1:0"], 1);
    // A client speaks SOCKS5 over wss to the entry, which forwards the bytes to the SOCKS5
    // service: port 8443 now behaves like `socks5+wss://`.
    for entry_scheme in ["wss", "forward+wss"] {
        let entry =
            Gost::start(&["-L", &format!("{entry_scheme}://127.0.0.1:0/{}", socks.addr())], 1);
        let client = Gost::start(
            &["-L", "http://127.0.0.1:0", "-F", &format!("socks5+wss://{}", entry.addr())],
            1,
        );
        let (ok, body) = curl_via(client.addr(), origin);
        assert!(ok && body == BODY, "{entry_scheme} port forward to socks5: {body:?}");
    }
}

#[test]
fn websocket_path_mismatch_fails_cleanly() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server(BODY);
    let server = Gost::start(&["-L", "ws://127.0.0.1:0?path=/ws"], 1);
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("ws://{}?path=/other", server.addr())],
        1,
    );
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"])
        .args(["-x", &format!("http://{}", client.addr()), &format!("http://{origin}/")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "503");
    assert!(!server.log().contains("panicked") && !client.log().contains("panicked"));
    // The server still serves the right path.
    let good = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("ws://{}?path=/ws", server.addr())],
        1,
    );
    assert_eq!(curl_via(good.addr(), origin).1, BODY);
}

#[test]
fn bulk_64_mib_over_h2() {
    bulk_over("h2");
}

#[test]
fn bulk_64_mib_over_h2c() {
    bulk_over("h2c");
}

#[test]
fn bulk_64_mib_over_grpc() {
    bulk_over("grpc");
}

#[test]
fn bulk_64_mib_over_pht() {
    bulk_over("pht");
}

#[test]
fn bulk_64_mib_over_phts() {
    bulk_over("phts");
}

/// h2/h2c/grpc: a hundred connections at once are streams of one HTTP/2 connection; a dead one
/// is rebuilt; with `path`, only that path is a tunnel.
#[test]
fn h2_streams_share_a_connection_and_a_dead_one_is_rebuilt() {
    for transport in ["h2", "h2c", "grpc"] {
        let echo = echo_server();
        let port = free_port();
        let listen = format!("relay+{transport}://127.0.0.1:{port}?path=/tun");
        let server = Gost::start(&["-L", &listen], 1);
        let node = format!("relay+{transport}://127.0.0.1:{port}?path=/tun");
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let proxy = client.addr();
        let ok = echo_through(proxy, echo, 100);
        assert_eq!(ok, 100, "{transport}\n{}", client.log());
        assert_eq!(established_to(port), 1, "{transport}: one HTTP/2 connection");
        // The server goes away and comes back: the next connection builds a new one.
        drop(server);
        let _server = Gost::start(&["-L", &listen], 1);
        let mut tunnel = http_connect(proxy, &echo.to_string(), None);
        std::io::Write::write_all(&mut tunnel, b"again").unwrap();
        tunnel.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read_all(&mut tunnel), b"again", "{transport} after a restart");
        // Another path is no tunnel.
        let wrong = format!("relay+{transport}://127.0.0.1:{port}?path=/other");
        let stranger = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &wrong], 1);
        if have("curl") {
            let (ok, _) = curl(&[
                "--fail",
                "--max-time",
                "5",
                "-x",
                &format!("http://{}", stranger.addr()),
                "http://127.0.0.1:1/",
            ]);
            assert!(!ok, "{transport}: a wrong path got through");
        }
    }
}

/// Garbage on an h2c port (an HTTP/1 request, random bytes) is dropped; the port keeps serving.
#[test]
fn h2c_port_survives_garbage() {
    use std::io::{Read, Write};
    let echo = echo_server();
    let server = Gost::start(&["-L", "relay+h2c://127.0.0.1:0"], 1);
    for junk in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0x55u8; 70000][..]] {
        let mut s = connect(server.addr());
        s.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let _ = s.write_all(junk);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("relay+h2c://{}", server.addr())],
        1,
    );
    let mut tunnel = http_connect(client.addr(), &echo.to_string(), None);
    tunnel.write_all(b"still").unwrap();
    tunnel.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut tunnel), b"still");
}

/// pht/phts: a hundred connections at once, each its own session of push and pull requests;
/// the clients' half-closes reach the echo server (this project's extension on both ends).
#[test]
fn pht_carries_a_hundred_connections_at_once() {
    for transport in ["pht", "phts"] {
        let echo = echo_server();
        let server = Gost::start(&["-L", &format!("relay+{transport}://127.0.0.1:0")], 1);
        let node = format!("relay+{transport}://{}", server.addr());
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let ok = echo_through(client.addr(), echo, 100);
        assert_eq!(ok, 100, "{transport}\n{}", client.log());
    }
}

/// Hostile pht clients: requests for other paths, pushes without a token or with bad base64,
/// a flood of sessions that never pull, and a slow push. The server answers each as gost
/// does, its memory stays bounded, and a real client is still served.
#[test]
fn pht_refuses_bad_requests_and_bounds_a_session_flood() {
    use std::io::{Read, Write};
    let echo = echo_server();
    let server = Gost::start(&["-L", "relay+pht://127.0.0.1:0?readTimeout=1s"], 1);
    let ask = |request: &str| {
        let mut s = connect(server.addr());
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    let close = "Host: x\r\nConnection: close\r\n";
    for (request, status) in [
        (format!("GET /other HTTP/1.1\r\n{close}\r\n"), "404"),
        (format!("POST /push HTTP/1.1\r\n{close}Content-Length: 5\r\n\r\nYWI=\n"), "400"),
        (format!("POST /push?token=z HTTP/1.1\r\n{close}Content-Length: 4\r\n\r\n%%%\n"), "400"),
        ("\x16\x03\x01\x00\x05hello\r\n\r\n".to_owned(), "400"),
    ] {
        let answer = ask(&request);
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{request:?}: {answer:?}");
    }
    // Two thousand sessions that push a byte and never pull, over kept-alive connections.
    let before = rss_kib(server.pid());
    let mut refused = 0;
    for batch in 0..20 {
        let mut s = connect(server.addr());
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        let mut requests = String::new();
        for i in 0..100 {
            requests.push_str(&format!(
                "POST /push?token=flood{batch}x{i} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nAA==\n"
            ));
        }
        requests.push_str("GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(requests.as_bytes()).unwrap();
        let mut answers = String::new();
        let _ = s.read_to_string(&mut answers);
        refused += answers.matches("HTTP/1.1 429").count();
        assert_eq!(answers.matches("HTTP/1.1 ").count(), 101, "every request is answered");
    }
    let grown = rss_kib(server.pid()).saturating_sub(before);
    assert!(grown < 64 * 1024, "2000 sessions grew the server by {grown} KiB");
    eprintln!("flood: {refused} of 2000 refused with 429, {grown} KiB");
    // A push that stalls mid-body does not hold up others.
    let mut slow = connect(server.addr());
    slow.write_all(b"POST /push?token=slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nAA")
        .unwrap();
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("relay+pht://{}", server.addr())],
        1,
    );
    let mut tunnel = http_connect(client.addr(), &echo.to_string(), None);
    tunnel.write_all(b"still served").unwrap();
    tunnel.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut tunnel), b"still served");
    drop(slow);
}

/// The `http2` proxy with real HTTP/2 clients: nghttp (a plain request, and one without
/// credentials: 407 with the challenge), h2load (many requests on a few connections), curl over
/// HTTP/1.1 on the same port; and our own `-F http2://` chain: a hundred CONNECTs at once on
/// one HTTP/2 connection, 64 MiB each way, and wrong credentials refused.
#[test]
fn http2_proxy_serves_real_clients_and_chains() {
    let origin = http_server("through http2\n");
    let server = Gost::start(&["-L", "http2://u:p@127.0.0.1:0"], 1);
    let proxy = server.addr();
    let auth = format!("proxy-authorization: Basic {}", "dTpw"); // u:p
    let authority = format!(":authority: {origin}");
    if have("nghttp") {
        let out = std::process::Command::new("nghttp")
            .args(["-v", "-H", &authority, "-H", ":scheme: http", "-H", &auth])
            .arg(format!("https://{proxy}/"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(":status: 200") && text.contains("through http2"), "{text}");
        let out = std::process::Command::new("nghttp")
            .args(["-v", "-H", &authority, "-H", ":scheme: http"])
            .arg(format!("https://{proxy}/"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(":status: 407") && text.contains("proxy-authenticate"), "{text}");
    } else {
        assert!(!in_ci(), "CI=true: nghttp is missing");
    }
    if have("h2load") {
        let out = std::process::Command::new("h2load")
            .args(["-n", "300", "-c", "3", "-m", "10", "-H", &authority, "-H", ":scheme: http"])
            .args(["-H", &auth])
            .arg(format!("https://{proxy}/"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("300 succeeded, 0 failed"), "{text}");
    }
    if have("curl") {
        let (ok, body) = curl(&[
            "--proxy-insecure",
            "-x",
            &format!("https://u:p@{proxy}"),
            &format!("http://{origin}/"),
        ]);
        assert!(ok && body == "through http2\n", "HTTP/1.1 over TLS: {body:?}");
    }
    // Our client: CONNECT streams on one HTTP/2 connection.
    let echo = echo_server();
    let client =
        Gost::start(&["-L", "http://127.0.0.1:0", "-F", &format!("http2://u:p@{proxy}")], 1);
    assert_eq!(echo_through(client.addr(), echo, 100), 100, "{}", client.log());
    assert_eq!(established_to(proxy.port()), 1, "one HTTP/2 connection");
    let wrong =
        Gost::start(&["-L", "http://127.0.0.1:0", "-F", &format!("http2://u:x@{proxy}")], 1);
    if have("curl") {
        let (ok, _) = curl(&[
            "--fail",
            "-x",
            &format!("http://{}", wrong.addr()),
            &format!("http://{origin}/"),
        ]);
        assert!(!ok, "wrong credentials got through");
    }
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let bulk = Gost::start(
        &[
            "-L",
            &format!("tcp://127.0.0.1:0/{}", target.local_addr().unwrap()),
            "-F",
            &format!("http2://u:p@{proxy}"),
        ],
        1,
    );
    bulk_both_ways(connect(bulk.addr()), target, 64 << 20);
}

/// A hostile HTTP/2 client: 250 streams through an h2c forwarder to an echo server, windows
/// opened as wide as HTTP/2 allows, then it stops reading its socket while the echoes keep
/// coming. The server's memory stays bounded (flow control, stream limit, send buffers) and
/// another client is still served.
#[test]
fn h2_streams_that_never_read_are_bounded() {
    let echo = echo_server();
    let server = Gost::start(&["-L", &format!("h2c://127.0.0.1:0/{echo}")], 1);
    let before = rss_kib(server.pid());
    let addr = server.addr();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let opened = rt.block_on(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (client, mut connection) = h2::client::Builder::new()
            .initial_window_size(0x7fff_ffff)
            .initial_connection_window_size(0x7fff_ffff)
            .handshake::<_, bytes::Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(async move {
            tokio::select! {
                _ = &mut connection => {}
                _ = stopped => {}
            }
            // Alive, never polled again: its socket is not read any more.
            std::future::pending::<()>().await;
            drop(connection);
        });
        let chunk = bytes::Bytes::from(vec![0x5au8; 256 * 1024]);
        let mut streams = Vec::new();
        for _ in 0..250 {
            let mut client = match client.clone().ready().await {
                Ok(c) => c,
                Err(_) => break,
            };
            let req = http::Request::builder()
                .method(http::Method::CONNECT)
                .uri("127.0.0.1:9")
                .body(())
                .unwrap();
            let Ok((response, mut body)) = client.send_request(req, false) else { break };
            for _ in 0..4 {
                let _ = body.send_data(chunk.clone(), false);
            }
            streams.push((response, body));
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let _ = stop.send(());
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let opened = streams.len();
        std::mem::forget(streams);
        opened
    });
    let grown = rss_kib(server.pid()).saturating_sub(before);
    eprintln!("{opened} hostile streams: the server grew by {grown} KiB");
    assert!(grown < 96 * 1024, "{opened} unread streams grew the server by {grown} KiB");
    let client = Gost::start(
        &["-L", "tcp://127.0.0.1:0/192.0.2.1:9", "-F", &format!("forward+h2c://{addr}")],
        1,
    );
    let mut s = connect(client.addr());
    std::io::Write::write_all(&mut s, b"still served").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"still served");
    rt.shutdown_background();
}

/// The HTTP transports chain through each other: pht first (it needs connections of its own),
/// then gRPC, h2c and the HTTP/2 proxy reached through the earlier hops' tunnels.
#[test]
fn http_transports_chain_through_each_other() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("chained\n");
    let a = Gost::start(&["-L", "relay+pht://127.0.0.1:0"], 1);
    let b = Gost::start(&["-L", "relay+grpc://127.0.0.1:0"], 1);
    let c = Gost::start(&["-L", "socks5+h2c://127.0.0.1:0"], 1);
    let d = Gost::start(&["-L", "http2://u:p@127.0.0.1:0"], 1);
    let client = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("relay+pht://{}", a.addr()),
            "-F",
            &format!("relay+grpc://{}", b.addr()),
            "-F",
            &format!("socks5+h2c://{}", c.addr()),
            "-F",
            &format!("http2://u:p@{}", d.addr()),
        ],
        1,
    );
    for tunnel in [false, true] {
        let proxy = format!("http://{}", client.addr());
        let url = format!("http://{origin}/");
        let mut args = vec!["-x", proxy.as_str(), url.as_str()];
        if tunnel {
            args.insert(0, "-p");
        }
        let (ok, body) = curl(&args);
        assert!(ok && body == "chained\n", "tunnel={tunnel}: {body:?}\n{}", client.log());
    }
    // pht past the first hop is refused with a clear error, not run as plain TCP.
    let wrong = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("relay+grpc://{}", b.addr()),
            "-F",
            &format!("relay+pht://{}", a.addr()),
        ],
        1,
    );
    let (ok, _) =
        curl(&["--fail", "-x", &format!("http://{}", wrong.addr()), &format!("http://{origin}/")]);
    assert!(!ok);
    wrong.wait_log("can only be a chain's first hop", std::time::Duration::from_secs(5));
}

/// Past the server's limit of streams per HTTP/2 connection (256), the dialer opens another
/// connection instead of making new streams wait: 300 tunnels held open at once all work.
#[test]
fn h2_opens_another_connection_past_the_stream_limit() {
    use std::io::{Read, Write};
    for transport in ["h2c", "grpc"] {
        let echo = echo_server();
        let server = Gost::start(&["-L", &format!("relay+{transport}://127.0.0.1:0")], 1);
        let node = format!("relay+{transport}://{}", server.addr());
        let client = Gost::start(&["-L", "http://127.0.0.1:0", "-F", &node], 1);
        let mut tunnels: Vec<_> =
            (0..300).map(|_| http_connect(client.addr(), &echo.to_string(), None)).collect();
        for (i, t) in tunnels.iter_mut().enumerate() {
            t.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
            t.write_all(&[(i % 251) as u8]).unwrap();
        }
        for (i, t) in tunnels.iter_mut().enumerate() {
            let mut b = [0u8; 1];
            t.read_exact(&mut b).unwrap_or_else(|e| panic!("{transport} tunnel {i}: {e}"));
            assert_eq!(b[0], (i % 251) as u8);
        }
        assert_eq!(established_to(server.addr().port()), 2, "{transport}: two HTTP/2 connections");
    }
}

#[test]
fn bulk_64_mib_over_quic() {
    bulk_over("quic");
}

/// QUIC (gost's `quic`): http, socks5 and relay on top, and 100 tunnels at once as streams of
/// one QUIC connection.
#[test]
fn quic_carries_proxies_and_a_hundred_streams_on_one_connection() {
    for handler in ["http", "socks5", "relay"] {
        proxy_over("quic", handler, "", "");
    }
    let echo = echo_server();
    let server = Gost::start(&["-L", "relay+quic://127.0.0.1:0"], 1);
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("relay+quic://{}", server.addr())],
        1,
    );
    assert_eq!(echo_through(client.addr(), echo, 100), 100, "{}", client.log());
}

/// A QUIC server survives garbage datagrams and keeps serving; a client offering another ALPN
/// is refused at the handshake.
#[test]
fn quic_survives_garbage_and_refuses_a_foreign_alpn() {
    let echo = echo_server();
    let server = Gost::start(&["-L", "relay+quic://127.0.0.1:0"], 1);
    let junk = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..2000u32 {
        let mut d = pattern(1 + (i as usize % 1400), u64::from(i));
        d[0] = (i % 256) as u8;
        let _ = junk.send_to(&d, server.addr());
    }
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0", "-F", &format!("relay+quic://{}", server.addr())],
        1,
    );
    assert_eq!(echo_through(client.addr(), echo, 10), 10, "{}", client.log());
    let foreign = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("relay+quic://{}?alpn=nope&handshakeTimeout=2s", server.addr()),
        ],
        1,
    );
    use std::io::Write;
    let mut s = connect(foreign.addr());
    s.write_all(format!("CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\n").as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 503"), "a foreign ALPN gets no tunnel: {head}");
}

/// Under loss and delay (`tc netem` on a namespace's loopback: 50 ms round trips, 5% of packets
/// dropped each way), files cross QUIC (and TLS, for comparison) whole, both ways.
#[test]
fn quic_and_tls_carry_files_whole_under_loss() {
    for transport in ["quic", "tls"] {
        if let Some(out) = run_in_netns("lossy.sh", &["curl", "python3", "tc", "bc"], &[transport])
        {
            eprintln!("{}", out.trim());
            assert!(out.contains(&format!("ok {transport}")) || out.contains("SKIP"), "{out}");
        }
    }
}

/// A UDP relay that drops `loss_pct` percent of the datagrams each way and delays the rest by
/// `delay`: a lossy path in user space (where `tc netem` is unavailable). Returns its address;
/// it relays between the first client it hears and `server`.
fn lossy_udp_path(server: SocketAddr, loss_pct: u64, delay: std::time::Duration) -> SocketAddr {
    use std::net::UdpSocket;
    use std::sync::{Arc, Mutex};
    let front = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let back = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    let addr = front.local_addr().unwrap();
    let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    // Each direction: receive, maybe drop, hand to a delay line that sends when due.
    let pump = move |from: Arc<UdpSocket>,
                     to: Arc<UdpSocket>,
                     dest: Box<dyn Fn(SocketAddr) -> Option<SocketAddr> + Send>,
                     seed: u64| {
        let (tx, rx) = std::sync::mpsc::channel::<(std::time::Instant, Vec<u8>, SocketAddr)>();
        std::thread::spawn(move || {
            while let Ok((due, data, dst)) = rx.recv() {
                let now = std::time::Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let _ = to.send_to(&data, dst);
            }
        });
        std::thread::spawn(move || {
            let mut rng = seed | 1;
            let mut buf = vec![0u8; 65536];
            while let Ok((n, src)) = from.recv_from(&mut buf) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let Some(dst) = dest(src) else { continue };
                if rng % 100 < loss_pct {
                    continue;
                }
                let _ = tx.send((std::time::Instant::now() + delay, buf[..n].to_vec(), dst));
            }
        });
    };
    let c1 = client.clone();
    pump(
        front.clone(),
        back.clone(),
        Box::new(move |src| {
            *c1.lock().unwrap() = Some(src);
            Some(server)
        }),
        0x9E37_79B9,
    );
    pump(back, front, Box::new(move |_| *client.lock().unwrap()), 0x85EB_CA6B);
    addr
}

/// QUIC through a lossy path made in user space (5% of datagrams dropped each way, 25 ms each
/// way): 4 MiB each way arrive whole.
#[test]
fn quic_carries_data_whole_over_a_lossy_path() {
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = origin.local_addr().unwrap();
    let server = Gost::start(&["-L", &format!("quic://127.0.0.1:0/{target}")], 1);
    let path = lossy_udp_path(server.addr(), 5, std::time::Duration::from_millis(25));
    let client = Gost::start(
        &["-L", "tcp://127.0.0.1:0/192.0.2.1:9", "-F", &format!("forward+quic://{path}")],
        1,
    );
    let started = std::time::Instant::now();
    bulk_both_ways(connect(client.addr()), origin, 4 << 20);
    eprintln!("4 MiB each way over QUIC with 5% loss, 50 ms RTT: {:?}", started.elapsed());
}
