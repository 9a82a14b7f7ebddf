//! Harness for the end-to-end tests: builds and spawns the real `gost` binary, learns the ports
//! it bound from its log (so every test listens on port 0 and no port is fixed), and kills it on
//! drop. Only std: the tests use blocking sockets and threads, like an outside client would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hash::{DefaultHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The gost binary: `$GOST_BIN`, or the workspace's debug build (built once per test run).
pub fn gost_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("GOST_BIN") {
            return PathBuf::from(bin);
        }
        // target/<profile>/deps/<test exe> -> target/<profile>/gost
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe.parent().and_then(|d| d.parent()).expect("target dir").to_path_buf();
        let profile =
            profile_dir.file_name().and_then(|n| n.to_str()).unwrap_or("debug").to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "-q", "-p", "gost", "--bin", "gost"]);
        // target/debug holds the dev profile; any other directory is named after its profile.
        if profile != "debug" {
            cmd.args(["--profile", &profile]);
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build -p gost failed");
        profile_dir.join("gost")
    })
    .clone()
}

/// A running gost process; killed when dropped.
pub struct Gost {
    child: Child,
    lines: Receiver<String>,
    log: Arc<Mutex<Vec<String>>>,
    /// The addresses its services listen on, in service order (`service-0` first).
    pub addrs: Vec<SocketAddr>,
    /// The command line, for messages.
    command: String,
}

impl Gost {
    /// Starts gost with `args` and waits until `services` services are listening.
    pub fn start(args: &[&str], services: usize) -> Gost {
        Gost::spawn(args).wait_listening(services, listening_addr)
    }

    /// Waits until `services` services have logged their address (as `parse` reads a log line:
    /// service index and address), and records the addresses in service order.
    pub fn wait_listening(
        mut self,
        services: usize,
        parse: fn(&str) -> Option<(usize, SocketAddr)>,
    ) -> Gost {
        let mut found: Vec<(usize, SocketAddr)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while found.len() < services {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => found.extend(parse(&line)),
                Err(_) => panic!("{:?} did not start; log:\n{}", self.command, self.log()),
            }
        }
        found.sort();
        self.addrs = found.into_iter().map(|(_, addr)| addr).collect();
        self
    }

    /// Waits until gost logs a line containing `needle` (after the lines already consumed).
    pub fn wait_log(&self, needle: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return,
                Ok(_) => {}
                Err(_) => panic!("gost never logged {needle:?}; log:\n{}", self.log()),
            }
        }
    }

    /// Waits for a logged line containing `needle` and returns the address written right after
    /// it (`"api service on "` → the API's address).
    pub fn logged_addr(&self, needle: &str, limit: Duration) -> SocketAddr {
        let parse = |line: &str| -> Option<SocketAddr> {
            let rest = line.split(needle).nth(1)?;
            rest.split(|c: char| c.is_whitespace() || c == '/' || c == '"').next()?.parse().ok()
        };
        let deadline = Instant::now() + limit;
        loop {
            // Lines already consumed by start() are in the log too.
            if let Some(addr) = self.log.lock().unwrap().iter().find_map(|l| parse(l)) {
                return addr;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.lines.recv_timeout(left.min(Duration::from_millis(50))).is_err()
                && left.is_zero()
            {
                panic!("gost never logged {needle:?}; log:\n{}", self.log());
            }
        }
    }

    /// Starts gost without waiting for anything.
    pub fn spawn(args: &[&str]) -> Gost {
        let mut command = Command::new(gost_bin());
        command.args(args);
        Gost::spawn_command(command)
    }

    /// Starts `command` (our gost, or a peer such as Go gost) with its log captured, without
    /// waiting for anything.
    pub fn spawn_command(mut command: Command) -> Gost {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Gost { child, lines: rx, log, addrs: Vec::new(), command: format!("{command:?}") }
    }

    /// The first service's address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Everything gost logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit (up to `limit`), returning its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`TERM`, `INT`) to this process only.
    pub fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([&format!("-{name}"), &self.pid().to_string()]).status();
        assert!(status.map(|s| s.success()).unwrap_or(false), "kill -{name} failed");
    }
}

impl Drop for Gost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses `... listening on 127.0.0.1:1234 service=service-3` into (3, address).
fn listening_addr(line: &str) -> Option<(usize, SocketAddr)> {
    let rest = line.split("listening on ").nth(1)?;
    let addr = rest.split_whitespace().next()?.parse().ok()?;
    let index = line
        .split("service=service-")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX);
    Some((index, addr))
}

/// Runs gost to completion (for commands that must exit), returning (exit code, stderr).
pub fn run_to_exit(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut g = Gost::spawn(args);
    let code = g.wait_exit(limit);
    // Let the reader thread drain stderr.
    thread::sleep(Duration::from_millis(100));
    (code, g.log())
}

