//! Command-line errors: one clear line, a non-zero exit, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use gost_e2e::*;

fn fails(args: &[&str], expect: &str) {
    let (code, log) = run_to_exit(args, Duration::from_secs(10));
    assert!(matches!(code, Some(c) if c != 0), "{args:?} exited with {code:?}; log:\n{log}");
    assert!(log.contains(expect), "{args:?}: expected {expect:?} in:\n{log}");
    assert!(!log.contains("panicked"), "{args:?} panicked:\n{log}");
}

#[test]
fn malformed_services_are_rejected() {
    fails(&["-L", "tcp://:99999/127.0.0.1:80"], "invalid port \"99999\"");
    fails(&["-L", "tcp://:8080/127.0.0.1"], "missing port");
    fails(
        &["-L", "tcp://127.0.0.1:0/127.0.0.1:80?ignoreChain=maybe"],
        "metadata key `ignoreChain`: expected a bool",
    );
    fails(&["-L", "tcp://:1/h:2?x=%zz"], "bad %-escape");
    fails(&["-L"], "flag needs an argument: -L");
    fails(&["-Q"], "flag provided but not defined: -Q");
    fails(&[], "no service to run");
}

#[test]
fn not_yet_supported_is_said_plainly() {
    fails(&["-L", "sshd://127.0.0.1:0"], "handler type \"sshd\" is not supported yet");
    fails(
        &["-L", ":0", "-C", r#"{"profiling": {"addr": ":0"}}"#],
        "`profiling` is not supported yet",
    );
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    fails(&["-L", &format!("tcp://{addr}/127.0.0.1:80")], &format!("listen on {addr}"));
}

#[test]
fn version_flag() {
    let (code, _) = run_to_exit(&["-V"], Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let out = std::process::Command::new(gost_bin()).arg("-V").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gost "));
}

#[test]
fn unknown_scheme_warns_about_gosts_fallback() {
    let g = Gost::start(&["-L", "foo+tcp://127.0.0.1:0/127.0.0.1:9"], 1);
    // foo+tcp with a path is a tcp forwarder; the warning names the fallback.
    let _ = g.addr();
    assert!(g.log().contains("unknown handler \"foo\""), "log:\n{}", g.log());
}
