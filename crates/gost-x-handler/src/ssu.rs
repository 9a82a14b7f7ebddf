//! `ssu`: a shadowsocks UDP relay server, as Go gost's: `-L ssu://aes-256-gcm:password@:8388`
//! (on the `udp` listener, one session per client address with the listener's idle `ttl`).
//! Each datagram from the client names its target; answers go back sealed with their source.
//! AEAD datagrams (SIP004) or Shadowsocks 2022's (SIP022: sessions, packet ids and a replay
//! window, identity headers with `users`; see `gost-x-ss`). Datagrams leave through the router
//! (hosts, resolver, bypass and the chain apply as for SOCKS5 UDP).
//!
//! Over a stream transport (`-L ssu+tcp://...`, `ssu+tls`, `ssu+ws`...) it is Go's "UDP over
//! TCP": a shadowsocks stream (whose first address is ignored) carrying gost's UDP-tun frames.
//!
//! A datagram that fails to open (wrong password, tampered, truncated, replayed) is dropped
//! without a reply and logged at debug; the session goes on. Nothing (no outbound socket, no
//! chain dial) is set up for a client before its first datagram opens. The listener's
//! `readBufferSize` (4096 by default, as Go's) bounds the datagrams a client can send; set it
//! higher for larger ones.
//!
//! Go gost 3.3's ssu leaves the source address out of its AEAD answers (its client expects
//! that); `answerAddr=false` answers its clients that way (SIP004 clients such as
//! shadowsocks-libev's need the default).
//!
//! Metadata: `key` (the raw master key), `users` (2022, as `ss`), `answerAddr` (true),
//! `udpBufferSize` /
//! `udp.bufferSize` (the largest datagram, 4096... 65535; default 65535), `readTimeout` (a
//! stream's first request, 15s).

use gost_core::io::{read, read_decoded, recv_from, send_to, write_all};
use gost_core::{
    BoxConn, BoxHandler, BoxRouter, Bypass, Error, ErrorKind, Handler, HandlerOptions, Metadata,
    Network, Result, Router, Session,
};
use gost_x_ss::{ReplyTo, SaltFilter, SsConn, UdpServer};

use crate::util;

/// The registry name.
pub const NAME: &str = "ssu";

struct SsuHandler {
    router: BoxRouter,
    bypass: Option<gost_core::BoxBypass>,
    server: UdpServer,
    /// Over a stream transport: the salts seen.
    salts: SaltFilter,
    buffer_size: usize,
    read_timeout: std::time::Duration,
}

/// Builds the handler; it needs the method and the password.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    let cipher = crate::ss::server_cipher(NAME, &opts, md)?;
    let buffer_size =
        md.get_usize(&["udpBufferSize", "udp.bufferSize"])?.unwrap_or(65535).clamp(4096, 65535);
    Ok(BoxHandler::new(SsuHandler {
        router: opts.router,
        bypass: opts.bypass,
        server: if md.get_bool(&["answerAddr"])?.unwrap_or(true) {
            UdpServer::new(cipher)
        } else {
            UdpServer::new(cipher).without_answer_addr()
        },
        salts: SaltFilter::default(),
        buffer_size,
        read_timeout: util::read_timeout(md)?,
    }))
}

