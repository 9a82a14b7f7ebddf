//! Tests that need the session's private state.

use std::time::Duration;

use super::*;

fn quiet() -> Config {
    let mut c = Config::default();
    c.keepalive_disabled = true;
    c
}

async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f).await.expect("timed out")
}

#[tokio::test]
async fn ids_client_odd_from_3_server_even_from_2() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let client = Session::client(a, quiet()).unwrap();
    let server = Session::server(b, quiet()).unwrap();
    for want in [3, 5, 7] {
        assert_eq!(within(client.open_stream()).await.unwrap().id(), want);
    }
    for want in [2, 4, 6] {
        assert_eq!(within(server.open_stream()).await.unwrap().id(), want);
    }
}

#[tokio::test]
async fn id_wrap_around_is_go_away_and_sends_nothing() {
    for (client, start, last) in
        [(true, u32::MAX - 4, u32::MAX), (false, u32::MAX - 5, u32::MAX - 1)]
    {
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let s = if client {
            Session::client(a, quiet()).unwrap()
        } else {
            Session::server(a, quiet()).unwrap()
        };
        s.shared().lock().next_id = start;
        let _first = within(s.open_stream()).await.unwrap();
        let second = within(s.open_stream()).await.unwrap();
        assert_eq!(second.id(), last);
        assert!(matches!(within(s.open_stream()).await, Err(Error::GoAway)));
        // Stays exhausted.
        assert!(matches!(within(s.open_stream()).await, Err(Error::GoAway)));
        assert!(!s.is_closed());
        // Only the two SYNs went out.
        let mut wire = [0u8; 16];
        within(tokio::io::AsyncReadExt::read_exact(&mut b, &mut wire)).await.unwrap();
        assert_eq!(wire[1], Cmd::Syn as u8);
        assert_eq!(wire[9], Cmd::Syn as u8);
        assert_eq!(u32::from_le_bytes([wire[12], wire[13], wire[14], wire[15]]), last);
        let mut more = [0u8; 1];
        let r = tokio::time::timeout(
            Duration::from_millis(100),
            tokio::io::AsyncReadExt::read(&mut b, &mut more),
        )
        .await;
        assert!(r.is_err(), "nothing after the SYNs");
    }
}

#[tokio::test]
async fn open_skips_ids_the_peer_already_used() {
    let (a, _b) = tokio::io::duplex(1 << 16);
    let s = Session::client(a, quiet()).unwrap();
    s.shared().lock().streams.insert(3, StreamState::new());
    assert_eq!(within(s.open_stream()).await.unwrap().id(), 5);
}

#[tokio::test]
async fn control_queue_stays_bounded_when_carrier_is_stuck() {
    // A carrier nobody reads: the writer blocks after the duplex buffer fills.
    let (a, _b) = tokio::io::duplex(64);
    let mut cfg = quiet();
    cfg.version = 2;
    let s = Session::server(a, cfg).unwrap();
    for _ in 0..1000 {
        s.shared().queue_nop();
        s.shared().lock().queue_update(9, 1, 2);
    }
    tokio::task::yield_now().await;
    let st = s.shared().lock();
    assert!(st.control.len() <= 2, "queued: {}", st.control.len());
}
