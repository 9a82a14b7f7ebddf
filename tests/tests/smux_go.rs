//! gost-smux against Go's github.com/xtaci/smux v1.5.31 (the version Go gost pins), both
//! directions, protocol versions 1 and 2, over loopback TCP.
//!
//! The Go peer (`tests/interop/smux-echo`) is built with `go build` in a cache directory outside
//! the repository (`$HOME/.cache/gost-rs/smux-echo`), so Go's module files never land in the
//! repo. The tests are skipped, with a message, when `go` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use gost_e2e::{checksum, have, pattern};
use gost_smux::{Config, Session, Stream};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

const STREAMS: usize = 16;
/// Per stream and direction. More than version 2's initial window (256 KiB), so a side that
/// never sent window updates would stall the test.
const SIZE: usize = 512 * 1024;

/// The built Go peer, or None (after saying why) when Go is not installed.
fn go_peer() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(build_go_peer).clone()
}

fn build_go_peer() -> Option<PathBuf> {
    if !have("go") {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "CI=true: `go` is needed for the Go smux interop tests");
        eprintln!("skipping the Go smux interop tests: `go` is not installed");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/smux-echo");
    let cache = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".cache/gost-rs/smux-echo");
    // Build a copy: `go` writes go.sum next to go.mod, and that must not happen in the repo.
    let work = cache.join("src");
    std::fs::create_dir_all(&work).unwrap();
    for file in ["main.go", "go.mod"] {
        std::fs::copy(src.join(file), work.join(file)).unwrap();
    }
    let bin = cache.join("smux-echo");
    let out = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&work)
        .env("GOFLAGS", "-mod=mod -buildvcs=false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "go build of the smux peer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

fn run(test: impl Future<Output = ()>) {
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(test);
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(90), f).await.expect("timed out")
}

fn config(version: u8) -> Config {
    let mut c = Config::default();
    c.version = version;
    c
}

/// Our client opens STREAMS streams to the Go echo server and checks every byte that comes back.
async fn rust_client_go_server(bin: PathBuf, version: u8) {
    let mut child = Command::new(&bin)
        .args(["-mode", "server", "-version", &version.to_string(), "-addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = within(stdout.next_line()).await.unwrap().expect("the Go server printed nothing");
    let addr = first.strip_prefix("listening ").expect("listening line").to_owned();

    let tcp = within(TcpStream::connect(&addr)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let session = Session::client(tcp, config(version)).unwrap();
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let stream = within(session.open_stream()).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let id = stream.id();
            let data = pattern(SIZE, i as u64 + 1);
            let (mut rd, mut wr) = tokio::io::split(stream);
            let send = async { wr.write_all(&data).await.unwrap() };
            let recv = async {
                let mut got = vec![0u8; SIZE];
                rd.read_exact(&mut got).await.unwrap();
                got
            };
            let ((), got) = tokio::join!(send, recv);
            assert_eq!(checksum(&got), checksum(&data), "echo on stream {id}");
            // Dropping the halves sends FIN only now: Go takes FIN as a full close.
        }));
    }
    within(async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    // The Go server exits when the session's connection ends.
    drop(session);
    let status = within(child.wait()).await.unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
    assert!(status.success(), "Go server failed ({status}): {stderr}");
    let served = within(stdout.next_line()).await.unwrap().expect("the Go server's summary");
    let ids: Vec<String> = (0..STREAMS).map(|i| (3 + 2 * i).to_string()).collect();
    let want = format!("served streams={STREAMS} bytes={} ids={}", STREAMS * SIZE, ids.join(","));
    assert_eq!(served, want);
}

/// Echoes one stream until the peer closes it; returns the bytes echoed.
async fn echo(stream: Stream) -> usize {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; 32 * 1024];
    let mut total = 0;
    loop {
        let n = match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if wr.write_all(&buf[..n]).await.is_err() {
            break;
        }
        total += n;
    }
    let _ = wr.shutdown().await;
    total
}

/// The Go client opens STREAMS streams to our echo server and checks the echo itself.
async fn go_client_rust_server(bin: PathBuf, version: u8) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let child = Command::new(&bin)
        .args(["-mode", "client", "-version", &version.to_string(), "-addr", &addr])
        .args(["-streams", &STREAMS.to_string(), "-size", &SIZE.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (tcp, _) = within(listener.accept()).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let session = Session::server(tcp, config(version)).unwrap();
    let server = tokio::spawn(async move {
        let mut ids = Vec::new();
        let mut echoes = Vec::new();
        // Ends when the Go client closes its session (and so the connection).
        while let Ok(stream) = session.accept_stream().await {
            ids.push(stream.id());
            echoes.push(tokio::spawn(echo(stream)));
        }
        let mut total = 0;
        for e in echoes {
            total += e.await.unwrap();
        }
        (ids, total)
    });
    let out = within(child.wait_with_output()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Go client failed ({}): {}{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("ok streams={STREAMS} bytes={}", STREAMS * SIZE));
    let (ids, total) = within(server).await.unwrap();
    let want: Vec<u32> = (0..STREAMS as u32).map(|i| 3 + 2 * i).collect();
    assert_eq!(ids, want, "the Go client's stream ids");
    assert_eq!(total, STREAMS * SIZE);
}

#[test]
fn rust_client_go_server_v1() {
    if let Some(bin) = go_peer() {
        run(rust_client_go_server(bin, 1));
    }
}

#[test]
fn rust_client_go_server_v2() {
    if let Some(bin) = go_peer() {
        run(rust_client_go_server(bin, 2));
    }
}

#[test]
fn go_client_rust_server_v1() {
    if let Some(bin) = go_peer() {
        run(go_client_rust_server(bin, 1));
    }
}

#[test]
fn go_client_rust_server_v2() {
    if let Some(bin) = go_peer() {
        run(go_client_rust_server(bin, 2));
    }
}
