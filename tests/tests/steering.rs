//! Traffic steering through the real binary: the SNI proxy (and gost's `sni` client), inside a
//! private network namespace made by the test (`unshare -n`), where origins can listen on the
//! ports the protocols imply (443, 80) without touching the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use gost_e2e::*;

/// Whether this process may make a network namespace (root, or user namespaces allowed).
fn netns_available() -> bool {
    Command::new("unshare")
        .args(["-n", "ip", "link", "set", "lo", "up"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("netns").join(name)
}

/// Runs `script` in a new network namespace with the gost binary and a scratch directory.
fn run_in_netns(name: &str, needs: &[&str]) -> Option<String> {
    if !netns_available() {
        eprintln!("SKIP {name}: cannot make a network namespace here (unshare -n)");
        return None;
    }
    if let Some(missing) = needs.iter().find(|p| !have(p)) {
        assert!(!in_ci(), "CI=true: {missing} is missing");
        eprintln!("SKIP {name}: {missing} is not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("gost-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "bash"]).arg(script(name)).arg(gost_bin()).arg(&dir);
    // The reference Go gost, when it has been built (tests/interop/fetch-reference.sh).
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        let go = home.join(".cache/gost-ref/gost-3.3.0");
        if go.exists() {
            let go_home = home.join(".cache/gost-ref/gost-3.3.0.home");
            let _ = std::fs::create_dir_all(&go_home);
            cmd.env("GO_GOST", &go).env("GO_HOME", &go_home);
        }
    }
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed:\n{text}");
    Some(text)
}

/// `sni`: TLS routed by server name and HTTP by Host to two origins, bypassed names and
/// garbage closed, and gost's `sni` client (showing a cover name) routed by the hidden one.
#[test]
fn sni_proxy_routes_by_server_name_and_host() {
    if let Some(out) = run_in_netns("sni.sh", &["curl", "openssl", "python3"]) {
        assert!(out.contains("ok sni connector, http"), "{out}");
    }
}
