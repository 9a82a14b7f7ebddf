//! One error type for every component: an [`ErrorKind`] that callers branch on, a context string
//! that says where it happened, and an optional source error.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// The shortest `Result` alias: every fallible gost API returns this.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarse enough to branch on.
///
/// [`ErrorKind::is_retryable`] tells the router which kinds are worth another attempt through a
/// different node.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad configuration value: a malformed address, an unknown option value.
    Config,
    /// A named object (component type, chain, hop...) does not exist.
    NotFound,
    /// The operation exists in the API but this component does not do it.
    Unsupported,
    /// Opening a connection to the next node or the target failed.
    Dial,
    /// A transport handshake (TLS, WebSocket, ...) failed.
    Handshake,
    /// A proxy protocol exchange to reach the target failed (the node answered but refused).
    Connect,
    /// Binding a port (locally or on a remote node) failed.
    Bind,
    /// Authentication failed.
    Auth,
    /// A policy (admission, bypass, limiter) refused the request.
    Denied,
    /// No route: no node is available in a hop.
    NoRoute,
    /// A deadline passed.
    Timeout,
    /// The peer or the local side closed the connection (EOF where data was expected included).
    Closed,
    /// Any other I/O failure.
    Io,
    /// The peer broke the wire protocol (garbage, bad version, oversized field).
    Protocol,
}

impl ErrorKind {
    /// The lowercase name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Dial => "dial",
            ErrorKind::Handshake => "handshake",
            ErrorKind::Connect => "connect",
            ErrorKind::Bind => "bind",
            ErrorKind::Auth => "auth",
            ErrorKind::Denied => "denied",
            ErrorKind::NoRoute => "no route",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Io => "io",
            ErrorKind::Protocol => "protocol",
        }
    }

    /// Whether another attempt (usually through another node) may succeed.
    ///
    /// Dial, handshake, connect, timeout and no-route failures are transient from the router's
    /// point of view; configuration, auth and policy failures are not.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Dial
                | ErrorKind::Handshake
                | ErrorKind::Connect
                | ErrorKind::Timeout
                | ErrorKind::NoRoute
        )
    }

    /// Whether this is a normal end of a connection rather than a server fault (EOF, peer reset,
    /// cancellation, timeout, refused by policy). Stats do not count these as errors, as in gost.
    pub fn is_normal_end(self) -> bool {
        matches!(self, ErrorKind::Closed | ErrorKind::Timeout | ErrorKind::Denied | ErrorKind::Auth)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gost error: a kind, a context message and an optional source.
///
/// Displayed as `context: source` (or just the context); the kind is for code, not for people.
pub struct Error {
    kind: ErrorKind,
    context: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A new error with a message and no source.
    pub fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error { kind, context: context.into(), source: None }
    }

    /// A new error wrapping a source error.
    pub fn with_source(
        kind: ErrorKind,
        context: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        Error { kind, context: context.into(), source: Some(source.into()) }
    }

    /// Shorthand for a configuration error.
    pub fn config(context: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, context)
    }

    /// Shorthand for a protocol violation by the peer.
    pub fn protocol(context: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, context)
    }

    /// Shorthand for an unsupported operation.
    pub fn unsupported(context: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unsupported, context)
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The context message, without the source.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// Wraps this error in more context, keeping it as the source. The kind is replaced.
    pub fn wrap(self, kind: ErrorKind, context: impl Into<String>) -> Self {
        Error::with_source(kind, context, self)
    }

    /// Whether another attempt may succeed; see [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("context", &self.context)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.context.is_empty()) {
            (Some(src), true) => write!(f, "{src}"),
            (Some(src), false) => write!(f, "{}: {src}", self.context),
            (None, _) => f.write_str(&self.context),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