/// A TCP server on a free loopback port that runs `serve` for each connection in its own thread.
pub fn tcp_server<F>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = Arc::new(serve);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let serve = serve.clone();
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

/// An echo server: writes back everything, half-closes after the client's EOF.
pub fn echo_server() -> SocketAddr {
    tcp_server(|mut s| {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = s.shutdown(Shutdown::Write);
    })
}

/// An HTTP/1.1 origin: for each request (its head read whole, as text; bodies are not read),
/// writes what `answer` makes of the head, and keeps the connection for the next request.
pub fn http_origin<F>(answer: F) -> SocketAddr
where
    F: Fn(&str) -> String + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    tcp_server(move |mut s| {
        let mut reader = BufReader::new(s.try_clone().unwrap());
        loop {
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            if s.write_all(answer(&head).as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// A minimal HTTP/1.1 server answering every request with `body`.
pub fn http_server(body: &'static str) -> SocketAddr {
    http_origin(move |_| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        )
    })
}

/// An HTTP origin answering every request with its `name`, and `/health` with 200 or 503 as
/// `healthy` says (an unhealthy origin still serves: only a probe can steer traffic away).
pub fn named_origin(name: &'static str, healthy: Arc<AtomicBool>) -> SocketAddr {
    http_origin(move |head| {
        let (status, body) = if head.starts_with("GET /health ") {
            if healthy.load(Ordering::Relaxed) { ("200 OK", "ok") } else { ("503 Down", "down") }
        } else {
            ("200 OK", name)
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}",
            body.len()
        )
    })
}

/// An HTTP origin answering each request with the request's head as its body, and `status`.
pub fn head_echo(status: &'static str) -> SocketAddr {
    http_origin(move |head| {
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Origin: yes\r\n\r\n{head}",
            head.len()
        )
    })
}

/// Deterministic pseudo-random bytes (xorshift), `len` long, from `seed`.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A checksum of `data` (stable within one test process).
pub fn checksum(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish()
}

/// Reads until EOF.
pub fn read_all(s: &mut impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    out
}

/// Connects with a timeout on every read and write, so a hang fails the test instead of blocking.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Opens a tunnel to `target` through an HTTP proxy with CONNECT.
pub fn http_connect(proxy: SocketAddr, target: &str, auth: Option<&str>) -> TcpStream {
    let mut s = connect(proxy);
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(basic) = auth {
        req.push_str(&format!("Proxy-Authorization: Basic {basic}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"), "CONNECT answered: {head}");
    s
}

/// Reads an HTTP head byte by byte (so nothing after it is consumed).
pub fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A SOCKS5 handshake (no-auth or user/password) up to the reply; returns the reply's code and
/// the stream.
pub fn socks5_request(
    proxy: SocketAddr,
    cmd: u8,
    target: SocketAddr,
    creds: Option<(&str, &str)>,
) -> (u8, SocketAddr, TcpStream) {
    let mut s = connect(proxy);
    match creds {
        None => s.write_all(&[5, 1, 0]).unwrap(),
        Some(_) => s.write_all(&[5, 1, 2]).unwrap(),
    }
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice).unwrap();
    if let Some((u, p)) = creds {
        assert_eq!(choice, [5, 2]);
        let mut m = vec![1, u.len() as u8];
        m.extend_from_slice(u.as_bytes());
        m.push(p.len() as u8);
        m.extend_from_slice(p.as_bytes());
        s.write_all(&m).unwrap();
        let mut status = [0u8; 2];
        s.read_exact(&mut status).unwrap();
        if status[1] != 0 {
            return (0xFF, target, s);
        }
    } else {
        assert_eq!(choice, [5, 0]);
    }
    let SocketAddr::V4(v4) = target else { panic!("IPv4 targets only") };
    let mut req = vec![5, cmd, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    s.write_all(&req).unwrap();
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let bound = match head[3] {
        1 => {
            let mut a = [0u8; 6];
            s.read_exact(&mut a).unwrap();
            SocketAddr::from(([a[0], a[1], a[2], a[3]], u16::from_be_bytes([a[4], a[5]])))
        }
        4 => {
            let mut a = [0u8; 18];
            s.read_exact(&mut a).unwrap();
            let ip: [u8; 16] = a[..16].try_into().unwrap();
            SocketAddr::from((ip, u16::from_be_bytes([a[16], a[17]])))
        }
        atyp => panic!("unexpected ATYP {atyp} in a SOCKS5 reply"),
    };
    let reply = head;
    (reply[1], bound, s)
}

/// Resident memory of a process, in KiB (Linux).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// This process's open-file limit.
pub fn open_file_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024)
}

