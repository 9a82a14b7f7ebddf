//! A stream multiplexer for tokio, wire-compatible with Go's
//! [xtaci/smux](https://github.com/xtaci/smux) (as pinned by Go gost, v1.5.31), protocol
//! versions 1 **and** 2.
//!
//! One [`Session`] runs over one reliable, ordered byte stream (the *carrier*: TCP, TLS, a
//! WebSocket adapter, anything `AsyncRead + AsyncWrite`) and carries many independent
//! [`Stream`]s, each of which is again `AsyncRead + AsyncWrite`.
//!
//! * Frames: an 8-byte header (version, command, little-endian length and stream id), see
//!   [`frame`]. SYN opens a stream, PSH carries data, FIN ends it, NOP keeps the session alive,
//!   and (version 2) UPD returns flow-control credit.
//! * Version 1 has only a session-wide receive budget ([`Config::max_receive_buffer`]): when
//!   unread data reaches it the session stops reading the carrier, so a slow stream holds up
//!   the others. Version 2 adds a per-stream window, so a stream whose reader does not read
//!   stalls only its own writer. Both ends must use the same version.
//! * Defaults ([`Config::default`]) are Go's `smux.DefaultConfig()`.
//!
//! The client side opens streams with odd ids, the server side with even ids; either may open
//! and accept.
//!
//! ```
//! use gost_smux::{Config, Session};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any AsyncRead + AsyncWrite carrier works; an in-memory pipe here.
//! let (a, b) = tokio::io::duplex(64 * 1024);
//! let client = Session::client(a, Config::default())?;
//! let server = Session::server(b, Config::default())?;
//!
//! // The server echoes every stream it accepts.
//! tokio::spawn(async move {
//!     while let Ok(mut stream) = server.accept_stream().await {
//!         tokio::spawn(async move {
//!             let (mut rd, mut wr) = tokio::io::split(&mut stream);
//!             let _ = tokio::io::copy(&mut rd, &mut wr).await;
//!             let _ = wr.shutdown().await;
//!         });
//!     }
//! });
//!
//! let mut stream = client.open_stream().await?;
//! assert_eq!(stream.id(), 3);
//! stream.write_all(b"hello").await?;
//! stream.shutdown().await?; // FIN: half-close, reading goes on
//! let mut echoed = Vec::new();
//! stream.read_to_end(&mut echoed).await?;
//! assert_eq!(echoed, b"hello");
//! # Ok(())
//! # }
//! ```
//!
//! Differences from Go worth knowing are listed in the crate's README.
#![deny(missing_docs)]

mod config;
mod error;
pub mod frame;
mod session;
mod stream;

pub use config::{Config, MAX_FRAME_SIZE_LIMIT};
pub use error::Error;
pub use session::Session;
pub use stream::Stream;
