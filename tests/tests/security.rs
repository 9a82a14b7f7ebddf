//! Defects a security review found in policy, the Web API, UDP paths and config, each tried
//! through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

use gost_e2e::*;

/// A SOCKS5 CONNECT to a domain-type address; returns the reply code and the stream.
fn socks5_connect_name(proxy: SocketAddr, host: &str, port: u16) -> (u8, TcpStream) {
    let mut s = connect(proxy);
    s.write_all(&[5, 1, 0]).unwrap();
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).unwrap();
    assert_eq!(choice, [5, 0]);
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host.as_bytes());
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    (head[1], s)
}

/// An echo server on `ip` (any loopback address).
fn echo_on(ip: &str) -> SocketAddr {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn bypass_cidrs_hold_for_every_spelling_of_an_address() {
    let forbidden = echo_on("127.0.0.2");
    let port = forbidden.port();
    // The same port on 127.0.0.1, allowed (skip the allowed cells if it is taken).
    let allowed = TcpListener::bind(("127.0.0.1", port)).ok();
    let g = Gost::start(
        &[
            "-L",
            "socks5://127.0.0.1:0?bypass=127.0.0.2/32",
            "-L",
            "http://127.0.0.1:0?bypass=127.0.0.2/32",
        ],
        2,
    );
    for name in ["127.0.0.2", "127.0.2", "2130706434", "0x7f000002", "0177.0.0.2", "0x7f.0.0.2"] {
        let (rep, _) = socks5_connect_name(g.addrs[0], name, port);
        assert_ne!(rep, 0, "SOCKS5 CONNECT {name}:{port} must be refused");
        let mut s = connect(g.addrs[1]);
        write!(s, "CONNECT {name}:{port} HTTP/1.1\r\nHost: {name}:{port}\r\n\r\n").unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 403"), "HTTP CONNECT {name}: {head}");
    }
    // A name the resolver would read as an address this build cannot: refused, not looked up.
    let (rep, _) = socks5_connect_name(g.addrs[0], "127.0.0.09", port);
    assert_ne!(rep, 0);
    // A numeric spelling of an allowed address reaches that address.
    if let Some(l) = allowed {
        let (rep, mut s) = socks5_connect_name(g.addrs[0], "127.1", port);
        assert_eq!(rep, 0, "127.1 is 127.0.0.1, which is allowed");
        let mut rest = [0u8; 6];
        s.read_exact(&mut rest).unwrap();
        let (_conn, from) = l.accept().unwrap();
        assert_eq!(from.ip().to_string(), "127.0.0.1");
    }
    // A hosts mapping to the forbidden address is refused after resolution.
    let g = Gost::start(
        &["-L", "socks5://127.0.0.1:0?bypass=127.0.0.2&hosts=inside.test:127.0.0.2"],
        1,
    );
    let (rep, _) = socks5_connect_name(g.addr(), "inside.test", port);
    assert_ne!(rep, 0, "a name mapped to a bypassed address is refused");
}

/// A scratch directory, removed on drop.
struct Scratch(std::path::PathBuf);
impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("gost-e2e-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA, a server certificate for gost.run and a client certificate, all signed by the CA:
/// paths of (ca, server cert, server key, client cert, client key).
fn pki(dir: &Scratch) -> [String; 5] {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "e2e CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |name: &str, usage: rcgen::ExtendedKeyUsagePurpose| {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server, server_key) = leaf("gost.run", rcgen::ExtendedKeyUsagePurpose::ServerAuth);
    let (client, client_key) = leaf("client", rcgen::ExtendedKeyUsagePurpose::ClientAuth);
    [
        dir.write("ca.pem", &ca_cert.pem()),
        dir.write("server.pem", &server),
        dir.write("server.key", &server_key),
        dir.write("client.pem", &client),
        dir.write("client.key", &client_key),
    ]
}

/// Sends a line through a local forwarder and reads the echo; false when the tunnel fails.
fn echoes(via: SocketAddr) -> bool {
    let mut s = connect(via);
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    if s.write_all(b"hello").is_err() {
        return false;
    }
    let mut got = [0u8; 5];
    s.read_exact(&mut got).is_ok() && &got == b"hello"
}

#[test]
fn the_top_level_tls_block_is_every_tls_listeners_default_with_mtls() {
    let dir = Scratch::new("tls-block");
    let [ca, cert, key, client, client_key] = pki(&dir);
    let echo = echo_on("127.0.0.1");
    let config = format!(
        "tls:\n  certFile: {cert}\n  keyFile: {key}\n  caFile: {ca}\n\
         services:\n- name: tls-forward\n  addr: 127.0.0.1:0\n  handler:\n    type: tcp\n\
         \x20 listener:\n    type: tls\n  forwarder:\n    nodes:\n    - name: echo\n      addr: {echo}\n"
    );
    let file = dir.write("gost.yaml", &config);
    let server = Gost::start(&["-C", &file], 1);
    let node = |extra: &str| {
        format!(
            "forward+tls://{}?secure=true&serverName=gost.run&caFile={ca}{extra}",
            server.addr()
        )
    };
    // The configured certificate is served (a client that trusts only the CA verifies it),
    // and a client certificate signed by the CA is accepted.
    let with_cert = node(&format!("&certFile={client}&keyFile={client_key}"));
    let good = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}"), "-F", &with_cert], 1);
    assert!(
        echoes(good.addr()),
        "mTLS with the CA's client certificate; server log:\n{}",
        server.log()
    );
    // Without a client certificate the caFile makes the server refuse the handshake.
    let without = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{echo}"), "-F", &node("")], 1);
    assert!(!echoes(without.addr()), "a client without a certificate must be refused");
}

#[test]
fn the_api_answers_401_before_reading_any_body() {
    let g = Gost::spawn(&["-api", "u:p@127.0.0.1:0"]);
    let api = g.logged_addr("api service on ", std::time::Duration::from_secs(20));
    let before = rss_kib(g.pid());
    // 30 clients announce 8 MiB bodies (the largest the API takes), send 1 MiB of each, and
    // never authenticate: each is told 401 at once and its body is not read.
    let chunk = vec![b'x'; 1 << 20];
    let mut held = Vec::new();
    // Also the routes that need no credentials and take no body.
    let routes = [
        ("PUT /config/services/x", "401"),
        ("OPTIONS /config", "204"),
        ("POST /docs/swagger.yaml", "404"),
    ];
    for i in 0..30 {
        let (route, status) = routes[i % routes.len()];
        let mut s = connect(api);
        let head = format!("{route} HTTP/1.1\r\nHost: a\r\nContent-Length: 8388608\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.set_write_timeout(Some(std::time::Duration::from_secs(1))).unwrap();
        let _ = s.write_all(&chunk);
        let head = read_head(&mut s);
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{route}: {head}");
        held.push(s);
    }
    let grown = rss_kib(g.pid()).saturating_sub(before);
    assert!(grown < 16 * 1024, "RSS grew by {grown} KiB for unauthenticated bodies");
    // `Expect: 100-continue` gets the 401 instead of the 100.
    let mut s = connect(api);
    s.write_all(b"PUT /config HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 401 "));
}

/// Echoes one message over `s`; false if the connection was closed instead.
fn talks(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    if s.write_all(b"ping").is_err() {
        return false;
    }
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"ping"
}

#[test]
fn reloading_a_connection_limiter_file_keeps_the_counts() {
    let dir = Scratch::new("climiter-reload");
    let echo = echo_on("127.0.0.1");
    let limits = dir.write("limits.txt", "$ 3\n");
    let yaml = format!(
        "services:\n- name: s\n  addr: 127.0.0.1:0\n  climiter: c\n  handler: {{type: tcp}}\n\
         \x20 listener: {{type: tcp}}\n  forwarder: {{nodes: [{{name: e, addr: \"{echo}\"}}]}}\n\
         climiters:\n- name: c\n  file: {{path: {limits}}}\n  reload: 1s\n"
    );
    let g = Gost::start(&["-C", &dir.write("gost.yaml", &yaml)], 1);
    let mut held: Vec<TcpStream> = (0..3).map(|_| connect(g.addr())).collect();
    assert!(held.iter_mut().all(talks));
    // Several reload periods pass with the three held: still exactly full.
    thread::sleep(std::time::Duration::from_millis(3500));
    assert!(!talks(&mut connect(g.addr())), "a fourth must be refused");
    // Once they close, new connections are served again (the counts did not leak).
    drop(held);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut kept = Vec::new(); // open at once: three must fit
    while kept.len() < 3 && std::time::Instant::now() < deadline {
        let mut c = connect(g.addr());
        if talks(&mut c) {
            kept.push(c);
        } else {
            thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    assert_eq!(kept.len(), 3, "after the reloads, three connections fit again; log:\n{}", g.log());
}

#[test]
fn socks5_udp_to_a_hosts_mapped_name_is_delivered_and_bypass_holds() {
    // On every address, so that 127.0.0.2 would answer too if a datagram got there.
    let echo = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let g = Gost::start(
        &[
            "-L",
            "socks5://127.0.0.1:0?udp=true&bypass=127.0.0.2&hosts=udp.test:127.0.0.1,two.test:127.0.0.2",
        ],
        1,
    );
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let (rep, relay, _control) = socks5_request(g.addr(), 3, any, None);
    assert_eq!(rep, 0);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(std::time::Duration::from_secs(2))).unwrap();
    let datagram = |name: &str, payload: &[u8]| {
        let mut d = vec![0, 0, 0, 3, name.len() as u8];
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(&port.to_be_bytes());
        d.extend_from_slice(payload);
        d
    };
    for i in 0..3u8 {
        client.send_to(&datagram("udp.test", &[i, i]), relay).unwrap();
        let mut buf = [0u8; 64];
        let (n, _) = client.recv_from(&mut buf).expect("the answer through the mapped name");
        assert_eq!(&buf[n - 2..n], &[i, i]);
    }
    // A name mapped to a bypassed address gets nothing through.
    client.send_to(&datagram("two.test", b"no"), relay).unwrap();
    let mut buf = [0u8; 64];
    assert!(client.recv_from(&mut buf).is_err(), "nothing may come back from 127.0.0.2");
}

#[test]
fn huge_durations_are_refused_when_the_config_is_read() {
    for url in [
        "udp://127.0.0.1:0/127.0.0.1:53?ttl=9223372036854775807",
        "ws://127.0.0.1:0?handshakeTimeout=99999999999999h",
    ] {
        let (code, log) = run_to_exit(&["-L", url, "--check"], std::time::Duration::from_secs(20));
        assert_ne!(code, Some(0), "{url} passed --check:\n{log}");
        assert!(log.contains("longest duration"), "{url}: {log}");
    }
    // And a service started with one never gets to panic on a datagram.
    let (code, log) = run_to_exit(
        &["-L", "udp://127.0.0.1:0/127.0.0.1:53?ttl=9223372036854775807"],
        std::time::Duration::from_secs(20),
    );
    assert_ne!(code, Some(0));
    assert!(!log.contains("panicked"), "{log}");
}

#[cfg(unix)]
#[test]
fn saving_the_config_through_the_api_keeps_it_private_and_linked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("save-mode");
    let real = dir.write("real.yaml", "services:\n- name: s\n  addr: 127.0.0.1:0\n  handler: {type: http}\n  listener: {type: tcp}\n");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.0.join("gost.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let g = Gost::spawn(&["-C", link.to_str().unwrap(), "-api", "127.0.0.1:0"]);
    let api = g.logged_addr("api service on ", std::time::Duration::from_secs(20));
    let post = |target: &str| {
        let mut s = connect(api);
        write!(
            s,
            "POST {target} HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        read_head(&mut s)
    };
    assert!(post("/config").starts_with("HTTP/1.1 200"));
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(std::path::Path::new(&real)), 0o600, "the saved file stays private");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays");
    assert!(std::fs::read_to_string(&real).unwrap().contains("name: s"));
    // A new file is created private.
    let fresh = dir.0.join("fresh.yaml");
    assert!(post(&format!("/config?path={}", fresh.display())).starts_with("HTTP/1.1 200"));
    assert_eq!(mode(&fresh), 0o600);
}

#[test]
fn a_password_without_a_user_name_is_refused_not_ignored() {
    for args in [
        vec!["-L", "http://:secret@127.0.0.1:0"],
        vec!["-L", "socks5://127.0.0.1:0?auth=OnNlY3JldA=="], // base64(":secret")
        vec!["-L", "http://:secret@127.0.0.1:0", "--check"],
        vec!["-api", ":secret@127.0.0.1:0"],
        vec!["-api", ":secret@127.0.0.1:0", "--check"],
        vec!["-L", "http://127.0.0.1:0", "-metrics", ":secret@127.0.0.1:0"],
    ] {
        let (code, log) = run_to_exit(&args, std::time::Duration::from_secs(20));
        assert_ne!(code, Some(0), "{args:?} started:\n{log}");
        assert!(log.contains("no user name"), "{args:?}: {log}");
    }
}

/// `probeResist=web:https://...`: a prober that fails authentication sees the page, fetched
/// over TLS with its certificate verified (here against a test CA given as `SSL_CERT_FILE`).
#[test]
fn probe_resistance_shows_an_https_page() {
    if !have("curl") {
        return;
    }
    let dir = Scratch::new("probe-web-https");
    let [ca, cert, key, _, _] = pki(&dir);
    let root = dir.0.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("index.html"), "<h1>nothing to see</h1>\n").unwrap();
    let site = Gost::start(
        &[
            "-L",
            &format!("file+tls://127.0.0.1:0?dir={}&certFile={cert}&keyFile={key}", root.display()),
        ],
        1,
    );
    let port = site.addr().port();
    let mut cmd = std::process::Command::new(gost_bin());
    cmd.args([
        "-L",
        &format!("http://u:p@127.0.0.1:0?probeResist=web:https://gost.run:{port}/&hosts=gost.run:127.0.0.1"),
    ])
    .env("SSL_CERT_FILE", &ca);
    let proxy = Gost::spawn_command(cmd).wait_listening(1, |line| {
        let rest = line.split("listening on ").nth(1)?;
        Some((0, rest.split_whitespace().next()?.parse().ok()?))
    });
    let (ok, body) =
        curl(&["-x", &format!("http://u:wrong@{}", proxy.addr()), "http://example.com/"]);
    assert!(ok && body.contains("nothing to see"), "the decoy page: {body:?}\n{}", proxy.log());
    // A page whose certificate does not verify is not shown: 407, as without probe resistance.
    let mut cmd = std::process::Command::new(gost_bin());
    cmd.args(["-L", &format!("http://u:p@127.0.0.1:0?probeResist=web:https://gost.run:{port}/&hosts=gost.run:127.0.0.1")]);
    let untrusting = Gost::spawn_command(cmd).wait_listening(1, |line| {
        let rest = line.split("listening on ").nth(1)?;
        Some((0, rest.split_whitespace().next()?.parse().ok()?))
    });
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-x"])
        .arg(format!("http://u:wrong@{}", untrusting.addr()))
        .arg("http://example.com/")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "407");
}
