//! Traffic steering through the real binary: the SNI proxy (and gost's `sni` client), inside a
//! private network namespace made by the test (`unshare -n`), where origins can listen on the
//! ports the protocols imply (443, 80) without touching the host.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gost_e2e::*;

/// `sni`: TLS routed by server name and HTTP by Host to two origins, bypassed names and
/// garbage closed, and gost's `sni` client (showing a cover name) routed by the hidden one.
#[test]
fn sni_proxy_routes_by_server_name_and_host() {
    if let Some(out) = run_in_netns("sni.sh", &["curl", "openssl", "python3"], &[]) {
        assert!(out.contains("ok sni connector, http"), "{out}");
    }
}

/// A TCP origin that answers `reply` to every connection and reports each one's first byte.
fn marking_origin(reply: &'static [u8]) -> (std::net::SocketAddr, std::sync::mpsc::Receiver<u8>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut b = [0u8; 1];
            if s.read_exact(&mut b).is_ok() {
                let _ = tx.send(b[0]);
            }
            // Read the rest of what was sent (an HTTP head, up to its end) before answering:
            // closing with unread bytes would reset the connection under the answer.
            let _ = s.set_read_timeout(Some(std::time::Duration::from_millis(300)));
            let mut seen = b.to_vec();
            let mut chunk = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(n) if n > 0 => seen.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            let _ = s.write_all(reply);
        }
    });
    (addr, rx)
}