impl Handler for SsuHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        if !conn.is_datagram() {
            return self.handle_stream(conn, session).await;
        }
        let mut from_client = vec![0u8; self.buffer_size];
        // Nothing is set up for a client until one of its datagrams opens with the key: a
        // flood of garbage from spoofed sources costs a read each, not a socket each.
        let n = read(&mut conn, &mut from_client).await?;
        if n == 0 {
            return Ok(());
        }
        let (target, payload, mut reply_to) = match self.server.open(&mut from_client[..n]) {
            Ok(opened) => opened,
            Err(e) => return Err(e.wrap(ErrorKind::Auth, "ssu: the first datagram")),
        };
        let mut outbound = self.router.dial_packet(None).await?;
        self.forward(&mut outbound, &from_client[payload], target, &session).await;
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
                    match self.server.open(&mut from_client[..n]) {
                        Ok((target, payload, to)) => {
                            // Answers go to the client session that spoke last.
                            reply_to = to;
                            self.forward(&mut outbound, &from_client[payload], target, &session).await;
                        }
                        Err(e) => tracing::debug!(sid = session.id, "ssu: dropped a datagram: {e}"),
                    }
                }
                got = recv_from(&mut outbound, &mut from_target) => {
                    let (n, from) = got.map_err(Error::from)?;
                    self.answer(&mut conn, reply_to, &from, &from_target[..n], &mut packet, &session).await;
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
        payload: &[u8],
        target: gost_core::Address,
        session: &Session,
    ) {
        if let Some(b) = &self.bypass
            && b.contains(Network::Udp, target.clone()).await
        {
            tracing::debug!(sid = session.id, %target, "ssu: bypassed");
            return;
        }
        if let Err(e) = send_to(outbound, payload, &target).await {
            tracing::debug!(sid = session.id, %target, "ssu: send: {e}");
        }
    }

    /// Sends an answer back sealed. One that cannot go back (too big, a send error, its 2022
    /// session expired) is dropped, as UDP drops; the session goes on.
    async fn answer(
        &self,
        conn: &mut BoxConn,
        to: ReplyTo,
        from: &gost_core::Address,
        payload: &[u8],
        packet: &mut Vec<u8>,
        session: &Session,
    ) {
        packet.clear();
        let sent = match self.server.seal(to, from, payload, packet) {
            Ok(()) => write_all(conn, packet).await.map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::debug!(sid = session.id, %from, "ssu: answer dropped: {e}");
        }
    }

    /// ssu over a stream transport (Go's UDP over TCP): a shadowsocks stream whose first
    /// address is ignored, then UDP-tun frames both ways. A stream that does not open gets no
    /// reply, as with `ss`.
    async fn handle_stream(&self, conn: BoxConn, session: Session) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.read_timeout;
        let mut ss =
            Box::new(SsConn::server(conn, self.server.cipher().clone(), self.salts.clone())?);
        let mut buf = Vec::new();
        let first = tokio::time::timeout_at(
            deadline,
            read_decoded(&mut ss, &mut buf, 1 + 1 + 255 + 2, gost_proto::addr::decode_addr),
        )
        .await;
        if let Err(why) = first
            .map_err(|_| "no request in time".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            tracing::debug!(sid = session.id, "ssu: refused: {why}");
            crate::ss::drain_until(ss.into_inner(), deadline).await;
            return Err(Error::new(ErrorKind::Auth, format!("ssu: no valid request: {why}")));
        }
        let mut outbound = self.router.dial_packet(None).await?;
        tracing::debug!(sid = session.id, "ssu: udp over a stream");
        util::relay_udp_tun(
            &mut ss,
            &mut buf,
            &mut outbound,
            self.bypass.as_ref(),
            self.buffer_size,
            &session,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{WAIT, datagrams, options};
    use gost_core::Address;
    use gost_x_ss::{Cipher, UdpClient};
    use tokio::net::UdpSocket;

    async fn echo() -> std::net::SocketAddr {
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let echo_addr = echo.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            while let Ok((n, from)) = echo.recv_from(&mut b).await {
                let _ = echo.send_to(&b[..n], from).await;
            }
        });
        echo_addr
    }

    /// A client socket and the handler serving it as the udp listener would.
    async fn serve(h: &BoxHandler) -> (UdpSocket, tokio::task::JoinHandle<Result<()>>) {
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let side = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(side.local_addr().unwrap()).await.unwrap();
        side.connect(client.local_addr().unwrap()).await.unwrap();
        let h = h.clone();
        let task =
            tokio::spawn(
                async move { h.handle(Box::new(datagrams(side)), Session::default()).await },
            );
        (client, task)
    }

    #[tokio::test]
    async fn datagrams_reach_their_target_and_answers_come_back_sealed() {
        let echo_addr = echo().await;
        for (method, password) in
            [("aes-128-gcm", "pw"), ("2022-blake3-aes-128-gcm", "MTIzNDU2Nzg5MDEyMzQ1Ng")]
        {
            let mut opts = options();
            opts.credentials = Some((method.into(), password.into()));
            let h = new(opts, &Metadata::new()).unwrap();
            let (client, _task) = serve(&h).await;
            let mut ss = UdpClient::new(Cipher::new(method, password, None).unwrap()).unwrap();
            let mut replay = Vec::new();
            for i in 0..5u8 {
                if i == 1 {
                    // Garbage in the middle: dropped, the session goes on.
                    client.send(b"not a shadowsocks datagram at all").await.unwrap();
                }
                let mut d = Vec::new();
                ss.seal(&Address::Ip(echo_addr), &[i; 3], &mut d).unwrap();
                if i == 2 {
                    replay = d.clone();
                }
                client.send(&d).await.unwrap();
                let mut b = [0u8; 1500];
                let n = tokio::time::timeout(WAIT, client.recv(&mut b)).await.unwrap().unwrap();
                let (from, payload) = ss.open(&mut b[..n]).unwrap();
                assert_eq!(from, Address::Ip(echo_addr), "{method}: answers name their source");
                assert_eq!(&b[payload], &[i; 3]);
            }
            if method.starts_with("2022") {
                // A replayed 2022 datagram, even from another address, goes nowhere.
                let (other, _task) = serve(&h).await;
                other.send(&replay).await.unwrap();
                let mut b = [0u8; 1500];
                let quiet =
                    tokio::time::timeout(std::time::Duration::from_millis(300), other.recv(&mut b));
                assert!(quiet.await.is_err(), "a replay was relayed");
            }
        }
        // A session whose first datagram does not open ends at once, having set nothing up.
        let mut opts = options();
        opts.credentials = Some(("aes-128-gcm".into(), "pw".into()));
        let h = new(opts, &Metadata::new()).unwrap();
        let (spoofed, task) = serve(&h).await;
        spoofed.send(b"garbage").await.unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), gost_core::ErrorKind::Auth);
    }
}
