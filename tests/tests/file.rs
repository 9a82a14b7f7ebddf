//! The `file` handler through the real binary, with curl: serving a tree (listing, index,
//! redirects, ranges, conditional requests), uploads, auth, and every way out of the directory a
//! hostile client tries (`..`, encoded, symlinks, oversized uploads).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use gost_e2e::{Gost, have, temp_dir};

/// `curl -s -i` with `args`: (status, headers + body as text).
fn curl_i(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10", "--path-as-is"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    // The last status line (after a `100 Continue`).
    let status = text
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

struct Tree {
    root: PathBuf,
    outside: PathBuf,
}

fn tree(name: &str) -> Tree {
    let base = temp_dir(name);
    let (root, outside) = (base.join("root"), base.join("outside"));
    let _ = std::fs::remove_dir_all(&root);
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("a.txt"), "hello file\n").unwrap();
    std::fs::write(root.join("sub/index.html"), "<h1>index</h1>\n").unwrap();
    std::fs::write(outside.join("secret.txt"), "TOP SECRET\n").unwrap();
    symlink(&outside, root.join("escape")).unwrap();
    symlink(outside.join("secret.txt"), root.join("link.txt")).unwrap();
    symlink(root.join("a.txt"), root.join("inner.txt")).unwrap();
    Tree { root, outside }
}

fn serve(root: &Path, query: &str) -> Gost {
    let url = format!("file://127.0.0.1:0?dir={}{query}", root.display());
    Gost::start(&["-L", &url], 1)
}

#[test]
fn serves_a_tree_as_go_s_file_server() {
    if !have("curl") {
        return;
    }
    let t = tree("file-get");
    let g = serve(&t.root, "");
    let base = format!("http://{}", g.addr());
    let (code, out) = curl_i(&[&format!("{base}/a.txt")]);
    assert_eq!(code, 200, "{out}");
    assert!(out.contains("Content-Type: text/plain; charset=utf-8"), "{out}");
    assert!(out.contains("Accept-Ranges: bytes") && out.contains("Last-Modified: "), "{out}");
    assert!(out.ends_with("\nhello file\n"), "{out}");
    // A listing, sorted, directories with a slash.
    let (code, out) = curl_i(&[&format!("{base}/")]);
    assert_eq!(code, 200);
    assert!(out.contains("<a href=\"a.txt\">a.txt</a>\n<a href=\"escape\">"), "{out}");
    assert!(out.contains("<a href=\"sub/\">sub/</a>"), "{out}");
    // Directory redirects and the index.
    let (code, out) = curl_i(&[&format!("{base}/sub?x=1")]);
    assert_eq!(code, 301);
    assert!(out.contains("Location: sub/?x=1"), "{out}");
    let (_, out) = curl_i(&[&format!("{base}/sub/")]);
    assert!(out.ends_with("<h1>index</h1>\n"), "{out}");
    let (code, out) = curl_i(&[&format!("{base}/sub/index.html")]);
    assert_eq!(code, 301);
    assert!(out.contains("Location: ./"), "{out}");
    // Ranges, HEAD, conditional requests; a link inside the tree is followed.
    let (code, out) = curl_i(&["-r", "6-9", &format!("{base}/a.txt")]);
    assert_eq!(code, 206, "{out}");
    assert!(out.contains("Content-Range: bytes 6-9/11") && out.ends_with("\nfile"), "{out}");
    let (code, out) = curl_i(&["-r", "100-", &format!("{base}/a.txt")]);
    assert_eq!(code, 416, "{out}");
    let (code, out) = curl_i(&["-I", &format!("{base}/a.txt")]);
    assert!(code == 200 && out.contains("Content-Length: 11") && !out.contains("hello"), "{out}");
    let (code, _) = curl_i(&[
        "-H",
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
        &format!("{base}/a.txt"),
    ]);
    assert_eq!(code, 304);
    let (code, out) = curl_i(&[&format!("{base}/inner.txt")]);
    assert!(code == 200 && out.ends_with("hello file\n"), "{out}");
    // Several requests on one connection.
    let (code, out) = curl_i(&[&format!("{base}/a.txt"), &format!("{base}/sub/")]);
    assert_eq!(code, 200);
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
    // Methods other than GET/HEAD (PUT off).
    let (code, out) = curl_i(&["-X", "DELETE", &format!("{base}/a.txt")]);
    assert!(code == 405 && out.contains("Allow: GET, HEAD"), "{out}");
    let (code, _) = curl_i(&["-T", "-", &format!("{base}/new.txt")]);
    assert_eq!(code, 405);
    assert!(!t.root.join("new.txt").exists());
}

