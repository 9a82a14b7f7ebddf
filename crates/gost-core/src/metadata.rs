//! Component options as gost passes them: a small tree of values under case-insensitive keys.
//!
//! Every component reads its options once, in its constructor, through the typed getters. Each
//! getter takes a list of alias keys; the first key present wins (as in Go gost). Go's coercions are
//! kept (a bare number for a duration means seconds, `"true"` is a bool), but a value that cannot be
//! coerced is an error naming the key, where Go would silently use zero.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// One metadata value, as it comes from YAML, JSON or a command-line query string.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value (`null` / `~`).
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string (every command-line value is one).
    Str(String),
    /// A list.
    List(Vec<Value>),
    /// A map with string keys.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The scalar as text (strings as-is, numbers and bools formatted); `None` for null, lists and
    /// maps.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

/// A component's options: values under case-insensitive keys (stored lower-cased).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: BTreeMap<String, Value>,
}

impl Metadata {
    /// An empty set of options.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// Sets `key` (case-insensitively) to `value`, replacing any previous value.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.entries.insert(key.to_ascii_lowercase(), value.into());
    }

    /// Builder form of [`Metadata::insert`].
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Removes `key` and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.entries.remove(&key.to_ascii_lowercase())
    }

    /// The raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(&key.to_ascii_lowercase())
    }

    /// Whether any key is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many keys are set.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// All entries, keys lower-cased, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Adds every entry of `other` that is not set here.
    pub fn merge_missing(&mut self, other: &Metadata) {
        for (k, v) in &other.entries {
            self.entries.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }

    /// The first of `keys` that is set (null counts as not set), with its value.
    pub fn find<'a>(&'a self, keys: &[&'a str]) -> Option<(&'a str, &'a Value)> {
        keys.iter().find_map(|k| match self.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some((*k, v)),
        })
    }

    /// A boolean: `true`/`false`, an integer (non-zero = true), or a string Go's `ParseBool`
    /// accepts (`1`, `t`, `true`, `TRUE`, `0`, `f`, `false`, ...).
    pub fn get_bool(&self, keys: &[&str]) -> Result<Option<bool>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::Bool(b) => Ok(Some(*b)),
            Value::Int(i) => Ok(Some(*i != 0)),
            Value::Str(s) => match s.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" | "" => Ok(Some(false)),
                _ => Err(bad(key, v, "a bool")),
            },
            _ => Err(bad(key, v, "a bool")),
        }
    }

    /// An integer: a number (a float only if it is whole), a bool (1/0) or a decimal string.
    pub fn get_int(&self, keys: &[&str]) -> Result<Option<i64>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::Int(i) => Ok(Some(*i)),
            Value::Bool(b) => Ok(Some(i64::from(*b))),
            Value::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(Some(*x as i64)),
            Value::Str(s) => s.trim().parse().map(Some).map_err(|_| bad(key, v, "an integer")),
            _ => Err(bad(key, v, "an integer")),
        }
    }

    /// A non-negative integer that fits `usize` (sizes, counts).
    pub fn get_usize(&self, keys: &[&str]) -> Result<Option<usize>> {
        match self.get_int(keys)? {
            None => Ok(None),
            Some(i) => usize::try_from(i).map(Some).map_err(|_| {
                let key = self.find(keys).map_or("", |(k, _)| k);
                Error::config(format!("metadata key `{key}`: {i} is not a valid size"))
            }),
        }
    }

    /// A floating-point number: a number or a numeric string.
    pub fn get_float(&self, keys: &[&str]) -> Result<Option<f64>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::Float(x) => Ok(Some(*x)),
            Value::Int(i) => Ok(Some(*i as f64)),
            Value::Str(s) => s.trim().parse().map(Some).map_err(|_| bad(key, v, "a number")),
            _ => Err(bad(key, v, "a number")),
        }
    }

    /// A string; numbers and bools are formatted.
    pub fn get_string(&self, keys: &[&str]) -> Result<Option<String>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        v.as_text().map(Some).ok_or_else(|| bad(key, v, "a string"))
    }

    /// A duration: an integer or numeric string means seconds (as in Go gost), otherwise a Go
    /// duration string such as `"10s"`, `"1m30s"`, `"250ms"`.
    pub fn get_duration(&self, keys: &[&str]) -> Result<Option<Duration>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        let d = match v {
            Value::Int(i) if *i >= 0 => Duration::from_secs(*i as u64),
            Value::Float(x) => {
                Duration::try_from_secs_f64(*x).map_err(|_| bad(key, v, "a duration"))?
            }
            Value::Str(s) => parse_duration(s)
                .map_err(|e| Error::config(format!("metadata key `{key}`: {}", e.context())))?,
            _ => return Err(bad(key, v, "a duration")),
        };
        if d > MAX_DURATION {
            // Go's durations end there too; past it, deadline arithmetic would overflow.
            return Err(Error::config(format!(
                "metadata key `{key}`: {v} is longer than the longest duration (about 292 years)"
            )));
        }
        Ok(Some(d))
    }

    /// A list of strings: a list of scalars, or a single string taken as a one-element list (Go
    /// ignores a single string; accepting it lets the command line set list options).
    pub fn get_strings(&self, keys: &[&str]) -> Result<Option<Vec<String>>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::List(items) => items
                .iter()
                .map(|item| item.as_text().ok_or_else(|| bad(key, v, "a list of strings")))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Value::Str(s) => Ok(Some(vec![s.clone()])),
            _ => Err(bad(key, v, "a list of strings")),
        }
    }

    /// A map of strings (e.g. extra HTTP headers); values are formatted as text.
    pub fn get_string_map(&self, keys: &[&str]) -> Result<Option<BTreeMap<String, String>>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::Map(map) => map
                .iter()
                .map(|(k, item)| {
                    item.as_text()
                        .map(|t| (k.clone(), t))
                        .ok_or_else(|| bad(key, v, "a map of strings"))
                })
                .collect::<Result<BTreeMap<_, _>>>()
                .map(Some),
            _ => Err(bad(key, v, "a map of strings")),
        }
    }

    /// A nested map as its own `Metadata`.
    pub fn get_metadata(&self, keys: &[&str]) -> Result<Option<Metadata>> {
        let Some((key, v)) = self.find(keys) else {
            return Ok(None);
        };
        match v {
            Value::Map(map) => {
                let mut md = Metadata::new();
                for (k, item) in map {
                    md.insert(k, item.clone());
                }
                Ok(Some(md))
            }
            _ => Err(bad(key, v, "a map")),
        }
    }
}

