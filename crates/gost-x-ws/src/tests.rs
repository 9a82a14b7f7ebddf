use super::*;
use gost_core::io::{read, read_exact, shutdown, write_all};
use gost_proto::ws::{self, FrameHeader, apply_mask};
use gost_x_rt::TokioConn;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(5);

async fn tcp_pair() -> (BoxConn, BoxConn) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (s, _) = l.accept().await.unwrap();
    (Box::new(TokioConn::tcp(c)), Box::new(TokioConn::tcp(s)))
}

async fn ws_pair(server_md: Metadata, client_md: Metadata) -> (Result<BoxConn>, Result<BoxConn>) {
    let (c, s) = tcp_pair().await;
    let sopts = ServerOptions::from_metadata(&server_md).unwrap();
    let copts = ClientOptions::from_metadata(&client_md).unwrap();
    let server = tokio::spawn(async move { accept(s, &sopts).await });
    let client = connect(c, "node.example:443", &copts).await;
    (client, server.await.unwrap())
}

async fn read_to_end(c: &mut BoxConn) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, read(c, &mut buf)).await.unwrap().unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn byte_stream_both_ways_with_half_close() {
    let (client, server) = ws_pair(Metadata::new(), Metadata::new()).await;
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let up = big.clone();
    let writer = tokio::spawn(async move {
        write_all(&mut client, &up).await.unwrap();
        shutdown(&mut client).await.unwrap();
        client
    });
    assert_eq!(read_to_end(&mut server).await, big);
    // The client half-closed; the server can still answer.
    write_all(&mut server, b"answer after eof").await.unwrap();
    shutdown(&mut server).await.unwrap();
    let mut client = writer.await.unwrap();
    assert_eq!(read_to_end(&mut client).await, b"answer after eof");
}

#[tokio::test]
async fn path_mismatch_is_refused_with_404() {
    let (client, server) =
        ws_pair(Metadata::new().with("path", "/ws"), Metadata::new().with("path", "/other")).await;
    let err = client.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Handshake);
    assert!(err.to_string().contains("404"), "{err}");
    assert!(server.is_err());
}

#[tokio::test]
async fn host_and_headers_reach_the_server() {
    let (c, mut s) = tcp_pair().await;
    let md = Metadata::new().with("host", "cdn.example").with(
        "header",
        gost_core::Value::Map([("X-Test".to_owned(), gost_core::Value::from("yes"))].into()),
    );
    let opts = ClientOptions::from_metadata(&md).unwrap();
    let client = tokio::spawn(async move { connect(c, "1.2.3.4:443", &opts).await });
    let mut buf = Vec::new();
    let req = read_decoded(&mut s, &mut buf, 65536, RequestHead::decode).await.unwrap();
    assert_eq!(req.target, "/ws");
    assert_eq!(req.header_str("Host"), Some("cdn.example"));
    assert_eq!(req.header_str("X-Test"), Some("yes"));
    let key = req.header_str("Sec-WebSocket-Key").unwrap().to_owned();
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    write_all(&mut s, resp.as_bytes()).await.unwrap();
    client.await.unwrap().unwrap();
}

#[test]
fn rfc_accept_key() {
    // RFC 6455 §1.3.
    assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/// A raw client: completes the handshake by hand, then speaks frames directly.
async fn raw_client(server_md: Metadata) -> (TcpStream, tokio::task::JoinHandle<Result<BoxConn>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let opts = ServerOptions::from_metadata(&server_md).unwrap();
        accept(Box::new(TokioConn::tcp(s)), &opts).await
    });
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(c.read_u8().await.unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    (c, server)
}

fn frame(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    FrameHeader { fin, opcode, mask, len: payload.len() as u64 }.encode(&mut out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        apply_mask(&mut out[start..], k, 0);
    }
    out
}