#[test]
fn no_way_out_of_the_directory() {
    if !have("curl") {
        return;
    }
    let t = tree("file-escape");
    let g = serve(&t.root, "&put=true");
    let base = format!("http://{}", g.addr());
    for path in [
        "/../outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt",
        "/..%2f..%2foutside/secret.txt",
        "/escape/secret.txt",
        "/link.txt",
        "/escape/",
    ] {
        let (code, out) = curl_i(&[&format!("{base}{path}")]);
        assert!(code == 404 || code == 400, "{path}: {code}\n{out}");
        assert!(!out.contains("TOP SECRET"), "{path} leaked:\n{out}");
    }
    // Uploads: traversal refused, a symlinked directory refused, nothing written outside.
    for (path, want) in [
        ("/../outside/x.txt", 400),
        ("/%2e%2e/outside/x.txt", 400),
        ("/sub/..%2f..%2foutside/x.txt", 400),
        ("/escape/x.txt", 403),
        ("/escape/made/by/put/x.txt", 403),
        ("/link.txt", 403),
        ("/sub/", 400),
        ("/sub", 409),
    ] {
        let (code, out) = curl_i(&["-T", "-", &format!("{base}{path}")]);
        assert_eq!(code, want, "PUT {path}\n{out}");
    }
    // A name with a line break never reaches a header (a redirect's Location is escaped).
    let (code, _) = curl_i(&["-T", "-", &format!("{base}/x%0D%0ASet-Cookie:%20a=b")]);
    assert_eq!(code, 201);
    let (code, out) = curl_i(&[&format!("{base}/x%0D%0ASet-Cookie:%20a=b/")]);
    assert_eq!(code, 301, "{out}");
    assert!(!out.contains("\nSet-Cookie"), "{out}");
    let outside: Vec<_> =
        std::fs::read_dir(&t.outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(outside, ["secret.txt"], "nothing was written outside");
    assert_eq!(std::fs::read_to_string(t.outside.join("secret.txt")).unwrap(), "TOP SECRET\n");
}

#[test]
fn uploads_are_whole_bounded_and_authenticated() {
    if !have("curl") {
        return;
    }
    let t = tree("file-put");
    let g = Gost::start(
        &[
            "-L",
            &format!("file://u:p@127.0.0.1:0?dir={}&put=true&putMaxSize=100000", t.root.display()),
        ],
        1,
    );
    let base = format!("http://{}", g.addr());
    let (code, out) = curl_i(&[&format!("{base}/a.txt")]);
    assert!(code == 401 && out.contains("WWW-Authenticate: Basic"), "{out}");
    let (code, _) = curl_i(&["-u", "u:wrong", &format!("{base}/a.txt")]);
    assert_eq!(code, 401);
    // An upload (curl sends Expect: 100-continue for it) into new directories.
    let src = temp_dir("file-put-src").join("data.bin");
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let (code, out) =
        curl_i(&["-u", "u:p", "-T", src.to_str().unwrap(), &format!("{base}/up/deep/data.bin")]);
    assert_eq!(code, 201, "{out}");
    assert_eq!(std::fs::read(t.root.join("up/deep/data.bin")).unwrap(), data);
    // Chunked from stdin, replacing it.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf 'small' | curl -s -o /dev/null -w '%{{http_code}}' -u u:p -T - {base}/up/deep/data.bin"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    assert_eq!(std::fs::read(t.root.join("up/deep/data.bin")).unwrap(), b"small");
    // Too large: refused by its length, and mid-stream when chunked; nothing is left behind.
    let big = temp_dir("file-put-src").join("big.bin");
    std::fs::write(&big, vec![7u8; 200_000]).unwrap();
    let (code, _) = curl_i(&["-u", "u:p", "-T", big.to_str().unwrap(), &format!("{base}/big.bin")]);
    assert_eq!(code, 413);
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 300000 /dev/zero | curl -s -o /dev/null -w '%{{http_code}}' -u u:p -T - {base}/big2.bin"
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413");
    let names: Vec<String> = std::fs::read_dir(&t.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("big") || n.contains(".upload-")), "{names:?}");
    // The server still serves.
    let (code, _) = curl_i(&["-u", "u:p", &format!("{base}/a.txt")]);
    assert_eq!(code, 200);
}

