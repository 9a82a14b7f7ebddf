//! # gost-bench
//!
//! The load tool behind `bench/run.sh`: one origin server and one client that drives every path
//! (direct, a TCP port forwarder, SOCKS5, HTTP CONNECT), so that direct loopback, our gost and Go
//! gost are measured with the same code on both ends. Everything runs on a single-threaded tokio
//! runtime: the tool shares the machine's cores with the proxy it measures.
//!
//! ```text
//! gost-bench origin [--listen 127.0.0.1:0]
//! gost-bench ports N
//! gost-bench wait ADDR [--secs 10]
//! gost-bench bulk  --via VIA --target ADDR [--bytes 1G] [--dir up|down|both] [--secs 120]
//! gost-bench conns --via VIA --target ADDR [--count 5000] [--concurrency 50] [--secs 30]
//! gost-bench idle  --via VIA --target ADDR [--count 5000] [--concurrency 50] [--secs 60] [--hold 300]
//!
//! VIA: direct | tcp:ADDR (a port forwarder to the target) | socks5:ADDR | http:ADDR
//! ```
//!
//! The origin answers on one port and tells its modes apart by the first byte a client sends:
//! `S` + u64 length: a sink (reads that many bytes, then answers the count as a u64);
//! `R` + u64 length: a source (sends that many bytes, then closes its side);
//! `E`: echo; anything else: a tiny HTTP/1.1 server answering every request with a short body.
//!
//! Results are printed as one line of `key=value` pairs on stdout, for the script to pick up.

// A command-line tool, not a library: a broken setup (bad flag, port in use) should end the run
// with a message, and the few `expect`s below state invariants of the tool itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage:
  gost-bench origin [--listen 127.0.0.1:0]
  gost-bench ports N
  gost-bench wait ADDR [--secs 10]
  gost-bench bulk  --via VIA --target ADDR [--bytes 1G] [--dir up|down|both] [--secs 120]
  gost-bench conns --via VIA --target ADDR [--count 5000] [--concurrency 50] [--secs 30]
  gost-bench idle  --via VIA --target ADDR [--count 5000] [--concurrency 50] [--secs 60] [--hold 300]
VIA: direct | tcp:ADDR | socks5:ADDR | http:ADDR";

/// Read and write size of bulk transfers.
const BULK_BUF: usize = 128 * 1024;
/// What the origin's HTTP server answers.
const HTTP_BODY: &[u8] = b"hello from the gost-bench origin\n";
/// One short-connection request.
const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n";
/// Bound on one short connection (connect, handshake, request, response).
const CONN_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("gost-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let res = rt.block_on(async {
        match cmd.as_str() {
            "origin" => origin(&opts).await,
            "ports" => ports(&opts),
            "wait" => wait(&opts).await,
            "bulk" => bulk(&opts).await,
            "conns" => conns(&opts).await,
            "idle" => idle(&opts).await,
            "-h" | "--help" | "help" => {
                println!("{USAGE}");
                Ok(())
            }
            other => Err(invalid(format!("unknown command {other:?}"))),
        }
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gost-bench {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

fn failed(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

// ---------------------------------------------------------------------------------------------
// Command line.

/// `--key value` flags and positional arguments.
struct Opts {
    flags: HashMap<String, String>,
    pos: Vec<String>,
}

impl Opts {
    fn parse(args: &[String]) -> io::Result<Opts> {
        let mut flags = HashMap::new();
        let mut pos = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(key) = a.strip_prefix("--") {
                let val = it.next().ok_or_else(|| invalid(format!("--{key} needs a value")))?;
                flags.insert(key.to_string(), val.clone());
            } else {
                pos.push(a.clone());
            }
        }
        Ok(Opts { flags, pos })
    }

    fn str<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.flags.get(key).map_or(default, String::as_str)
    }

    fn required(&self, key: &str) -> io::Result<&str> {
        self.flags
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| invalid(format!("--{key} is required")))
    }

    /// A count or size; `K`, `M`, `G` suffixes are powers of 1024.
    fn num(&self, key: &str, default: u64) -> io::Result<u64> {
        match self.flags.get(key) {
            None => Ok(default),
            Some(v) => parse_size(v).ok_or_else(|| invalid(format!("--{key}: bad number {v:?}"))),
        }
    }

    fn addr(&self, key: &str) -> io::Result<SocketAddr> {
        let v = self.required(key)?;
        v.parse().map_err(|_| invalid(format!("--{key}: bad address {v:?}")))
    }

    fn via(&self) -> io::Result<Via> {
        Via::parse(self.str("via", "direct"))
    }
}

