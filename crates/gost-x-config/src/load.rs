//! Reading configuration files (YAML or JSON) strictly, and writing them back.
//!
//! Every mistake names its place: `gost.yaml:4:5: unknown field `lisener`, did you mean
//! `listener`?`. gost accepts such mistakes silently; we refuse to start instead.

use std::path::Path;

use gost_core::{Error, Result};

use crate::model::Config;

/// The format of a configuration text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML (also accepts JSON documents).
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// `yaml`/`yml` or `json`, as `-O` takes it.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "yaml" | "yml" => Ok(Format::Yaml),
            "json" => Ok(Format::Json),
            other => Err(Error::config(format!(
                "unknown output format {other:?} (expected yaml or json)"
            ))),
        }
    }
}

/// Parses `text` (from `source`, for messages) in `format`.
pub fn parse(text: &str, format: Format, source: &str) -> Result<Config> {
    match format {
        Format::Yaml => serde_yaml::from_str::<Option<Config>>(text)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                let (line, col) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                explain(source, line, col, &e.to_string())
            }),
        Format::Json => serde_json::from_str::<Config>(text)
            .map_err(|e| explain(source, e.line(), e.column(), &e.to_string())),
    }
}

/// Loads one `-C` source: a file (YAML unless its name ends in `.json`), `-` for standard input,
/// or inline JSON (`{...}`).
pub fn load_source(src: &str) -> Result<Config> {
    let trimmed = src.trim_start();
    if trimmed.starts_with('{') {
        return parse(src, Format::Json, "inline JSON");
    }
    if src == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(|e| {
            Error::with_source(gost_core::ErrorKind::Io, "read the configuration from stdin", e)
        })?;
        let format = if text.trim_start().starts_with('{') { Format::Json } else { Format::Yaml };
        return parse(&text, format, "stdin");
    }
    if src.starts_with("http://") || src.starts_with("https://") {
        return Err(Error::unsupported(
            "loading the configuration from a URL is not supported yet",
        ));
    }
    let path = Path::new(src);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::with_source(gost_core::ErrorKind::Config, format!("read {src}"), e))?;
    let format = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase) {
        Some(ext) if ext == "json" => Format::Json,
        _ => Format::Yaml,
    };
    parse(&text, format, src)
}

/// The places gost looks for a configuration file when given nothing to run.
pub fn default_locations() -> Vec<std::path::PathBuf> {
    let mut dirs = vec![std::path::PathBuf::from("/etc/gost")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(std::path::PathBuf::from(home).join(".gost"));
    }
    dirs.push(std::path::PathBuf::from("."));
    let mut out = Vec::new();
    for dir in dirs {
        for name in ["gost.yaml", "gost.yml", "gost.json"] {
            out.push(dir.join(name));
        }
    }
    out
}

/// Writes `config` in `format`.
pub fn write(config: &Config, format: Format) -> Result<String> {
    match format {
        Format::Yaml => {
            serde_yaml::to_string(config).map_err(|e| Error::config(format!("write YAML: {e}")))
        }
        Format::Json => serde_json::to_string_pretty(config)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| Error::config(format!("write JSON: {e}"))),
    }
}

/// `source:line:col: message`, with serde's position suffix removed and, for an unknown field,
/// the nearest valid key suggested.
fn explain(source: &str, line: usize, col: usize, message: &str) -> Error {
    let mut msg = message.to_owned();
    if let Some(i) = msg.rfind(" at line ") {
        msg.truncate(i);
    }
    if let Some(rest) = msg.split("unknown field `").nth(1)
        && let Some((field, tail)) = rest.split_once('`')
    {
        let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        if let Some(best) = nearest(field, &expected) {
            let head = msg.split(", expected").next().unwrap_or(&msg).to_owned();
            msg = format!("{head}, did you mean `{best}`?");
        }
    }
    let place = if line > 0 { format!("{source}:{line}:{col}") } else { source.to_owned() };
    Error::config(format!("{place}: {msg}"))
}

/// The closest candidate to `word` (case-insensitive edit distance ≤ 2, or a case-only
/// difference).
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&w, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED_FORWARD: &str = "services:
- name: service-0
  addr: :8443
  handler:
    type: forward
  listener:
    type: wss
  forwarder:
    nodes:
    - name: target-0
      addr: :1080
- name: service-1
  addr: :1080
  handler:
    type: socks5
  listener:
    type: tcp
";

    #[test]
    fn seed_yaml_parses_and_round_trips() {
        let c = parse(SEED_FORWARD, Format::Yaml, "seed.yaml").unwrap();
        assert_eq!(c.services.len(), 2);
        assert_eq!(c.services[0].forwarder.as_ref().unwrap().nodes[0].addr, ":1080");
        for f in [Format::Yaml, Format::Json] {
            let text = write(&c, f).unwrap();
            assert_eq!(parse(&text, f, "out").unwrap(), c, "{text}");
        }
    }

    #[test]
    fn unknown_keys_name_the_place_and_the_fix() {
        let bad = "services:\n- name: a\n  addr: :1\n  lisener:\n    type: tcp\n";
        let err = parse(bad, Format::Yaml, "gost.yaml").unwrap_err().to_string();
        assert!(err.starts_with("gost.yaml:4:3: "), "{err}");
        assert!(err.contains("unknown field `lisener`, did you mean `listener`?"), "{err}");
        let json = r#"{"services": [{"name": "a", "handler": {"tpye": "http"}}]}"#;
        let err = parse(json, Format::Json, "gost.json").unwrap_err().to_string();
        assert!(err.contains("gost.json:1:") && err.contains("did you mean `type`?"), "{err}");
        let far = "servces: []\nnonsense: 1\n";
        let err = parse(far, Format::Yaml, "x.yaml").unwrap_err().to_string();
        assert!(err.contains("did you mean `services`?"), "{err}");
        let err = parse("zzzzzz: 1\n", Format::Yaml, "x.yaml").unwrap_err().to_string();
        assert!(err.contains("unknown field `zzzzzz`") && !err.contains("did you mean"), "{err}");
    }

    #[test]
    fn wrong_types_are_errors() {
        let err = parse("services: {name: a}\n", Format::Yaml, "x.yaml").unwrap_err().to_string();
        assert!(err.starts_with("x.yaml:1:"), "{err}");
        let err =
            parse("services:\n- name: a\n  handler:\n    retries: many\n", Format::Yaml, "x.yaml")
                .unwrap_err()
                .to_string();
        assert!(err.contains("x.yaml:4:"), "{err}");
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        assert_eq!(parse("", Format::Yaml, "e").unwrap(), Config::default());
    }
}