#[test]
fn a_missing_directory_is_a_start_up_error() {
    let (code, log) = gost_e2e::run_to_exit(
        &["-L", "file://127.0.0.1:0?dir=/nonexistent/gost-e2e"],
        std::time::Duration::from_secs(10),
    );
    assert_ne!(code, Some(0));
    assert!(log.contains("/nonexistent/gost-e2e"), "{log}");
}

/// gost 3.3's `rejectUnknownSNI` and `serverNames` on a TLS listener (here serving files): a
/// listed name is served, another name or none gets no handshake.
#[test]
fn tls_listener_rejects_unknown_server_names() {
    if !have("curl") {
        return;
    }
    let t = tree("file-sni");
    let cfg = temp_dir("file-sni-cfg").join("gost.yaml");
    std::fs::write(
        &cfg,
        format!(
            "services:
- name: files
  addr: 127.0.0.1:0
  handler: {{type: file, metadata: {{dir: \"{}\"}}}}
  listener:
    type: tls
    tls: {{rejectUnknownSNI: true, serverNames: [a.test, B.test]}}
",
            t.root.display()
        ),
    )
    .unwrap();
    let g = Gost::start(&["-C", cfg.to_str().unwrap()], 1);
    let port = g.addr().port();
    let get = |host: &str| {
        let resolve = format!("{host}:{port}:127.0.0.1");
        curl_i(&["-k", "--resolve", &resolve, &format!("https://{host}:{port}/a.txt")])
    };
    assert_eq!(get("a.test").0, 200);
    assert_eq!(get("b.test").0, 200, "names compare case-insensitively");
    assert_eq!(get("c.test").0, 0, "an unlisted name gets no handshake");
    let (code, _) = curl_i(&["-k", &format!("https://127.0.0.1:{port}/a.txt")]);
    assert_eq!(code, 0, "no server name, no handshake");
}

/// Hostile clients of the file handler: a head that never ends is cut at `readTimeout`, an
/// endless header at the head bound; real clients are served meanwhile.
#[test]
fn slow_and_endless_heads_are_cut() {
    use std::io::{Read, Write};
    if !have("curl") {
        return;
    }
    let t = tree("file-hostile");
    let g = serve(&t.root, "&readTimeout=1s");
    let mut slow = gost_e2e::connect(g.addr());
    slow.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n").unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = slow.read_to_end(&mut out);
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "held {:?}", started.elapsed());
    let mut endless = gost_e2e::connect(g.addr());
    endless.write_all(b"GET / HTTP/1.1\r\nX: ").unwrap();
    for _ in 0..20 {
        if endless.write_all(&[b'a'; 8192]).is_err() {
            break;
        }
    }
    endless.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut out = Vec::new();
    let _ = endless.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    let (code, _) = curl_i(&[&format!("http://{}/a.txt", g.addr())]);
    assert_eq!(code, 200);
}

/// An upload that stalls is cut at `readTimeout` and leaves nothing behind.
#[test]
fn a_stalled_upload_is_cut() {
    use std::io::{Read, Write};
    let t = tree("file-stall");
    let g = serve(&t.root, "&put=true&readTimeout=1s");
    let mut s = gost_e2e::connect(g.addr());
    s.write_all(b"PUT /stall.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "held {:?}", started.elapsed());
    let names: Vec<String> = std::fs::read_dir(&t.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("stall")), "{names:?}");
}
