//! Helpers shared by the handlers' unit tests: a router that dials directly, a loopback client
//! connection served by a handler, a ping/pong origin, and reads bounded by a timeout.

// Some helpers go unused when the crate is built with only some of its protocol features.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::{
    Address, BindOptions, BoxAuther, BoxConn, BoxHandler, BoxListener, BoxRouter, Error, Handler,
    HandlerOptions, Network, Result, Router, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long any single step of a test may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// Dials targets directly.
pub struct Direct;

impl Router for Direct {
    async fn dial(&self, network: Network, target: Address) -> Result<BoxConn> {
        let s = gost_x_rt::net::connect_tcp(&target, network, WAIT).await?;
        Ok(Box::new(gost_x_rt::TokioConn::tcp(s)))
    }
    async fn dial_packet(&self, _target: Option<Address>) -> Result<gost_core::BoxPacketConn> {
        Ok(Box::new(gost_x_rt::UdpPacketConn::bind_any().await?))
    }
    async fn bind(&self, _: Network, _: Address, _: BindOptions) -> Result<BoxListener> {
        Err(Error::unsupported("bind"))
    }
}

/// Handler options with the direct router and no auther.
pub fn options() -> HandlerOptions {
    HandlerOptions::new(BoxRouter::new(Direct))
}

/// Handler options with the direct router and one user.
pub fn options_with_user(user: &str, pass: &str) -> HandlerOptions {
    let mut opts = options();
    let users = gost_x_auth::Users::new([(user.to_owned(), pass.to_owned())]);
    opts.auther = Some(BoxAuther::new(users));
    opts
}

/// Runs `handler` on the server side of a new loopback connection; returns the client side and
/// the handler's task.
pub async fn serve(handler: &BoxHandler) -> (TcpStream, JoinHandle<Result<()>>) {
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(front.local_addr().unwrap()).await.unwrap();
    let (server, _) = front.accept().await.unwrap();
    let h = handler.clone();
    let task = tokio::spawn(async move {
        h.handle(Box::new(gost_x_rt::TokioConn::tcp(server)), Session::default()).await
    });
    (client, task)
}

/// The handler's result, waited for with a timeout.
pub async fn outcome(task: JoinHandle<Result<()>>) -> Result<()> {
    tokio::time::timeout(WAIT, task).await.expect("handler did not finish").unwrap()
}

/// An origin that answers `pong` to `ping` on every connection it accepts.
pub async fn ping_pong_origin() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 4];
                if tokio::time::timeout(WAIT, s.read_exact(&mut b)).await.is_ok_and(|r| r.is_ok())
                    && &b == b"ping"
                {
                    let _ = s.write_all(b"pong").await;
                }
            });
        }
    });
    addr
}

/// Sends `ping` through the proxy and expects the origin's `pong`.
pub async fn ping_pong(client: &mut TcpStream) {
    client.write_all(b"ping").await.unwrap();
    assert_eq!(read_n(client, 4).await, b"pong");
}

/// Reads exactly `n` bytes.
pub async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    tokio::time::timeout(WAIT, s.read_exact(&mut b)).await.expect("read timed out").unwrap();
    b
}

/// Reads until the peer closes.
pub async fn read_to_end(s: &mut TcpStream) -> Vec<u8> {
    let mut b = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut b)).await.expect("read timed out").unwrap();
    b
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

/// The port of `addr` as two big-endian bytes.
pub fn port_bytes(addr: SocketAddr) -> [u8; 2] {
    addr.port().to_be_bytes()
}

/// A connected UDP socket as a datagram connection (what the `udp` listener hands over).
pub fn datagrams(socket: tokio::net::UdpSocket) -> gost_x_rt::UdpConn {
    gost_x_rt::UdpConn::new(socket).unwrap()
}
