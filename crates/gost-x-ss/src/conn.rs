//! The AEAD byte stream over a connection: a poll state machine with per-connection buffers.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::BoxConn;
use gost_core::io::{Conn, Read, Write};

use crate::{Cipher, MAX_PAYLOAD, Opener, SaltFilter, Sealer, TAG_LEN};

/// What the reader waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Salt,
    Length,
    Payload(usize),
}

/// A shadowsocks AEAD stream: what is written goes out sealed in chunks after a random salt;
/// what is read is opened after the peer's salt. A wrong key, a tampered or truncated chunk,
/// or (on a server) a replayed salt is an `InvalidData` error.
pub struct SsConn {
    inner: BoxConn,
    cipher: Cipher,
    /// Server side: the salts seen, to refuse a replayed stream.
    salts: Option<SaltFilter>,
    /// The peer's salt, recorded in `salts` once its first chunk opens (a probe's random bytes
    /// must not fill the filter, nor learn from a quick close that a salt was seen).
    peer_salt: Option<Vec<u8>>,
    /// This side's salt: a peer sending it back is reflecting our own stream.
    own_salt: Vec<u8>,
    opener: Option<Opener>,
    next: Next,
    /// Bytes read and not used yet are `rbuf[rstart..rend]`; none is held while waiting.
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    /// An opened payload being handed out: `rbuf[plain.0..plain.1]`, then the chunk ends at
    /// `after`.
    plain: (usize, usize),
    after: usize,
    sealer: Sealer,
    /// Sealed bytes not written yet (the salt, then chunks): `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
}

/// The most raw bytes one chunk takes.
fn max_chunk(tag: usize) -> usize {
    2 + tag + MAX_PAYLOAD + tag
}

/// Chunks moved per read or write call at most: one syscall for several chunks in bulk.
const CHUNKS_PER_CALL: usize = 4;

fn invalid(e: gost_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl SsConn {
    /// The client side: `header` (the target address) goes first, in a chunk of its own, and
    /// is sent by the next write or flush.
    pub fn client(inner: BoxConn, cipher: Cipher, header: &[u8]) -> gost_core::Result<SsConn> {
        let mut conn = SsConn::new(inner, cipher, None)?;
        conn.sealer.seal_chunk(header, &mut conn.wbuf)?;
        Ok(conn)
    }

    /// The server side: `salts` refuses a client salt seen before (and records this side's).
    pub fn server(inner: BoxConn, cipher: Cipher, salts: SaltFilter) -> gost_core::Result<SsConn> {
        SsConn::new(inner, cipher, Some(salts))
    }

    fn new(inner: BoxConn, cipher: Cipher, salts: Option<SaltFilter>) -> gost_core::Result<SsConn> {
        let mut salt = vec![0u8; cipher.salt_len()];
        crate::random(&mut salt)?;
        if let Some(f) = &salts {
            f.check_and_add(&salt);
        }
        let sealer = cipher.sealer(&salt)?;
        Ok(SsConn {
            inner,
            cipher,
            salts,
            peer_salt: None,
            own_salt: salt.clone(),
            opener: None,
            next: Next::Salt,
            rbuf: Vec::new(),
            rstart: 0,
            rend: 0,
            plain: (0, 0),
            after: 0,
            sealer,
            wbuf: salt,
            wpos: 0,
        })
    }

    /// The connection underneath (bytes held or buffered are dropped): a server that refuses a
    /// client goes on reading from it, so that a prober learns nothing from when it closes.
    pub fn into_inner(self) -> BoxConn {
        self.inner
    }

    /// Makes `rbuf[rstart..]` hold at least `need` bytes. `Ok(false)`: the peer closed before
    /// sending any of them (at a chunk boundary, a clean end); an end inside is an error.
    fn poll_fill(&mut self, cx: &mut Context<'_>, need: usize) -> Poll<io::Result<bool>> {
        while self.rend - self.rstart < need {
            if self.rstart + need > self.rbuf.len() {
                // Move what is held to the front, and make room for a whole chunk.
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rend -= self.rstart;
                self.rstart = 0;
                let room = need.max(CHUNKS_PER_CALL * max_chunk(self.cipher.method().tag_len()));
                if self.rbuf.len() < room {
                    self.rbuf.resize(room, 0);
                }
            }
            let n = match Pin::new(&mut self.inner).poll_read(cx, &mut self.rbuf[self.rend..]) {
                Poll::Ready(r) => r?,
                Poll::Pending => {
                    if self.rstart == self.rend {
                        // Waiting with nothing held: hold no buffer either.
                        self.rbuf = Vec::new();
                        self.rstart = 0;
                        self.rend = 0;
                    }
                    return Poll::Pending;
                }
            };
            if n == 0 {
                if self.rstart == self.rend {
                    return Poll::Ready(Ok(false));
                }
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "shadowsocks: the stream ended inside a chunk",
                )));
            }
            self.rend += n;
        }
        Poll::Ready(Ok(true))
    }

    /// Writes the sealed bytes held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.wbuf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        if self.wbuf.capacity() > max_chunk(TAG_LEN) {
            // A burst's buffer goes back: an idle connection holds no write buffer.
            self.wbuf = Vec::new();
        } else {
            self.wbuf.clear();
        }
        self.wpos = 0;
        Poll::Ready(Ok(()))
    }
}

