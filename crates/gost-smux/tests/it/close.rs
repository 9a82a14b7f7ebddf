//! Half-close, drop, and the end of sessions.

use std::io::ErrorKind;
use std::time::Duration;

use gost_smux::frame::Cmd;
use gost_smux::{Config, Error, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

#[tokio::test]
async fn half_close_between_two_of_ours() {
    for version in [1, 2] {
        let (client, server) = pair(quiet(version), quiet(version));
        let mut c = within(client.open_stream()).await.unwrap();
        within(c.write_all(b"request")).await.unwrap();
        within(c.shutdown()).await.unwrap();
        // Writes fail after our FIN...
        let err = within(c.write(b"more")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        // ...shutdown again is fine...
        within(c.shutdown()).await.unwrap();

        let mut s = within(server.accept_stream()).await.unwrap();
        let mut req = Vec::new();
        within(s.read_to_end(&mut req)).await.unwrap();
        assert_eq!(req, b"request");
        // ...and the other direction still flows.
        // (More than the v2 window, so the reader must keep up at the same time.)
        let big = pattern(300_000, 5);
        let mut resp = Vec::new();
        let send = async {
            s.write_all(&big).await.unwrap();
            s.shutdown().await.unwrap();
        };
        within(async { tokio::join!(send, c.read_to_end(&mut resp)).1 }).await.unwrap();
        assert_eq!(resp, big);
    }
}

#[tokio::test]
async fn drop_sends_fin_after_the_data() {
    let (client, server) = pair(quiet(1), quiet(1));
    let mut c = within(client.open_stream()).await.unwrap();
    let data = pattern(200_000, 6);
    within(c.write_all(&data)).await.unwrap();
    drop(c);
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, data);
    // The dropped stream is forgotten: the server's writes go nowhere, without error.
    within(s.write_all(b"ignored")).await.unwrap();
    within(async {
        while client.num_streams() > 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn flush_waits_for_the_carrier() {
    let (client, mut raw) = raw_server(quiet(1));
    let mut c = within(client.open_stream()).await.unwrap();
    within(c.write_all(b"abc")).await.unwrap();
    within(c.flush()).await.unwrap();
    // Everything is readable on the far end now, without any more help from our side.
    let mut wire = [0u8; 8 + 8 + 3];
    within(raw.io.read_exact(&mut wire)).await.unwrap();
    assert_eq!(&wire[16..], b"abc");
}

#[tokio::test]
async fn dropping_every_handle_drains_and_ends_the_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let mut cfg = Config::default(); // keepalive on: three tasks per session
    cfg.keepalive_interval = Duration::from_secs(1);
    cfg.keepalive_timeout = Duration::from_secs(3);
    let (client, server) = pair(cfg.clone(), cfg);
    assert_eq!(metrics.num_alive_tasks(), before + 6);

    let mut c = within(client.open_stream()).await.unwrap();
    let last = pattern(100_000, 8);
    within(c.write_all(&last)).await.unwrap();
    let clone = client.clone();
    drop(client);
    assert!(!clone.is_closed());
    drop(clone);
    // A stream alone keeps the session alive.
    let mut s = within(server.accept_stream()).await.unwrap();
    within(c.write_all(b"!")).await.unwrap();
    drop(c);
    // The last handle is gone: queued data and the FIN go out, then the carrier ends.
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got.len(), last.len() + 1);
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::Closed)));
    drop(s);
    drop(server);
    within(async {
        while metrics.num_alive_tasks() > before {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn close_is_immediate_and_fails_everything() {
    let (client, server) = pair(quiet(1), quiet(1));
    let mut c = within(client.open_stream()).await.unwrap();
    within(c.write_all(b"hello")).await.unwrap();
    let mut s = within(server.accept_stream()).await.unwrap();
    within(async {
        while s.buffered() < 5 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    server.close();
    assert!(server.is_closed());
    assert_eq!(server.num_streams(), 0);
    within(server.closed()).await;
    // What had arrived is still readable; then an error, not a clean end of file.
    let mut got = [0u8; 5];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(
        within(s.read(&mut [0u8; 1])).await.unwrap_err().kind(),
        ErrorKind::ConnectionAborted
    );
    assert!(within(s.write(b"x")).await.is_err());
    assert!(matches!(within(server.accept_stream()).await, Err(Error::Closed)));
    assert!(matches!(within(server.open_stream()).await, Err(Error::Closed)));
    // The peer sees the carrier end.
    within(client.closed()).await;
    assert!(within(c.read(&mut [0u8; 1])).await.is_err());
    assert!(within(client.accept_stream()).await.is_err());
}

#[tokio::test]
async fn pending_accept_and_read_wake_on_close() {
    let (client, server) = pair(quiet(1), quiet(1));
    let mut c = within(client.open_stream()).await.unwrap();
    let acceptor = {
        let client = client.clone();
        tokio::spawn(async move { client.accept_stream().await.map(|_| ()) })
    };
    let reader = tokio::spawn(async move { c.read(&mut [0u8; 4]).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(server);
    assert!(within(acceptor).await.unwrap().is_err());
    assert!(within(reader).await.unwrap().is_err());
    within(client.closed()).await;
}

#[tokio::test]
async fn streams_count_and_forget() {
    let (client, server) = pair(quiet(1), quiet(1));
    let a = within(client.open_stream()).await.unwrap();
    let b = within(client.open_stream()).await.unwrap();
    assert_eq!(client.num_streams(), 2);
    drop(a);
    assert_eq!(client.num_streams(), 1);
    // The server knows both until the FIN of the first arrives and it is dropped there.
    let a_in = within(server.accept_stream()).await.unwrap();
    let _b_in = within(server.accept_stream()).await.unwrap();
    drop(a_in);
    assert_eq!(server.num_streams(), 1);
    drop(b);
}

#[tokio::test]
async fn fin_received_before_accept_still_reads() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.frame(Cmd::Syn, 3, &[]).await;
    raw.frame(Cmd::Psh, 3, b"early").await;
    raw.frame(Cmd::Fin, 3, &[]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"early");
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let (a, _b) = tokio::io::duplex(16);
    assert!(matches!(Session::client(a, Config::default()), Err(Error::NoRuntime)));
}

#[tokio::test]
async fn invalid_config_is_rejected() {
    let (a, _b) = tokio::io::duplex(16);
    let mut cfg = Config::default();
    cfg.version = 3;
    assert!(matches!(Session::server(a, cfg), Err(Error::InvalidConfig(_))));
}
