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
