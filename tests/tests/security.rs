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
