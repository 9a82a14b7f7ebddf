//! Chains: several hops, load balancing and failover across nodes, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use gost_e2e::*;

#[test]
fn three_hops_of_different_protocols_carry_16_mib() {
    let a = Gost::start(&["-L", "socks5://u:p@127.0.0.1:0"], 1);
    let b = Gost::start(&["-L", "http://127.0.0.1:0"], 1);
    let c = Gost::start(&["-L", "relay+ws://127.0.0.1:0"], 1);
    let client = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("socks5://u:p@{}", a.addr()),
            "-F",
            &format!("http://{}", b.addr()),
            "-F",
            &format!("relay+ws://{}", c.addr()),
        ],
        1,
    );
    let origin = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = origin.local_addr().unwrap().to_string();
    bulk_both_ways(http_connect(client.addr(), &target, None), origin, 16 << 20);
}

/// Three origins answering "0", "1", "2", each behind its own forwarding node in one process.
fn three_nodes() -> Gost {
    let origins: Vec<_> =
        (0..3u8).map(|i| tcp_server(move |mut s| s.write_all(&[b'0' + i]).unwrap())).collect();
    let args: Vec<String> =
        origins.iter().flat_map(|o| ["-L".into(), format!("tcp://127.0.0.1:0/{o}")]).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Gost::start(&args, 3)
}

fn node_list(nodes: &Gost) -> String {
    nodes.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",")
}

/// Which node answered each of `n` connections through `client`.
fn answers(client: &Gost, n: usize) -> Vec<u8> {
    (0..n).map(|_| read_all(&mut connect(client.addr())).first().copied().unwrap_or(b'?')).collect()
}

fn counts(answers: &[u8]) -> BTreeMap<char, usize> {
    let mut m = BTreeMap::new();
    for a in answers {
        *m.entry(*a as char).or_default() += 1;
    }
    m
}

#[test]
fn round_robin_fifo_and_hash() {
    let nodes = three_nodes();
    let hop = |query: &str| {
        Gost::start(
            &[
                "-L",
                "tcp://127.0.0.1:0/198.51.100.1:9",
                "-F",
                &format!("forward+tcp://{}{query}", node_list(&nodes)),
            ],
            1,
        )
    };
    let round = hop("");
    let c = counts(&answers(&round, 30));
    assert_eq!(c, BTreeMap::from([('0', 10), ('1', 10), ('2', 10)]));
    let fifo = hop("?strategy=fifo");
    assert_eq!(answers(&fifo, 10), b"0000000000");
    let hash = hop("?strategy=hash");
    let got = answers(&hash, 10);
    assert!(got.iter().all(|a| *a == got[0]), "hash must be stable for one client: {got:?}");
    let rand = hop("?strategy=rand");
    assert_eq!(counts(&answers(&rand, 60)).len(), 3, "rand reaches every node");
}

#[test]
fn failover_and_recovery_after_fail_timeout() {
    let origin0 = tcp_server(|mut s| s.write_all(b"0").unwrap());
    let origin1 = tcp_server(|mut s| s.write_all(b"1").unwrap());
    let port0 = free_port();
    let node0_args = ["-L".to_owned(), format!("tcp://127.0.0.1:{port0}/{origin0}")];
    let node0_args: Vec<&str> = node0_args.iter().map(String::as_str).collect();
    let node0 = Gost::start(&node0_args, 1);
    let node1 = Gost::start(&["-L", &format!("tcp://127.0.0.1:0/{origin1}")], 1);
    let client = Gost::start(
        &[
            "-L",
            "tcp://127.0.0.1:0/198.51.100.1:9?retries=1",
            "-F",
            &format!(
                "forward+tcp://127.0.0.1:{port0},{}?strategy=fifo&failTimeout=2s",
                node1.addr()
            ),
        ],
        1,
    );
    assert_eq!(answers(&client, 3), b"000");
    drop(node0);
    // The dead node is tried once, marked failed, and the retry goes to node 1: no client sees
    // an error.
    assert_eq!(answers(&client, 5), b"11111");
    // After failTimeout the node is tried again, and it is back.
    let _node0 = Gost::start(&node0_args, 1);
    thread::sleep(Duration::from_millis(2200));
    assert_eq!(answers(&client, 3), b"000", "log:\n{}", client.log());
}

#[test]
fn a_black_hole_node_fails_the_dial_within_the_timeout() {
    // Accepts connections and never answers.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let _keep = thread::spawn(move || {
        let mut held = Vec::new();
        for s in hole.incoming().flatten() {
            held.push(s);
        }
    });
    let client = Gost::start(
        &["-L", "http://127.0.0.1:0?dialTimeout=2s", "-F", &format!("socks5://{hole_addr}")],
        1,
    );
    let start = Instant::now();
    let mut c = connect(client.addr());
    c.write_all(b"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n").unwrap();
    let head = read_head(&mut c);
    let took = start.elapsed();
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(6), "took {took:?}");
}
