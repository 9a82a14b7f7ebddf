//! Go-style flags as gost takes them: `-L url` or `--L=url`, repeatable `-L`/`-F`/`-C`, bool flags
//! without a value, and ` -- ` separating process groups.

use std::fmt;

/// What the command line asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Args {
    /// `-L`: services.
    pub services: Vec<String>,
    /// `-F`: chain nodes (one hop per flag).
    pub nodes: Vec<String>,
    /// `-C`: configuration sources.
    pub configs: Vec<String>,
    /// `-O`: print the configuration in this format and exit.
    pub output: Option<String>,
    /// `-api`.
    pub api: Option<String>,
    /// `-metrics`.
    pub metrics: Option<String>,
    /// `-R`: periodic reload.
    pub reload: Option<String>,
    /// `-D`: debug logs.
    pub debug: bool,
    /// `-DD`: trace logs.
    pub trace: bool,
    /// `-V`: print the version and exit.
    pub version: bool,
    /// `-h`: print the usage and exit.
    pub help: bool,
    /// `--check`: validate the configuration and exit.
    pub check: bool,
    /// Process groups after ` -- ` (each a full argument list).
    pub groups: Vec<Vec<String>>,
    /// The arguments before the first ` -- ` (this process's own group).
    pub own: Vec<String>,
}

/// A command-line mistake, printed as one line.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub const USAGE: &str = "\
Usage: gost [flags]

  -L url        a service: [handler[+listener]://][user:pass@]host:port[/target,...][?k=v&...]
                (repeatable), e.g. -L tcp://:8080/127.0.0.1:80
  -F url        a chain hop: [connector[+dialer]://][user:pass@]host:port[,host:port...][?k=v&...]
                (repeatable; hops in order)
  -C src        configuration: a YAML or JSON file, - for stdin, or inline JSON (repeatable)
  -O format     print the effective configuration as yaml or json and exit
  -R period     reload the configuration every period (e.g. 1m); SIGHUP reloads too
  --check       validate the configuration (files and flags) and exit
  -api addr     the Web API: [user:pass@]host:port[?pathPrefix=/api&accesslog=true],
                or unix:///path/to/socket
  -metrics addr Prometheus metrics: [user:pass@]host:port[?path=/metrics]
  -D            debug logs
  -DD           trace logs
  -V            print the version and exit
  -h            print this help and exit
  --            run each group of flags in its own process (gost -L a -- -L b -F c)

Environment:
  GOST_API           the Web API address, as -api (the flag wins)
  GOST_METRICS       the metrics address, as -metrics (the flag wins)
  GOST_LOGGER_LEVEL  the log level: trace, debug, info, warn or error
";

/// Every flag the parser takes (`-help` is `-h`'s other spelling).
pub const FLAGS: &[&str] =
    &["L", "F", "C", "O", "R", "check", "api", "metrics", "D", "DD", "V", "h", "help"];

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, UsageError> {
    let mut out = Args::default();
    let mut args = args.into_iter();
    let mut current = Vec::new();
    // Split into ` -- ` groups first: the first group is ours, the rest are children's.
    let mut groups: Vec<Vec<String>> = Vec::new();
    for arg in args.by_ref() {
        if arg == "--" {
            groups.push(std::mem::take(&mut current));
        } else {
            current.push(arg);
        }
    }
    groups.push(current);
    let mut groups = groups.into_iter();
    let own = groups.next().unwrap_or_default();
    out.groups = groups.collect();
    out.own = own.clone();

    let mut it = own.into_iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(UsageError(format!("unexpected argument {arg:?} (flags start with -)")));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        let mut value = |inline: Option<String>| -> Result<String, UsageError> {
            match inline {
                Some(v) => Ok(v),
                None => {
                    it.next().ok_or_else(|| UsageError(format!("flag needs an argument: -{name}")))
                }
            }
        };
        let boolean = |inline: Option<String>| -> Result<bool, UsageError> {
            match inline.as_deref() {
                None | Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
                Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
                Some(v) => Err(UsageError(format!("invalid boolean value {v:?} for -{name}"))),
            }
        };
        match name {
            "L" => out.services.push(value(inline)?),
            "F" => out.nodes.push(value(inline)?),
            "C" => out.configs.push(value(inline)?),
            "O" => out.output = Some(value(inline)?),
            "api" => out.api = Some(value(inline)?),
            "metrics" => out.metrics = Some(value(inline)?),
            "R" => out.reload = Some(value(inline)?),
            "D" => out.debug = boolean(inline)?,
            "DD" => out.trace = boolean(inline)?,
            "V" => out.version = boolean(inline)?,
            "h" | "help" => out.help = true,
            "check" => out.check = boolean(inline)?,
            _ => return Err(UsageError(format!("flag provided but not defined: -{name}"))),
        }
        if !FLAGS.contains(&name) {
            return Err(UsageError(format!("flag -{name} is missing from FLAGS")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn the_help_lists_exactly_the_flags_the_parser_takes() {
        // `  -NAME [ARG]  description`: ARG is one of these placeholders.
        const ARGS: &[&str] = &["url", "src", "format", "period", "addr"];
        let mut listed = Vec::new();
        for line in USAGE.lines().filter_map(|l| l.strip_prefix("  -")) {
            let mut words = line.split_whitespace();
            let flag = words.next().unwrap_or("").trim_start_matches('-');
            if flag.is_empty() {
                continue; // `--`, the group separator
            }
            let mut args = vec![format!("-{flag}")];
            if let Some(arg) = words.next().filter(|w| ARGS.contains(w)) {
                args.push(if arg == "period" { "1m".into() } else { "x".into() });
            }
            assert!(FLAGS.contains(&flag), "-{flag} is in the help but not taken");
            assert!(parse(args.clone()).is_ok(), "the help's {args:?} does not parse");
            listed.push(flag);
        }
        for flag in FLAGS.iter().filter(|f| **f != "help") {
            assert!(listed.contains(flag), "-{flag} is taken but not in the help");
        }
        for var in ["GOST_API", "GOST_METRICS", "GOST_LOGGER_LEVEL"] {
            assert!(USAGE.contains(var), "{var}");
        }
        assert!(!USAGE.contains("not supported"), "{USAGE}");
    }

    #[test]
    fn go_flag_forms() {
        let a = p(&["-L", "tcp://:1/h:2", "--L=:8080", "-F", "forward://a:1", "-D", "-V=false"])
            .unwrap();
        assert_eq!(a.services, ["tcp://:1/h:2", ":8080"]);
        assert_eq!(a.nodes, ["forward://a:1"]);
        assert!(a.debug);
        assert!(!a.version);
        assert!(p(&["-DD"]).unwrap().trace);
        assert_eq!(p(&["-api", ":18080"]).unwrap().api.as_deref(), Some(":18080"));
    }

    #[test]
    fn groups_split_on_double_dash() {
        let a = p(&["-L", ":1", "--", "-L", ":2", "-F", "x:1", "--", "-L", ":3"]).unwrap();
        assert_eq!(a.services, [":1"]);
        assert_eq!(a.groups, [vec!["-L", ":2", "-F", "x:1"], vec!["-L", ":3"]]);
    }

    #[test]
    fn mistakes_are_errors() {
        assert_eq!(p(&["-L"]).unwrap_err().0, "flag needs an argument: -L");
        assert_eq!(p(&["-X"]).unwrap_err().0, "flag provided but not defined: -X");
        assert!(p(&["stray"]).is_err());
        assert!(p(&["-D=maybe"]).is_err());
    }
}
