//! What goes over the wire, byte for byte, and how received frames are handled.

use std::time::Duration;

use gost_smux::frame::{Cmd, Header};
use gost_smux::{Config, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::util::*;

// The examples of the wire reference (protocols.md §1.1).
const SYN3: [u8; 8] = [0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00];
const PSH3_HELLO: [u8; 13] =
    [0x01, 0x02, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f];
const NOP: [u8; 8] = [0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
const UPD3: [u8; 16] = [
    0x02, 0x04, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, 0x00,
];

#[tokio::test]
async fn client_sends_golden_syn_psh_fin() {
    let (client, mut raw) = raw_server(quiet(1));
    let mut s = within(client.open_stream()).await.unwrap();
    within(s.write_all(b"hello")).await.unwrap();
    assert_eq!(raw.recv_bytes().await, SYN3);
    assert_eq!(raw.recv_bytes().await, PSH3_HELLO);
    drop(s);
    assert_eq!(raw.recv_bytes().await, [0x01, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]);
}

#[tokio::test]
async fn server_opens_even_ids() {
    let (server, mut raw) = raw_client(quiet(2));
    let _s = within(server.open_stream()).await.unwrap();
    assert_eq!(raw.recv_bytes().await, [0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
}

#[tokio::test(start_paused = true)]
async fn keepalive_sends_golden_nop() {
    let mut cfg = Config::default();
    cfg.keepalive_interval = Duration::from_secs(1);
    cfg.keepalive_timeout = Duration::from_secs(3);
    let (_client, mut raw) = raw_server(cfg);
    assert_eq!(raw.recv_bytes().await, NOP);
    assert_eq!(raw.recv_bytes().await, NOP);
}

#[tokio::test]
async fn v2_first_read_sends_golden_upd() {
    let mut cfg = quiet(2);
    cfg.max_stream_buffer = 1 << 20;
    let (server, mut raw) = raw_client(cfg);
    raw.frame(Cmd::Syn, 3, &[]).await;
    let data = pattern(65536, 1);
    raw.frame(Cmd::Psh, 3, &data[..32768]).await;
    raw.frame(Cmd::Psh, 3, &data[32768..]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    // Let both frames arrive, so the first read returns all 65536 bytes.
    within(async {
        while s.buffered() < 65536 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let mut got = vec![0u8; 65536];
    assert_eq!(within(s.read(&mut got)).await.unwrap(), 65536);
    assert_eq!(got, data);
    assert_eq!(raw.recv_bytes().await, UPD3);
}

#[tokio::test]
async fn v2_upd_every_half_window() {
    let mut cfg = quiet(2);
    cfg.max_stream_buffer = 8192;
    let (server, mut raw) = raw_client(cfg);
    raw.frame(Cmd::Syn, 5, &[]).await;
    raw.frame(Cmd::Psh, 5, &pattern(20000, 2)).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    within(async {
        while s.buffered() < 20000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let mut buf = [0u8; 1000];
    // The first read is acknowledged, then every 4096 (half the window) bytes read.
    for (reads, want) in [(1, 1000u32), (5, 6000), (5, 11000), (5, 16000)] {
        for _ in 0..reads {
            assert_eq!(within(s.read(&mut buf)).await.unwrap(), 1000);
        }
        let (h, body) = raw.recv().await;
        assert_eq!((h.cmd, h.length, h.stream_id), (Cmd::Upd, 8, 5));
        let consumed = u32::from_le_bytes(body[..4].try_into().unwrap());
        let window = u32::from_le_bytes(body[4..].try_into().unwrap());
        assert_eq!((consumed, window), (want, 8192));
    }
    for _ in 0..4 {
        assert_eq!(within(s.read(&mut buf)).await.unwrap(), 1000);
    }
    stays_pending(100, raw.recv()).await;
}

#[tokio::test]
async fn decodes_golden_frames() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&NOP).await;
    raw.send(&SYN3).await;
    raw.send(&PSH3_HELLO).await;
    raw.send(&[0x01, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    assert_eq!(s.id(), 3);
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hello");
    assert!(!server.is_closed());
}

#[tokio::test]
async fn bad_version_kills_the_session() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&[0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]).await;
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::InvalidVersion { expected: 1, got: 2 })));
    assert!(matches!(within(server.accept_stream()).await, Err(Error::InvalidVersion { .. })));
    assert!(within(server.open_stream()).await.is_err());
    assert_eq!(server.num_streams(), 0);
}

#[tokio::test]
async fn bad_command_kills_the_session_and_its_streams() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    raw.send(&[0x01, 0x05, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]).await;
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::InvalidCommand(5))));
    let err = within(s.read(&mut [0u8; 8])).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(within(s.write(b"x")).await.is_err());
}

