use std::sync::Arc;
use std::time::Duration;

use gost_core::BoxConn;
use gost_core::io::{read, read_exact, shutdown, write_all};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;

/// A server on loopback; its sessions arrive on the receiver.
async fn server(opts: ServerOptions) -> (std::net::SocketAddr, mpsc::Receiver<BoxConn>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(8);
    let server = Server::new(opts);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let conn: BoxConn = Box::new(gost_x_rt::TokioConn::tcp(s));
            tokio::spawn(Arc::clone(&server).serve(conn, tx.clone()));
        }
    });
    (addr, rx)
}

fn connect_to(addr: std::net::SocketAddr) -> Connect {
    Arc::new(move || {
        Box::pin(async move {
            let s = TcpStream::connect(addr).await?;
            Ok(Box::new(gost_x_rt::TokioConn::tcp(s)) as BoxConn)
        })
    })
}

async fn client(addr: std::net::SocketAddr) -> BoxConn {
    let opts = ClientOptions { host: addr.to_string(), ..Default::default() };
    dial(connect_to(addr), opts, None, Some(addr)).await.unwrap()
}

/// A raw HTTP exchange: the whole response text (the connection is closed after it).
async fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn data_flows_both_ways_and_the_server_end_reaches_the_client() {
    let (addr, mut sessions) = server(ServerOptions::default()).await;
    let mut c = client(addr).await;
    let mut s = sessions.recv().await.unwrap();
    let up: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let down: Vec<u8> = (0..900_000u32).map(|i| (i % 241) as u8).collect();
    let (up2, down2) = (up.clone(), down.clone());
    let server_side = tokio::spawn(async move {
        let mut got = vec![0u8; up2.len()];
        read_exact(&mut s, &mut got).await.unwrap();
        assert!(got == up2);
        write_all(&mut s, &down2).await.unwrap();
        shutdown(&mut s).await.unwrap();
        // The client may still push after the server's end of data.
        let mut after = [0u8; 5];
        read_exact(&mut s, &mut after).await.unwrap();
        assert_eq!(&after, b"after");
        s
    });
    write_all(&mut c, &up).await.unwrap();
    let mut got = vec![0u8; down.len()];
    read_exact(&mut c, &mut got).await.unwrap();
    assert!(got == down);
    let mut one = [0u8; 1];
    assert_eq!(read(&mut c, &mut one).await.unwrap(), 0, "the server's end of data");
    write_all(&mut c, b"after").await.unwrap();
    let mut s = server_side.await.unwrap();
    // Dropping the client ends the session: the handler reads EOF.
    drop(c);
    let n = tokio::time::timeout(Duration::from_secs(5), read(&mut s, &mut one)).await;
    assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "{n:?}");
}

#[tokio::test]
async fn gost_3_2_6_clients_authorize_first() {
    let (addr, mut sessions) = server(ServerOptions::default()).await;
    let answer = raw(addr, "GET /authorize HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let token = answer.split("token=").nth(1).unwrap().trim().to_owned();
    assert_eq!(token.len(), 20);
    let mut s = sessions.recv().await.unwrap();
    // A push with that token reaches the session.
    let push = format!(
        "POST /push?token={token} HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\naGVsbG8=\n"
    );
    assert!(raw(addr, &push).await.starts_with("HTTP/1.1 200"));
    let mut hello = [0u8; 5];
    read_exact(&mut s, &mut hello).await.unwrap();
    assert_eq!(&hello, b"hello");
}

#[tokio::test]
async fn bad_requests_get_gost_statuses_and_sessions_are_bounded() {
    let opts = ServerOptions {
        max_sessions: 2,
        read_timeout: Duration::from_millis(100),
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let (addr, mut sessions) = server(opts).await;
    let close = "Host: x\r\nConnection: close\r\n";
    for (request, status) in [
        (format!("GET /nowhere HTTP/1.1\r\n{close}\r\n"), "404"),
        (format!("GET /push?token=a HTTP/1.1\r\n{close}\r\n"), "400"),
        (format!("POST /pull?token=a HTTP/1.1\r\n{close}Content-Length: 0\r\n\r\n"), "400"),
        (format!("POST /push HTTP/1.1\r\n{close}Content-Length: 2\r\n\r\nx\n"), "400"),
        (format!("POST /push?token=b HTTP/1.1\r\n{close}Content-Length: 4\r\n\r\n!!!\n"), "400"),
        ("NOT-HTTP\r\n\r\n".to_owned(), "400"),
    ] {
        let answer = raw(addr, &request).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{request:?}: {answer}");
    }
    // A push line past the bound: 413, nothing held.
    let huge = format!(
        "POST /push?token=h HTTP/1.1\r\n{close}Content-Length: 300000\r\n\r\n{}",
        "A".repeat(300_000)
    );
    assert!(raw(addr, &huge).await.starts_with("HTTP/1.1 413"));
    // "b" was opened by its bad push and closed: a later push is told it is gone, a later
    // pull gets an empty body.
    let _b = sessions.recv().await.unwrap();
    let push = format!("POST /push?token=b HTTP/1.1\r\n{close}Content-Length: 5\r\n\r\nYWI=\n");
    assert!(raw(addr, &push).await.starts_with("HTTP/1.1 410"));
    let pull = raw(addr, &format!("GET /pull?token=b HTTP/1.1\r\n{close}\r\n")).await;
    assert!(pull.starts_with("HTTP/1.1 200") && pull.ends_with("\r\n\r\n"), "{pull}");
    // Two sessions at most; a silent one is closed after a while and makes room.
    for t in ["c", "d"] {
        let push =
            format!("POST /push?token={t} HTTP/1.1\r\n{close}Content-Length: 5\r\n\r\nYWI=\n");
        assert!(raw(addr, &push).await.starts_with("HTTP/1.1 200"));
    }
    let push = format!("POST /push?token=e HTTP/1.1\r\n{close}Content-Length: 5\r\n\r\nYWI=\n");
    assert!(raw(addr, &push).await.starts_with("HTTP/1.1 429"));
    let mut c = sessions.recv().await.unwrap();
    let mut ab = [0u8; 2];
    read_exact(&mut c, &mut ab).await.unwrap();
    let mut one = [0u8; 1];
    let ended = tokio::time::timeout(Duration::from_secs(60), read(&mut c, &mut one)).await;
    assert!(matches!(ended, Ok(Ok(0))), "an idle session ends: {ended:?}");
    assert!(raw(addr, &push).await.starts_with("HTTP/1.1 200"), "room again");
}

#[tokio::test]
async fn a_half_close_reaches_the_handler_of_this_server() {
    let (addr, mut sessions) = server(ServerOptions::default()).await;
    let mut c = client(addr).await;
    let mut s = sessions.recv().await.unwrap();
    write_all(&mut c, b"question").await.unwrap();
    shutdown(&mut c).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 64];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), read(&mut s, &mut chunk))
            .await
            .expect("the handler sees the client's EOF")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got, b"question");
    write_all(&mut s, b"answer").await.unwrap();
    shutdown(&mut s).await.unwrap();
    let mut answer = Vec::new();
    loop {
        let n = read(&mut c, &mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(answer, b"answer");
}