/// `sniffing=true` on a forwarder: HTTP and TLS go to the nodes whose `filter.protocol` names
/// them, a host filter picks its node, a bypassed sniffed host is refused.
#[test]
fn forward_sniffing_routes_by_protocol_and_host_and_bypasses_by_host() {
    use std::io::{Read, Write};
    let (web, web_hits) = marking_origin(
        b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nvia-http",
    );
    let (tls, tls_hits) = marking_origin(b"via-tls");
    let (special, special_hits) = marking_origin(
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nvia-special",
    );
    let port = free_port();
    let dir = temp_dir("sniffing");
    let cfg = dir.join("gost.yaml");
    std::fs::write(
        &cfg,
        format!(
            "services:\n\
             - name: fwd\n  addr: 127.0.0.1:{port}\n  bypass: blocked\n\
             \x20 handler: {{type: tcp, metadata: {{sniffing: true, sniffing.timeout: 3s}}}}\n\
             \x20 listener: {{type: tcp}}\n\
             \x20 forwarder:\n    nodes:\n\
             \x20   - {{name: web, addr: \"{web}\", filter: {{protocol: http}}}}\n\
             \x20   - {{name: tls, addr: \"{tls}\", filter: {{protocol: tls}}}}\n\
             \x20   - {{name: special, addr: \"{special}\", filter: {{protocol: http, host: .special.test}}}}\n\
             bypasses:\n- name: blocked\n  matchers: [blocked.test]\n"
        ),
    )
    .unwrap();
    let g = Gost::start(&["-C", cfg.to_str().unwrap()], 1);
    let ask = |host: &str| {
        let mut s = connect(g.addr());
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    assert!(ask("plain.test").ends_with("via-http"));
    assert_eq!(web_hits.try_recv(), Ok(b'G'));
    // `.special.test` nodes take that name and the ones under it; the unfiltered-by-host web
    // node may too (both are eligible, as in gost): ask until the special one answered.
    let special_seen = (0..20).any(|_| ask("www.special.test").ends_with("via-special"));
    assert!(special_seen, "the host filter never picked its node");
    assert_eq!(special_hits.try_recv(), Ok(b'G'));
    // TLS: a ClientHello (from a real TLS client) goes to the tls node.
    if have("openssl") {
        let _ = std::process::Command::new("openssl")
            .args(["s_client", "-connect", &g.addr().to_string(), "-servername", "x.test"])
            .stdin(std::process::Stdio::null())
            .output();
        assert_eq!(tls_hits.recv_timeout(std::time::Duration::from_secs(5)), Ok(0x16));
    }
    // A bypassed sniffed host: closed, no node reached.
    while web_hits.try_recv().is_ok() || special_hits.try_recv().is_ok() {}
    assert_eq!(ask("blocked.test"), "");
    assert!(web_hits.try_recv().is_err() && special_hits.try_recv().is_err());
}

/// `red`: connections netfilter redirects (nftables and iptables rules, in a namespace of the
/// test's own) reach the origin through a SOCKS5 chain; one made to the port directly is closed.
#[test]
fn transparent_proxy_behind_nftables_and_iptables_rules() {
    if let Some(out) = run_in_netns("redirect.sh", &["curl", "python3", "nft"], &[]) {
        assert!(out.contains("ok nftables redirect"), "{out}");
    }
}

/// `dns`: answers through an upstream, from the cache (the upstream asked once), from hosts,
/// an empty answer for a bypassed name, SERVFAIL when the upstream is down, FORMERR for garbage;
/// over UDP, TCP and TLS listeners.
#[test]
fn dns_proxy_answers_caches_and_refuses_as_gost() {
    use std::sync::atomic::Ordering;
    if !have("dig") {
        assert!(!in_ci(), "CI=true: dig is missing");
        eprintln!("SKIP: dig is not installed");
        return;
    }
    let up = dns_upstream();
    let (upstream, asked) = (up.addr, up.asked.clone());
    let query = format!("dns={upstream}&hosts=fixed.test:10.9.8.7&bypass=blocked.test");
    let g = Gost::start(&["-L", &format!("dns://127.0.0.1:0?{query}")], 1);
    let a = dig(g.addr(), &["a.test", "A"]);
    assert!(a.contains("status: NOERROR") && a.contains("10.0.0.1"), "{a}");
    let again = dig(g.addr(), &["a.test", "A"]);
    assert!(again.contains("10.0.0.1"), "{again}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the second answer came from the cache");
    let fixed = dig(g.addr(), &["fixed.test", "A"]);
    assert!(fixed.contains("10.9.8.7"), "{fixed}");
    let blocked = dig(g.addr(), &["blocked.test", "A"]);
    assert!(blocked.contains("status: NOERROR") && blocked.contains("ANSWER: 0"), "{blocked}");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "hosts and bypass never reach the upstream");
    // Garbage: FORMERR, and the proxy keeps serving.
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(3))).unwrap();
    s.send_to(&[0xab, 0xcd, 0x01, 0x00, 0, 9, 0, 0, 0, 0, 0, 0, 1, 2, 3], g.addr()).unwrap();
    let mut b = [0u8; 512];
    let (n, _) = s.recv_from(&mut b).unwrap();
    assert!(n >= 12 && b[3] & 0x0f == 1, "FORMERR");
    s.send_to(b"\x01", g.addr()).unwrap();
    assert!(dig(g.addr(), &["b.test", "A"]).contains("10.0.0.1"));
    // clientIP: the upstream sees an EDNS Client Subnet (192.0.2.0/24).
    let ecs =
        Gost::start(&["-L", &format!("dns://127.0.0.1:0?dns={upstream}&clientIP=192.0.2.77")], 1);
    assert!(dig(ecs.addr(), &["+noedns", "ecs.test", "A"]).contains("10.0.0.1"));
    let sent = up.last.lock().unwrap().clone();
    assert!(sent.windows(11).any(|w| w == [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]), "{sent:?}");
    // async: an expired answer is served at once (TTL 0) and refreshed behind it.
    let stale =
        Gost::start(&["-L", &format!("dns://127.0.0.1:0?dns={upstream}&ttl=1s&async=true")], 1);
    let before = asked.load(Ordering::SeqCst);
    assert!(dig(stale.addr(), &["s.test", "A"]).contains("10.0.0.1"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let served = dig(stale.addr(), &["+noall", "+answer", "s.test", "A"]);
    assert!(served.contains("\t0\tIN\tA\t10.0.0.1"), "a stale answer: {served:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while asked.load(Ordering::SeqCst) < before + 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(asked.load(Ordering::SeqCst), before + 2, "refreshed behind the stale answer");
    let fresh = dig(stale.addr(), &["+noall", "+answer", "s.test", "A"]);
    assert!(fresh.contains("\t1\tIN\tA\t10.0.0.1"), "the refreshed answer: {fresh:?}");
    // The upstream down: SERVFAIL.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = Gost::start(&["-L", &format!("dns://127.0.0.1:0?dns={dead}&timeout=1s")], 1);
    let failed = dig(down.addr(), &["c.test", "A"]);
    assert!(failed.contains("status: SERVFAIL"), "{failed}");
    // TCP and TLS listeners (the upstream over UDP).
    let tcp = Gost::start(&["-L", &format!("dns://127.0.0.1:0?mode=tcp&{query}")], 1);
    let over_tcp = dig(tcp.addr(), &["+tcp", "d.test", "A"]);
    assert!(over_tcp.contains("10.0.0.1"), "{over_tcp}");
    let tls = Gost::start(&["-L", &format!("dns://127.0.0.1:0?mode=tls&{query}")], 1);
    let over_tls = dig(tls.addr(), &["+tls", "e.test", "A"]);
    assert!(over_tls.contains("10.0.0.1"), "{over_tls}");
    // DNS over HTTPS: dig, and curl resolving a name through it (mapped by hosts to the
    // loopback origin).
    let doh = Gost::start(&["-L", &format!("dns://127.0.0.1:0?mode=https&{query}")], 1);
    let over_doh = dig(doh.addr(), &["+https", "g.test", "A"]);
    assert!(over_doh.contains("10.0.0.1"), "{over_doh}");
    if have("curl") {
        let origin = http_server("resolved through doh\n");
        let mapped = Gost::start(
            &[
                "-L",
                &format!("dns://127.0.0.1:0?mode=https&hosts=site.test:127.0.0.1&dns={upstream}"),
            ],
            1,
        );
        let doh_url = format!("https://{}/dns-query", mapped.addr());
        let (ok, body) = curl(&[
            "--doh-url",
            &doh_url,
            "--doh-insecure",
            &format!("http://site.test:{}/", origin.port()),
        ]);
        assert!(ok && body == "resolved through doh\n", "curl --doh-url: {body:?}");
    }
    // A proxy whose upstream is the DoH one (`https://`), twice (the HTTP/2 connection kept).
    let via_doh = format!("dns://127.0.0.1:0?dns=https://{}/dns-query&cacheSize=0", doh.addr());
    let via_doh = Gost::start(&["-L", &via_doh], 1);
    for name in ["h.test", "i.test"] {
        let answer = dig(via_doh.addr(), &[name, "A"]);
        assert!(answer.contains("10.0.0.1"), "through a DoH upstream: {answer}");
    }
    // A proxy whose upstream is the TCP one, over TCP (`tcp://`).
    let chained = Gost::start(&["-L", &format!("dns://127.0.0.1:0?dns=tcp://{}", tcp.addr())], 1);
    assert!(dig(chained.addr(), &["f.test", "A"]).contains("10.0.0.1"));
}

/// A client flooding the DNS proxy is held to the service's rate limit per client (`$$ 5`: five
/// queries a second, bursts of five); the rest are dropped, the upstream is not flooded.
#[test]
fn dns_queries_are_rate_limited_per_client() {
    let up = dns_upstream();
    let dir = temp_dir("dns-rate");
    let cfg = dir.join("gost.yaml");
    let port = free_udp_port();
    std::fs::write(
        &cfg,
        format!(
            "services:\n- name: dns\n  addr: 127.0.0.1:{port}\n  rlimiter: rate\n\
             \x20 handler: {{type: dns, metadata: {{dns: \"{}\", cacheSize: 0}}}}\n\
             \x20 listener: {{type: dns}}\n\
             rlimiters:\n- name: rate\n  limits: [\"$$ 5\"]\n",
            up.addr
        ),
    )
    .unwrap();
    let g = Gost::start(&["-C", cfg.to_str().unwrap()], 1);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(1500))).unwrap();
    for id in 0..40u16 {
        let q = gost_proto::dns::Query { id, name: format!("q{id}.test"), qtype: 1 };
        let mut msg = Vec::new();
        q.encode(&mut msg).unwrap();
        s.send_to(&msg, g.addr()).unwrap();
    }
    let mut answered = 0;
    let mut buf = [0u8; 512];
    while s.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    assert!((1..=12).contains(&answered), "{answered} of 40 queries answered");
    assert!(up.asked.load(std::sync::atomic::Ordering::SeqCst) <= 12);
}

