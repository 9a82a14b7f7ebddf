//! `socks4` (also `socks4a`): a SOCKS4/4a server, CONNECT only.
//!
//! With an auther, the request's user id is checked as a user name with an empty password
//! (gost's rule); a rejected id gets code 93. A bypassed target gets 92, a failed dial 91. BIND
//! and unknown commands are closed without a reply, as gost does.
//!
//! Metadata: `readTimeout` (15s).

use std::time::Duration;

use gost_core::io::{read_decoded, rewind, write_all};
use gost_core::{
    Address, BoxAuther, BoxBypass, BoxConn, BoxHandler, BoxRouter, Error, ErrorKind, Handler,
    HandlerOptions, Metadata, Network, Result, Router, Session,
};
use gost_proto::socks4::{self, Reply, Request};

use crate::util;

/// The registry name.
pub const NAME: &str = "socks4";
/// gost's other name for it.
pub const ALIAS: &str = "socks4a";

/// A request with a 255-byte user id and host is 521 bytes.
const MAX_MESSAGE: usize = 1024;

/// The SOCKS4 server; also used by the `auto` handler.
pub(crate) struct Socks4Handler {
    router: BoxRouter,
    auther: Option<BoxAuther>,
    bypass: Option<BoxBypass>,
    read_timeout: Duration,
    idle: Option<Duration>,
}

impl Socks4Handler {
    pub(crate) fn build(opts: &HandlerOptions, md: &Metadata) -> Result<Self> {
        Ok(Socks4Handler {
            router: opts.router.clone(),
            auther: opts.auther.clone(),
            bypass: opts.bypass.clone(),
            read_timeout: util::read_timeout(md)?,
            idle: util::idle_timeout(md)?,
        })
    }
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(Socks4Handler::build(&opts, md)?))
}

async fn reply(conn: &mut BoxConn, code: u8) -> Result<()> {
    let mut out = Vec::with_capacity(8);
    Reply::new(code).encode(&mut out);
    write_all(conn, &out).await?;
    Ok(())
}

impl Handler for Socks4Handler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut buf = Vec::new();
        let req = gost_x_rt::timeout(
            self.read_timeout,
            "socks4 handshake",
            read_decoded(&mut conn, &mut buf, MAX_MESSAGE, Request::decode),
        )
        .await?;
        if req.cmd != socks4::CMD_CONNECT {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("socks4: command {} is not supported", req.cmd),
            ));
        }
        if self.auther.is_some() {
            let user = String::from_utf8_lossy(&req.userid);
            if !util::authenticate(self.auther.as_ref(), &user, "", session.client_addr).await {
                reply(&mut conn, socks4::REP_IDENTD_MISMATCH).await?;
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!("socks4: user id {user:?} rejected"),
                ));
            }
        }
        let target: Address = req.target();
        if util::bypassed(self.bypass.as_ref(), Network::Tcp, &target).await {
            reply(&mut conn, socks4::REP_IDENTD_UNREACHABLE).await?;
            return Err(Error::new(ErrorKind::Denied, format!("socks4: {target} is bypassed")));
        }
        let mut upstream = match self.router.dial(Network::Tcp, target.clone()).await {
            Ok(c) => c,
            Err(err) => {
                let _ = reply(&mut conn, socks4::REP_REJECTED).await;
                return Err(err);
            }
        };
        reply(&mut conn, socks4::REP_GRANTED).await?;
        tracing::debug!(sid = session.id, %target, "socks4: connected");
        let mut conn = rewind(conn, buf);
        gost_x_rt::relay_idle(&mut conn, &mut upstream, self.idle).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        options, options_with_user, outcome, ping_pong, ping_pong_origin, port_bytes, read_n,
        read_to_end, serve,
    };
    use tokio::io::AsyncWriteExt;

    const GRANTED: [u8; 8] = [0, 90, 0, 0, 0, 0, 0, 0];

    #[tokio::test]
    async fn connect_plain_and_4a() {
        let origin = ping_pong_origin().await;
        let h = new(options(), &Metadata::new()).unwrap();
        let port = port_bytes(origin);

        // SOCKS4: 04 01 PORT 127.0.0.1 "" 00
        let (mut client, task) = serve(&h).await;
        let mut req = vec![4, 1, port[0], port[1], 127, 0, 0, 1, 0];
        client.write_all(&req).await.unwrap();
        assert_eq!(read_n(&mut client, 8).await, GRANTED);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();

        // SOCKS4a: 04 01 PORT 0.0.0.1 "u" 00 "localhost" 00
        let (mut client, task) = serve(&h).await;
        req = vec![4, 1, port[0], port[1], 0, 0, 0, 1];
        req.extend_from_slice(b"u\0localhost\0");
        client.write_all(&req).await.unwrap();
        assert_eq!(read_n(&mut client, 8).await, GRANTED);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();
    }

    #[tokio::test]
    async fn user_id_checked_by_the_auther() {
        let origin = ping_pong_origin().await;
        let h = new(options_with_user("alice", ""), &Metadata::new()).unwrap();
        let port = port_bytes(origin);

        let (mut client, task) = serve(&h).await;
        let mut req = vec![4, 1, port[0], port[1], 127, 0, 0, 1];
        req.extend_from_slice(b"alice\0");
        client.write_all(&req).await.unwrap();
        assert_eq!(read_n(&mut client, 8).await, GRANTED);
        ping_pong(&mut client).await;
        drop(client);
        outcome(task).await.unwrap();

        let (mut client, task) = serve(&h).await;
        let mut req = vec![4, 1, port[0], port[1], 127, 0, 0, 1];
        req.extend_from_slice(b"mallory\0");
        client.write_all(&req).await.unwrap();
        assert_eq!(read_to_end(&mut client).await, [0, 93, 0, 0, 0, 0, 0, 0]);
        assert_eq!(outcome(task).await.unwrap_err().kind(), ErrorKind::Auth);
    }
}