#[tokio::test]
async fn truncated_header_then_eof_is_an_error() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3[..5]).await;
    drop(raw);
    within(server.closed()).await;
    let reason = server.close_reason().unwrap();
    assert!(
        matches!(&reason, Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof),
        "{reason:?}"
    );
}

#[tokio::test]
async fn truncated_payload_then_eof_is_an_error() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3).await;
    raw.send(&PSH3_HELLO[..10]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    drop(raw);
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::Io(_))));
    // What arrived is still readable, then the error (not a clean end of file).
    let mut got = [0u8; 2];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"he");
    assert!(within(s.read(&mut [0u8; 8])).await.is_err());
}

#[tokio::test]
async fn clean_eof_between_frames_closes() {
    let (server, raw) = raw_client(quiet(1));
    drop(raw);
    within(server.closed()).await;
    assert!(matches!(server.close_reason(), Some(Error::Closed)));
}

#[tokio::test]
async fn control_frames_carry_no_payload_whatever_length_says() {
    // Go reads no payload after SYN/FIN/NOP: the bytes after them are the next header.
    let (server, mut raw) = raw_client(quiet(1));
    let mut bytes = Header::new(1, Cmd::Nop, 5, 0).encode().to_vec();
    bytes.extend_from_slice(&Header::new(1, Cmd::Syn, 300, 3).encode());
    bytes.extend_from_slice(&PSH3_HELLO);
    bytes.extend_from_slice(&Header::new(1, Cmd::Fin, 9, 3).encode());
    raw.send(&bytes).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hello");
    assert!(!server.is_closed());
}

#[tokio::test]
async fn upd_is_accepted_in_v1_and_consumes_exactly_8() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3).await;
    // LENGTH says 100, but exactly 8 payload bytes follow (Go's reading).
    let mut upd = Header::new(1, Cmd::Upd, 100, 3).encode().to_vec();
    upd.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 0]);
    raw.send(&upd).await;
    raw.send(&PSH3_HELLO).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = [0u8; 5];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"hello");
    assert!(!server.is_closed());
}

#[tokio::test]
async fn psh_for_unknown_stream_is_dropped() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.frame(Cmd::Psh, 9, b"junk for nobody").await;
    raw.send(&SYN3).await;
    raw.send(&PSH3_HELLO).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = [0u8; 5];
    within(s.read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(server.num_streams(), 1);
    assert!(!server.is_closed());
}

#[tokio::test]
async fn duplicate_syn_is_ignored() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.frame(Cmd::Syn, 3, &[]).await;
    raw.frame(Cmd::Psh, 3, b"ab").await;
    raw.frame(Cmd::Syn, 3, &[]).await;
    raw.frame(Cmd::Psh, 3, b"cd").await;
    raw.frame(Cmd::Fin, 3, &[]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"abcd");
    stays_pending(100, server.accept_stream()).await;
    assert_eq!(server.num_streams(), 1);
}

#[tokio::test]
async fn data_for_a_dropped_stream_is_discarded() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3).await;
    let s = within(server.accept_stream()).await.unwrap();
    drop(s);
    assert_eq!(raw.recv().await.0.cmd, Cmd::Fin);
    raw.send(&PSH3_HELLO).await;
    raw.frame(Cmd::Syn, 5, &[]).await;
    let s5 = within(server.accept_stream()).await.unwrap();
    assert_eq!(s5.id(), 5);
    assert_eq!(server.num_streams(), 1);
    assert!(!server.is_closed());
}

