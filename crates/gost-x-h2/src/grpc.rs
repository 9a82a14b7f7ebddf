//! gost's gRPC tunnel (`grpc`): one `GostTunel/Tunnel` call per proxied connection, its two
//! message streams carrying the connection's bytes as `Chunk` messages (see
//! `gost_proto::grpc`). The client's half-close is the end of its request stream; the server's is
//! its trailers (`grpc-status: 0`).
//!
//! A gRPC client (Go's among them) sends nothing until the application writes, and a gRPC server
//! sends its response headers only when it first writes: so a client stream is usable at once and
//! reads wait for the response.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gost_core::io::{Conn, Read, Write};
use gost_proto::grpc::{ChunkDecoder, MAX_HEADER_LEN, Step, chunk_header, data_fitting};
use h2::{RecvStream, SendStream};

use crate::{MAX_CHUNK, StreamGuard, io_error};

/// gRPC's content type (with or without a `+proto` subtype).
pub const CONTENT_TYPE: &str = "application/grpc";
/// gost's service and method when no `path` is set.
pub const DEFAULT_METHOD: &str = "/GostTunel/Tunnel";

/// The call path for gost's `path` metadata, as gost maps it: `svc` → `/svc/Tunnel`,
/// `svc/a/b` → `/svc/a-b`, nothing → `/GostTunel/Tunnel`.
pub fn method_path(path: Option<&str>) -> String {
    let path = path.unwrap_or("").trim_matches('/');
    match path.split_once('/') {
        _ if path.is_empty() => DEFAULT_METHOD.to_owned(),
        None => format!("/{path}/Tunnel"),
        Some((service, method)) => format!("/{service}/{}", method.replace('/', "-")),
    }
}

/// Whether a `content-type` is gRPC's.
pub fn is_grpc_content_type(value: Option<&http::HeaderValue>) -> bool {
    value.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v == CONTENT_TYPE
            || v.strip_prefix(CONTENT_TYPE).is_some_and(|rest| rest.starts_with(['+', ';']))
    })
}

/// The error a `grpc-status` (and `grpc-message`) other than 0 stands for.
fn status_error(headers: &http::HeaderMap) -> Option<io::Error> {
    let status = headers.get("grpc-status")?.to_str().unwrap_or("2");
    if status == "0" {
        return None;
    }
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or("");
    Some(io::Error::new(
        io::ErrorKind::ConnectionReset,
        format!("grpc: the server ended the call with status {status} {message}"),
    ))
}

/// Where the peer's messages come from.
enum Recv {
    /// A client's call before the response headers.
    Response(h2::client::ResponseFuture),
    Body(RecvStream),
    /// A client's call after the response body: its trailers carry the status.
    Trailers(RecvStream),
    Done,
}

/// One gRPC tunnel call as a gost connection.
pub struct GrpcConn {
    recv: Recv,
    send: SendStream<Bytes>,
    decoder: ChunkDecoder,
    /// Received bytes not decoded yet.
    held: Bytes,
    ended: bool,
    server: bool,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
    _stream: Option<StreamGuard>,
}

impl GrpcConn {
    /// The server side of an accepted call (its response headers already sent).
    pub fn server(
        recv: RecvStream,
        send: SendStream<Bytes>,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
    ) -> GrpcConn {
        GrpcConn::new(Recv::Body(recv), send, true, local, peer, None)
    }

    pub(crate) fn client(
        response: h2::client::ResponseFuture,
        send: SendStream<Bytes>,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
        stream: StreamGuard,
    ) -> GrpcConn {
        GrpcConn::new(Recv::Response(response), send, false, local, peer, Some(stream))
    }

    fn new(
        recv: Recv,
        send: SendStream<Bytes>,
        server: bool,
        local: Option<SocketAddr>,
        peer: Option<SocketAddr>,
        stream: Option<StreamGuard>,
    ) -> GrpcConn {
        GrpcConn {
            recv,
            send,
            decoder: ChunkDecoder::default(),
            held: Bytes::new(),
            ended: false,
            server,
            local,
            peer,
            _stream: stream,
        }
    }

