//! HTTP/1.x message heads as the HTTP proxy handler and connector exchange them
//! (protocols.md §6), parsed with `httparse`.
//!
//! Only the head (start line and header fields up to the empty line) is handled here; bodies,
//! chunked coding and keep-alive are the caller's business. A head may be at most [`MAX_HEAD`]
//! bytes with at most [`MAX_HEADERS`] fields.
//!
//! Also: Basic proxy credentials ([`basic_auth_decode`], [`basic_auth_encode`]), the
//! hop-by-hop header list ([`is_hop_by_hop`]), chunk size lines ([`chunk_size`]) and `%XX`
//! escapes ([`percent_decode`]).

use gost_core::{Error, Result};

/// The largest accepted head, start line and final empty line included.
pub const MAX_HEAD: usize = 64 * 1024;

/// The most header fields accepted in one head.
pub const MAX_HEADERS: usize = 100;

/// Header fields in wire order: name as sent, value bytes (without surrounding whitespace).
type Headers = Vec<(String, Vec<u8>)>;

/// Maps an httparse outcome to the decode contract, enforcing [`MAX_HEAD`].
fn check_status(
    res: std::result::Result<httparse::Status<usize>, httparse::Error>,
    buf_len: usize,
    what: &str,
) -> Result<Option<usize>> {
    match res {
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => {
            Err(Error::protocol(format!("{what} head too large")))
        }
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        // Still partial with MAX_HEAD bytes buffered: the head can only end beyond the limit.
        Ok(httparse::Status::Partial) if buf_len >= MAX_HEAD => {
            Err(Error::protocol(format!("{what} head too large")))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            Err(Error::protocol(format!("{what} head has more than {MAX_HEADERS} header fields")))
        }
        Err(e) => Err(Error::protocol(format!("malformed {what} head: {e}"))),
    }
}

fn collect_headers(headers: &[httparse::Header<'_>]) -> Headers {
    headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect()
}

fn encode_headers(headers: &[(String, Vec<u8>)], out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn find_header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
}

fn remove_header(headers: &mut Headers, name: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

/// Replaces the first field called `name` in place (dropping the others), or appends one.
fn set_header(headers: &mut Headers, name: &str, value: &[u8]) {
    match headers.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(i) => {
            let mut seen = 0usize;
            headers.retain(|(n, _)| {
                let matches = n.eq_ignore_ascii_case(name);
                let keep = !matches || seen == 0;
                seen += usize::from(matches);
                keep
            });
            if let Some(slot) = headers.get_mut(i) {
                *slot = (name.to_owned(), value.to_vec());
            }
        }
        None => headers.push((name.to_owned(), value.to_vec())),
    }
}

macro_rules! header_helpers {
    () => {
        /// The value of the first field called `name` (case-insensitive).
        pub fn header(&self, name: &str) -> Option<&[u8]> {
            find_header(&self.headers, name)
        }

        /// [`Self::header`] as text, if it is UTF-8.
        pub fn header_str(&self, name: &str) -> Option<&str> {
            self.header(name).and_then(|v| std::str::from_utf8(v).ok())
        }

        /// Removes every field called `name` (case-insensitive).
        pub fn remove_header(&mut self, name: &str) {
            remove_header(&mut self.headers, name)
        }

        /// Sets `name` to `value`, replacing every existing field of that name (the new field
        /// takes the place of the first one, or goes last).
        pub fn set_header(&mut self, name: &str, value: &[u8]) {
            set_header(&mut self.headers, name, value)
        }

        /// Appends a field, keeping existing ones of the same name.
        pub fn add_header(&mut self, name: &str, value: &[u8]) {
            self.headers.push((name.to_owned(), value.to_vec()))
        }
    };
}

/// A request head: `METHOD TARGET HTTP/1.x`, then header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method (`CONNECT`, `GET`...), as sent.
    pub method: String,
    /// The request target: `host:port` for CONNECT, an absolute URL for proxy requests, a path
    /// for origin requests.
    pub target: String,
    /// The minor HTTP version: 0 or 1.
    pub version: u8,
    /// Header fields in wire order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl RequestHead {
    /// An HTTP/1.1 request head without header fields.
    pub fn new(method: &str, target: &str) -> RequestHead {
        RequestHead {
            method: method.to_owned(),
            target: target.to_owned(),
            version: 1,
            headers: Vec::new(),
        }
    }

    /// Parses a request head; the returned count is where the body (or tunnelled data) starts.
    /// A head beyond [`MAX_HEAD`] bytes or with more than [`MAX_HEADERS`] fields is an error.
    pub fn decode(buf: &[u8]) -> Result<Option<(RequestHead, usize)>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let Some(n) = check_status(req.parse(buf), buf.len(), "request")? else {
            return Ok(None);
        };
        let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version)
        else {
            return Err(Error::protocol("incomplete request line"));
        };
        let head = RequestHead {
            method: method.to_owned(),
            target: target.to_owned(),
            version,
            headers: collect_headers(req.headers),
        };
        Ok(Some((head, n)))
    }

    /// Appends `METHOD TARGET HTTP/1.x\r\n`, each field as `Name: value\r\n`, and `\r\n`.
    /// Callers keep names, values, method and target free of CR and LF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.");
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        encode_headers(&self.headers, out);
    }

    header_helpers!();
}