#[tokio::test]
async fn accept_backlog_of_1024_holds_the_reader() {
    let (server, mut raw) = raw_client(quiet(1));
    let mut bytes = Vec::new();
    for i in 0..1030u32 {
        bytes.extend_from_slice(&Header::new(1, Cmd::Syn, 0, 3 + 2 * i).encode());
    }
    let last = 3 + 2 * 1029;
    bytes.extend_from_slice(&Header::new(1, Cmd::Psh, 2, last).encode());
    bytes.extend_from_slice(b"ok");
    raw.send(&bytes).await;
    // The reader stops at the 1025th SYN until something is accepted.
    within(async {
        while server.num_streams() < 1024 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.num_streams(), 1024);
    let mut accepted = Vec::new();
    for i in 0..1030u32 {
        let s = within(server.accept_stream()).await.unwrap();
        assert_eq!(s.id(), 3 + 2 * i);
        accepted.push(s);
    }
    let mut got = [0u8; 2];
    within(accepted[1029].read_exact(&mut got)).await.unwrap();
    assert_eq!(&got, b"ok");
    assert_eq!(server.num_streams(), 1030);
}

#[tokio::test]
async fn writes_are_split_into_max_frame_size() {
    let mut cfg = quiet(1);
    cfg.max_frame_size = 1000;
    let (client, mut raw) = raw_server(cfg);
    let mut s = within(client.open_stream()).await.unwrap();
    let data = pattern(5500, 3);
    within(s.write_all(&data)).await.unwrap();
    assert_eq!(raw.recv().await.0.cmd, Cmd::Syn);
    let mut got = Vec::new();
    while got.len() < data.len() {
        let (h, payload) = raw.recv().await;
        assert_eq!((h.cmd, h.stream_id), (Cmd::Psh, 3));
        assert!(payload.len() <= 1000 && !payload.is_empty(), "frame of {}", payload.len());
        got.extend_from_slice(&payload);
    }
    assert_eq!(got, data);
}

#[tokio::test]
async fn accepts_largest_frames() {
    let (server, mut raw) = raw_client(quiet(1));
    let data = pattern(65535 * 3, 4);
    raw.frame(Cmd::Syn, 3, &[]).await;
    for chunk in data.chunks(65535) {
        raw.frame(Cmd::Psh, 3, chunk).await;
    }
    raw.frame(Cmd::Fin, 3, &[]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, data);
}

#[tokio::test]
async fn fin_then_eof_and_writes_still_go_out() {
    let (server, mut raw) = raw_client(quiet(1));
    raw.send(&SYN3).await;
    raw.send(&PSH3_HELLO).await;
    raw.frame(Cmd::Fin, 3, &[]).await;
    let mut s = within(server.accept_stream()).await.unwrap();
    let mut got = Vec::new();
    within(s.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"hello");
    // Still EOF on the next read.
    assert_eq!(within(s.read(&mut [0u8; 4])).await.unwrap(), 0);
    // Half-close: the peer's FIN does not stop our writes.
    within(s.write_all(b"bye")).await.unwrap();
    within(s.flush()).await.unwrap();
    let (h, payload) = raw.recv().await;
    assert_eq!((h.cmd, h.stream_id, payload.as_slice()), (Cmd::Psh, 3, &b"bye"[..]));
}

#[tokio::test]
async fn syn_goes_before_data_and_fin_after_it() {
    // Many streams writing and closing at once: on the wire each stream must read SYN, PSH...,
    // FIN in that order.
    let mut cfg = quiet(1);
    cfg.max_frame_size = 700;
    let (client, mut raw) = raw_server(cfg);
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let s = within(client.open_stream()).await.unwrap();
        tasks.push(tokio::spawn(async move {
            let mut s = s;
            s.write_all(&pattern(5000, i)).await.unwrap();
            if i % 2 == 0 {
                s.shutdown().await.unwrap();
            }
            drop(s);
        }));
    }
    let mut state = std::collections::HashMap::<u32, (bool, usize, bool)>::new();
    let mut fins = 0;
    while fins < 16 {
        let (h, payload) = raw.recv().await;
        let e = state.entry(h.stream_id).or_default();
        match h.cmd {
            Cmd::Syn => {
                assert!(!e.0, "duplicate SYN");
                e.0 = true;
            }
            Cmd::Psh => {
                assert!(e.0 && !e.2, "PSH outside SYN..FIN on {}", h.stream_id);
                e.1 += payload.len();
            }
            Cmd::Fin => {
                assert!(e.0 && !e.2 && e.1 == 5000, "FIN early on {}: {e:?}", h.stream_id);
                e.2 = true;
                fins += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    for t in tasks {
        within(t).await.unwrap();
    }
}
