//! `auto`: one port for HTTP, SOCKS4/4a and SOCKS5. The first byte decides: `0x04` is SOCKS4,
//! `0x05` is SOCKS5, anything else goes to the HTTP proxy (as gost does; gost's TLS-SNI sniffing
//! path is not here yet). Each protocol gets the same options and metadata as `auto`.
//!
//! Metadata: those of `http`, `socks4` and `socks5`.

use gost_core::io::{read, rewind};
use gost_core::{
    BoxConn, BoxHandler, Error, ErrorKind, Handler, HandlerOptions, Metadata, Result, Session,
};

use crate::http::HttpHandler;
use crate::socks4::Socks4Handler;
use crate::socks5::Socks5Handler;
use crate::util;

/// The registry name.
pub const NAME: &str = "auto";

struct AutoHandler {
    http: HttpHandler,
    socks4: Socks4Handler,
    socks5: Socks5Handler,
    read_timeout: std::time::Duration,
}

/// Builds the handler.
pub fn new(opts: HandlerOptions, md: &Metadata) -> Result<BoxHandler> {
    Ok(BoxHandler::new(AutoHandler {
        http: HttpHandler::build(&opts, md)?,
        socks4: Socks4Handler::build(&opts, md)?,
        socks5: Socks5Handler::build(&opts, md)?,
        read_timeout: util::read_timeout(md)?,
    }))
}

impl Handler for AutoHandler {
    async fn handle(&self, mut conn: BoxConn, session: Session) -> Result<()> {
        let mut first = [0u8; 1];
        let n = gost_x_rt::timeout(self.read_timeout, "auto: first byte", async {
            read(&mut conn, &mut first).await.map_err(Error::from)
        })
        .await?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Closed,
                "auto: client closed before sending anything",
            ));
        }
        let conn = rewind(conn, first.to_vec());
        match first[0] {
            4 => self.socks4.handle(conn, session).await,
            5 => self.socks5.handle(conn, session).await,
            _ => self.http.handle(conn, session).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{
        options, outcome, ping_pong, ping_pong_origin, port_bytes, read_n, serve,
    };
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn dispatches_on_the_first_byte() {
        let origin = ping_pong_origin().await;
        let port = port_bytes(origin);
        let h = new(options(), &Metadata::new()).unwrap();

        // SOCKS5
        let (mut socks5, socks5_task) = serve(&h).await;
        socks5.write_all(&[5, 1, 0]).await.unwrap();
        assert_eq!(read_n(&mut socks5, 2).await, [5, 0]);
        socks5.write_all(&[5, 1, 0, 1, 127, 0, 0, 1, port[0], port[1]]).await.unwrap();
        assert_eq!(read_n(&mut socks5, 10).await[..2], [5, 0]);

        // HTTP CONNECT, while the SOCKS5 connection is still open
        let (mut http, http_task) = serve(&h).await;
        let req = format!("CONNECT {origin} HTTP/1.1\r\nHost: {origin}\r\n\r\n");
        http.write_all(req.as_bytes()).await.unwrap();
        let established = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n";
        assert_eq!(read_n(&mut http, established.len()).await, established);

        // SOCKS4
        let (mut socks4, socks4_task) = serve(&h).await;
        socks4.write_all(&[4, 1, port[0], port[1], 127, 0, 0, 1, 0]).await.unwrap();
        assert_eq!(read_n(&mut socks4, 8).await, [0, 90, 0, 0, 0, 0, 0, 0]);

        for (mut client, task) in [(socks5, socks5_task), (http, http_task), (socks4, socks4_task)]
        {
            ping_pong(&mut client).await;
            drop(client);
            outcome(task).await.unwrap();
        }
    }
}