#[tokio::test]
async fn fragments_text_pings_and_close_from_a_raw_client() {
    let (mut c, server) = raw_client(Metadata::new()).await;
    let key = Some([1, 2, 3, 4]);
    let mut frames = Vec::new();
    frames.extend(frame(false, ws::OP_BINARY, key, b"frag"));
    frames.extend(frame(true, ws::OP_PING, key, b"p1"));
    frames.extend(frame(true, ws::OP_CONTINUATION, key, b"mented "));
    frames.extend(frame(true, ws::OP_BINARY, key, b""));
    frames.extend(frame(true, ws::OP_TEXT, key, b"text counts"));
    frames.extend(frame(true, ws::OP_CLOSE, key, &[0x03, 0xE8]));
    c.write_all(&frames).await.unwrap();
    let mut server = server.await.unwrap().unwrap();
    assert_eq!(read_to_end(&mut server).await, b"fragmented text counts");
    // The server answered the Ping with a Pong and the Close with a Close (unmasked).
    let mut got = [0u8; 8];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(got, [0x8A, 2, b'p', b'1', 0x88, 2, 0x03, 0xE8]);
}

#[tokio::test]
async fn garbage_frames_are_an_error() {
    let (mut c, server) = raw_client(Metadata::new()).await;
    c.write_all(&[0xF2, 0x00]).await.unwrap(); // reserved bits
    let mut server = server.await.unwrap().unwrap();
    let mut buf = [0u8; 16];
    assert!(tokio::time::timeout(WAIT, read(&mut server, &mut buf)).await.unwrap().is_err());
}

#[tokio::test(start_paused = true)]
async fn keepalive_without_pongs_ends_the_connection() {
    // A server that upgrades and then never answers anything.
    let (c, mut s) = tcp_pair().await;
    let opts =
        ClientOptions::from_metadata(&Metadata::new().with("keepalive", true).with("ttl", "1s"))
            .unwrap();
    let client = tokio::spawn(async move { connect(c, "x:1", &opts).await });
    let mut buf = Vec::new();
    let req = read_decoded(&mut s, &mut buf, 65536, RequestHead::decode).await.unwrap();
    let key = req.header_str("Sec-WebSocket-Key").unwrap().to_owned();
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    write_all(&mut s, resp.as_bytes()).await.unwrap();
    let mut client = client.await.unwrap().unwrap();
    let mut one = [0u8; 1];
    let err = read(&mut client, &mut one).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    // It did ping (masked Ping frames, opcode 9) before giving up.
    let mut sent = [0u8; 2];
    read_exact(&mut s, &mut sent).await.unwrap();
    assert_eq!(sent, [0x89, 0x80]);
}

#[tokio::test(start_paused = true)]
async fn keepalive_with_our_server_stays_up() {
    let md = Metadata::new().with("keepalive", true).with("ttl", "1s");
    let (client, server) = ws_pair(Metadata::new(), md).await;
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    // The server only reads (which answers Pings); the client waits 10 ttl, then talks.
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 5];
        read_exact(&mut server, &mut buf).await.unwrap();
        buf
    });
    let mut one = [0u8; 1];
    let idle = tokio::time::timeout(Duration::from_secs(10), read(&mut client, &mut one)).await;
    assert!(idle.is_err(), "the client read must still be waiting, not failed: {idle:?}");
    write_all(&mut client, b"alive").await.unwrap();
    assert_eq!(&reader.await.unwrap(), b"alive");
}

#[tokio::test(start_paused = true)]
async fn keepalive_survives_a_reader_that_pauses_mid_transfer() {
    // The Pongs arrive behind data the client has not read yet; a paused reader must not be
    // taken for a dead server.
    let md = Metadata::new().with("keepalive", true).with("ttl", "1s");
    let (client, server) = ws_pair(Metadata::new(), md).await;
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    const TOTAL: usize = 16 << 20;
    let writer = tokio::spawn(async move {
        let chunk = vec![0x5Au8; 64 * 1024];
        let mut sent = 0;
        while sent < TOTAL {
            write_all(&mut server, &chunk).await.unwrap();
            sent += chunk.len();
        }
        shutdown(&mut server).await.unwrap();
        // Keep reading (answering Pings) until the client is done.
        let mut sink = [0u8; 64];
        while read(&mut server, &mut sink).await.is_ok_and(|n| n > 0) {}
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    let mut pauses = 0;
    loop {
        let n = read(&mut client, &mut buf).await.expect("the tunnel must stay up");
        if n == 0 {
            break;
        }
        got += n;
        if got > (pauses + 1) * (4 << 20) && pauses < 3 {
            // 4 ttl without reading anything.
            tokio::time::sleep(Duration::from_secs(4)).await;
            pauses += 1;
        }
    }
    assert_eq!(got, TOTAL);
    assert_eq!(pauses, 3);
    shutdown(&mut client).await.unwrap();
    writer.await.unwrap();
}
