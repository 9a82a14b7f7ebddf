//! Datagrams as `LEN(u16) | payload` frames over a stream, as a datagram connection: each read
//! returns one datagram (cut to the caller's buffer), each write sends one. gost's tunnel
//! carries a UDP visitor's datagrams this way on its stream.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::BoxConn;
use gost_core::io::{Conn, Read, Write};

/// A stream of `LEN | payload` frames.
pub(crate) struct LenDatagrams {
    inner: BoxConn,
    /// Bytes read and not handed out: `rbuf[rpos..]`.
    rbuf: Vec<u8>,
    rpos: usize,
    /// A frame being written: `wbuf[wpos..]`.
    wbuf: Vec<u8>,
    wpos: usize,
}

impl LenDatagrams {
    pub(crate) fn new(inner: BoxConn) -> LenDatagrams {
        LenDatagrams { inner, rbuf: Vec::new(), rpos: 0, wbuf: Vec::new(), wpos: 0 }
    }
}

impl Read for LenDatagrams {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let held = &this.rbuf[this.rpos..];
            if let Some(len) = gost_proto::relay::decode_datagram_len(held) {
                if held.len() >= 2 + len && len == 0 {
                    // An empty datagram carries nothing, and a read of 0 would say the end.
                    this.rpos += 2;
                    continue;
                }
                if held.len() >= 2 + len {
                    let n = len.min(buf.len());
                    buf[..n].copy_from_slice(&held[2..2 + n]);
                    this.rpos += 2 + len;
                    if this.rpos == this.rbuf.len() {
                        this.rbuf.clear();
                        this.rpos = 0;
                    }
                    return Poll::Ready(Ok(n));
                }
            }
            if this.rpos > 0 {
                this.rbuf.drain(..this.rpos);
                this.rpos = 0;
            }
            let start = this.rbuf.len();
            this.rbuf.resize(start + 4096, 0);
            let polled = Pin::new(&mut this.inner).poll_read(cx, &mut this.rbuf[start..]);
            let n = match &polled {
                Poll::Ready(Ok(n)) => *n,
                _ => 0,
            };
            this.rbuf.truncate(start + n);
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => {
                    if this.rbuf.len() > this.rpos {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the stream ended inside a datagram",
                        )));
                    }
                    return Poll::Ready(Ok(0));
                }
                Poll::Ready(Ok(_)) => {}
            }
        }
    }
}

impl Write for LenDatagrams {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.wbuf.is_empty() {
            let len = u16::try_from(buf.len()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "a datagram larger than 65535 bytes")
            })?;
            this.wbuf.extend_from_slice(&len.to_be_bytes());
            this.wbuf.extend_from_slice(buf);
            this.wpos = 0;
        }
        while this.wpos < this.wbuf.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &this.wbuf[this.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.wpos += n;
        }
        let sent = this.wbuf.len() - 2;
        this.wbuf.clear();
        Poll::Ready(Ok(sent))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl Conn for LenDatagrams {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
    fn is_datagram(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read, write_all};

    #[tokio::test]
    async fn frames_both_ways_one_datagram_per_read() {
        let (a, b) = tokio::io::duplex(64);
        let mut a = LenDatagrams::new(Box::new(gost_x_rt::TokioConn::new(a)));
        let mut b: BoxConn = Box::new(gost_x_rt::TokioConn::new(b));
        assert!(a.is_datagram());
        write_all(&mut a, b"hello").await.unwrap();
        let mut raw = [0u8; 7];
        gost_core::io::read_exact(&mut b, &mut raw).await.unwrap();
        assert_eq!(&raw, b"\x00\x05hello");
        write_all(&mut b, b"\x00\x02hi\x00\x03you\x00\x00").await.unwrap();
        let mut got = [0u8; 16];
        assert_eq!(read(&mut a, &mut got).await.unwrap(), 2);
        assert_eq!(&got[..2], b"hi");
        assert_eq!(read(&mut a, &mut got[..2]).await.unwrap(), 2, "cut to the buffer");
        drop(b);
        assert_eq!(read(&mut a, &mut got).await.unwrap(), 0, "an empty datagram skipped, the end");
    }
}