/// A response head: `HTTP/1.x STATUS REASON`, then header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The minor HTTP version: 0 or 1.
    pub version: u8,
    /// The status code (three digits).
    pub status: u16,
    /// The reason phrase (empty if absent, or if it held non-ASCII bytes).
    pub reason: String,
    /// Header fields in wire order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ResponseHead {
    /// An HTTP/1.1 response head without header fields.
    pub fn new(status: u16, reason: &str) -> ResponseHead {
        ResponseHead { version: 1, status, reason: reason.to_owned(), headers: Vec::new() }
    }

    /// Parses a response head; the returned count is where the body (or tunnelled data) starts.
    /// Same limits as [`RequestHead::decode`].
    pub fn decode(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let Some(n) = check_status(resp.parse(buf), buf.len(), "response")? else {
            return Ok(None);
        };
        let (Some(version), Some(status)) = (resp.version, resp.code) else {
            return Err(Error::protocol("incomplete status line"));
        };
        let head = ResponseHead {
            version,
            status,
            reason: resp.reason.unwrap_or_default().to_owned(),
            headers: collect_headers(resp.headers),
        };
        Ok(Some((head, n)))
    }

    /// Appends `HTTP/1.x NNN REASON\r\n`, each field as `Name: value\r\n`, and `\r\n`.
    /// Callers keep `status` within 100..=999 and everything free of CR and LF.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.");
        out.extend_from_slice(self.version.to_string().as_bytes());
        out.extend_from_slice(format!(" {:03} ", self.status).as_bytes());
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        encode_headers(&self.headers, out);
    }

    header_helpers!();
}

/// Parses a `Basic base64(user:pass)` credentials value (`Proxy-Authorization`,
/// `Authorization`). The scheme is case-insensitive; padding is optional. `None` for any other
/// scheme, bad base64, a missing `:` or non-UTF-8 credentials (gost then uses empty ones).
pub fn basic_auth_decode(value: &str) -> Option<(String, String)> {
    let value = value.trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(token.trim().as_bytes())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The `Proxy-Authorization` / `Authorization` value for Basic credentials: `Basic xxx`.
pub fn basic_auth_encode(user: &str, pass: &str) -> String {
    let mut plain = Vec::with_capacity(user.len() + 1 + pass.len());
    plain.extend_from_slice(user.as_bytes());
    plain.push(b':');
    plain.extend_from_slice(pass.as_bytes());
    let mut out = String::with_capacity(6 + plain.len().div_ceil(3) * 4);
    out.push_str("Basic ");
    base64_encode(&plain, &mut out);
    out
}

/// The size on a chunked body's size line (RFC 9112 7.1): `1a;name=value\r\n` → 26. Extensions
/// and the line end (CRLF or LF) are ignored; an empty, non-hex or over-long size is an error.
pub fn chunk_size(line: &[u8]) -> Result<u64> {
    let bad = || Error::protocol(format!("bad chunk size {:?}", String::from_utf8_lossy(line)));
    let size = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
    if size.is_empty() || size.len() > 16 || !size.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad());
    }
    let text = std::str::from_utf8(size).map_err(|_| bad())?;
    u64::from_str_radix(text, 16).map_err(|_| bad())
}