fn parse_size(v: &str) -> Option<u64> {
    let (digits, mul) = match v.as_bytes().last()? {
        b'K' | b'k' => (&v[..v.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&v[..v.len() - 1], 1 << 20),
        b'G' | b'g' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

// ---------------------------------------------------------------------------------------------
// The client side of each path.

/// How the client reaches the origin.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// Straight to the origin.
    Direct,
    /// A port forwarder whose target is the origin.
    Tcp(SocketAddr),
    /// A SOCKS5 proxy (no authentication), CONNECT to the origin.
    Socks5(SocketAddr),
    /// An HTTP proxy, CONNECT to the origin.
    Http(SocketAddr),
}

impl Via {
    fn parse(s: &str) -> io::Result<Via> {
        if s == "direct" {
            return Ok(Via::Direct);
        }
        let (kind, addr) = s.split_once(':').ok_or_else(|| invalid(format!("bad --via {s:?}")))?;
        let addr: SocketAddr = addr.parse().map_err(|_| invalid(format!("bad --via {s:?}")))?;
        match kind {
            "tcp" => Ok(Via::Tcp(addr)),
            "socks5" => Ok(Via::Socks5(addr)),
            "http" => Ok(Via::Http(addr)),
            _ => Err(invalid(format!("bad --via {s:?}"))),
        }
    }
}

/// A connection to `target` through `via`, ready for the origin's protocol.
async fn dial(via: Via, target: SocketAddr) -> io::Result<TcpStream> {
    let first = match via {
        Via::Direct => target,
        Via::Tcp(a) | Via::Socks5(a) | Via::Http(a) => a,
    };
    let mut s = TcpStream::connect(first).await?;
    s.set_nodelay(true)?;
    match via {
        Via::Direct | Via::Tcp(_) => {}
        Via::Socks5(_) => socks5_connect(&mut s, target).await?,
        Via::Http(_) => http_connect(&mut s, target).await?,
    }
    Ok(s)
}

async fn socks5_connect(s: &mut TcpStream, target: SocketAddr) -> io::Result<()> {
    s.write_all(&[5, 1, 0]).await?;
    let mut method = [0u8; 2];
    s.read_exact(&mut method).await?;
    if method != [5, 0] {
        return Err(failed(format!("socks5: server chose method {method:?}")));
    }
    let mut req = vec![5, 1, 0];
    match target.ip() {
        IpAddr::V4(ip) => {
            req.push(1);
            req.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            req.push(4);
            req.extend_from_slice(&ip.octets());
        }
    }
    req.extend_from_slice(&target.port().to_be_bytes());
    s.write_all(&req).await?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != 5 || head[1] != 0 {
        return Err(failed(format!("socks5: reply {}", head[1])));
    }
    let rest = match head[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => usize::from(s.read_u8().await?) + 2,
        t => return Err(failed(format!("socks5: address type {t}"))),
    };
    let mut skip = [0u8; 258];
    s.read_exact(&mut skip[..rest]).await?;
    Ok(())
}

async fn http_connect(s: &mut TcpStream, target: SocketAddr) -> io::Result<()> {
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let (head, extra) = read_head(s, Vec::new()).await?;
    let status = head.split(|&b| b == b' ').nth(1).unwrap_or_default();
    if status != b"200" {
        let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(failed(format!("CONNECT: {}", String::from_utf8_lossy(line))));
    }
    if !extra.is_empty() {
        return Err(failed("CONNECT: bytes after the reply"));
    }
    Ok(())
}

/// Reads an HTTP head (up to and including the blank line), starting with the bytes in `buf`.
/// Returns the head and what was read after it.
async fn read_head(s: &mut TcpStream, mut buf: Vec<u8>) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let extra = buf.split_off(i + 4);
            return Ok((buf, extra));
        }
        if buf.len() > 16 * 1024 {
            return Err(failed("HTTP head too long"));
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
    })
}