/// A scratch directory for this test process, `gost-e2e-NAME-PID` under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gost-e2e-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// In CI (`CI=true`) a missing peer fails its test: a green CI must mean the test ran.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Runs curl with `args`, returning (success, stdout).
pub fn curl(args: &[&str]) -> (bool, String) {
    let out =
        Command::new("curl").args(["-s", "--max-time", "10"]).args(args).output().expect("curl");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Sends `size` bytes each way at once over `client`, against the first connection `origin`
/// accepts, which does the mirror image; checks both directions byte-exact (length and
/// checksum) and that each side's EOF arrives after the data.
pub fn bulk_both_ways(mut client: TcpStream, origin: TcpListener, size: usize) {
    let up = pattern(size, 1);
    let down = pattern(size, 2);
    let (up_sum, down_sum) = (checksum(&up), checksum(&down));
    let origin = thread::spawn(move || {
        let (mut s, _) = origin.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut w = s.try_clone().unwrap();
        let sender = thread::spawn(move || {
            w.write_all(&down).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        let got = read_all(&mut s);
        sender.join().unwrap();
        got
    });
    client.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = client.try_clone().unwrap();
    let sender = thread::spawn(move || {
        w.write_all(&up).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got_down = read_all(&mut client);
    sender.join().unwrap();
    let got_up = origin.join().unwrap();
    assert_eq!((got_up.len(), checksum(&got_up)), (size, up_sum), "upload");
    assert_eq!((got_down.len(), checksum(&got_down)), (size, down_sum), "download");
}

/// Established TCP connections (IPv4 and IPv6) whose remote port is `port`, from /proc/net.
pub fn established_to(port: u16) -> usize {
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state)) = (cols.get(2), cols.get(3)) else { continue };
            let remote_port =
                remote.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) && *state == "01" {
                count += 1;
            }
        }
    }
    count
}

/// Whether something accepts TCP connections at `addr`. A connection to itself (Linux may pick
/// the probed port as the source port when nothing listens there) does not count.
pub fn accepts(addr: impl std::net::ToSocketAddrs) -> bool {
    let Some(addr) = addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else { return false };
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => s.local_addr().ok() != s.peer_addr().ok(),
        Err(_) => false,
    }
}

/// A loopback port that was free a moment ago (for tests that must restart a server on the
/// same port).
pub fn free_port() -> u16 {
    unclaimed_port(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    unclaimed_port(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok())
}

/// A port below the system's ephemeral range that `free` says is free: a port handed out for a
/// later bind (a config written before its server starts) must not be one the kernel gives the
/// next `:0` bind of some other process meanwhile, as ephemeral ports are.
fn unclaimed_port(free: impl Fn(u16) -> bool) -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (10_000u16, low.max(10_001));
    let mut x = u64::from(std::process::id()) ^ Instant::now().elapsed().as_nanos() as u64;
    x ^= std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    for _ in 0..1000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = from + (x % u64::from(to - from)) as u16;
        if free(port) {
            return port;
        }
    }
    // A crowded range: the kernel's choice.
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A DNS upstream for tests: answers every A query with 10.0.0.1 (TTL 300); counts the queries
/// and keeps the last one.
pub struct DnsUpstream {
    pub addr: std::net::SocketAddr,
    pub asked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub last: std::sync::Arc<Mutex<Vec<u8>>>,
}

pub fn dns_upstream() -> DnsUpstream {
    use gost_proto::dns;
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = s.local_addr().unwrap();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(Vec::new()));
    let (seen, kept) = (asked.clone(), last.clone());
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let Ok(q) = dns::Query::decode(&buf[..n]) else { continue };
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            *kept.lock().unwrap() = buf[..n].to_vec();
            let reply = dns::respond(&q, &["10.0.0.1".parse().unwrap()], 300).unwrap();
            let _ = s.send_to(&reply, from);
        }
    });
    DnsUpstream { addr, asked, last }
}

pub fn dig(server: std::net::SocketAddr, args: &[&str]) -> String {
    let out = std::process::Command::new("dig")
        .args([format!("@{}", server.ip()), "-p".into(), server.port().to_string()])
        .args(["+time=3", "+tries=1"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether this process may make a network namespace (root, or user namespaces allowed).
pub fn netns_available() -> bool {
    Command::new("unshare")
        .args(["-n", "ip", "link", "set", "lo", "up"])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn netns_script(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("netns").join(name)
}

/// Runs `script` in a new network namespace with the gost binary and a scratch directory.
pub fn run_in_netns(name: &str, needs: &[&str], args: &[&str]) -> Option<String> {
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
    cmd.args(["-n", "bash"]).arg(netns_script(name)).arg(gost_bin()).arg(&dir).args(args);
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