fn kind_of_io(kind: io::ErrorKind) -> ErrorKind {
    use io::ErrorKind as K;
    match kind {
        K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
        K::UnexpectedEof
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::BrokenPipe
        | K::NotConnected => ErrorKind::Closed,
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable => ErrorKind::Dial,
        K::AddrInUse | K::AddrNotAvailable => ErrorKind::Bind,
        K::PermissionDenied => ErrorKind::Denied,
        K::InvalidInput => ErrorKind::Config,
        K::InvalidData => ErrorKind::Protocol,
        K::Unsupported => ErrorKind::Unsupported,
        K::NotFound => ErrorKind::NotFound,
        _ => ErrorKind::Io,
    }
}

fn io_kind_of(kind: ErrorKind) -> io::ErrorKind {
    use io::ErrorKind as K;
    match kind {
        ErrorKind::Config => K::InvalidInput,
        ErrorKind::NotFound => K::NotFound,
        ErrorKind::Unsupported => K::Unsupported,
        ErrorKind::Dial => K::ConnectionRefused,
        ErrorKind::Bind => K::AddrInUse,
        ErrorKind::Auth | ErrorKind::Denied => K::PermissionDenied,
        ErrorKind::Timeout => K::TimedOut,
        ErrorKind::Closed => K::UnexpectedEof,
        ErrorKind::Protocol | ErrorKind::Handshake | ErrorKind::Connect => K::InvalidData,
        ErrorKind::NoRoute => K::HostUnreachable,
        ErrorKind::Io => K::Other,
    }
}

impl From<io::Error> for Error {
    /// Keeps the `io::Error` (with its OS error text) as the source; a gost `Error` that went
    /// through `io::Error` comes back unchanged.
    fn from(err: io::Error) -> Self {
        let kind = kind_of_io(err.kind());
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error { kind, context: String::new(), source: Some(Box::new(err)) };
        }
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(gost)) => *gost,
            Some(Err(other)) => Error { kind, context: String::new(), source: Some(other) },
            None => Error::new(kind, String::new()),
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        io::Error::new(io_kind_of(err.kind), err)
    }
}

/// Adds context to any `Result` whose error converts into [`Error`].
pub trait ResultExt<T> {
    /// Replaces the kind and adds a context message; the original error becomes the source.
    fn context(self, kind: ErrorKind, context: impl Into<String>) -> Result<T>;
    /// Like [`ResultExt::context`] but builds the message only on error.
    fn with_context<S: Into<String>>(self, kind: ErrorKind, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, kind: ErrorKind, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().wrap(kind, context))
    }

    fn with_context<S: Into<String>>(self, kind: ErrorKind, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.into().wrap(kind, f()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_round_trip_keeps_kind_and_message() {
        let err = Error::new(ErrorKind::Auth, "bad password");
        let io_err: io::Error = err.into();
        assert_eq!(io_err.kind(), io::ErrorKind::PermissionDenied);
        let back: Error = io_err.into();
        assert_eq!(back.kind(), ErrorKind::Auth);
        assert_eq!(back.to_string(), "bad password");
    }

    #[test]
    fn io_error_maps_kind() {
        let err: Error = io::Error::from(io::ErrorKind::ConnectionRefused).into();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert!(err.is_retryable());
        let err: Error = io::Error::new(io::ErrorKind::UnexpectedEof, "eof").into();
        assert_eq!(err.kind(), ErrorKind::Closed);
        assert!(!err.is_retryable());
        assert_eq!(err.to_string(), "eof");
    }

    #[test]
    fn os_errors_keep_their_text() {
        let err: Error = io::Error::from_raw_os_error(24).into(); // EMFILE
        assert!(err.to_string().to_lowercase().contains("too many open files"), "{err}");
    }

    #[test]
    fn context_chains_sources() {
        let res: std::result::Result<(), io::Error> =
            Err(io::Error::from(io::ErrorKind::ConnectionRefused));
        let err = res.context(ErrorKind::Dial, "node node-0").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dial);
        assert!(err.to_string().starts_with("node node-0: "));
        assert!(StdError::source(&err).is_some());
    }
}
