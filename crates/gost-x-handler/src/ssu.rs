//! `ssu`: a shadowsocks UDP relay server (AEAD datagrams, SIP004; see `gost-x-ss`), as Go
//! gost's: `-L ssu://aes-256-gcm:password@:8388` (on the `udp` listener, one session per client
//! with the listener's idle `ttl`). Each datagram from the client names its target; answers go
//! back sealed with their source. Datagrams leave through the router (hosts, resolver, bypass
//! and the chain apply as for SOCKS5 UDP).
//!
//! A datagram that fails to open (wrong password, tampered, truncated) is dropped without a
//! reply and logged at debug; the session goes on. Nothing (no outbound socket, no chain dial)
//! is set up for a client before its first datagram opens. The listener's `readBufferSize`
//! (4096 by default, as Go's) bounds the datagrams a client can send; set it higher for larger
//! ones.
//!
//! Metadata: `key` (the raw master key), `udpBufferSize` / `udp.bufferSize` (the largest
//! datagram, 4096... 65535; default 65535).

use gost_core::io::{read, recv_from, send_to, write_all};
use gost_core::{
    BoxConn, BoxHandler, BoxRouter, Bypass, Error, Handler, HandlerOptions, Metadata, Network,
    Result, Router, Session,
};
use gost_x_ss::{Cipher, open_packet, seal_packet};

/// The registry name.
pub const NAME: &str = "ssu";

struct SsuHandler {
    router: BoxRouter,
    bypass: Option<gost_core::BoxBypass>,
    cipher: Cipher,
    buffer_size: usize,
}

/// Builds the handler; it needs the method and the password.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let (method, password) = opts.credentials.clone().ok_or_else(|| {
        Error::config("ssu handler needs a method and a password (-L ssu://aes-256-gcm:pass@:8388)")
    })?;
    let key = md.get_string(&["key"])?;
    let buffer_size =
        md.get_usize(&["udpBufferSize", "udp.bufferSize"])?.unwrap_or(65535).clamp(4096, 65535);
    Ok(BoxHandler::new(SsuHandler {
        router: opts.router,
        bypass: opts.bypass,
        cipher: udp_cipher(Cipher::new(&method, &password, key.as_deref())?)?,
        buffer_size,
    }))
}

/// The cipher, unless it is a 2022 one: SIP022's datagrams (separate header, session ids) are
/// not here yet, and the AEAD framing with 2022 keys would talk to nobody.
fn udp_cipher(cipher: Cipher) -> Result<Cipher> {
    if cipher.method().is_2022() {
        return Err(Error::unsupported("shadowsocks 2022 over UDP (ssu)"));
    }
    Ok(cipher)
}

impl Handler for SsuHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut from_client = vec![0u8; self.buffer_size];
        // Nothing is set up for a client until one of its datagrams opens with the key: a
        // flood of garbage from spoofed sources costs a read each, not a socket each.
        let n = read(&mut conn, &mut from_client).await?;
        if n == 0 {
            return Ok(());
        }
        let first = match open_packet(&self.cipher, &mut from_client[..n]) {
            Ok(opened) => opened,
            Err(e) => {
                return Err(e.wrap(gost_core::ErrorKind::Auth, "ssu: the first datagram"));
            }
        };
        let mut outbound = self.router.dial_packet(None).await?;
        self.forward(&mut outbound, &from_client, first, &session).await;
        let mut from_target = vec![0u8; self.buffer_size];
        let mut packet = Vec::with_capacity(self.buffer_size + 300);
        loop {
            tokio::select! {
                got = read(&mut conn, &mut from_client) => {
                    // The session ended (idle ttl).
                    let n = got?;
                    if n == 0 {
                        return Ok(());
                    }
                    match open_packet(&self.cipher, &mut from_client[..n]) {
                        Ok(opened) => self.forward(&mut outbound, &from_client, opened, &session).await,
                        Err(e) => tracing::debug!(sid = session.id, "ssu: dropped a datagram: {e}"),
                    }
                }
                got = recv_from(&mut outbound, &mut from_target) => {
                    let (n, from) = got.map_err(Error::from)?;
                    packet.clear();
                    // An answer that cannot go back (too big, a send error) is dropped, as UDP
                    // drops; the session goes on.
                    let sent = match seal_packet(&self.cipher, &from, &from_target[..n], &mut packet) {
                        Ok(()) => write_all(&mut conn, &packet).await.map_err(Error::from),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = sent {
                        tracing::debug!(sid = session.id, %from, "ssu: answer dropped: {e}");
                    }
                }
            }
        }
    }
}

