//! Many streams, large transfers, and version 2 flow control.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gost_smux::{Session, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

const STREAMS: u64 = 64;
const SIZE: usize = 1024 * 1024;

/// Sends `up` while receiving until the peer's FIN; returns what was received.
async fn exchange(stream: Stream, up: Vec<u8>) -> Vec<u8> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let send = async move {
        wr.write_all(&up).await.unwrap();
        wr.shutdown().await.unwrap();
        wr
    };
    let recv = async move {
        let mut got = Vec::with_capacity(SIZE);
        rd.read_to_end(&mut got).await.unwrap();
        got
    };
    let (_wr, got) = tokio::join!(send, recv);
    got
}

/// Every stream carries SIZE bytes each way at once; both sides check every byte.
async fn many_streams_both_ways(version: u8) {
    let (client, server) = pair(quiet(version), quiet(version));
    let server_side = tokio::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..STREAMS {
            let s = server.accept_stream().await.unwrap();
            tasks.push(tokio::spawn(async move {
                let seed = u64::from(s.id());
                let got = exchange(s, pattern(SIZE, seed + 1_000_000)).await;
                assert_eq!(got.len(), SIZE);
                assert_eq!(checksum(&got), checksum(&pattern(SIZE, seed)), "upload");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        server
    });
    let mut tasks = Vec::new();
    for _ in 0..STREAMS {
        let s = client.open_stream().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let seed = u64::from(s.id());
            let got = exchange(s, pattern(SIZE, seed)).await;
            assert_eq!(got.len(), SIZE);
            assert_eq!(checksum(&got), checksum(&pattern(SIZE, seed + 1_000_000)), "download");
        }));
    }
    within_secs(120, async {
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let server = within(server_side).await.unwrap();
    // Every stream was dropped on both sides and forgotten.
    within(async {
        while client.num_streams() + server.num_streams() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(!client.is_closed() && !server.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_large_transfers_v1() {
    many_streams_both_ways(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_large_transfers_v2() {
    many_streams_both_ways(2).await;
}

/// Writes `stream` until told to stop, counting the bytes accepted.
fn spawn_writer(mut s: Stream, total: usize, seed: u64, count: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        let data = pattern(total, seed);
        let mut off = 0;
        while off < total {
            let n = s.write(&data[off..(off + 8192).min(total)]).await.unwrap();
            off += n;
            count.store(off, Ordering::SeqCst);
        }
        s.shutdown().await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_unread_stream_stalls_only_its_own_writer() {
    let (client, server) = pair(quiet(2), quiet(2));
    let stalled = within(client.open_stream()).await.unwrap();
    let flowing = within(client.open_stream()).await.unwrap();
    let mut stalled_in = within(server.accept_stream()).await.unwrap();
    let flowing_in = within(server.accept_stream()).await.unwrap();
    assert_eq!((stalled_in.id(), flowing_in.id()), (3, 5));

    const TOTAL: usize = 2 * 1024 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    spawn_writer(stalled, TOTAL, 7, written.clone());

    // The other stream moves 8 MiB meanwhile, both ways, while nobody reads the first.
    let big = 8 * 1024 * 1024;
    let (a, b) = within_secs(60, async {
        tokio::join!(exchange(flowing, pattern(big, 1)), exchange(flowing_in, pattern(big, 2)))
    })
    .await;
    assert_eq!(checksum(&a), checksum(&pattern(big, 2)));
    assert_eq!(checksum(&b), checksum(&pattern(big, 1)));

    // The unread stream's writer stopped at the initial window (no UPD was ever sent), and the
    // receiver holds no more than that.
    within(async {
        while written.load(Ordering::SeqCst) < 262_144 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let stuck_at = written.load(Ordering::SeqCst);
    assert_eq!(stuck_at, 262_144);
    assert_eq!(stalled_in.buffered(), 262_144);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(written.load(Ordering::SeqCst), stuck_at);

    // Reading releases it; the peer's window (64 KiB) then bounds what is buffered.
    let mut got = Vec::with_capacity(TOTAL);
    let mut buf = vec![0u8; 4096];
    let mut max_buffered = 0;
    within_secs(60, async {
        loop {
            let n = stalled_in.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.len() > 2 * 262_144 {
                max_buffered = max_buffered.max(stalled_in.buffered());
            }
        }
    })
    .await;
    assert_eq!(got.len(), TOTAL);
    assert_eq!(checksum(&got), checksum(&pattern(TOTAL, 7)));
    assert!(max_buffered <= 65_536, "buffered {max_buffered} > window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_receive_buffer_bounds_memory() {
    // Version 1 has no per-stream window: the session-wide budget stops the reader instead.
    let mut cfg = quiet(1);
    cfg.max_receive_buffer = 256 * 1024;
    cfg.max_stream_buffer = 64 * 1024;
    let (client, server) = pair(quiet(1), cfg);
    let s = within(client.open_stream()).await.unwrap();
    let mut s_in = within(server.accept_stream()).await.unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    spawn_writer(s, 4 * 1024 * 1024, 9, written.clone());
    // The reader goes on until the budget is used up...
    within(async {
        while s_in.buffered() < 256 * 1024 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    // ...and then stops: at most the budget plus the one frame that overdrew it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let buffered = s_in.buffered();
    assert!(buffered <= 256 * 1024 + 32 * 1024, "buffered {buffered}");
    assert!(written.load(Ordering::SeqCst) < 4 * 1024 * 1024, "the writer never stopped");
    let mut got = Vec::new();
    within_secs(60, s_in.read_to_end(&mut got)).await.unwrap();
    assert_eq!(checksum(&got), checksum(&pattern(4 * 1024 * 1024, 9)));
}

#[tokio::test]
async fn pair_can_open_from_both_sides() {
    let (client, server) = pair(quiet(2), quiet(2));
    let mut from_server = within(server.open_stream()).await.unwrap();
    within(from_server.write_all(b"hi from server")).await.unwrap();
    let mut at_client = within(client.accept_stream()).await.unwrap();
    assert_eq!(at_client.id(), 2);
    let mut buf = [0u8; 14];
    within(at_client.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"hi from server");
    let _ = Session::clone(&client);
}
