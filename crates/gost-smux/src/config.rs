//! Session configuration, with Go's defaults and Go's sanity rules.

use std::time::Duration;

use crate::Error;

/// Largest `max_frame_size`: the frame header's length field is 16 bits.
pub const MAX_FRAME_SIZE_LIMIT: usize = 65535;

/// Tunes one session. Both ends must agree on [`version`](Config::version); everything else is
/// local.
///
/// Start from [`Config::default()`] (Go's `smux.DefaultConfig()`) and change fields:
///
/// ```
/// let mut config = gost_smux::Config::default();
/// config.version = 2;
/// config.max_stream_buffer = 1024 * 1024;
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Protocol version, 1 or 2. Version 2 adds per-stream flow control (UPD frames).
    /// Default 1.
    pub version: u8,
    /// Turns off both sending NOPs and closing a silent session. Default false.
    pub keepalive_disabled: bool,
    /// How often a NOP frame is sent. Default 10 s.
    pub keepalive_interval: Duration,
    /// The session is closed when no frame at all arrived during one such period (unless the
    /// receive buffer is full, which stops reading on purpose). Default 30 s.
    pub keepalive_timeout: Duration,
    /// Largest payload of a data frame this side sends, 1..=65535. Default 32768.
    pub max_frame_size: usize,
    /// Session-wide budget of received but unread bytes; reading from the carrier pauses while it
    /// is used up. Default 4 MiB.
    pub max_receive_buffer: usize,
    /// Version 2: the per-stream window advertised to the peer. Default 64 KiB.
    pub max_stream_buffer: usize,
}

impl Default for Config {
    /// Go's `smux.DefaultConfig()`.
    fn default() -> Config {
        Config {
            version: 1,
            keepalive_disabled: false,
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(30),
            max_frame_size: 32768,
            max_receive_buffer: 4 * 1024 * 1024,
            max_stream_buffer: 64 * 1024,
        }
    }
}

impl Config {
    /// Checks the same rules as Go's `smux.VerifyConfig`: version 1 or 2; with keepalive on, a
    /// non-zero interval and a timeout not shorter than it; frame size 1..=65535; non-zero buffers;
    /// stream buffer no larger than the receive buffer nor than `i32::MAX`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.version != 1 && self.version != 2 {
            return Err(Error::InvalidConfig("unsupported protocol version"));
        }
        if !self.keepalive_disabled {
            if self.keepalive_interval.is_zero() {
                return Err(Error::InvalidConfig("keep-alive interval must be positive"));
            }
            if self.keepalive_timeout < self.keepalive_interval {
                return Err(Error::InvalidConfig(
                    "keep-alive timeout must be larger than keep-alive interval",
                ));
            }
        }
        if self.max_frame_size == 0 {
            return Err(Error::InvalidConfig("max frame size must be positive"));
        }
        if self.max_frame_size > MAX_FRAME_SIZE_LIMIT {
            return Err(Error::InvalidConfig("max frame size must not be larger than 65535"));
        }
        if self.max_receive_buffer == 0 {
            return Err(Error::InvalidConfig("max receive buffer must be positive"));
        }
        if self.max_stream_buffer == 0 {
            return Err(Error::InvalidConfig("max stream buffer must be positive"));
        }
        if self.max_stream_buffer > self.max_receive_buffer {
            return Err(Error::InvalidConfig(
                "max stream buffer must not be larger than max receive buffer",
            ));
        }
        // The window travels as a u32 and Go reads it as an int32.
        if self.max_stream_buffer > i32::MAX as usize {
            return Err(Error::InvalidConfig("max stream buffer cannot be larger than 2147483647"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_gos() {
        let c = Config::default();
        assert_eq!(c.version, 1);
        assert!(!c.keepalive_disabled);
        assert_eq!(c.keepalive_interval, Duration::from_secs(10));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(30));
        assert_eq!(c.max_frame_size, 32768);
        assert_eq!(c.max_receive_buffer, 4_194_304);
        assert_eq!(c.max_stream_buffer, 65_536);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn validate_rejects_what_go_rejects() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            matches!(c.validate(), Err(Error::InvalidConfig(_)))
        };
        assert!(bad(|c| c.version = 0));
        assert!(bad(|c| c.version = 3));
        assert!(bad(|c| c.keepalive_interval = Duration::ZERO));
        assert!(bad(|c| c.keepalive_timeout = Duration::from_secs(5)));
        assert!(bad(|c| c.max_frame_size = 0));
        assert!(bad(|c| c.max_frame_size = 65536));
        assert!(bad(|c| c.max_receive_buffer = 0));
        assert!(bad(|c| c.max_stream_buffer = 0));
        assert!(bad(|c| c.max_stream_buffer = c.max_receive_buffer + 1));
        assert!(bad(|c| {
            c.max_receive_buffer = usize::MAX;
            c.max_stream_buffer = i32::MAX as usize + 1;
        }));
        // Keepalive rules do not apply when keepalive is off.
        assert!(!bad(|c| {
            c.keepalive_disabled = true;
            c.keepalive_interval = Duration::ZERO;
        }));
        assert!(!bad(|c| c.max_frame_size = 65535));
        assert!(!bad(|c| c.version = 2));
    }
}
