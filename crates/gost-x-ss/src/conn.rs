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
    /// 2022, server with users: the identity header naming the client's key.
    Identity,
    /// 2022, server: the request's fixed header (type, timestamp, length).
    Fixed,
    /// 2022, server: the request's variable header of that length (address, padding, payload).
    Variable(usize),
    /// 2022, client: the response header (type, timestamp, request salt, length).
    Response,
}

/// SIP022 header types and limits.
const REQUEST_TYPE: u8 = 0;
const RESPONSE_TYPE: u8 = 1;
const MAX_CLOCK_SKEW: u64 = 30;
const MAX_PADDING: usize = 900;

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn check_timestamp(ts: u64) -> io::Result<()> {
    if now_secs().abs_diff(ts) > MAX_CLOCK_SKEW {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "shadowsocks 2022: bad timestamp"));
    }
    Ok(())
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
    /// 2022, server: the client's salt, echoed in the response header; `None` once sent.
    request_salt: Option<Vec<u8>>,
    /// 2022, server: the response header has gone out with the first write.
    responded: bool,
    /// 2022, server with users: the user the client's identity header named.
    user: Option<String>,
    /// Nothing but this side's salt is buffered and nothing was sent yet: the first write
    /// joins it, so the salt never leaves in a packet of its own.
    salt_only: bool,
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
/// The write buffer kept across a flush: enough for interactive traffic.
const KEPT_WRITE_BUFFER: usize = 4096;

