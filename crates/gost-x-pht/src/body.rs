//! HTTP/1.1 message bodies as pht reads them: a push request's line, a pull response's lines.

use gost_core::io::read;
use gost_core::{BoxConn, Error, ErrorKind, Result};
use gost_proto::Step;
use gost_proto::http::ChunkedDecoder;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(u64),
    Chunked,
    /// A response without a length: until the connection closes.
    UntilClose,
}

/// The framing a message's header fields give its body (`chunked` wins over a length, as RFC
/// 9112 says); `default` when there is neither.
pub(crate) fn framing(
    transfer_encoding: Option<&str>,
    content_length: Option<&str>,
    default: Framing,
) -> Result<Framing> {
    if let Some(te) = transfer_encoding {
        if te.rsplit(',').next().is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked")) {
            return Ok(Framing::Chunked);
        }
        return Err(Error::protocol(format!("unsupported transfer-encoding {te:?}")));
    }
    match content_length {
        Some(v) => v
            .trim()
            .parse()
            .map(Framing::Length)
            .map_err(|_| Error::protocol(format!("bad content-length {v:?}"))),
        None => Ok(default),
    }
}

/// Reads one body from a connection whose already-read bytes are in `buf`.
pub(crate) struct Body {
    framing: Framing,
    /// Bytes left in the body (length framing).
    left: u64,
    /// Chunked framing (gost-proto's streaming decoder).
    chunks: ChunkedDecoder,
    done: bool,
}

impl Body {
    pub(crate) fn new(framing: Framing) -> Body {
        let left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        Body {
            framing,
            left,
            chunks: ChunkedDecoder::default(),
            done: framing == Framing::Length(0),
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Appends up to `max` body bytes to `out` (at least one unless the body ended); `false`
    /// when the body has ended.
    pub(crate) async fn read_some(
        &mut self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<bool> {
        loop {
            if self.done {
                return Ok(false);
            }
            match self.framing {
                Framing::Length(_) => {
                    let n = self.raw(conn, buf, out, max, true).await?;
                    self.left -= n as u64;
                    self.done = self.left == 0;
                    return Ok(true);
                }
                Framing::UntilClose => {
                    self.left = u64::MAX;
                    if self.raw(conn, buf, out, max, false).await? == 0 {
                        self.done = true;
                        return Ok(false);
                    }
                    return Ok(true);
                }
                Framing::Chunked => {
                    if buf.is_empty() {
                        self.left = u64::MAX;
                        let start = out.len();
                        let n = self.raw(conn, buf, out, 16 * 1024, true).await?;
                        buf.extend(out.drain(start..start + n));
                    }
                    let mut used = 0;
                    let mut got = 0;
                    while used < buf.len() && got < max && !self.chunks.is_done() {
                        let end = buf.len().min(used + (max - got));
                        match self.chunks.step(&buf[used..end])? {
                            Step::Framing(n) => used += n,
                            Step::Data(n) => {
                                out.extend_from_slice(&buf[used..used + n]);
                                used += n;
                                got += n;
                            }
                        }
                    }
                    buf.drain(..used);
                    if self.chunks.is_done() {
                        self.done = true;
                    }
                    if got > 0 {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Moves up to `max` (and `self.left`) bytes from `buf`, or else from the connection, to
    /// `out`. With `exact`, EOF is an error.
    async fn raw(
        &mut self,
        conn: &mut BoxConn,
        buf: &mut Vec<u8>,
        out: &mut Vec<u8>,
        max: usize,
        exact: bool,
    ) -> Result<usize> {
        let want = usize::try_from(self.left).unwrap_or(usize::MAX).min(max).max(1);
        if !buf.is_empty() {
            let n = want.min(buf.len());
            out.extend_from_slice(&buf[..n]);
            buf.drain(..n);
            return Ok(n);
        }
        // Reads as much as `out` has room for (8 KiB at first, growing to 64 KiB while reads
        // fill it): an idle session does not keep a large buffer.
        let start = out.len();
        let room = want.min(64 * 1024).min(out.capacity().saturating_sub(start).max(8 * 1024));
        out.resize(start + room, 0);
        let got = read(conn, &mut out[start..]).await;
        let n = match got {
            Ok(n) => n,
            Err(e) => {
                out.truncate(start);
                return Err(Error::with_source(ErrorKind::Io, "http body", e));
            }
        };
        out.truncate(start + n);
        if n == room {
            out.reserve(room);
        }
        if n == 0 && exact {
            return Err(closed_inside(Error::new(ErrorKind::Closed, "eof")));
        }
        Ok(n)
    }
}

fn closed_inside(e: Error) -> Error {
    if e.kind() == ErrorKind::Closed {
        return Error::new(ErrorKind::Closed, "connection closed inside a message body");
    }
    e
}