// ---------------------------------------------------------------------------------------------
// origin

async fn origin(opts: &Opts) -> io::Result<()> {
    let listen: SocketAddr =
        opts.str("listen", "127.0.0.1:0").parse().map_err(|_| invalid("--listen: bad address"))?;
    let l = TcpListener::bind(listen).await?;
    println!("listening {}", l.local_addr()?);
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                tokio::spawn(async move {
                    let _ = serve(s).await;
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: say so, back off, keep serving.
                eprintln!("origin: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(mut s: TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    let mut first = [0u8; 1];
    if s.read(&mut first).await? == 0 {
        return Ok(());
    }
    match first[0] {
        b'S' => {
            let n = s.read_u64().await?;
            let mut buf = vec![0u8; BULK_BUF];
            let mut left = n;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let k = s.read(&mut buf[..want]).await?;
                if k == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                left -= k as u64;
            }
            s.write_u64(n).await?;
            drain(&mut s).await
        }
        b'R' => {
            let n = s.read_u64().await?;
            let buf = vec![0xa5u8; BULK_BUF];
            let mut left = n;
            while left > 0 {
                let k = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                s.write_all(&buf[..k]).await?;
                left -= k as u64;
            }
            s.shutdown().await?;
            drain(&mut s).await
        }
        b'E' => {
            let mut buf = [0u8; 2048];
            loop {
                let k = s.read(&mut buf).await?;
                if k == 0 {
                    return Ok(());
                }
                s.write_all(&buf[..k]).await?;
            }
        }
        b => http_serve(s, b).await,
    }
}

/// Reads until the peer closes.
async fn drain(s: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 2048];
    while s.read(&mut buf).await? > 0 {}
    Ok(())
}

async fn http_serve(mut s: TcpStream, first: u8) -> io::Result<()> {
    let mut pending = vec![first];
    loop {
        let (head, extra) = read_head(&mut s, pending).await?;
        let close = std::str::from_utf8(&head)
            .map(|h| h.to_ascii_lowercase().contains("connection: close"))
            .unwrap_or(true);
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            HTTP_BODY.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        resp.extend_from_slice(HTTP_BODY);
        s.write_all(&resp).await?;
        if close {
            return Ok(());
        }
        pending = extra;
    }
}

// ---------------------------------------------------------------------------------------------
// ports, wait

/// Prints `n` loopback ports that were free a moment ago (all bound at once, so distinct).
/// Prints `N` free ports for proxies to listen on. They come from below the kernel's ephemeral
/// range: a port the kernel hands out itself (bind to 0) is soon some outgoing connection's
/// local port again under the connection benchmarks, and the proxy started on it a moment later
/// would find it taken.
fn ports(opts: &Opts) -> io::Result<()> {
    use std::hash::{BuildHasher, Hasher};
    let n: usize = opts.pos.first().and_then(|v| v.parse().ok()).unwrap_or(1);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next().and_then(|v| v.parse::<u16>().ok()))
        .unwrap_or(32768);
    let (from, to) = if low > 12000 { (10000u16, low) } else { (0, 0) };
    let mut held = Vec::with_capacity(n);
    let seed = std::collections::hash_map::RandomState::new();
    for attempt in 0u64..10_000 {
        if held.len() == n {
            break;
        }
        let l = if to > from {
            let mut h = seed.build_hasher();
            h.write_u64(attempt);
            let port = from + (h.finish() % u64::from(to - from)) as u16;
            match StdTcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => l,
                Err(_) => continue,
            }
        } else {
            StdTcpListener::bind("127.0.0.1:0")?
        };
        held.push(l);
    }
    let ports =
        held.iter().map(|l| l.local_addr().map(|a| a.port())).collect::<io::Result<Vec<_>>>()?;
    // Closed before printing: the script starts a proxy on them as soon as it reads them.
    drop(held);
    for port in ports {
        println!("{port}");
    }
    Ok(())
}

