//! Version 1 interoperability with another implementation, async_smux, both directions.

use async_smux::MuxBuilder;
use gost_smux::{Config, Session, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::util::*;

const STREAMS: u64 = 8;
const SIZE: usize = 256 * 1024;

/// Echoes until end of file, then half-closes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(s: S) {
    let (mut rd, mut wr) = tokio::io::split(s);
    tokio::io::copy(&mut rd, &mut wr).await.unwrap();
    wr.shutdown().await.unwrap();
}

/// Sends a pattern, half-closes, reads the echo to end of file and checks it.
async fn check_echo<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(s: S, seed: u64) {
    let data = pattern(SIZE, seed);
    let (mut rd, mut wr) = tokio::io::split(s);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        wr.write_all(&sent).await.unwrap();
        wr.shutdown().await.unwrap();
        wr
    });
    let mut got = Vec::with_capacity(SIZE);
    rd.read_to_end(&mut got).await.unwrap();
    let _wr = writer.await.unwrap();
    assert_eq!(got.len(), SIZE, "stream {seed}");
    assert_eq!(checksum(&got), checksum(&data), "stream {seed}");
}

fn config() -> Config {
    let mut c = Config::default();
    c.keepalive_disabled = true;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_their_server() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (_connector, mut acceptor, worker) = MuxBuilder::server().with_connection(b).build();
    tokio::spawn(worker);
    tokio::spawn(async move {
        while let Some(s) = acceptor.accept().await {
            tokio::spawn(echo(s));
        }
    });
    let client = Session::client(a, config()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..STREAMS {
        let s: Stream = within(client.open_stream()).await.unwrap();
        let seed = u64::from(s.id());
        tasks.push(tokio::spawn(check_echo(s, seed)));
    }
    within(async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    assert!(!client.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn their_client_our_server() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = Session::server(b, config()).unwrap();
    tokio::spawn(async move {
        while let Ok(s) = server.accept_stream().await {
            tokio::spawn(echo(s));
        }
    });
    let (connector, _acceptor, worker) = MuxBuilder::client().with_connection(a).build();
    tokio::spawn(worker);
    let mut tasks = Vec::new();
    for seed in 0..STREAMS {
        let s = connector.connect().unwrap();
        tasks.push(tokio::spawn(check_echo(s, seed)));
    }
    within(async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
}
