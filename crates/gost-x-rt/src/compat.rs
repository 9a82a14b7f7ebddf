//! Adapters between tokio's I/O traits and gost-core's.

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use gost_core::io::{Conn, Read, Write};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A tokio stream as a gost-core connection. Every method forwards, `poll_shutdown` (half-close)
/// and vectored writes included.
#[derive(Debug)]
pub struct TokioConn<T> {
    inner: T,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl<T> TokioConn<T> {
    /// Wraps `inner`, which has no socket addresses of its own.
    pub fn new(inner: T) -> Self {
        TokioConn { inner, local: None, peer: None }
    }

    /// Wraps `inner`, reporting the given socket addresses.
    pub fn with_addrs(inner: T, local: Option<SocketAddr>, peer: Option<SocketAddr>) -> Self {
        TokioConn { inner, local, peer }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl TokioConn<TcpStream> {
    /// Wraps a TCP socket with TCP_NODELAY on (interactive traffic through a proxy must not
    /// wait for Nagle's algorithm). Keepalive is the socket's already: dialed sockets get it in
    /// [`crate::net::connect_tcp`], accepted ones inherit it from [`crate::net::listen_tcp`]'s
    /// listening socket.
    pub fn tcp(stream: TcpStream) -> Self {
        // A failure to set NODELAY only costs latency; the connection still works.
        let _ = stream.set_nodelay(true);
        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; report them as IPv4, as
        // Go does, so replies and logs carry plain IPv4 addresses.
        let canonical = |sa: SocketAddr| SocketAddr::new(sa.ip().to_canonical(), sa.port());
        let local = stream.local_addr().ok().map(canonical);
        let peer = stream.peer_addr().ok().map(canonical);
        TokioConn { inner: stream, local, peer }
    }
}

impl<T: AsyncRead + Unpin> Read for TokioConn<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
        Poll::Ready(Ok(rb.filled().len()))
    }
}

impl<T: AsyncWrite + Unpin> Write for TokioConn<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn for TokioConn<T> {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

/// A gost-core connection as a tokio `AsyncRead + AsyncWrite`. Every method forwards.
#[derive(Debug)]
pub struct Compat<C> {
    inner: C,
}

impl<C> Compat<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> Self {
        Compat { inner }
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: Read + Unpin> AsyncRead for Compat<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.inner).poll_read(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<C: Write + Unpin> AsyncWrite for Compat<C> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::BoxConn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_round_trip_through_both_adapters_with_half_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut conn: BoxConn = Box::new(TokioConn::tcp(s));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                let n = gost_core::io::read(&mut conn, &mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            // The client half-closed; we can still answer.
            gost_core::io::write_all(&mut conn, &buf).await.unwrap();
            gost_core::io::shutdown(&mut conn).await.unwrap();
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let conn: BoxConn = Box::new(TokioConn::tcp(stream));
        assert_eq!(conn.peer_addr(), Some(addr));
        let mut client = Compat::new(conn);
        client.write_all(b"ping").await.unwrap();
        client.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"ping");
        server.await.unwrap();
    }
}
