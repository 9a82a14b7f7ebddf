//! Helpers shared by the connectors' unit tests: a scripted fake server on a loopback listener
//! and reads bounded by a timeout.

// Some helpers go unused when the crate is built with only some of its protocol features.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use gost_core::{BoxConn, ConnectorOptions};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long any single step of a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// Starts `script` on the server side of a new loopback connection; returns the client side, as
/// a connector gets it, and the script's task (join it to surface the script's assertions).
pub async fn fake_server<F, Fut>(script: F) -> (BoxConn, JoinHandle<()>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, _) = l.accept().await.unwrap();
    let task = tokio::spawn(script(server));
    (Box::new(gost_x_rt::TokioConn::tcp(client)), task)
}

/// Reads exactly `want.len()` bytes and checks they are `want`.
pub async fn expect(s: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    tokio::time::timeout(WAIT, s.read_exact(&mut got)).await.expect("read timed out").unwrap();
    assert_eq!(got, want);
}

/// Reads an HTTP head, up to and including the empty line.
pub async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    tokio::time::timeout(WAIT, async {
        while !head.ends_with(b"\r\n\r\n") {
            head.push(s.read_u8().await.unwrap());
        }
    })
    .await
    .expect("read timed out");
    String::from_utf8(head).unwrap()
}

/// Reads exactly `n` bytes from a connection a connector returned.
pub async fn read_conn(conn: &mut BoxConn, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0u8; n];
    tokio::time::timeout(WAIT, gost_core::io::read_exact(conn, &mut b))
        .await
        .expect("read timed out")?;
    Ok(b)
}

/// Connector options with credentials.
pub fn with_user(user: &str, pass: &str) -> ConnectorOptions {
    let mut opts = ConnectorOptions::default();
    opts.username = Some(user.to_owned());
    opts.password = Some(pass.to_owned());
    opts
}

/// Waits for the fake server's script (its panics fail the test).
pub async fn finish(task: JoinHandle<()>) {
    tokio::time::timeout(WAIT, task).await.expect("server script did not finish").unwrap();
}