/// Waits until `ADDR` accepts TCP connections.
async fn wait(opts: &Opts) -> io::Result<()> {
    let addr: SocketAddr = opts
        .pos
        .first()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| invalid("wait: an address is required"))?;
    let deadline = Instant::now() + Duration::from_secs(opts.num("secs", 10)?);
    loop {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(failed(format!("{addr} does not accept connections")));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// bulk

async fn bulk(opts: &Opts) -> io::Result<()> {
    let via = opts.via()?;
    let target = opts.addr("target")?;
    let bytes = opts.num("bytes", 1 << 30)?;
    let bound = Duration::from_secs(opts.num("secs", 120)?);
    let dirs: &[&str] = match opts.str("dir", "both") {
        "up" => &["up"],
        "down" => &["down"],
        "both" => &["up", "down"],
        d => return Err(invalid(format!("--dir: {d:?}"))),
    };
    let mut line = Vec::new();
    for &dir in dirs {
        let run = async {
            if dir == "up" {
                bulk_up(via, target, bytes).await
            } else {
                bulk_down(via, target, bytes).await
            }
        };
        let took = tokio::time::timeout(bound, run)
            .await
            .map_err(|_| failed(format!("{dir}: not done after {bound:?}")))??;
        let gbps = bytes as f64 * 8.0 / took.as_secs_f64() / 1e9;
        line.push(format!("{dir}_gbps={gbps:.3} {dir}_secs={:.3}", took.as_secs_f64()));
    }
    println!("bytes={bytes} {}", line.join(" "));
    Ok(())
}

/// Sends `bytes` to the origin's sink; the time until the sink confirms it has them all.
async fn bulk_up(via: Via, target: SocketAddr, bytes: u64) -> io::Result<Duration> {
    let mut s = dial(via, target).await?;
    let buf = vec![0x5au8; BULK_BUF];
    let start = Instant::now();
    let mut head = [0u8; 9];
    head[0] = b'S';
    head[1..].copy_from_slice(&bytes.to_be_bytes());
    s.write_all(&head).await?;
    let mut left = bytes;
    while left > 0 {
        let k = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        s.write_all(&buf[..k]).await?;
        left -= k as u64;
    }
    let got = s.read_u64().await?;
    let took = start.elapsed();
    if got != bytes {
        return Err(failed(format!("sink counted {got} bytes, sent {bytes}")));
    }
    Ok(took)
}

/// Receives `bytes` from the origin's source; the time until its end.
async fn bulk_down(via: Via, target: SocketAddr, bytes: u64) -> io::Result<Duration> {
    let mut s = dial(via, target).await?;
    let mut buf = vec![0u8; BULK_BUF];
    let start = Instant::now();
    let mut head = [0u8; 9];
    head[0] = b'R';
    head[1..].copy_from_slice(&bytes.to_be_bytes());
    s.write_all(&head).await?;
    let mut got = 0u64;
    loop {
        let k = s.read(&mut buf).await?;
        if k == 0 {
            break;
        }
        got += k as u64;
    }
    let took = start.elapsed();
    if got != bytes {
        return Err(failed(format!("received {got} bytes, expected {bytes}")));
    }
    Ok(took)
}

/// Runs `attempt` `count` times on `workers` tasks, each bounded by `CONN_TIMEOUT`, until
/// `deadline`: the results of those that succeeded, how many failed, and the first failure.
async fn pool<T, F, Fut>(
    count: usize,
    workers: u64,
    deadline: Instant,
    attempt: F,
) -> io::Result<(Vec<T>, usize, Option<String>)>
where
    T: Send + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = io::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let attempt = Arc::new(attempt);
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (next, attempt) = (next.clone(), attempt.clone());
            tokio::spawn(async move {
                let mut done = Vec::new();
                let mut errs = 0usize;
                let mut first_err = None;
                while Instant::now() < deadline && next.fetch_add(1, Ordering::Relaxed) < count {
                    match tokio::time::timeout(CONN_TIMEOUT, attempt()).await {
                        Ok(Ok(v)) => done.push(v),
                        Ok(Err(e)) => {
                            errs += 1;
                            first_err.get_or_insert_with(|| e.to_string());
                        }
                        Err(_) => {
                            errs += 1;
                            first_err.get_or_insert_with(|| "timed out".to_string());
                        }
                    }
                }
                (done, errs, first_err)
            })
        })
        .collect();
    let mut done = Vec::with_capacity(count.min(1 << 20));
    let mut errs = 0;
    let mut first_err = None;
    for h in handles {
        let (d, e, f) = h.await.map_err(|e| failed(format!("worker: {e}")))?;
        done.extend(d);
        errs += e;
        first_err = first_err.or(f);
    }
    Ok((done, errs, first_err))
}