impl SsuHandler {
    /// Sends an opened datagram's payload to its target, unless the bypass refuses it.
    async fn forward(
        &self,
        outbound: &mut gost_core::BoxPacketConn,
        datagram: &[u8],
        (target, payload): (gost_core::Address, std::ops::Range<usize>),
        session: &Session,
    ) {
        if let Some(b) = &self.bypass
            && b.contains(Network::Udp, target.clone()).await
        {
            tracing::debug!(sid = session.id, %target, "ssu: bypassed");
            return;
        }
        if let Err(e) = send_to(outbound, &datagram[payload], &target).await {
            tracing::debug!(sid = session.id, %target, "ssu: send: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{WAIT, datagrams, options};
    use gost_core::Address;
    use tokio::net::UdpSocket;

    #[tokio::test]
    async fn datagrams_reach_their_target_and_answers_come_back_sealed() {
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            while let Ok((n, from)) = echo.recv_from(&mut b).await {
                let _ = echo.send_to(&b[..n], from).await;
            }
        });
        let mut opts = options();
        opts.credentials = Some(("aes-128-gcm".into(), "pw".into()));
        let h = new(opts, &Metadata::new()).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let side = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(side.local_addr().unwrap()).await.unwrap();
        side.connect(client.local_addr().unwrap()).await.unwrap();
        let h2 = h.clone();
        tokio::spawn(async move { h2.handle(Box::new(datagrams(side)), Session::default()).await });
        let cipher = Cipher::new("aes-128-gcm", "pw", None).unwrap();
        for i in 0..5u8 {
            if i == 1 {
                // Garbage in the middle: dropped, the session goes on.
                client.send(b"not a shadowsocks datagram at all").await.unwrap();
            }
            let mut d = Vec::new();
            seal_packet(&cipher, &Address::Ip(echo_addr), &[i; 3], &mut d).unwrap();
            client.send(&d).await.unwrap();
            let mut b = [0u8; 1500];
            let n = tokio::time::timeout(WAIT, client.recv(&mut b)).await.unwrap().unwrap();
            let (from, payload) = open_packet(&cipher, &mut b[..n]).unwrap();
            assert_eq!(from, Address::Ip(echo_addr), "answers name their source");
            assert_eq!(&b[payload], &[i; 3]);
        }
        // A session whose first datagram does not open ends at once, having set nothing up.
        let spoofed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let side = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        spoofed.connect(side.local_addr().unwrap()).await.unwrap();
        side.connect(spoofed.local_addr().unwrap()).await.unwrap();
        spoofed.send(b"garbage").await.unwrap();
        let err = h.handle(Box::new(datagrams(side)), Session::default()).await.unwrap_err();
        assert_eq!(err.kind(), gost_core::ErrorKind::Auth);
        // 2022 over UDP is refused at start-up rather than spoken wrongly.
        let mut opts = options();
        opts.credentials =
            Some(("2022-blake3-aes-128-gcm".into(), "MTIzNDU2Nzg5MDEyMzQ1Ng".into()));
        let Err(err) = new(opts, &Metadata::new()) else { panic!("2022 over UDP must be refused") };
        assert_eq!(err.kind(), gost_core::ErrorKind::Unsupported);
    }
}