impl<K: AsRef<str>, V: Into<Value>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut md = Metadata::new();
        for (k, v) in iter {
            md.insert(k.as_ref(), v);
        }
        md
    }
}

fn bad(key: &str, v: &Value, want: &str) -> Error {
    Error::config(format!("metadata key `{key}`: expected {want}, got {} {v}", v.type_name()))
}

/// The longest duration a setting may have: Go's (`time.Duration` is an `int64` of
/// nanoseconds, about 292 years).
pub const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parses a Go duration string (`"300ms"`, `"1.5h"`, `"2h45m"`, units ns/us/µs/ms/s/m/h), or a bare
/// non-negative number meaning seconds. Negative durations are an error.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let s = text.trim();
    let err = || {
        Error::config(format!(
            "invalid duration {text:?} (expected e.g. \"10s\", \"1m30s\" or seconds)"
        ))
    };
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| err());
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let mut rest = s;
    let mut total = 0f64; // nanoseconds
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    Duration::try_from_secs_f64(total / 1e9).map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_first_alias_wins() {
        let md = Metadata::new().with("ReadTimeout", "5s").with("timeout", "9s");
        assert_eq!(
            md.get_duration(&["readTimeout", "timeout"]).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(md.get_duration(&["TIMEOUT"]).unwrap(), Some(Duration::from_secs(9)));
        assert_eq!(md.get_duration(&["missing"]).unwrap(), None);
    }

    #[test]
    fn bool_coercions() {
        let md =
            Metadata::new().with("a", "true").with("b", 0i64).with("c", false).with("d", "yes");
        assert_eq!(md.get_bool(&["a"]).unwrap(), Some(true));
        assert_eq!(md.get_bool(&["b"]).unwrap(), Some(false));
        assert_eq!(md.get_bool(&["c"]).unwrap(), Some(false));
        let err = md.get_bool(&["d"]).unwrap_err();
        assert!(err.to_string().contains("`d`"), "{err}");
    }

    #[test]
    fn int_coercions() {
        let md = Metadata::new()
            .with("a", "42")
            .with("b", 7.0)
            .with("c", 7.5)
            .with("d", true)
            .with("e", "-3");
        assert_eq!(md.get_int(&["a"]).unwrap(), Some(42));
        assert_eq!(md.get_int(&["b"]).unwrap(), Some(7));
        assert!(md.get_int(&["c"]).is_err());
        assert_eq!(md.get_int(&["d"]).unwrap(), Some(1));
        assert!(md.get_usize(&["e"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2us").unwrap(), Duration::from_micros(2));
        for bad in ["", "s", "10x", "-1s", "1s2", "abc", "-5"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        let md = Metadata::new().with("ttl", 30i64).with("bad", "forever");
        assert_eq!(md.get_duration(&["ttl"]).unwrap(), Some(Duration::from_secs(30)));
        let err = md.get_duration(&["bad"]).unwrap_err();
        assert!(err.to_string().contains("`bad`"), "{err}");
        // Past Go's longest duration: an error, not an overflow later.
        for huge in [
            Value::Int(i64::MAX),
            Value::from("9223372036854775807"),
            Value::from("3000000h"),
            Value::Float(1e19),
        ] {
            let md = Metadata::new().with("ttl", huge.clone());
            let err = md.get_duration(&["ttl"]).unwrap_err();
            assert!(err.to_string().contains("`ttl`"), "{huge}: {err}");
        }
        let md = Metadata::new().with("ttl", "2562047h");
        assert!(md.get_duration(&["ttl"]).unwrap().is_some(), "just under the limit");
    }

    #[test]
    fn lists_and_maps() {
        let mut header = BTreeMap::new();
        header.insert("X-A".to_owned(), Value::from("1"));
        header.insert("X-B".to_owned(), Value::Int(2));
        let md = Metadata::new()
            .with("preUp", vec!["echo a", "echo b"])
            .with("one", "echo c")
            .with("header", Value::Map(header))
            .with("nested", Value::List(vec![Value::List(vec![])]));
        assert_eq!(md.get_strings(&["preup"]).unwrap().unwrap(), ["echo a", "echo b"]);
        assert_eq!(md.get_strings(&["one"]).unwrap().unwrap(), ["echo c"]);
        assert!(md.get_strings(&["nested"]).is_err());
        let h = md.get_string_map(&["header"]).unwrap().unwrap();
        assert_eq!(h.get("X-B").map(String::as_str), Some("2"));
        assert!(md.get_string_map(&["one"]).is_err());
        assert!(md.get_string(&["header"]).is_err());
    }
}
