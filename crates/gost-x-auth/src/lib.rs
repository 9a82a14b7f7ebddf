//! # gost-x-auth
//!
//! Authers. [`Users`] checks a fixed set of user names and passwords (the `user:pass@` of a
//! service URL, or `auths:` in a config file), comparing passwords in constant time.

use std::collections::HashMap;
use std::net::SocketAddr;

use gost_core::Auther;

/// A fixed set of users.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: HashMap<String, String>,
}

impl Users {
    /// The users `(name, password)`; a later duplicate name replaces an earlier one.
    pub fn new(users: impl IntoIterator<Item = (String, String)>) -> Self {
        Users { users: users.into_iter().collect() }
    }

    /// Whether `user` with `password` is one of the users.
    pub fn check(&self, user: &str, password: &str) -> bool {
        // Compare against a dummy for unknown users so the time does not tell which names exist
        // by skipping the comparison.
        let (known, expected) = match self.users.get(user) {
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
