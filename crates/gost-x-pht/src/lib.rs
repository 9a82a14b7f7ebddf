//! # gost-x-pht
//!
//! gost's plain HTTP tunnel (`pht` over HTTP/1.1, `phts` over HTTPS): for networks that pass
//! only ordinary HTTP requests. Each tunnelled connection is a session named by a token:
//!
//! * `GET /pull?token=T`: the server streams the session's data as lines of standard base64
//!   (chunked), an empty line every 10 s while it has none; the response ends with the data. A
//!   client pulls again after a response that carried lines; one without any is the end.
//! * `POST /push?token=T`: the body's first line is base64 data for the session; an empty body
//!   ends the session (gost's client sends one when it closes).
//! * `GET /authorize`: answers `token=T` for a new session (gost 3.2.6's clients ask first;
//!   3.3.0's make their token themselves, and a server opens a session for a token it has not
//!   seen).
//!
//! The paths are the `authorizePath`, `pushPath` and `pullPath` metadata. This crate serves
//! ([`Server`]) and dials ([`dial`]) sessions over HTTP connections the caller provides.

mod body;
mod client;
mod server;

pub use client::{ClientOptions, Connect, dial};
pub use server::{Server, ServerOptions};

/// gost's default paths.
pub const DEFAULT_AUTHORIZE_PATH: &str = "/authorize";
pub const DEFAULT_PUSH_PATH: &str = "/push";
pub const DEFAULT_PULL_PATH: &str = "/pull";

/// The in-memory pipe between a session and its connection, each way.
const PIPE_BUFFER: usize = 64 * 1024;

/// gost's rule for a path setting: one not starting with `/` is the default.
pub fn path_or(value: Option<String>, default: &str) -> String {
    value.filter(|p| p.starts_with('/')).unwrap_or_else(|| default.to_owned())
}

/// A fresh session token: 20 characters of base32hex, like the xid gost uses.
fn new_token() -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut raw = [0u8; 13];
    gost_x_rt::fill_random(&mut raw);
    let mut bits = u128::from_be_bytes({
        let mut b = [0u8; 16];
        b[3..].copy_from_slice(&raw);
        b
    });
    let mut out = [0u8; 20];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(bits & 31) as usize];
        bits >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `data` as a base64 line (with its `\n`), appended to `out`.
fn encode_line(data: &[u8], out: &mut String) {
    gost_proto::http::base64_encode(data, out);
    out.push('\n');
}

#[cfg(test)]
mod tests;
