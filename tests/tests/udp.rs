//! UDP port forwarding through the real binary: `gost -L udp://:PORT/target`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

use gost_e2e::*;

/// A UDP server answering every datagram with `<source port>:<payload>`.
fn port_echo() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let mut out = format!("{}:", from.port()).into_bytes();
            out.extend_from_slice(&buf[..n]);
            let _ = s.send_to(&out, from);
        }
    });
    addr
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// Sends `n` numbered datagrams one after another through `via`; each answer must carry its own
/// number, in order. Returns the source ports the origin saw.
fn sequence(c: &UdpSocket, via: SocketAddr, n: u32) -> Vec<String> {
    let mut ports = Vec::new();
    for seq in 0..n {
        let msg = format!("seq {seq:04} {}", "x".repeat((seq % 200) as usize));
        c.send_to(msg.as_bytes(), via).unwrap();
        let mut buf = [0u8; 2048];
        let (len, _) = c.recv_from(&mut buf).unwrap();
        let answer = String::from_utf8_lossy(&buf[..len]).into_owned();
        let (port, echoed) = answer.split_once(':').unwrap();
        assert_eq!(echoed, msg, "datagram {seq}");
        ports.push(port.to_owned());
    }
    ports
}

#[test]
fn udp_forwarding_direct_keeps_1000_datagrams_intact_and_in_order() {
    let origin = port_echo();
    let g = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{origin}")], 1);
    let ports = sequence(&client(), g.addr(), 1000);
    // One client, one session: one outbound socket.
    assert!(ports.iter().all(|p| *p == ports[0]));
}

#[test]
fn udp_forwarding_through_relay_and_socks5_chains() {
    let origin = port_echo();
    let relay = Gost::start(&["-L", "relay://u:p@127.0.0.1:0"], 1);
    let g = Gost::start(
        &[
            "-L",
            &format!("udp://127.0.0.1:0/{origin}"),
            "-F",
            &format!("relay://u:p@{}", relay.addr()),
        ],
        1,
    );
    sequence(&client(), g.addr(), 300);
    let socks = Gost::start(&["-L", "socks5://127.0.0.1:0?udp=true"], 1);
    let g = Gost::start(
        &[
            "-L",
            &format!("udp://127.0.0.1:0/{origin}"),
            "-F",
            &format!("socks5://{}", socks.addr()),
        ],
        1,
    );
    sequence(&client(), g.addr(), 300);
}

#[test]
fn udp_sessions_expire_after_ttl() {
    let origin = port_echo();
    let g = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{origin}?ttl=1s")], 1);
    let c = client();
    let first = sequence(&c, g.addr(), 2);
    assert_eq!(first[0], first[1], "same session within the ttl");
    thread::sleep(Duration::from_millis(1800));
    let later = sequence(&c, g.addr(), 1);
    assert_ne!(later[0], first[0], "a new session (new outbound socket) after the ttl");
}

#[test]
fn stateless_udp_answers_once_per_session() {
    let origin = port_echo();
    let g = Gost::start(&["-L", &format!("udp://127.0.0.1:0/{origin}?stateless=true")], 1);
    let c = client();
    // Each request gets its reply, each through a fresh session.
    let ports = sequence(&c, g.addr(), 5);
    assert_eq!(ports.len(), 5);
}

/// `rudp` through `node`: the server binds the port, datagrams to it reach `origin` through the
/// client and the answers come back from the bound port.
fn rudp_through(server: &str, node: &str) {
    let origin = port_echo();
    let server = Gost::start(&["-L", server], 1);
    let exposed = free_udp_port();
    let client = Gost::spawn(&[
        "-L",
        &format!("rudp://127.0.0.1:{exposed}/{origin}"),
        "-F",
        &format!("{node}://{}", server.addr()),
    ]);
    let c = client_socket_with_timeout(Duration::from_millis(500));
    let via: SocketAddr = format!("127.0.0.1:{exposed}").parse().unwrap();
    // The bind happens in the background: retry the first datagram for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        c.send_to(b"hello", via).unwrap();
        let mut buf = [0u8; 64];
        if let Ok((n, from)) = c.recv_from(&mut buf) {
            assert_eq!(from, via);
            assert!(String::from_utf8_lossy(&buf[..n]).ends_with(":hello"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no answer through rudp; client log:\n{}",
            client.log()
        );
    }
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sequence(&c, via, 200);
}

fn client_socket_with_timeout(t: Duration) -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(t)).unwrap();
    c
}

#[test]
fn rudp_through_relay_and_socks5() {
    rudp_through("relay://127.0.0.1:0?bind=true", "relay");
    rudp_through("socks5://127.0.0.1:0?bind=true", "socks5");
}

/// gost's UDP relay over HTTP (`X-Gost-Protocol: udp`): UDP forwarding through an `http` node
/// whose server has `udp=true`; refused (no datagram passes) without it.
#[test]
fn udp_through_an_http_node() {
    let origin = port_echo();
    let http = Gost::start(&["-L", "http://u:p@127.0.0.1:0?udp=true"], 1);
    let g = Gost::start(
        &[
            "-L",
            &format!("udp://127.0.0.1:0/{origin}"),
            "-F",
            &format!("http://u:p@{}", http.addr()),
        ],
        1,
    );
    sequence(&client(), g.addr(), 300);
    // The server without udp=true refuses the relay: the datagram goes nowhere.
    let closed = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    let g = Gost::start(
        &["-L", &format!("udp://127.0.0.1:0/{origin}"), "-F", &format!("http://{}", closed.addr())],
        1,
    );
    let c = client_socket_with_timeout(Duration::from_millis(700));
    c.send_to(b"lost", g.addr()).unwrap();
    let mut buf = [0u8; 64];
    assert!(c.recv_from(&mut buf).is_err(), "a refused relay carried a datagram");
    g.wait_log("UDP relay", Duration::from_secs(5));
}
