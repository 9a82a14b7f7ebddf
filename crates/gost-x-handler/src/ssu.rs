//! `ssu`: a shadowsocks UDP relay server (AEAD datagrams, SIP004; see `gost-x-ss`), as Go
//! gost's: `-L ssu://aes-256-gcm:password@:8388` (on the `udp` listener, one session per client
//! with the listener's idle `ttl`). Each datagram from the client names its target; answers go
//! back sealed with their source. Datagrams leave through the router (hosts, resolver, bypass
//! and the chain apply as for SOCKS5 UDP).
//!
//! A datagram that fails to open (wrong password, tampered, truncated) is dropped without a
//! reply and logged at debug; the session goes on.
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
        cipher: Cipher::new(&method, &password, key.as_deref())?,
        buffer_size,
    }))
}

impl Handler for SsuHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut outbound = self.router.dial_packet(None).await?;
        let mut from_client = vec![0u8; self.buffer_size];
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
                    let (target, payload) = match open_packet(&self.cipher, &mut from_client[..n]) {
                        Ok(opened) => opened,
                        Err(e) => {
                            tracing::debug!(sid = session.id, "ssu: dropped a datagram: {e}");
                            continue;
                        }
                    };
                    if let Some(b) = &self.bypass
                        && b.contains(Network::Udp, target.clone()).await
                    {
                        tracing::debug!(sid = session.id, %target, "ssu: bypassed");
                        continue;
                    }
                    if let Err(e) = send_to(&mut outbound, &from_client[payload], &target).await {
                        tracing::debug!(sid = session.id, %target, "ssu: send: {e}");
                    }
                }
                got = recv_from(&mut outbound, &mut from_target) => {
                    let (n, from) = got.map_err(Error::from)?;
                    packet.clear();
                    seal_packet(&self.cipher, &from, &from_target[..n], &mut packet)?;
                    write_all(&mut conn, &packet).await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{Datagrams, WAIT, options};
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
        tokio::spawn(async move { h.handle(Box::new(Datagrams(side)), Session::default()).await });
        let cipher = Cipher::new("aes-128-gcm", "pw", None).unwrap();
        // Garbage first: dropped, the session goes on.
        client.send(b"not a shadowsocks datagram at all").await.unwrap();
        for i in 0..5u8 {
            let mut d = Vec::new();
            seal_packet(&cipher, &Address::Ip(echo_addr), &[i; 3], &mut d).unwrap();
            client.send(&d).await.unwrap();
            let mut b = [0u8; 1500];
            let n = tokio::time::timeout(WAIT, client.recv(&mut b)).await.unwrap().unwrap();
            let (from, payload) = open_packet(&cipher, &mut b[..n]).unwrap();
            assert_eq!(from, Address::Ip(echo_addr), "answers name their source");
            assert_eq!(&b[payload], &[i; 3]);
        }
    }
}
