//! Integration tests of gost-smux through its public API (one test binary, several modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bulk;
mod close;
mod interop;
mod keepalive;
mod util;
mod wire;