/// `sniffing=true` on a UDP forwarder: a QUIC Initial (RFC 9001's, for example.com) can go to
/// the node filtered for that host and `quic`; other datagrams never do.
#[test]
fn udp_sniffing_routes_quic_by_server_name() {
    let initial: Vec<u8> = {
        let hex: String =
            include_str!("../../crates/gost-x-handler/testdata/rfc9001-a2-client-initial.hex")
                .chars()
                .filter(char::is_ascii_hexdigit)
                .collect();
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    };
    let origin = || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(300))).unwrap();
        s
    };
    let (quic, plain) = (origin(), origin());
    let port = free_udp_port();
    let dir = temp_dir("udp-sniffing");
    let cfg = dir.join("gost.yaml");
    std::fs::write(
        &cfg,
        format!(
            "services:\n- name: fwd\n  addr: 127.0.0.1:{port}\n\
             \x20 handler: {{type: udp, metadata: {{sniffing: true}}}}\n\
             \x20 listener: {{type: udp}}\n\
             \x20 forwarder:\n    nodes:\n\
             \x20   - {{name: quic, addr: \"{}\", filter: {{protocol: quic, host: example.com}}}}\n\
             \x20   - {{name: plain, addr: \"{}\"}}\n",
            quic.local_addr().unwrap(),
            plain.local_addr().unwrap()
        ),
    )
    .unwrap();
    let g = Gost::start(&["-C", cfg.to_str().unwrap()], 1);
    let count = |s: &std::net::UdpSocket, len: usize| {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while let Ok((got, _)) = s.recv_from(&mut buf) {
            assert_eq!(got, len);
            n += 1;
        }
        n
    };
    for _ in 0..10 {
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(&initial, g.addr()).unwrap();
    }
    let quic_hits = count(&quic, initial.len());
    let plain_quic_hits = count(&plain, initial.len());
    assert_eq!(quic_hits + plain_quic_hits, 10);
    assert!(quic_hits > 0, "the QUIC node never got the Initial");
    for _ in 0..5 {
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        c.send_to(b"hello", g.addr()).unwrap();
    }
    assert_eq!(count(&plain, 5), 5, "plain datagrams go to the unfiltered node");
    assert_eq!(count(&quic, 5), 0, "and never to the QUIC one");
}

/// `red` with `tproxy=true` and `redu`: a client behind a veth pair, TPROXY rules on the
/// "router" namespace, TCP and UDP carried through a SOCKS5 chain.
#[test]
fn transparent_proxy_behind_a_tproxy_rule() {
    if let Some(out) = run_in_netns("tproxy.sh", &["curl", "python3", "nft", "nsenter"], &[]) {
        assert!(out.contains("ok tproxy") && out.contains("ok udp tproxy"), "{out}");
    }
}
