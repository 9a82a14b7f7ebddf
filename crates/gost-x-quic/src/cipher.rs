//! gost's `cipherKey` for QUIC: every UDP datagram is sealed with AES-GCM under the key (its
//! bytes as written: 16 or 32 of them), as `nonce (12 random bytes) || ciphertext || tag`, so
//! that the QUIC packets (their headers, the TLS handshake) are not visible on the wire. A
//! datagram that does not open under the key is dropped.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gost_core::{Error, Result};
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// What sealing adds to a datagram.
pub(crate) const OVERHEAD: usize = NONCE_LEN + 16;

/// The AES-GCM key of `cipherKey`.
pub(crate) fn key(text: &str) -> Result<Arc<LessSafeKey>> {
    let alg = match text.len() {
        16 => &AES_128_GCM,
        32 => &AES_256_GCM,
        n => {
            return Err(Error::config(format!(
                "quic: cipherKey must be 16 or 32 bytes (AES-128/256), not {n}"
            )));
        }
    };
    let key = UnboundKey::new(alg, text.as_bytes())
        .map_err(|_| Error::config("quic: cipherKey is not a usable AES key"))?;
    Ok(Arc::new(LessSafeKey::new(key)))
}

/// `nonce || seal(data)`.
pub(crate) fn seal(key: &LessSafeKey, data: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    gost_x_rt::fill_random(&mut nonce);
    let mut out = Vec::with_capacity(data.len() + OVERHEAD);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(data);
    let mut body = out.split_off(NONCE_LEN);
    let sealed =
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut body);
    if sealed.is_err() {
        // Only a datagram too large for AES-GCM fails: none that UDP can carry.
        return Vec::new();
    }
    out.extend_from_slice(&body);
    out
}

/// The plaintext of a sealed datagram, in place at the front of `data`; `None` if it does not
/// open under the key.
pub(crate) fn open(key: &LessSafeKey, data: &mut [u8]) -> Option<usize> {
    if data.len() < OVERHEAD {
        return None;
    }
    let (nonce, body) = data.split_at_mut(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let plain = key.open_in_place(nonce, Aad::empty(), body).ok()?;
    let n = plain.len();
    data.copy_within(NONCE_LEN..NONCE_LEN + n, 0);
    Some(n)
}

/// A UDP socket whose datagrams are sealed (one datagram per send and receive: no offloads).
pub(crate) struct CipherSocket {
    io: tokio::net::UdpSocket,
    key: Arc<LessSafeKey>,
}

impl fmt::Debug for CipherSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherSocket").field("local", &self.io.local_addr().ok()).finish()
    }
}

impl CipherSocket {
    /// Wraps a bound socket (must be called inside a tokio runtime).
    pub(crate) fn new(socket: std::net::UdpSocket, key: Arc<LessSafeKey>) -> io::Result<Self> {
        socket.set_nonblocking(true)?;
        Ok(CipherSocket { io: tokio::net::UdpSocket::from_std(socket)?, key })
    }
}

#[derive(Debug)]
struct Writable(Arc<CipherSocket>);

impl UdpPoller for Writable {
    fn poll_writable(self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        self.0.io.poll_send_ready(cx)
    }
}

impl AsyncUdpSocket for CipherSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Writable(self))
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let sealed = seal(&self.key, transmit.contents);
        match self.io.try_send_to(&sealed, transmit.destination) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            // Like quinn's own socket: a failed send is a lost datagram, not a dead endpoint.
            Err(e) => {
                tracing::debug!(to = %transmit.destination, "quic: send: {e}");
                Ok(())
            }
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        loop {
            let mut rb = tokio::io::ReadBuf::new(buf);
            let from = match self.io.poll_recv_from(cx, &mut rb) {
                Poll::Ready(Ok(from)) => from,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            let n = rb.filled().len();
            match open(&self.key, &mut buf[..n]) {
                Some(len) => {
                    *m = RecvMeta { addr: from, len, stride: len, ecn: None, dst_ip: None };
                    return Poll::Ready(Ok(1));
                }
                None => tracing::debug!(%from, "quic: a datagram that does not open, dropped"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        for k in ["0123456789abcdef", "0123456789abcdef0123456789abcdef"] {
            let key = key(k).unwrap();
            let mut sealed = seal(&key, b"quic packet");
            assert_eq!(sealed.len(), 11 + OVERHEAD);
            let n = open(&key, &mut sealed).unwrap();
            assert_eq!(&sealed[..n], b"quic packet");
        }
        let key1 = key("0123456789abcdef").unwrap();
        let key2 = key("fedcba9876543210").unwrap();
        let mut sealed = seal(&key1, b"x");
        assert!(open(&key2, &mut sealed).is_none(), "another key");
        assert!(open(&key1, &mut [0u8; 10]).is_none(), "too short");
        assert!(super::key("short").is_err() && super::key("0123456789abcdef01234567").is_err());
    }
}
