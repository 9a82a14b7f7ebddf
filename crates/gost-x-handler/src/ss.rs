//! `ss`: a shadowsocks server for TCP (AEAD, SIP004, and Shadowsocks 2022 over TCP, SIP022; see `gost-x-ss`), as Go gost's:
//! `-L ss://chacha20-ietf-poly1305:password@:8388`, or SIP002's base64 userinfo
//! (`-L ss://YWVzLTI1Ni1nY206cGFzcw@:8388`); in YAML the handler's `auth` holds the method
//! (`username`) and the password.
//!
//! The client's first plaintext is the target (`ATYP ADDR PORT`); then the stream is relayed.
//! A wrong password, a tampered, truncated or replayed stream, or a bad address gets no reply:
//! the server reads on and drops what comes until the client closes or `readTimeout` (from the
//! accept) runs out, whatever the failure, so a prober learns nothing from the bytes it takes
//! or from when the connection ends. It is logged at debug.
//!
//! Metadata: `key` (the raw master key instead of one derived from the password), `readTimeout`
//! (15s: for the target address), `users` (2022: a map of user name to base64 key; each client
//! then sends an identity header naming its key, `-F ss://2022-...:iPSK:uPSK@...`, and one that
//! names no user is refused; with other methods Go ignores it, and so do we, with a warning).

use gost_core::io::{read_decoded, rewind};
use gost_core::{
    BoxConn, BoxHandler, BoxRouter, Bypass, Error, ErrorKind, Handler, HandlerOptions, Metadata,
    Network, Result, Router, Session,
};
use gost_x_ss::{Cipher, SaltFilter, SsConn};

use crate::util;

/// The registry name.
pub const NAME: &str = "ss";

/// The longest address a client sends (`ATYP`, a 255-byte name, a port).
const MAX_ADDR: usize = 1 + 1 + 255 + 2;

struct SsHandler {
    router: BoxRouter,
    bypass: Option<gost_core::BoxBypass>,
    cipher: Cipher,
    salts: SaltFilter,
    read_timeout: std::time::Duration,
    idle: Option<std::time::Duration>,
}

/// Builds the handler; it needs the method and the password.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(handler(opts, md)?))
}

fn handler(opts: HandlerOptions, md: &Metadata) -> Result<SsHandler> {
    Ok(SsHandler {
        cipher: server_cipher(NAME, &opts, md)?,
        router: opts.router,
        bypass: opts.bypass,
        salts: SaltFilter::default(),
        read_timeout: util::read_timeout(md)?,
        idle: util::idle_timeout(md)?,
    })
}

/// The cipher of an `ss` or `ssu` server: the method and password (`auth`), the `key` and
/// `users` metadata.
pub(crate) fn server_cipher(name: &str, opts: &HandlerOptions, md: &Metadata) -> Result<Cipher> {
    let (method, password) = opts.credentials.clone().ok_or_else(|| {
        Error::config(format!(
            "{name} handler needs a method and a password (-L {name}://aes-256-gcm:pass@:8388)"
        ))
    })?;
    let key = md.get_string(&["key"])?;
    let cipher = Cipher::new(&method, &password, key.as_deref())?;
    let users = md.get_string_map(&["users"])?.unwrap_or_default();
    if users.is_empty() {
        return Ok(cipher);
    }
    if !cipher.method().is_2022() {
        tracing::warn!("{name}: `users` needs a 2022 method; ignored with {method}");
        return Ok(cipher);
    }
    cipher.with_users(users.iter().map(|(n, k)| (n.as_str(), k.as_str())))
}