fn invalid(e: gost_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl SsConn {
    /// The client side: `header` (the target address) goes first, in a chunk of its own, and
    /// is sent by the next write or flush.
    pub fn client(inner: BoxConn, cipher: Cipher, header: &[u8]) -> gost_core::Result<SsConn> {
        let mut conn = SsConn::new(inner, cipher, None)?;
        conn.salt_only = false;
        if conn.cipher.method().is_2022() {
            let salt = conn.own_salt.clone();
            conn.cipher.identity_headers(Some(&salt), &[0; 16], &mut conn.wbuf)?;
            conn.request_header_2022(header)?;
        } else {
            conn.sealer.seal_chunk(header, &mut conn.wbuf)?;
        }
        Ok(conn)
    }

    /// SIP022's request: `seal(type 0, timestamp, length) | seal(address, padding length,
    /// padding)`, padding 1..=899 random bytes (no initial payload rides in it).
    fn request_header_2022(&mut self, address: &[u8]) -> gost_core::Result<()> {
        let mut pad = [0u8; 2];
        crate::random(&mut pad)?;
        let pad_len = 1 + usize::from(u16::from_be_bytes(pad)) % (MAX_PADDING - 1);
        let mut variable = Vec::with_capacity(address.len() + 2 + pad_len);
        variable.extend_from_slice(address);
        variable.extend_from_slice(&(pad_len as u16).to_be_bytes());
        let start = variable.len();
        variable.resize(start + pad_len, 0);
        crate::random(&mut variable[start..])?;
        let len = u16::try_from(variable.len())
            .map_err(|_| gost_core::Error::protocol("shadowsocks 2022: request too long"))?;
        let mut fixed = [0u8; 11];
        fixed[0] = REQUEST_TYPE;
        fixed[1..9].copy_from_slice(&now_secs().to_be_bytes());
        fixed[9..11].copy_from_slice(&len.to_be_bytes());
        self.sealer.seal_piece(&fixed, &mut self.wbuf)?;
        self.sealer.seal_piece(&variable, &mut self.wbuf)
    }

    /// The server side: `salts` refuses a client salt seen before (and records this side's).
    pub fn server(inner: BoxConn, cipher: Cipher, salts: SaltFilter) -> gost_core::Result<SsConn> {
        SsConn::new(inner, cipher, Some(salts))
    }

    fn new(inner: BoxConn, cipher: Cipher, salts: Option<SaltFilter>) -> gost_core::Result<SsConn> {
        let mut salt = vec![0u8; cipher.salt_len()];
        crate::random(&mut salt)?;
        // A server's own salts are remembered, so that its stream sent back to it as a client's
        // is refused. (2022 needs no such record: its response header cannot pass as a
        // request.)
        if let Some(f) = &salts
            && !cipher.method().is_2022()
        {
            f.check_and_add(&salt);
        }
        let sealer = cipher.sealer(&salt)?;
        Ok(SsConn {
            inner,
            cipher,
            salts,
            peer_salt: None,
            own_salt: salt.clone(),
            request_salt: None,
            responded: false,
            user: None,
            salt_only: true,
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

    /// 2022, server with users: the user the client named, once its request is read.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
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

    /// Writes the sealed bytes held; `release`: a big buffer goes back once they are out.
    fn poll_drain(&mut self, cx: &mut Context<'_>, release: bool) -> Poll<io::Result<()>> {
        while self.wpos < self.wbuf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wbuf[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        if release && self.wbuf.capacity() > KEPT_WRITE_BUFFER {
            // Flushed: the writer has nothing more for now (the relay flushes when its source
            // waits), so a connection idle after a burst holds no big write buffer.
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
                    let is_2022 = this.cipher.method().is_2022();
                    let server = this.salts.is_some();
                    // With users, the key comes with the identity header that follows.
                    if !(is_2022 && server && this.cipher.has_users()) {
                        this.opener = Some(this.cipher.opener(salt).map_err(invalid)?);
                    }
                    this.next = if !is_2022 {
                        Next::Length
                    } else if server {
                        this.request_salt = Some(salt.to_vec());
                        if this.opener.is_some() { Next::Fixed } else { Next::Identity }
                    } else {
                        Next::Response
                    };
                    this.rstart += len;
                }
                Next::Identity => {
                    if !ready!(this.poll_fill(cx, 16))? {
                        return Poll::Ready(Ok(0));
                    }
                    let mut identity = [0u8; 16];
                    identity.copy_from_slice(&this.rbuf[this.rstart..this.rstart + 16]);
                    let salt = this.request_salt.clone().unwrap_or_default();
                    let user =
                        this.cipher.find_user(&identity, Some(&salt), &[0; 16]).map_err(invalid)?;
                    let (cipher, name) = this.cipher.for_user(user);
                    this.user = Some(name.to_owned());
                    this.opener = Some(cipher.opener(&salt).map_err(invalid)?);
                    this.sealer = cipher.sealer(&this.own_salt).map_err(invalid)?;
                    this.cipher = cipher;
                    this.rstart += 16;
                    this.next = Next::Fixed;
                }
                Next::Fixed => {
                    if !ready!(this.poll_fill(cx, 11 + tag))? {
                        return Poll::Ready(Ok(0));
                    }
                    let Some(opener) = this.opener.as_mut() else {
                        return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
                    };
                    let sealed = &mut this.rbuf[this.rstart..this.rstart + 11 + tag];
                    opener.open(sealed).map_err(invalid)?;
                    if sealed[0] != REQUEST_TYPE {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "shadowsocks 2022: not a request",
                        )));
                    }
                    let mut ts = [0u8; 8];
                    ts.copy_from_slice(&sealed[1..9]);
                    check_timestamp(u64::from_be_bytes(ts))?;
                    let len = usize::from(u16::from_be_bytes([sealed[9], sealed[10]]));
                    // The timestamp passed: an exact record of the last minute's salts.
                    if let (Some(salt), Some(f)) = (this.peer_salt.take(), &this.salts)
                        && !f.check_and_add_recent(&salt)
                    {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "shadowsocks: a replayed salt",
                        )));
                    }
                    this.rstart += 11 + tag;
                    this.next = Next::Variable(len);
                }
                Next::Variable(len) => {
                    if !ready!(this.poll_fill(cx, len + tag))? {
                        return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                    }
                    let Some(opener) = this.opener.as_mut() else {
                        return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
                    };
                    let start = this.rstart;
                    let n =
                        opener.open(&mut this.rbuf[start..start + len + tag]).map_err(invalid)?;
                    let plain = &this.rbuf[start..start + n];
                    let bad = |what: &str| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("shadowsocks 2022: {what}"),
                        )
                    };
                    let addr_len = match gost_proto::addr::decode_addr(plain) {
                        Ok(Some((_, used))) => used,
                        _ => return Poll::Ready(Err(bad("a bad address"))),
                    };
                    let Some(pad) = plain.get(addr_len..addr_len + 2) else {
                        return Poll::Ready(Err(bad("no padding length")));
                    };
                    let pad = usize::from(u16::from_be_bytes([pad[0], pad[1]]));
                    let payload_at = addr_len + 2 + pad;
                    // (No padding and no payload is accepted: SIP022 asks clients not to send
                    // that, but Go's client does, about once in 900 requests.)
                    if pad > MAX_PADDING || payload_at > n {
                        return Poll::Ready(Err(bad("bad padding")));
                    }
                    // Hand out the address and the initial payload, back to back.
                    this.rbuf.copy_within(start + payload_at..start + n, start + addr_len);
                    this.plain = (start, start + addr_len + (n - payload_at));
                    this.after = start + len + tag;
                    this.next = Next::Length;
                }
                Next::Response => {
                    let salt_len = this.cipher.salt_len();
                    let head = 1 + 8 + salt_len + 2;
                    if !ready!(this.poll_fill(cx, head + tag))? {
                        return Poll::Ready(Ok(0));
                    }
                    let Some(opener) = this.opener.as_mut() else {
                        return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
                    };
                    let sealed = &mut this.rbuf[this.rstart..this.rstart + head + tag];
                    opener.open(sealed).map_err(invalid)?;
                    let mut ts = [0u8; 8];
                    ts.copy_from_slice(&sealed[1..9]);
                    if sealed[0] != RESPONSE_TYPE || sealed[9..9 + salt_len] != this.own_salt[..] {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "shadowsocks 2022: not the response to our request",
                        )));
                    }
                    check_timestamp(u64::from_be_bytes(ts))?;
                    let len = usize::from(u16::from_be_bytes([sealed[head - 2], sealed[head - 1]]));
                    this.rstart += head + tag;
                    this.next = Next::Payload(len);
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
                    let len = usize::from(u16::from_be_bytes([sealed[0], sealed[1]]))
                        & this.cipher.method().max_payload();
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
        if !this.salt_only {
            ready!(this.poll_drain(cx, false))?;
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        this.salt_only = false;
        let max = this.cipher.method().max_payload();
        let mut rest = buf;
        if this.cipher.method().is_2022() && this.salts.is_some() && !this.responded {
            // SIP022: the server's first write carries the response header and one payload.
            let Some(request_salt) = this.request_salt.take() else {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "shadowsocks 2022: an answer before the request",
                )));
            };
            let first = rest.len().min(max);
            let mut head = Vec::with_capacity(1 + 8 + request_salt.len() + 2);
            head.push(RESPONSE_TYPE);
            head.extend_from_slice(&now_secs().to_be_bytes());
            head.extend_from_slice(&request_salt);
            head.extend_from_slice(&(first as u16).to_be_bytes());
            this.sealer.seal_piece(&head, &mut this.wbuf).map_err(invalid)?;
            this.sealer.seal_piece(&rest[..first], &mut this.wbuf).map_err(invalid)?;
            this.responded = true;
            rest = &rest[first..];
        }
        // Several chunks at once when there is that much: one write for all of them.
        let n = rest.len().min(CHUNKS_PER_CALL * MAX_PAYLOAD);
        this.wbuf.reserve(n + n.div_ceil(max) * (2 + 2 * TAG_LEN));
        for chunk in rest[..n].chunks(max) {
            this.sealer.seal_chunk(chunk, &mut this.wbuf).map_err(invalid)?;
        }
        let n = buf.len() - rest.len() + n;
        if let Poll::Ready(Err(e)) = this.poll_drain(cx, false) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx, true))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx, true))?;
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

    /// A password for `method`: 2022 takes a base64 key of the right length.
    fn password(method: &str) -> &'static str {
        match method {
            "2022-blake3-aes-128-gcm" => "MTIzNDU2Nzg5MDEyMzQ1Ng==",
            "2022-blake3-aes-256-gcm" | "2022-blake3-chacha20-poly1305" => {
                "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="
            }
            _ => "pass",
        }
    }

    async fn ss_pair(method: &str) -> (SsConn, SsConn) {
        let (c, s) = pair().await;
        let cipher = Cipher::new(method, password(method), None).unwrap();
        let client = SsConn::client(c, cipher.clone(), b"\x01\x7f\x00\x00\x01\x00\x50").unwrap();
        let server =
            SsConn::server(Box::new(TokioConn::tcp(s)), cipher, SaltFilter::default()).unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn both_ways_with_half_close_for_every_method() {
        for method in [
            "aes-128-gcm",
            "aes-256-gcm",
            "chacha20-ietf-poly1305",
            "none",
            "2022-blake3-aes-128-gcm",
            "2022-blake3-aes-256-gcm",
            "2022-blake3-chacha20-poly1305",
        ] {
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
    async fn no_big_buffer_is_kept_once_a_burst_is_out() {
        let (mut client, mut server) = ss_pair("aes-256-gcm").await;
        let reader = tokio::spawn(async move {
            let mut sink = vec![0u8; 65536];
            let mut total = 0;
            while total < 7 + 12288 + 100 {
                total += read(&mut server, &mut sink).await.unwrap();
            }
            (server, total)
        });
        // A 12 KiB write (less than a whole chunk), then a flush (write_all's): its buffer must
        // not stay behind.
        write_all(&mut client, &[0u8; 12288]).await.unwrap();
        assert_eq!(client.wbuf.capacity(), 0, "after a 12 KiB write");
        write_all(&mut client, &[1u8; 100]).await.unwrap();
        assert!(client.wbuf.capacity() <= KEPT_WRITE_BUFFER, "after a small write");
        let (_server, total) = reader.await.unwrap();
        assert_eq!(total, 7 + 12288 + 100);
        assert_eq!(client.rbuf.capacity(), 0, "no read buffer without a read");
    }

    #[tokio::test]
    async fn identity_headers_name_the_user_whose_key_the_stream_takes() {
        let method = "2022-blake3-aes-256-gcm";
        let ipsk = password(method);
        let alice = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let server_cipher = Cipher::new(method, ipsk, None)
            .unwrap()
            .with_users([("bob", "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="), ("alice", alice)])
            .unwrap();
        for (user_key, ok) in
            [(alice, true), ("AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=", false)]
        {
            let (c, s) = pair().await;
            let client_cipher = Cipher::new(method, &format!("{ipsk}:{user_key}"), None).unwrap();
            let mut client =
                SsConn::client(c, client_cipher, b"\x01\x7f\x00\x00\x01\x00\x50").unwrap();
            let mut server = SsConn::server(
                Box::new(TokioConn::tcp(s)),
                server_cipher.clone(),
                SaltFilter::default(),
            )
            .unwrap();
            write_all(&mut client, b"hi").await.unwrap();
            let mut got = [0u8; 9];
            if !ok {
                let err = read_exact(&mut server, &mut got).await.unwrap_err();
                assert_eq!(err.kind(), io::ErrorKind::InvalidData, "an unknown user: {err}");
                continue;
            }
            read_exact(&mut server, &mut got).await.unwrap();
            assert_eq!(&got, b"\x01\x7f\x00\x00\x01\x00\x50hi");
            assert_eq!(server.user(), Some("alice"));
            write_all(&mut server, b"back").await.unwrap();
            let mut back = [0u8; 4];
            read_exact(&mut client, &mut back).await.unwrap();
            assert_eq!(&back, b"back", "the answer under alice's key");
        }
    }

    #[tokio::test]
    async fn a_2022_request_with_a_stale_timestamp_is_refused() {
        let method = "2022-blake3-aes-128-gcm";
        let cipher = Cipher::new(method, password(method), None).unwrap();
        let (c, s) = pair().await;
        let mut client =
            SsConn::client(c, cipher.clone(), b"\x01\x7f\x00\x00\x01\x00\x50").unwrap();
        // Rewrite the request with a timestamp a minute old.
        client.wbuf.truncate(cipher.salt_len());
        let salt = client.wbuf.clone();
        let mut sealer = cipher.sealer(&salt).unwrap();
        let mut fixed = [0u8; 11];
        fixed[1..9].copy_from_slice(&(now_secs() - 60).to_be_bytes());
        fixed[9..11].copy_from_slice(&10u16.to_be_bytes());
        sealer.seal_piece(&fixed, &mut client.wbuf).unwrap();
        sealer.seal_piece(b"\x01\x7f\x00\x00\x01\x00\x50\x00\x01\x00", &mut client.wbuf).unwrap();
        flush(&mut client).await.unwrap();
        let mut server =
            SsConn::server(Box::new(TokioConn::tcp(s)), cipher, SaltFilter::default()).unwrap();
        let mut buf = [0u8; 16];
        let err = read(&mut server, &mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
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