// ---------------------------------------------------------------------------------------------
// conns

async fn conns(opts: &Opts) -> io::Result<()> {
    let via = opts.via()?;
    let target = opts.addr("target")?;
    let count = usize::try_from(opts.num("count", 5000)?).unwrap_or(usize::MAX);
    let workers = opts.num("concurrency", 50)?.max(1);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(opts.num("secs", 30)?);
    let (mut lat, errs, first_err) = pool(count, workers, deadline, move || async move {
        let t = Instant::now();
        one_request(via, target).await?;
        Ok(t.elapsed())
    })
    .await?;
    let took = start.elapsed();
    lat.sort_unstable();
    let ms = |p: f64| {
        // Nearest rank.
        let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len().max(1));
        lat.get(rank - 1).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "ok={} err={errs} secs={:.3} rate={:.0} p50_ms={:.3} p99_ms={:.3}",
        lat.len(),
        took.as_secs_f64(),
        lat.len() as f64 / took.as_secs_f64(),
        ms(0.50),
        ms(0.99),
    );
    if let Some(e) = first_err {
        eprintln!("conns: {errs} failed, the first with: {e}");
    }
    if lat.is_empty() { Err(failed("no connection succeeded")) } else { Ok(()) }
}

/// One short connection: connect through the path, one HTTP request, the whole response.
async fn one_request(via: Via, target: SocketAddr) -> io::Result<()> {
    let mut s = dial(via, target).await?;
    s.write_all(HTTP_REQUEST).await?;
    let (head, mut body) = read_head(&mut s, Vec::new()).await?;
    let len = content_length(&head).ok_or_else(|| failed("response without Content-Length"))?;
    let mut chunk = [0u8; 1024];
    while body.len() < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// idle

async fn idle(opts: &Opts) -> io::Result<()> {
    let via = opts.via()?;
    let target = opts.addr("target")?;
    let count = usize::try_from(opts.num("count", 5000)?).unwrap_or(usize::MAX);
    let workers = opts.num("concurrency", 50)?.max(1);
    let deadline = Instant::now() + Duration::from_secs(opts.num("secs", 60)?);
    let hold = Duration::from_secs(opts.num("hold", 300)?);
    let (open, errs, first_err) =
        pool(count, workers, deadline, move || open_echo(via, target)).await?;
    if let Some(e) = first_err {
        eprintln!("idle: {errs} failed, the first with: {e}");
    }
    println!("ready ok={} err={errs}", open.len());
    // Hold them (the driver reads memory now, then ends this process).
    tokio::time::sleep(hold).await;
    drop(open);
    Ok(())
}

/// A connection to the origin's echo, proven end to end by one round trip.
async fn open_echo(via: Via, target: SocketAddr) -> io::Result<TcpStream> {
    let mut s = dial(via, target).await?;
    s.write_all(b"Ex").await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    if b != *b"x" {
        return Err(failed("echo answered something else"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("64k"), Some(64 << 10));
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn content_length_header() {
        let h = b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(content_length(h), Some(12));
        assert_eq!(content_length(b"HTTP/1.1 200 OK\r\n\r\n"), None);
    }

    #[test]
    fn origin_and_paths() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let target = l.local_addr().unwrap();
            tokio::spawn(async move {
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    tokio::spawn(serve(s));
                }
            });
            assert!(bulk_up(Via::Direct, target, 1 << 20).await.is_ok());
            assert!(bulk_down(Via::Direct, target, 1 << 20).await.is_ok());
            one_request(Via::Direct, target).await.unwrap();
            open_echo(Via::Direct, target).await.unwrap();
        });
    }
}