/// A chunked body (RFC 9112 7.1) decoded as it streams: see [`crate::Step`]. It holds a size
/// line (at most 4 KiB) and counters, never the data; trailers are skipped.
#[derive(Debug, Clone, Default)]
pub struct ChunkedDecoder {
    state: ChunkedState,
    line: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum ChunkedState {
    #[default]
    Size,
    Data(u64),
    /// The line end after a chunk's data.
    DataEnd,
    /// Trailer lines, up to an empty one; `empty`: the current line has no text yet.
    Trailers {
        empty: bool,
    },
    Done,
}

/// The longest size or trailer line taken.
const MAX_CHUNK_LINE: usize = 4096;

impl ChunkedDecoder {
    /// Whether the last chunk and the trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == ChunkedState::Done
    }

    /// What the front of `input` is; call again after consuming it. After the end, every byte
    /// is reported as framing (it belongs to whatever follows the body).
    pub fn step(&mut self, input: &[u8]) -> Result<crate::Step> {
        use crate::Step;
        match self.state {
            ChunkedState::Done => Ok(Step::Framing(0)),
            ChunkedState::Size => {
                let Some(i) = input.iter().position(|&b| b == b'\n') else {
                    self.take_line(input)?;
                    return Ok(Step::Framing(input.len()));
                };
                self.take_line(&input[..=i])?;
                let size = chunk_size(&self.line)?;
                self.line.clear();
                self.state = if size == 0 {
                    ChunkedState::Trailers { empty: true }
                } else {
                    ChunkedState::Data(size)
                };
                Ok(Step::Framing(i + 1))
            }
            ChunkedState::Data(left) => {
                let n = left.min(input.len() as u64);
                self.state =
                    if n == left { ChunkedState::DataEnd } else { ChunkedState::Data(left - n) };
                Ok(Step::Data(n as usize))
            }
            ChunkedState::DataEnd => match input.first() {
                Some(b'\r') => Ok(Step::Framing(1)),
                Some(b'\n') => {
                    self.state = ChunkedState::Size;
                    Ok(Step::Framing(1))
                }
                Some(_) => Err(Error::protocol("a chunk longer than its size")),
                None => Ok(Step::Framing(0)),
            },
            ChunkedState::Trailers { empty } => {
                let Some(i) = input.iter().position(|&b| b == b'\n') else {
                    self.take_line(input)?;
                    let blank = input.iter().all(|&b| b == b'\r');
                    self.state = ChunkedState::Trailers { empty: empty && blank };
                    return Ok(Step::Framing(input.len()));
                };
                let blank = empty && input[..i].iter().all(|&b| b == b'\r');
                self.line.clear();
                self.state =
                    if blank { ChunkedState::Done } else { ChunkedState::Trailers { empty: true } };
                Ok(Step::Framing(i + 1))
            }
        }
    }

    fn take_line(&mut self, part: &[u8]) -> Result<()> {
        if self.line.len() + part.len() > MAX_CHUNK_LINE {
            return Err(Error::protocol("a chunk size or trailer line is too long"));
        }
        if self.state == ChunkedState::Size {
            self.line.extend_from_slice(part);
        }
        Ok(())
    }
}

/// `%XX` escapes decoded (RFC 3986 2.1); `None` for a `%` not followed by two hex digits.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Whether `name` is a hop-by-hop header a proxy must not forward.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP_BY_HOP: [&str; 9] = [
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    ];
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard base64 (with padding) of `input` to `out`.
pub fn base64_encode(input: &[u8], out: &mut String) {
    let sym =
        |v: u32| char::from(BASE64_ALPHABET.get((v & 0x3F) as usize).copied().unwrap_or(b'='));
    for chunk in input.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { sym(n) } else { '=' });
    }
}

fn base64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Standard base64; `=` padding is optional but, when present, must complete the last quantum.
/// Decodes standard or URL-safe base64, with or without padding; `None` if it is not base64.
pub fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let data = input.strip_suffix(b"==").or_else(|| input.strip_suffix(b"=")).unwrap_or(input);
    let padded = data.len() != input.len();
    if (padded && !input.len().is_multiple_of(4)) || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= base64_value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let take = chunk.len().saturating_sub(1); // 4 symbols → 3 bytes, 3 → 2, 2 → 1
        out.extend_from_slice(bytes.get(1..=take)?);
    }
    Some(out)
}

