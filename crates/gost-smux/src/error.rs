//! The crate's one error type.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Everything that can go wrong in a session or a stream.
///
/// A session remembers the error that ended it and hands a clone to every later caller, so the
/// type is `Clone` (an I/O error from the carrier is kept behind an [`Arc`]).
/// Converts into [`std::io::Error`] with a fitting [`io::ErrorKind`], which is what the
/// [`Stream`](crate::Stream)'s `AsyncRead`/`AsyncWrite` implementations return.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// [`Config::validate`](crate::Config::validate) rejected the configuration; the text says why.
    InvalidConfig(&'static str),
    /// `Session::client`/`Session::server` was called outside a tokio runtime.
    NoRuntime,
    /// The session is closed: [`Session::close`](crate::Session::close) was called, or the
    /// carrier reached end of file.
    Closed,
    /// No frame arrived for a whole keepalive timeout, so the session was closed.
    KeepaliveTimeout,
    /// A frame carried a protocol version other than the session's.
    InvalidVersion {
        /// The session's configured version.
        expected: u8,
        /// The version in the frame.
        got: u8,
    },
    /// A frame carried an unknown command byte.
    InvalidCommand(u8),
    /// The local stream-id space is exhausted (Go's `ErrGoAway`); open a new session.
    GoAway,
    /// Version 2: the peer acknowledged more bytes than were sent (Go's `ErrConsumed`).
    Consumed,
    /// A write on a stream after its write side was shut down (FIN already sent).
    StreamShutdown,
    /// The carrier failed.
    Io(Arc<io::Error>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(why) => write!(f, "smux: invalid config: {why}"),
            Error::NoRuntime => f.write_str("smux: no tokio runtime to spawn the session on"),
            Error::Closed => f.write_str("smux: session closed"),
            Error::KeepaliveTimeout => f.write_str("smux: keepalive timeout"),
            Error::InvalidVersion { expected, got } => {
                write!(f, "smux: invalid protocol version {got} (expected {expected})")
            }
            Error::InvalidCommand(cmd) => write!(f, "smux: invalid command {cmd}"),
            Error::GoAway => f.write_str("smux: stream ids exhausted, open a new session"),
            Error::Consumed => f.write_str("smux: peer consumed more than sent"),
            Error::StreamShutdown => f.write_str("smux: write after shutdown"),
            Error::Io(e) => write!(f, "smux: carrier: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::InvalidConfig(_) => io::ErrorKind::InvalidInput,
            Error::NoRuntime | Error::GoAway => io::ErrorKind::Other,
            Error::Closed => io::ErrorKind::ConnectionAborted,
            Error::KeepaliveTimeout => io::ErrorKind::TimedOut,
            Error::InvalidVersion { .. } | Error::InvalidCommand(_) | Error::Consumed => {
                io::ErrorKind::InvalidData
            }
            Error::StreamShutdown => io::ErrorKind::BrokenPipe,
            Error::Io(inner) => inner.kind(),
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds() {
        let k = |e: Error| io::Error::from(e).kind();
        assert_eq!(k(Error::Closed), io::ErrorKind::ConnectionAborted);
        assert_eq!(k(Error::KeepaliveTimeout), io::ErrorKind::TimedOut);
        assert_eq!(k(Error::InvalidCommand(9)), io::ErrorKind::InvalidData);
        assert_eq!(k(Error::StreamShutdown), io::ErrorKind::BrokenPipe);
        let carrier = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "x"));
        assert_eq!(k(carrier.clone()), io::ErrorKind::ConnectionReset);
        assert!(std::error::Error::source(&carrier).is_some());
        assert!(carrier.to_string().contains("carrier"));
    }
}