impl Handler for SsHandler {
    async fn handle(&self, conn: BoxConn, session: Session) -> Result<()> {
        let deadline = tokio::time::Instant::now() + self.read_timeout;
        // Boxed at once: the future holds a pointer, not a second copy of the keys.
        let mut ss = Box::new(SsConn::server(conn, self.cipher.clone(), self.salts.clone())?);
        let mut buf = Vec::new();
        let request = tokio::time::timeout_at(
            deadline,
            read_decoded(&mut ss, &mut buf, MAX_ADDR, gost_proto::addr::decode_addr),
        )
        .await;
        let target = match request {
            Ok(Ok(target)) => target,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no request in time".to_owned(),
                };
                tracing::debug!(sid = session.id, "ss: refused: {why}");
                // No reply, and no telling close: read on (and drop) until the client gives up
                // or the deadline passes, whatever the failure was.
                drain_until(ss.into_inner(), deadline).await;
                return Err(Error::new(ErrorKind::Auth, format!("ss: no valid request: {why}")));
            }
        };
        if let Some(b) = &self.bypass
            && b.contains(Network::Tcp, target.clone()).await
        {
            return Err(Error::new(ErrorKind::Denied, format!("ss: {target} is bypassed")));
        }
        if let Some(user) = ss.user() {
            tracing::debug!(sid = session.id, user, "ss: client identified");
        }
        let mut upstream = self.router.dial(Network::Tcp, target.clone()).await?;
        tracing::debug!(sid = session.id, %target, "ss: connected");
        let mut ss = rewind(ss, buf);
        gost_x_rt::relay_idle(&mut ss, &mut upstream, self.idle).await?;
        Ok(())
    }
}

/// Reads and drops what `conn` sends until it closes or `deadline` passes.
pub(crate) async fn drain_until(mut conn: BoxConn, deadline: tokio::time::Instant) {
    // On the heap: an array here would be part of every connection's handler future.
    let mut sink = vec![0u8; 4096];
    let drain =
        async { while gost_core::io::read(&mut conn, &mut sink).await.is_ok_and(|n| n > 0) {} };
    let _ = tokio::time::timeout_at(deadline, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{options, outcome, ping_pong_origin};
    use gost_core::io::{flush, read_exact, write_all};
    use tokio::net::{TcpListener, TcpStream};

    async fn client_conn(addr: std::net::SocketAddr) -> BoxConn {
        Box::new(gost_x_rt::TokioConn::tcp(TcpStream::connect(addr).await.unwrap()))
    }

    #[tokio::test]
    async fn relays_to_the_target_and_refuses_a_wrong_password() {
        let origin = ping_pong_origin().await;
        let mut opts = options();
        opts.credentials = Some(("chacha20-ietf-poly1305".into(), "secret".into()));
        // A refused client is drained until this deadline: short here.
        let h = new(opts, &Metadata::new().with("readTimeout", "1s")).unwrap();
        let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = front.local_addr().unwrap();
        let mut header = Vec::new();
        gost_proto::addr::encode_addr(&gost_core::Address::Ip(origin), &mut header).unwrap();
        for (password, ok) in [("secret", true), ("wrong", false)] {
            let cipher = Cipher::new("chacha20-ietf-poly1305", password, None).unwrap();
            let mut client = SsConn::client(client_conn(addr).await, cipher, &header).unwrap();
            let (s, _) = front.accept().await.unwrap();
            let h = h.clone();
            let task = tokio::spawn(async move {
                h.handle(Box::new(gost_x_rt::TokioConn::tcp(s)), Session::default()).await
            });
            write_all(&mut client, b"ping").await.unwrap();
            flush(&mut client).await.unwrap();
            let mut pong = [0u8; 4];
            let got = read_exact(&mut client, &mut pong).await;
            if ok {
                got.unwrap();
                assert_eq!(&pong, b"pong");
                drop(client);
                outcome(task).await.unwrap();
            } else {
                assert!(got.is_err(), "no answer to a wrong password");
                assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
            }
        }
        let mut no_auth = options();
        no_auth.credentials = None;
        assert!(new(no_auth, &Metadata::new()).is_err());
    }

    /// An idle connection costs its handler future (boxed per connection): no buffer may sit
    /// in it (the bad-request drain and `read_decoded` once held 5 KiB there, on every
    /// connection).
    #[tokio::test]
    async fn the_handler_future_stays_small() {
        let mut opts = options();
        opts.credentials = Some(("aes-256-gcm".into(), "pw".into()));
        let h = handler(opts, &Metadata::new()).unwrap();
        let (a, _b) = tokio::io::duplex(64);
        let fut = h.handle(Box::new(gost_x_rt::TokioConn::new(a)), Session::default());
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 1024, "the ss handler's future is {size} bytes");
    }
}
