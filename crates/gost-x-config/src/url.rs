//! gost's URL splitter. The `url` crate cannot be used: gost URLs have empty hosts (`:8080`), comma
//! lists and port ranges in the host, and a path that is a list of targets.

use gost_core::{Error, Result};

/// The parts of `scheme://user:pass@host/path?query`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GostUrl {
    /// The scheme, lower-cased (`auto` when none was written).
    pub scheme: String,
    /// The user name, percent-decoded.
    pub user: Option<String>,
    /// The password, percent-decoded.
    pub password: Option<String>,
    /// The host part as written: `:8080`, `[::1]:80`, `a:1,b:2`.
    pub host: String,
    /// The path without its leading `/`, if there was one.
    pub path: Option<String>,
    /// Query pairs in order, percent-decoded.
    pub query: Vec<(String, String)>,
}

impl GostUrl {
    /// Splits `s`. A missing scheme (or a string starting with `:`) means `auto://`, as in gost.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::config("empty address"));
        }
        let (scheme, rest) = match s.split_once("://") {
            Some((scheme, rest)) if !s.starts_with(':') => (scheme.to_ascii_lowercase(), rest),
            _ => ("auto".to_owned(), s),
        };
        if scheme.is_empty()
            || !scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(Error::config(format!("invalid scheme {scheme:?} in {s:?}")));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        // As in Go's url.Parse, the authority ends at the first '/' (a '/' in a password must be
        // written %2F); the user info is what precedes the last '@' of the authority.
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u, s)?), Some(percent_decode(p, s)?)),
                None => (Some(percent_decode(info, s)?), None),
            },
        };
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((query_decode(k, s)?, query_decode(v, s)?));
        }
        Ok(GostUrl {
            scheme,
            user,
            password,
            host: host.to_owned(),
            // Go trims slashes from both ends of the forward path.
            path: path.map(|p| p.trim_matches('/').to_owned()).filter(|p| !p.is_empty()),
            query: pairs,
        })
    }
}

fn query_decode(s: &str, whole: &str) -> Result<String> {
    percent_decode(&s.replace('+', " "), whole)
}

/// Decodes `%XX` escapes; a bad escape or invalid UTF-8 is an error naming the whole URL.
pub fn percent_decode(s: &str, whole: &str) -> Result<String> {
    let out = gost_proto::http::percent_decode(s)
        .ok_or_else(|| Error::config(format!("bad %-escape in {whole:?}")))?;
    String::from_utf8(out).map_err(|_| Error::config(format!("invalid UTF-8 in {whole:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_part() {
        let u =
            GostUrl::parse("socks5+tls://us%40r:p%2Fss@[::1]:1080/a:1,b:2/?x=1&y=a+b&z").unwrap();
        assert_eq!(u.scheme, "socks5+tls");
        assert_eq!(u.user.as_deref(), Some("us@r"));
        assert_eq!(u.password.as_deref(), Some("p/ss"));
        assert_eq!(u.host, "[::1]:1080");
        assert_eq!(u.path.as_deref(), Some("a:1,b:2"));
        assert_eq!(
            u.query,
            [("x".into(), "1".into()), ("y".into(), "a b".into()), ("z".into(), String::new())]
        );
    }

    #[test]
    fn at_sign_in_the_path_is_not_user_info() {
        let u = GostUrl::parse("tcp://:1/u@h:2").unwrap();
        assert_eq!((u.user, u.host.as_str(), u.path.as_deref()), (None, ":1", Some("u@h:2")));
    }

    #[test]
    fn missing_scheme_means_auto() {
        assert_eq!(GostUrl::parse(":8080").unwrap().scheme, "auto");
        assert_eq!(GostUrl::parse("127.0.0.1:8080").unwrap().host, "127.0.0.1:8080");
        assert_eq!(GostUrl::parse("TCP://:1/x:2").unwrap().scheme, "tcp");
    }

    #[test]
    fn rejects_garbage() {
        assert!(GostUrl::parse("").is_err());
        assert!(GostUrl::parse("a b://:1").is_err());
        assert!(GostUrl::parse("tcp://:1?x=%zz").is_err());
        assert!(GostUrl::parse("tcp://u%ff:p@:1").is_err());
    }
}