impl Read for SsConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.plain.0 < this.plain.1 {
                let n = buf.len().min(this.plain.1 - this.plain.0);
                buf[..n].copy_from_slice(&this.rbuf[this.plain.0..this.plain.0 + n]);
                this.plain.0 += n;
                if this.plain.0 == this.plain.1 {
                    this.rstart = this.after;
                }
                return Poll::Ready(Ok(n));
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let tag = this.cipher.method().tag_len();
            match this.next {
                Next::Salt => {
                    let len = this.cipher.salt_len();
                    if !ready!(this.poll_fill(cx, len))? {
                        return Poll::Ready(Ok(0));
                    }
                    let salt = &this.rbuf[this.rstart..this.rstart + len];
                    if salt == this.own_salt.as_slice() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "shadowsocks: our own stream sent back",
                        )));
                    }
                    if this.salts.is_some() {
                        this.peer_salt = Some(salt.to_vec());
                    }
                    this.opener = Some(this.cipher.opener(salt).map_err(invalid)?);
                    this.rstart += len;
                    this.next = Next::Length;
                }
                Next::Length => {
                    if !ready!(this.poll_fill(cx, 2 + tag))? {
                        return Poll::Ready(Ok(0));
                    }
                    let Some(opener) = this.opener.as_mut() else {
                        return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
                    };
                    let sealed = &mut this.rbuf[this.rstart..this.rstart + 2 + tag];
                    opener.open(sealed).map_err(invalid)?;
                    let len = usize::from(u16::from_be_bytes([sealed[0], sealed[1]])) & MAX_PAYLOAD;
                    // The first chunk opened: the peer has the key; now its salt counts.
                    if let (Some(salt), Some(f)) = (this.peer_salt.take(), &this.salts)
                        && !f.check_and_add(&salt)
                    {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "shadowsocks: a replayed salt",
                        )));
                    }
                    this.rstart += 2 + tag;
                    this.next = Next::Payload(len);
                }
                Next::Payload(len) => {
                    if !ready!(this.poll_fill(cx, len + tag))? {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "shadowsocks: the stream ended after a chunk's length",
                        )));
                    }
                    let Some(opener) = this.opener.as_mut() else {
                        return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
                    };
                    let start = this.rstart;
                    let n =
                        opener.open(&mut this.rbuf[start..start + len + tag]).map_err(invalid)?;
                    this.plain = (start, start + n);
                    this.after = start + len + tag;
                    if n == 0 {
                        this.rstart = this.after;
                    }
                    this.next = Next::Length;
                }
            }
        }
    }
}

impl Write for SsConn {
    /// Takes up to 64 KiB of `buf` as chunks of at most 16 KiB; Ready once they are sealed and
    /// buffered (they go out with the next write, flush or shutdown); Pending only while
    /// earlier chunks are still on their way, and then nothing of `buf` was taken.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Several chunks at once when there is that much: one write for all of them.
        let n = buf.len().min(CHUNKS_PER_CALL * MAX_PAYLOAD);
        this.wbuf.reserve(n + n.div_ceil(MAX_PAYLOAD) * (2 + 2 * TAG_LEN));
        for chunk in buf[..n].chunks(MAX_PAYLOAD) {
            this.sealer.seal_chunk(chunk, &mut this.wbuf).map_err(invalid)?;
        }
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl Conn for SsConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{flush, read, read_exact, shutdown, write_all};
    use gost_x_rt::TokioConn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (BoxConn, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (Box::new(TokioConn::tcp(c)), s)
    }

