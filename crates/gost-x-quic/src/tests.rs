use super::*;
use gost_core::io::{read_exact, shutdown, write_all};

fn md() -> Metadata {
    Metadata::new()
}

async fn pair() -> (BoxListener, BoxDialer, Address) {
    let l = new_listener(ListenerOptions::new("127.0.0.1:0"), &md()).unwrap();
    let addr = Address::Ip(l.local_addr().unwrap());
    let d = new_dialer(DialerOptions::default(), &md()).unwrap();
    (l, d, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_carry_bytes_both_ways_with_half_close() {
    let (mut l, d, addr) = pair().await;
    let server = tokio::spawn(async move {
        for _ in 0..3 {
            let mut c = l.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 5];
                read_exact(&mut c, &mut buf).await.unwrap();
                let mut rest = Vec::new();
                let mut chunk = [0u8; 64];
                loop {
                    let n = gost_core::io::read(&mut c, &mut chunk).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&chunk[..n]);
                }
                assert!(rest.is_empty(), "EOF after the five bytes");
                write_all(&mut c, &buf).await.unwrap();
                shutdown(&mut c).await.unwrap();
            });
        }
    });
    for i in 0..3u8 {
        let mut c = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        let msg = [b'a' + i; 5];
        write_all(&mut c, &msg).await.unwrap();
        shutdown(&mut c).await.unwrap();
        let mut back = [0u8; 5];
        read_exact(&mut c, &mut back).await.unwrap();
        assert_eq!(back, msg);
    }
    server.await.unwrap();
}

#[tokio::test]
async fn a_dead_server_is_a_dial_error_within_the_handshake_timeout() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = Address::Ip(sock.local_addr().unwrap());
    let d = new_dialer(DialerOptions::default(), &md().with("handshakeTimeout", "500ms")).unwrap();
    let started = std::time::Instant::now();
    let err = d.dial(addr, DialOptions::default()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "{err}");
    assert!(matches!(err.kind(), ErrorKind::Timeout | ErrorKind::Dial), "{err}");
}

#[test]
fn options_are_checked() {
    assert!(Options::parse(&md().with("cipherKey", "k")).is_err(), "not an AES key length");
    assert!(Options::parse(&md().with("cipherKey", "0123456789abcdef")).unwrap().cipher.is_some());
    let o = Options::parse(&md().with("keepAlive", false).with("maxStreams", 7)).unwrap();
    assert_eq!((o.keepalive, o.max_streams), (None, 7));
    let o = Options::parse(&md().with("ttl", "3s")).unwrap();
    assert_eq!(o.keepalive, Some(Duration::from_secs(3)));
    assert!(listen_addr(":0").is_ok() && listen_addr("nope").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cipher_key_seals_every_datagram_and_must_match() {
    let key = md().with("cipherKey", "0123456789abcdef0123456789abcdef");
    let mut l = new_listener(ListenerOptions::new("127.0.0.1:0"), &key).unwrap();
    let addr = Address::Ip(l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok(mut c) = l.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 4];
                if read_exact(&mut c, &mut b).await.is_ok() {
                    let _ = write_all(&mut c, &b).await;
                }
            });
        }
    });
    let d = new_dialer(DialerOptions::default(), &key).unwrap();
    let mut c = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
    write_all(&mut c, b"ping").await.unwrap();
    let mut b = [0u8; 4];
    read_exact(&mut c, &mut b).await.unwrap();
    assert_eq!(&b, b"ping");
    // Without the key (or with another), nothing gets through.
    for other in [md(), md().with("cipherKey", "fedcba9876543210")] {
        let d =
            new_dialer(DialerOptions::default(), &other.with("handshakeTimeout", "700ms")).unwrap();
        assert!(d.dial(addr.clone(), DialOptions::default()).await.is_err());
    }
}

/// A peer whose streams are never read cannot make the server hold more than the connection
/// window: writes stall (here 40 streams of 1 MiB against an 8 MiB window, plus the client's
/// own 8 MiB send window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_peer_is_held_to_the_connection_window() {
    let (mut l, d, addr) = pair().await;
    let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok(c) = l.accept().await {
            keep.lock().await.push(c); // accepted, never read
        }
    });
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let mut c = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        let written = written.clone();
        tasks.push(tokio::spawn(async move {
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..16 {
                if write_all(&mut c, &chunk).await.is_err() {
                    return;
                }
                written.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(n <= 17 << 20, "{n} bytes accepted of 40 MiB: the windows bound it");
    assert!(n >= 1 << 20, "some data moved: {n}");
    for t in tasks {
        t.abort();
    }
}

/// Past the first connections, clients are asked to validate their address (a Retry) and
/// still get through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_validation_threshold_get_through_a_retry() {
    let (mut l, _, addr) = pair().await;
    let kept = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = kept.clone();
    tokio::spawn(async move {
        while let Ok(mut c) = l.accept().await {
            let mut b = [0u8; 1];
            if read_exact(&mut c, &mut b).await.is_ok() && write_all(&mut c, &b).await.is_ok() {
                keep.lock().await.push(c);
            }
        }
    });
    let mut dialers = Vec::new();
    for i in 0..(VALIDATE_ABOVE + 8) {
        let d = new_dialer(DialerOptions::default(), &md()).unwrap();
        let mut c = d.dial(addr.clone(), DialOptions::default()).await.unwrap();
        write_all(&mut c, &[i as u8]).await.unwrap();
        let mut b = [0u8; 1];
        read_exact(&mut c, &mut b).await.unwrap();
        assert_eq!(b[0], i as u8);
        dialers.push((d, c));
    }
}
