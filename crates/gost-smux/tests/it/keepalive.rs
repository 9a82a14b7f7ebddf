//! Keepalive: NOPs keep a live session open, silence closes a dead one. Uses tokio's paused
//! clock, so the seconds below pass instantly.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use gost_smux::frame::Cmd;
use gost_smux::{Config, Error, Session};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::util::*;

fn fast(version: u8) -> Config {
    let mut c = Config::default();
    c.version = version;
    c.keepalive_interval = Duration::from_secs(1);
    c.keepalive_timeout = Duration::from_secs(3);
    c
}

/// A carrier to a dead peer: accepts every write, never delivers a byte.
struct BlackHole;

impl AsyncRead for BlackHole {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl AsyncWrite for BlackHole {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn silent_peer_times_out() {
    let session = Session::client(BlackHole, fast(1)).unwrap();
    let mut s = within(session.open_stream()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2900)).await;
    assert!(!session.is_closed(), "closed before the timeout");
    within(session.closed()).await;
    assert!(matches!(session.close_reason(), Some(Error::KeepaliveTimeout)));
    assert_eq!(within(s.read(&mut [0u8; 1])).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(matches!(within(session.accept_stream()).await, Err(Error::KeepaliveTimeout)));
}

#[tokio::test(start_paused = true)]
async fn disabled_keepalive_never_times_out() {
    let mut cfg = fast(1);
    cfg.keepalive_disabled = true;
    let session = Session::client(BlackHole, cfg).unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(!session.is_closed());
}

#[tokio::test(start_paused = true)]
async fn idle_pair_stays_alive() {
    for version in [1, 2] {
        let (client, server) = pair(fast(version), fast(version));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!client.is_closed() && !server.is_closed());
    }
}

#[tokio::test(start_paused = true)]
async fn no_timeout_while_the_receive_buffer_is_full() {
    // The reader stops on purpose when the budget is used up; silence then is not death (Go).
    let mut cfg = fast(1);
    cfg.max_receive_buffer = 64 * 1024;
    cfg.max_stream_buffer = 64 * 1024;
    let (server, mut raw) = raw_client(cfg);
    raw.frame(Cmd::Syn, 3, &[]).await;
    let data = pattern(80_000, 1);
    raw.frame(Cmd::Psh, 3, &data[..40_000]).await;
    raw.frame(Cmd::Psh, 3, &data[40_000..]).await;
    // Then the peer goes silent (but keeps the carrier open).
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!server.is_closed(), "closed while the buffer was full");
    // Reading frees the budget; the peer is still silent, so now the session dies.
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = vec![0u8; 80_000];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(got, data);
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::KeepaliveTimeout)));
}

#[tokio::test(start_paused = true)]
async fn any_frame_counts_as_life() {
    // The peer sends no NOPs, only a data frame now and then: enough.
    let (server, mut raw) = raw_client(fast(1));
    raw.frame(Cmd::Syn, 3, &[]).await;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        raw.frame(Cmd::Psh, 3, b"x").await;
    }
    assert!(!server.is_closed());
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = [0u8; 10];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"xxxxxxxxxx");
}

#[tokio::test(start_paused = true)]
async fn huge_durations_do_not_panic() {
    let mut cfg = Config::default();
    cfg.keepalive_interval = Duration::MAX;
    cfg.keepalive_timeout = Duration::MAX;
    let (client, server) = pair(cfg.clone(), cfg);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // A panic would end the keepalive tasks silently: all six tasks must still run.
    assert_eq!(tokio::runtime::Handle::current().metrics().num_alive_tasks(), 6);
    let mut s = within(client.open_stream()).await.unwrap();
    within(s.write_all(b"x")).await.unwrap();
    let mut t = within(server.accept_stream()).await.unwrap();
    within(t.read_exact(&mut [0u8; 1])).await.unwrap();
    assert!(!client.is_closed() && !server.is_closed());
}