    async fn ss_pair(method: &str) -> (SsConn, SsConn) {
        let (c, s) = pair().await;
        let cipher = Cipher::new(method, "pass", None).unwrap();
        let client = SsConn::client(c, cipher.clone(), b"\x01\x7f\x00\x00\x01\x00\x50").unwrap();
        let server =
            SsConn::server(Box::new(TokioConn::tcp(s)), cipher, SaltFilter::default()).unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn both_ways_with_half_close_for_every_method() {
        for method in ["aes-128-gcm", "aes-256-gcm", "chacha20-ietf-poly1305", "none"] {
            let (mut client, mut server) = ss_pair(method).await;
            let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            let up = big.clone();
            let writer = tokio::spawn(async move {
                write_all(&mut client, &up).await.unwrap();
                shutdown(&mut client).await.unwrap();
                client
            });
            let mut head = [0u8; 7];
            read_exact(&mut server, &mut head).await.unwrap();
            assert_eq!(&head, b"\x01\x7f\x00\x00\x01\x00\x50", "{method}: the header first");
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = read(&mut server, &mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
            }
            assert!(got == big, "{method}");
            write_all(&mut server, b"answer").await.unwrap();
            shutdown(&mut server).await.unwrap();
            let mut client = writer.await.unwrap();
            let mut back = [0u8; 6];
            read_exact(&mut client, &mut back).await.unwrap();
            assert_eq!(&back, b"answer");
            assert_eq!(read(&mut client, &mut chunk).await.unwrap(), 0);
        }
    }

    #[tokio::test]
    async fn wrong_password_tampering_truncation_and_replay_are_errors() {
        let cipher = Cipher::new("aes-256-gcm", "pass", None).unwrap();
        // Record one client stream.
        let (c, mut s) = pair().await;
        let mut client =
            SsConn::client(c, cipher.clone(), b"\x01\x7f\x00\x00\x01\x00\x50").unwrap();
        write_all(&mut client, b"hello").await.unwrap();
        flush(&mut client).await.unwrap();
        drop(client);
        let mut recorded = Vec::new();
        s.read_to_end(&mut recorded).await.unwrap();
        let salts = SaltFilter::default();
        let serve = |bytes: Vec<u8>, cipher: Cipher, salts: SaltFilter| async move {
            let (c, mut s) = pair().await;
            s.write_all(&bytes).await.unwrap();
            s.shutdown().await.unwrap();
            let mut server = SsConn::server(c, cipher, salts).unwrap();
            let mut buf = [0u8; 64];
            let mut total = 0;
            loop {
                match read(&mut server, &mut buf[total..]).await {
                    Ok(0) => return Ok(total),
                    Ok(n) => total += n,
                    Err(e) => return Err(e.kind()),
                }
            }
        };
        assert_eq!(serve(recorded.clone(), cipher.clone(), salts.clone()).await, Ok(12));
        let replayed = serve(recorded.clone(), cipher.clone(), salts.clone()).await;
        assert_eq!(replayed, Err(io::ErrorKind::InvalidData), "a replayed salt");
        let wrong = Cipher::new("aes-256-gcm", "other", None).unwrap();
        let fresh = SaltFilter::default();
        assert_eq!(
            serve(recorded.clone(), wrong, fresh.clone()).await,
            Err(io::ErrorKind::InvalidData)
        );
        let mut tampered = recorded.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x80;
        assert_eq!(
            serve(tampered, cipher.clone(), SaltFilter::default()).await,
            Err(io::ErrorKind::InvalidData)
        );
        let truncated = recorded[..recorded.len() - 3].to_vec();
        assert_eq!(
            serve(truncated, cipher, SaltFilter::default()).await,
            Err(io::ErrorKind::UnexpectedEof)
        );
    }
}
