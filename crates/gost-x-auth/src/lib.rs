//! # gost-x-auth
//!
//! Authers. [`Users`] checks a set of user names and passwords (the `user:pass@` of a service
//! URL, `auths:` and a users `file` in a config file), comparing passwords in constant time; the
//! set can be replaced while in use (file reloads). [`AutherGroup`] accepts a client that any of
//! its authers accepts (`authers: [a, b]`), as gost does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use gost_core::{Auther, BoxAuther};

/// A set of users.
#[derive(Debug, Default)]
pub struct Users {
    users: RwLock<Arc<HashMap<String, String>>>,
}

/// Parses users-file lines: `user password` (the password is the rest of the line, trimmed;
/// a line with a name alone has an empty password). `#` starts a comment.
pub fn parse_lines<S: AsRef<str>>(lines: &[S]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in lines {
        let line = line.as_ref().split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (user, pass) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        out.push((user.to_owned(), pass.trim().to_owned()));
    }
    out
}

impl Users {
    /// The users `(name, password)`; a later duplicate name replaces an earlier one.
    pub fn new(users: impl IntoIterator<Item = (String, String)>) -> Self {
        Users { users: RwLock::new(Arc::new(users.into_iter().collect())) }
    }

    /// Replaces the users.
    pub fn set_users(&self, users: impl IntoIterator<Item = (String, String)>) {
        let users = Arc::new(users.into_iter().collect());
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = users;
    }

    /// Whether `user` with `password` is one of the users.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner()).clone();
        // Compare against a dummy for unknown users so the time does not tell which names exist
        // by skipping the comparison.
        let (known, expected) = match users.get(user) {
            Some(p) => (true, p.as_str()),
            None => (false, ""),
        };
        constant_time_eq(expected.as_bytes(), password.as_bytes()) && known
    }
}

impl Auther for Users {
    async fn authenticate(
        &self,
        user: String,
        password: String,
        _client: Option<SocketAddr>,
    ) -> Option<String> {
        self.check(&user, &password).then_some(user)
    }
}

/// Several authers: a client any of them accepts is accepted.
#[derive(Debug, Clone)]
pub struct AutherGroup(pub Vec<BoxAuther>);

impl Auther for AutherGroup {
    async fn authenticate(
        &self,
        user: String,
        password: String,
        client: Option<SocketAddr>,
    ) -> Option<String> {
        for a in &self.0 {
            if let Some(id) = a.authenticate(user.clone(), password.clone(), client).await {
                return Some(id);
            }
        }
        None
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let len = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_users() {
        let u = Users::new([
            ("alice".to_owned(), "s3cret".to_owned()),
            ("bob".to_owned(), String::new()),
        ]);
        assert!(u.check("alice", "s3cret"));
        assert!(!u.check("alice", "s3cret!"));
        assert!(!u.check("alice", "s3cre"));
        assert!(!u.check("alice", ""));
        assert!(u.check("bob", ""));
        assert!(!u.check("carol", ""));
        assert!(!u.check("", ""));
        u.set_users(parse_lines(&["carol pass word # comment", "# nobody", "dave"]));
        assert!(u.check("carol", "pass word"));
        assert!(u.check("dave", ""));
        assert!(!u.check("alice", "s3cret"));
    }

    #[test]
    fn group_accepts_what_any_member_accepts() {
        let g = AutherGroup(vec![
            BoxAuther::new(Users::new([("a".to_owned(), "1".to_owned())])),
            BoxAuther::new(Users::new([("b".to_owned(), "2".to_owned())])),
        ]);
        let run = |u: &str, p: &str| {
            let fut = g.authenticate(u.to_owned(), p.to_owned(), None);
            // The futures never wait: poll once with a no-op waker.
            let mut fut = std::pin::pin!(fut);
            let waker = std::task::Waker::noop();
            match fut.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
                std::task::Poll::Ready(v) => v,
                std::task::Poll::Pending => panic!("pending"),
            }
        };
        assert_eq!(run("a", "1"), Some("a".to_owned()));
        assert_eq!(run("b", "2"), Some("b".to_owned()));
        assert_eq!(run("a", "2"), None);
    }

    #[test]
    fn constant_time_eq_matches_eq() {
        for (a, b) in
            [("", ""), ("a", ""), ("", "a"), ("abc", "abc"), ("abc", "abd"), ("ab", "abc")]
        {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
        }
    }
}