    /// Decodes held bytes into `buf`; how many data bytes it got.
    fn drain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        while !self.held.is_empty() && filled < buf.len() {
            let limit = self.held.len().min(buf.len() - filled);
            match self.decoder.step(&self.held[..limit]) {
                Ok(Step::Framing(n)) => self.held.advance(n),
                Ok(Step::Data(n)) => {
                    buf[filled..filled + n].copy_from_slice(&self.held[..n]);
                    self.held.advance(n);
                    filled += n;
                }
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
        if self.held.is_empty() {
            // An empty slice still pins the frame's buffer: let it go.
            self.held = Bytes::new();
        }
        Ok(filled)
    }
}

impl Read for GrpcConn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let n = this.drain(buf)?;
            if n > 0 {
                return Poll::Ready(Ok(n));
            }
            match &mut this.recv {
                Recv::Response(response) => {
                    let response = ready!(Pin::new(response).poll(cx)).map_err(io_error)?;
                    if response.status() != http::StatusCode::OK {
                        this.recv = Recv::Done;
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::ConnectionRefused,
                            format!("grpc: the server answered {}", response.status()),
                        )));
                    }
                    // A response of headers alone carries the call's status.
                    if let Some(e) = status_error(response.headers()) {
                        this.recv = Recv::Done;
                        return Poll::Ready(Err(e));
                    }
                    this.recv = Recv::Body(response.into_body());
                }
                Recv::Body(body) => match ready!(body.poll_data(cx)) {
                    Some(Ok(data)) => {
                        let _ = body.flow_control().release_capacity(data.len());
                        this.held = data;
                    }
                    Some(Err(e)) if e.reason() != Some(h2::Reason::NO_ERROR) => {
                        return Poll::Ready(Err(io_error(e)));
                    }
                    _ => {
                        if !this.decoder.at_boundary() {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "grpc: the stream ended inside a message",
                            )));
                        }
                        let Recv::Body(body) = std::mem::replace(&mut this.recv, Recv::Done) else {
                            return Poll::Ready(Ok(0));
                        };
                        if !this.server {
                            this.recv = Recv::Trailers(body);
                        }
                    }
                },
                Recv::Trailers(body) => {
                    let trailers = ready!(body.poll_trailers(cx));
                    this.recv = Recv::Done;
                    if let Ok(Some(trailers)) = trailers
                        && let Some(e) = status_error(&trailers)
                    {
                        return Poll::Ready(Err(e));
                    }
                }
                Recv::Done => return Poll::Ready(Ok(0)),
            }
        }
    }
}

impl Write for GrpcConn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let want = buf.len().min(MAX_CHUNK);
        this.send.reserve_capacity(want + MAX_HEADER_LEN);
        let n = loop {
            let n = data_fitting(this.send.capacity(), want);
            // Not a message per few bytes of window: wait for a useful amount.
            if n == want || n >= 1024 {
                break n;
            }
            match ready!(this.send.poll_capacity(cx)) {
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                Some(Ok(_)) => {}
            }
        };
        let mut header = [0u8; MAX_HEADER_LEN];
        let len = chunk_header(u32::try_from(n).unwrap_or(u32::MAX), &mut header);
        let mut message = BytesMut::with_capacity(len + n);
        message.put_slice(&header[..len]);
        message.put_slice(&buf[..n]);
        this.send.send_data(message.freeze(), false).map_err(io_error)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            if this.server {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                this.send.send_trailers(trailers).map_err(io_error)?;
            } else {
                this.send.send_data(Bytes::new(), true).map_err(io_error)?;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Conn for GrpcConn {
    fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_as_gost_maps_them() {
        assert_eq!(method_path(None), "/GostTunel/Tunnel");
        assert_eq!(method_path(Some("")), "/GostTunel/Tunnel");
        assert_eq!(method_path(Some("/svc")), "/svc/Tunnel");
        assert_eq!(method_path(Some("svc/a/b")), "/svc/a-b");
        assert_eq!(method_path(Some("/svc/m/")), "/svc/m");
        let ct = |s: &'static str| Some(http::HeaderValue::from_static(s));
        assert!(is_grpc_content_type(ct("application/grpc").as_ref()));
        assert!(is_grpc_content_type(ct("application/grpc+proto").as_ref()));
        assert!(!is_grpc_content_type(ct("application/grpcx").as_ref()));
        assert!(!is_grpc_content_type(None));
    }
}
