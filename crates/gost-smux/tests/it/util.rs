//! Helpers shared by the integration tests.

use std::future::Future;
use std::hash::{DefaultHasher, Hasher};
use std::time::Duration;

use gost_smux::frame::{Cmd, HEADER_SIZE, Header};
use gost_smux::{Config, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// Fails the test instead of hanging.
pub async fn within<F: Future>(f: F) -> F::Output {
    within_secs(30, f).await
}

pub async fn within_secs<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

/// Asserts that `f` does not complete within `ms` milliseconds.
pub async fn stays_pending<F: Future>(ms: u64, f: F) {
    assert!(tokio::time::timeout(Duration::from_millis(ms), f).await.is_err(), "completed");
}

/// A config with keepalive off, so no NOP shows up in byte-exact checks.
pub fn quiet(version: u8) -> Config {
    let mut c = Config::default();
    c.version = version;
    c.keepalive_disabled = true;
    c
}

/// A connected client/server pair over an in-memory carrier.
pub fn pair(client: Config, server: Config) -> (Session, Session) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (Session::client(a, client).unwrap(), Session::server(b, server).unwrap())
}

/// Bytes that depend on `seed` (xorshift).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
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

pub fn checksum(data: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(data);
    h.finish()
}

/// The far end of a session's carrier, spoken to frame by frame.
pub struct Raw {
    pub io: DuplexStream,
    pub version: u8,
}

impl Raw {
    pub async fn send(&mut self, bytes: &[u8]) {
        within(self.io.write_all(bytes)).await.unwrap();
    }

    pub async fn frame(&mut self, cmd: Cmd, sid: u32, payload: &[u8]) {
        let h = Header::new(self.version, cmd, payload.len() as u16, sid);
        let mut b = h.encode().to_vec();
        b.extend_from_slice(payload);
        self.send(&b).await;
    }

    /// Reads one frame as Go's reader would.
    pub async fn recv(&mut self) -> (Header, Vec<u8>) {
        let mut hdr = [0u8; HEADER_SIZE];
        within(self.io.read_exact(&mut hdr)).await.unwrap();
        let h = Header::parse(&hdr).unwrap();
        let mut payload = vec![0u8; h.payload_len()];
        within(self.io.read_exact(&mut payload)).await.unwrap();
        (h, payload)
    }

    /// Reads one frame's raw bytes (header + payload).
    pub async fn recv_bytes(&mut self) -> Vec<u8> {
        let (h, payload) = self.recv().await;
        let mut b = h.encode().to_vec();
        b.extend_from_slice(&payload);
        b
    }
}

/// Our server session with a raw peer playing the client.
pub fn raw_client(server: Config) -> (Session, Raw) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let version = server.version;
    (Session::server(a, server).unwrap(), Raw { io: b, version })
}

/// Our client session with a raw peer playing the server.
pub fn raw_server(client: Config) -> (Session, Raw) {
    let (a, b) = tokio::io::duplex(256 * 1024);
    let version = client.version;
    (Session::client(a, client).unwrap(), Raw { io: b, version })
}
