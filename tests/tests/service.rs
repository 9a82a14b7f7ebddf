//! The service runtime through the binary: multi-process groups, hooks, ignoreChain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::time::Duration;

use gost_e2e::*;

#[test]
fn double_dash_runs_each_group_in_its_own_process() {
    let a = tcp_server(|mut s| s.write_all(b"a").unwrap());
    let b = tcp_server(|mut s| s.write_all(b"b").unwrap());
    let mut g = Gost::start(
        &["-L", &format!("tcp://127.0.0.1:0/{a}"), "--", "-L", &format!("tcp://127.0.0.1:0/{b}")],
        2,
    );
    let mut seen: Vec<u8> = g.addrs.iter().map(|addr| read_all(&mut connect(*addr))[0]).collect();
    seen.sort();
    assert_eq!(seen, b"ab");
    // Stopping the parent stops every child.
    let addrs = g.addrs.clone();
    g.signal("TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(20)), Some(0), "log:\n{}", g.log());
    for addr in addrs {
        assert!(!accepts(addr), "{addr} still open after the parent stopped");
    }
}

#[test]
fn a_failing_group_stops_the_others_and_the_parent_fails() {
    let port = free_port();
    let (code, log) = run_to_exit(
        &[
            "-L",
            &format!("tcp://127.0.0.1:{port}/127.0.0.1:9"),
            "--",
            "-L",
            "tcp://127.0.0.1:99999/x:1",
        ],
        Duration::from_secs(30),
    );
    assert!(matches!(code, Some(c) if c != 0), "exit {code:?}; log:\n{log}");
    assert!(log.contains("process group 1"), "{log}");
    assert!(!accepts(("127.0.0.1", port)), "group 0 was not stopped");
}

#[test]
fn hooks_run_around_the_service() {
    let dir = std::env::temp_dir().join(format!("gost-e2e-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |n: &str| dir.join(n).display().to_string();
    let yaml = format!(
        "services:\n- name: hooked\n  addr: 127.0.0.1:0\n  handler: {{type: tcp}}\n  listener: {{type: tcp}}\n  forwarder: {{nodes: [{{name: t, addr: \"127.0.0.1:9\"}}]}}\n  metadata:\n    preUp: [\"touch {}\"]\n    postUp: [\"sh -c 'echo up > {}'\"]\n    preDown: [\"touch {}\"]\n    postDown: [\"touch {}\", \"false\"]\n",
        file("pre-up"),
        file("post-up"),
        file("pre-down"),
        file("post-down")
    );
    let cfg = dir.join("hooks.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let mut g = Gost::start(&["-C", &cfg.display().to_string()], 1);
    assert!(dir.join("pre-up").exists());
    assert_eq!(std::fs::read_to_string(dir.join("post-up")).unwrap(), "up\n");
    assert!(!dir.join("pre-down").exists());
    g.signal("TERM");
    assert_eq!(g.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(dir.join("pre-down").exists() && dir.join("post-down").exists());
    // A failing hook is a warning, not a failure.
    assert!(g.log().contains("\"false\" exited"), "{}", g.log());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ignore_chain_keeps_a_service_off_the_chain() {
    if !have("curl") {
        eprintln!("SKIP: curl is not installed");
        return;
    }
    let origin = http_server("direct\n");
    let dead = free_port();
    let g = Gost::start(
        &[
            "-L",
            "http://127.0.0.1:0?ignoreChain=true",
            "-L",
            "http://127.0.0.1:0",
            "-F",
            &format!("http://127.0.0.1:{dead}"),
        ],
        2,
    );
    let url = format!("http://{origin}/");
    assert_eq!(curl(&["-x", &format!("http://{}", g.addrs[0]), &url]).1, "direct\n");
    assert_ne!(curl(&["-x", &format!("http://{}", g.addrs[1]), &url]).1, "direct\n");
}
