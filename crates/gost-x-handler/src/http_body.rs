//! HTTP/1.x message bodies as proxies pass them on: how a message is delimited, and copying one
//! body from a connection to another (bytes already read first), never buffering it whole.

use gost_core::io::{read, read_decoded, write_all};
use std::time::Duration;

use gost_core::{BoxConn, Error, ErrorKind, Result, Write};
use gost_proto::http::{self as wire, RequestHead, ResponseHead};

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

pub(crate) fn request_body(head: &RequestHead) -> Result<Body> {
    // RFC 9112 6.3: chunked must be the final coding; anything else cannot be delimited.
    let codings: Vec<String> = head
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("Transfer-Encoding"))
        .flat_map(|(_, v)| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(last) = codings.last() {
        return if last == "chunked" {
            Ok(Body::Chunked)
        } else {
            Err(Error::protocol(format!("a request body that is not chunked last ({codings:?})")))
        };
    }
    // Several Content-Length fields must agree (RFC 9110 8.6).
    let mut length = None;
    for (k, v) in &head.headers {
        if !k.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        let text = String::from_utf8_lossy(v);
        for part in text.split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| Error::protocol(format!("bad Content-Length {text:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::protocol("Content-Length fields disagree"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Body::None, Body::Length))
}

pub(crate) fn response_body(method: &str, resp: &ResponseHead) -> Result<Body> {
    if method.eq_ignore_ascii_case("HEAD")
        || resp.status < 200
        || resp.status == 204
        || resp.status == 304
    {
        return Ok(Body::None);
    }
    if resp
        .header_str("Transfer-Encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"))
    {
        return Ok(Body::Chunked);
    }
    match resp.header_str("Content-Length") {
        Some(v) => v
            .trim()
            .parse()
            .map(Body::Length)
            .map_err(|_| Error::protocol(format!("bad Content-Length {v:?} from the origin"))),
        None => Ok(Body::UntilClose),
    }
}

pub(crate) fn header_has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Whether a request asks to switch protocols (`Connection: Upgrade` and an `Upgrade` header).
pub(crate) fn upgrade_requested(head: &RequestHead) -> bool {
    let conn = head.header_str("Connection").or_else(|| head.header_str("Proxy-Connection"));
    header_has_token(conn, "upgrade")
        && head.header_str("Upgrade").is_some_and(|u| !u.trim().is_empty())
}

pub(crate) const COPY_CHUNK: usize = 16 * 1024;

/// Copies one message body from `src` (bytes already read first, from `buf`) to `dst`.
pub(crate) async fn copy_body<D: Write + Unpin + ?Sized>(
    src: &mut BoxConn,
    buf: &mut Vec<u8>,
    dst: &mut D,
    body: Body,
    idle: Option<Duration>,
) -> Result<()> {
    match body {
        Body::None => Ok(()),
        Body::Length(n) => copy_exact(src, buf, dst, n, idle).await,
        Body::Chunked => copy_chunked(src, buf, dst, idle).await,
        Body::UntilClose => copy_until_close(src, buf, dst, idle).await,
    }
}

pub(crate) async fn copy_exact<D: Write + Unpin + ?Sized>(
    src: &mut BoxConn,
    buf: &mut Vec<u8>,
    dst: &mut D,
    mut n: u64,
    idle: Option<Duration>,
) -> Result<()> {
    let take = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
    if take > 0 {
        write_all(dst, &buf[..take]).await?;
        buf.drain(..take);
        n -= take as u64;
    }
    let mut chunk = vec![0u8; COPY_CHUNK.min(usize::try_from(n).unwrap_or(COPY_CHUNK)).max(1)];
    while n > 0 {
        let want = chunk.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let got = within(idle, read(src, &mut chunk[..want])).await?;
        if got == 0 {
            return Err(Error::new(ErrorKind::Closed, "connection closed inside a message body"));
        }
        write_all(dst, &chunk[..got]).await?;
        n -= got as u64;
    }
    Ok(())
}

pub(crate) fn decode_line(b: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
    Ok(b.iter().position(|&c| c == b'\n').map(|i| (b[..=i].to_vec(), i + 1)))
}

pub(crate) async fn copy_chunked<D: Write + Unpin + ?Sized>(
    src: &mut BoxConn,
    buf: &mut Vec<u8>,
    dst: &mut D,
    idle: Option<Duration>,
) -> Result<()> {
    loop {
        let line = within_result(idle, read_decoded(src, buf, 4096, decode_line)).await?;
        write_all(dst, &line).await?;
        let size = wire::chunk_size(&line)?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let line = within_result(idle, read_decoded(src, buf, 4096, decode_line)).await?;
                write_all(dst, &line).await?;
                if line.trim_ascii().is_empty() {
                    return Ok(());
                }
            }
        }
        copy_exact(src, buf, dst, size.saturating_add(2), idle).await?;
    }
}

pub(crate) async fn copy_until_close<D: Write + Unpin + ?Sized>(
    src: &mut BoxConn,
    buf: &mut Vec<u8>,
    dst: &mut D,
    idle: Option<Duration>,
) -> Result<()> {
    if !buf.is_empty() {
        write_all(dst, buf).await?;
        buf.clear();
    }
    let mut chunk = vec![0u8; COPY_CHUNK];
    loop {
        let n = within(idle, read(src, &mut chunk)).await?;
        if n == 0 {
            return Ok(());
        }
        write_all(dst, &chunk[..n]).await?;
    }
}

/// `read` bounded by `idle` (a peer silent that long mid-body ends the copy).
async fn within<T>(
    idle: Option<Duration>,
    read: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T> {
    match idle {
        None => Ok(read.await?),
        Some(d) => match tokio::time::timeout(d, read).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(Error::new(ErrorKind::Timeout, format!("no body bytes for {d:?}"))),
        },
    }
}

/// [`within`] for a read that already reports a gost error.
async fn within_result<T>(
    idle: Option<Duration>,
    read: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match idle {
        None => read.await,
        Some(d) => tokio::time::timeout(d, read).await.unwrap_or_else(|_| {
            Err(Error::new(ErrorKind::Timeout, format!("no body bytes for {d:?}")))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(extra: &str) -> RequestHead {
        let text = format!("POST / HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
        RequestHead::decode(text.as_bytes()).unwrap().unwrap().0
    }

    #[test]
    fn request_framing_is_unambiguous() {
        assert_eq!(request_body(&head("")).unwrap(), Body::None);
        assert_eq!(request_body(&head("Content-Length: 5\r\n")).unwrap(), Body::Length(5));
        assert_eq!(
            request_body(&head("Content-Length: 5\r\nContent-Length: 5\r\n")).unwrap(),
            Body::Length(5)
        );
        assert_eq!(
            request_body(&head("Transfer-Encoding: gzip, chunked\r\n")).unwrap(),
            Body::Chunked
        );
        assert_eq!(
            request_body(&head("Transfer-Encoding: chunked\r\nContent-Length: 9\r\n")).unwrap(),
            Body::Chunked
        );
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5, 6\r\n",
            "Content-Length: x\r\n",
            "Transfer-Encoding: xchunked\r\n",
            "Transfer-Encoding: chunked, gzip\r\n",
        ] {
            assert!(request_body(&head(bad)).is_err(), "{bad:?}");
        }
    }
}