/// `unix_secs` as an HTTP date (RFC 9110 5.6.7 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// An IMF-fixdate back to seconds since the Unix epoch; `None` for anything else (the obsolete
/// formats are not accepted: a conditional request with one is simply unconditional).
pub fn parse_http_date(s: &str) -> Option<u64> {
    let mut it = s.trim().split(' ');
    let (_wd, d, mon, y, hms, gmt) =
        (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
    if gmt != "GMT" || it.next().is_some() {
        return None;
    }
    let d: u64 = d.parse().ok()?;
    let m = MONTHS.iter().position(|x| *x == mon)? as u64 + 1;
    let y: u64 = y.parse().ok()?;
    let mut t = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    if !(1..=31).contains(&d) || y < 1970 || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + se)
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m, d)
}

/// (year, month, day), year >= 1970, to days since 1970-01-01.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        for t in [0, 784_111_777, 951_782_400, 1_765_000_000, 4_102_444_799] {
            assert_eq!(parse_http_date(&http_date(t)), Some(t));
        }
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"), None);
        assert_eq!(parse_http_date("Sun, 32 Nov 1994 08:49:37 GMT"), None);
    }
    use crate::addr::tests::assert_prefixes_incomplete;

    fn sample_requests() -> Vec<RequestHead> {
        let mut connect = RequestHead::new("CONNECT", "example.com:443");
        connect.add_header("Host", b"example.com:443");
        connect.add_header("Proxy-Connection", b"keep-alive");
        connect.add_header("Proxy-Authorization", b"Basic dXNlcjpwYXNz");
        let mut get = RequestHead::new("GET", "http://[::1]:8080/a?b=c");
        get.version = 0;
        get.add_header("X-Bin", &[0x80, 0xFF, b'\t', b'z']);
        get.add_header("Empty", b"");
        vec![connect, get, RequestHead::new("OPTIONS", "*")]
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc%e2%82%ac").unwrap(), "a b/c€".as_bytes());
        assert_eq!(percent_decode("plain+text").unwrap(), b"plain+text");
        for bad in ["%", "%4", "%zz", "a%+1"] {
            assert!(percent_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn chunk_size_lines() {
        assert_eq!(chunk_size(b"1a\r\n").unwrap(), 26);
        assert_eq!(chunk_size(b"0\n").unwrap(), 0);
        assert_eq!(chunk_size(b"FF ; name=value\r\n").unwrap(), 255);
        assert_eq!(chunk_size(b"ffffffffffffffff").unwrap(), u64::MAX);
        for bad in [&b"\r\n"[..], b"+1\r\n", b"zz", b"1 2", b"10000000000000000", b";x"] {
            assert!(chunk_size(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn request_round_trip() {
        for head in sample_requests() {
            let mut buf = Vec::new();
            head.encode(&mut buf);
            let n = buf.len();
            buf.extend_from_slice(b"\x16\x03\x01 tls bytes");
            assert_eq!(RequestHead::decode(&buf).unwrap(), Some((head, n)));
            assert_prefixes_incomplete(&buf[..n], RequestHead::decode);
        }
    }

    #[test]
    fn request_fixed_vector() {
        let raw = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
                    proxy-authorization:  Basic dXNlcjpwYXNz \r\n\r\nxyz";
        let (head, n) = RequestHead::decode(raw).unwrap().unwrap();
        assert_eq!(&raw[n..], b"xyz");
        assert_eq!(
            (head.method.as_str(), head.target.as_str(), head.version),
            ("CONNECT", "example.com:443", 1)
        );
        assert_eq!(head.header_str("Proxy-Authorization"), Some("Basic dXNlcjpwYXNz"));
        assert_eq!(head.header("HOST"), Some(&b"example.com:443"[..]));
        let creds = basic_auth_decode(head.header_str("proxy-authorization").unwrap());
        assert_eq!(creds, Some(("user".into(), "pass".into())));
    }

    #[test]
    fn response_round_trip() {
        let mut ok = ResponseHead::new(200, "Connection established");
        ok.add_header("Proxy-Agent", b"gost/3.0");
        let mut auth = ResponseHead::new(407, "Proxy Authentication Required");
        auth.add_header("Proxy-Authenticate", b"Basic realm=\"gost\"");
        auth.version = 0;
        for head in [ok, auth, ResponseHead::new(101, ""), ResponseHead::new(503, "")] {
            let mut buf = Vec::new();
            head.encode(&mut buf);
            let n = buf.len();
            buf.extend_from_slice(b"body");
            assert_eq!(ResponseHead::decode(&buf).unwrap(), Some((head, n)));
            assert_prefixes_incomplete(&buf[..n], ResponseHead::decode);
        }
    }

    #[test]
    fn response_fixed_vector() {
        let mut out = Vec::new();
        let mut head = ResponseHead::new(200, "Connection established");
        head.add_header("Proxy-Agent", b"gost/3.0");
        head.encode(&mut out);
        assert_eq!(out, b"HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n");
        let (head, _) = ResponseHead::decode(b"HTTP/1.0 404\r\n\r\n").unwrap().unwrap();
        assert_eq!((head.version, head.status, head.reason.as_str()), (0, 404, ""));
    }

    #[test]
    fn malformed() {
        assert!(RequestHead::decode(b"GET / HTTP/2.0\r\n\r\n").is_err());
        assert!(RequestHead::decode(b"GET / FTP/1.1\r\n").is_err());
        assert!(RequestHead::decode(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n").is_err());
        assert!(RequestHead::decode(b"\x16\x03\x01\x02\x00").is_err());
        assert!(ResponseHead::decode(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
        assert!(ResponseHead::decode(b"SSH-2.0-OpenSSH\r\n").is_err());
    }

    #[test]
    fn too_many_headers() {
        let mut head = RequestHead::new("GET", "/");
        for i in 0..MAX_HEADERS {
            head.add_header(&format!("X-{i}"), b"v");
        }
        let mut buf = Vec::new();
        head.encode(&mut buf);
        assert!(RequestHead::decode(&buf).unwrap().is_some());
        head.add_header("X-Last", b"v");
        let mut buf = Vec::new();
        head.encode(&mut buf);
        assert!(RequestHead::decode(&buf).is_err());
        let mut resp = ResponseHead::new(200, "OK");
        resp.headers = head.headers;
        let mut buf = Vec::new();
        resp.encode(&mut buf);
        assert!(ResponseHead::decode(&buf).is_err());
    }

    #[test]
    fn head_size_limit() {
        let mut head = RequestHead::new("GET", "/");
        head.add_header("X-Big", &vec![b'a'; MAX_HEAD - 100]);
        let mut buf = Vec::new();
        head.encode(&mut buf);
        assert!(buf.len() <= MAX_HEAD);
        assert!(RequestHead::decode(&buf).unwrap().is_some());

        let mut head = RequestHead::new("GET", "/");
        head.add_header("X-Big", &vec![b'a'; MAX_HEAD]);
        let mut buf = Vec::new();
        head.encode(&mut buf);
        // Complete but too large, and partial beyond the limit.
        assert!(RequestHead::decode(&buf).is_err());
        assert!(RequestHead::decode(&buf[..MAX_HEAD]).is_err());
        assert!(RequestHead::decode(&buf[..MAX_HEAD - 1]).unwrap().is_none());
        let mut resp = ResponseHead::new(200, "OK");
        resp.headers = head.headers;
        let mut buf = Vec::new();
        resp.encode(&mut buf);
        assert!(ResponseHead::decode(&buf).is_err());
        assert!(ResponseHead::decode(&buf[..MAX_HEAD + 1]).is_err());
    }

    #[test]
    fn header_editing() {
        let mut head = RequestHead::new("GET", "http://example.com/");
        head.add_header("Host", b"example.com");
        head.add_header("proxy-connection", b"keep-alive");
        head.add_header("Accept", b"*/*");
        head.add_header("Proxy-Connection", b"close");
        head.add_header("X-Gost-Target", b"abc");
        assert_eq!(head.header("PROXY-CONNECTION"), Some(&b"keep-alive"[..]));
        head.set_header("Proxy-Connection", b"x");
        assert_eq!(
            head.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["Host", "Proxy-Connection", "Accept", "X-Gost-Target"]
        );
        assert_eq!(head.header_str("proxy-connection"), Some("x"));
        head.set_header("Connection", b"close");
        assert_eq!(head.headers.last().unwrap().0, "Connection");
        head.remove_header("x-gost-target");
        head.remove_header("proxy-connection");
        assert_eq!(head.headers.len(), 3);
        assert_eq!(head.header("X-Gost-Target"), None);
        head.add_header("X-Bin", &[0xFF]);
        assert_eq!(head.header("x-bin"), Some(&[0xFF][..]));
        assert_eq!(head.header_str("x-bin"), None);

        let mut resp = ResponseHead::new(200, "OK");
        resp.add_header("A", b"1");
        resp.add_header("a", b"2");
        resp.set_header("A", b"3");
        assert_eq!(resp.headers, [("A".to_owned(), b"3".to_vec())]);
        resp.remove_header("a");
        assert!(resp.headers.is_empty());
    }

    #[test]
    fn basic_auth_vectors() {
        assert_eq!(basic_auth_decode("Basic dXNlcjpwYXNz"), Some(("user".into(), "pass".into())));
        assert_eq!(basic_auth_encode("user", "pass"), "Basic dXNlcjpwYXNz");
        assert_eq!(
            basic_auth_decode("bAsIc   dXNlcjpwYXNz  "),
            Some(("user".into(), "pass".into()))
        );
        // Aladdin:open sesame (RFC 7617).
        assert_eq!(
            basic_auth_encode("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(
            basic_auth_decode("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Some(("Aladdin".into(), "open sesame".into()))
        );
        assert_eq!(
            basic_auth_decode("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ"),
            Some(("Aladdin".into(), "open sesame".into()))
        );
        // Colons after the first belong to the password; empty parts are fine.
        assert_eq!(
            basic_auth_decode(&basic_auth_encode("u", "a:b")),
            Some(("u".into(), "a:b".into()))
        );
        assert_eq!(
            basic_auth_decode(&basic_auth_encode("", "")),
            Some((String::new(), String::new()))
        );
        assert_eq!(basic_auth_encode("", ""), "Basic Og==");
        for (user, pass) in [("a", ""), ("ab", "c"), ("üser", "päss"), ("x", "yz")] {
            assert_eq!(
                basic_auth_decode(&basic_auth_encode(user, pass)),
                Some((user.to_owned(), pass.to_owned()))
            );
        }
    }

    #[test]
    fn basic_auth_rejects() {
        for bad in [
            "",
            "Basic",
            "Basic ",
            "Bearer dXNlcjpwYXNz",
            "Basic dXNlcnBhc3M=", // "userpass": no colon
            "Basic dXNlcjpwYXNz=",
            "Basic dXNl=cjpwYXNz",
            "Basic dXNlcjpwYXNzZ",
            "Basic ===",
            "Basic d",
            "Basic dXNlcjpwYXNz!",
            "Basic /w==", // 0xFF: not UTF-8
        ] {
            assert_eq!(basic_auth_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn base64_known_vectors() {
        // RFC 4648 §10.
        let vectors: [(&str, &str); 7] = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in vectors {
            let mut out = String::new();
            base64_encode(plain.as_bytes(), &mut out);
            assert_eq!(out, enc);
            assert_eq!(base64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(
                base64_decode(enc.trim_end_matches('=').as_bytes()).unwrap(),
                plain.as_bytes()
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        let mut out = String::new();
        base64_encode(&all, &mut out);
        assert_eq!(base64_decode(out.as_bytes()).unwrap(), all);
    }

    #[test]
    fn hop_by_hop() {
        for h in ["connection", "Keep-Alive", "PROXY-AUTHORIZATION", "te", "Upgrade", "Trailer"] {
            assert!(is_hop_by_hop(h), "{h}");
        }
        for h in ["Host", "Proxy-Agent", "Content-Length", "Transfer", ""] {
            assert!(!is_hop_by_hop(h), "{h}");
        }
    }

    #[test]
    fn chunked_bodies_decode_in_any_pieces() {
        let wire =
            b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, wire.len()] {
            let mut d = ChunkedDecoder::default();
            let mut data = Vec::new();
            let mut used = 0;
            for part in wire.chunks(piece) {
                let mut rest = part;
                while !rest.is_empty() && !d.is_done() {
                    match d.step(rest).unwrap() {
                        crate::Step::Framing(n) => {
                            used += n;
                            rest = &rest[n..];
                        }
                        crate::Step::Data(n) => {
                            data.extend_from_slice(&rest[..n]);
                            used += n;
                            rest = &rest[n..];
                        }
                    }
                }
            }
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "piece {piece}");
            assert!(d.is_done());
            assert_eq!(&wire[used..], b"NEXT", "piece {piece}");
        }
        let mut d = ChunkedDecoder::default();
        assert!(d.step(b"zz\r\n").is_err());
        let mut d = ChunkedDecoder::default();
        assert_eq!(d.step(b"2\r\nabX").unwrap(), crate::Step::Framing(3));
        assert_eq!(d.step(b"abX").unwrap(), crate::Step::Data(2));
        assert!(d.step(b"X").is_err(), "data past the chunk size");
        let mut d = ChunkedDecoder::default();
        assert!(d.step(&[b'1'; 5000]).is_err(), "an endless size line");
    }
}
