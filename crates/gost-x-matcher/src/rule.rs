//! gost 3.3's routing rules (`matcher.rule` of a node, of a chain in a chain group, of a hop in
//! a hop group): boolean expressions over matcher calls, as traefik writes them and gost parses
//! them (go-gost/x `routing`):
//!
//! ```text
//! Host(`*.example.com`) && (PathPrefix(`/api`) || Method(`POST`)) && !ClientIP(`10.0.0.0/8`)
//! ```
//!
//! Arguments are Go string literals (`` `raw` `` or `"escaped"`); `&&` binds tighter than `||`;
//! `!` negates. A matcher name is accepted as written here, all lower case, all upper case, or
//! capitalised (`Host`, `host`, `HOST`; `HostRegexp`, `hostregexp`, `Hostregexp`), as in gost.
//!
//! | matcher | arguments | matches when |
//! |---|---|---|
//! | `Host` | name | the request's host (sniffed, else the target's) is the name; `*.x` or `.x`: ends with `.x` |
//! | `HostRegexp` | regexp | the lower-cased host matches |
//! | `ClientIP` | IP or CIDR | the client's address is it or in it |
//! | `Network` | `tcp`/`udp` | the connection's network starts with it |
//! | `Proto` | protocol | the sniffed protocol (`http`, `tls`) is it |
//! | `Method` | method | the HTTP method is it |
//! | `Path`, `PathPrefix`, `PathRegexp` | path or regexp | the HTTP path is, starts with, matches |
//! | `Header`, `Query` | key \[value\] or key op number | the field is present (with that value), or one of its values compares (`gt ge lt le eq ne`) |
//! | `HeaderRegexp`, `QueryRegexp` | key regexp | one of the field's values matches |
//! | `BodyRegexp` | regexp | the read body prefix matches |
//! | `BodyJSON` | path regexp, or path op number | the JSON value at the dotted path (`a.b.0.c`) matches or compares |
//! | `Bypass` | bypass name | the named bypass does *not* contain the host (gost's meaning) |
//! | `Admission` | admission name | the named admission admits the client |
//!
//! A rule that does not parse, names an unknown matcher, has the wrong number of arguments, or a
//! regexp, IP or number that does not parse, is an error naming it (gost logs it and disables
//! the node's rule; here the configuration is refused).

use std::net::IpAddr;

use gost_core::{
    Address, Admission, BoxAdmission, BoxBypass, Bypass, Error, Matcher, Network, Result,
    SelectRequest,
};
use regex::Regex;

use crate::Cidr;

/// gost's `rewriteURL` rule: when `pattern` matches the path, the path becomes the pattern's
/// replacement (`$1`, `${name}` expand as Go's `ReplaceAllString` does); an empty result leaves
/// the path alone.
pub fn path_rewrite(pattern: &str, replacement: &str) -> Result<gost_core::PathRewrite> {
    let re = Regex::new(pattern)
        .map_err(|e| Error::config(format!("rewriteURL: bad regexp {pattern:?}: {e}")))?;
    let replacement = replacement.to_owned();
    Ok(std::sync::Arc::new(move |path: &str| {
        if !re.is_match(path) {
            return None;
        }
        let out = re.replace_all(path, replacement.as_str()).into_owned();
        (!out.is_empty()).then_some(out)
    }))
}

/// Where a rule's `Bypass(name)` and `Admission(name)` find the named objects (late-bound
/// handles, so that an update of the object is seen).
pub trait PolicyLookup {
    /// The bypass called `name`, if there is one.
    fn bypass(&self, name: &str) -> Option<BoxBypass>;
    /// The admission called `name`, if there is one.
    fn admission(&self, name: &str) -> Option<BoxAdmission>;
}

/// A lookup that knows no policy objects (rules using them are refused).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPolicies;

impl PolicyLookup for NoPolicies {
    fn bypass(&self, _: &str) -> Option<BoxBypass> {
        None
    }
    fn admission(&self, _: &str) -> Option<BoxAdmission> {
        None
    }
}

/// A parsed rule.
pub struct RuleMatcher {
    rule: String,
    expr: Expr,
    /// The rule's `Bypass`/`Admission` leaves, asked before the (synchronous) evaluation.
    policies: Vec<PolicyLeaf>,
}

impl std::fmt::Debug for RuleMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleMatcher").field("rule", &self.rule).finish()
    }
}

impl RuleMatcher {
    /// Parses `rule`; `policies` resolves its `Bypass(name)` and `Admission(name)`.
    pub fn parse(rule: &str, policies: &dyn PolicyLookup) -> Result<RuleMatcher> {
        let fail = |msg: String| Error::config(format!("matcher rule {rule:?}: {msg}"));
        let tokens = lex(rule).map_err(fail)?;
        let mut p =
            Parser { tokens, pos: 0, depth: 0, leaves: 0, policies: Vec::new(), lookup: policies };
        let expr = p.expr().map_err(fail)?;
        if p.pos != p.tokens.len() {
            return Err(fail(format!("unexpected {} after the expression", p.tokens[p.pos])));
        }
        Ok(RuleMatcher { rule: rule.to_owned(), expr, policies: p.policies })
    }

    /// The rule as written.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Whether the rule reads the request body (`BodyRegexp`, `BodyJSON`): then a handler must
    /// read a body prefix before selecting.
    pub fn uses_body(&self) -> bool {
        self.expr.uses_body()
    }

    /// Evaluates the rule once its policy leaves are known.
    fn eval(&self, req: &SelectRequest, policy: &[bool]) -> bool {
        self.expr.eval(&Facts::new(req), policy)
    }
}

impl Matcher for RuleMatcher {
    async fn matches(&self, req: &SelectRequest) -> bool {
        let mut policy = Vec::with_capacity(self.policies.len());
        for leaf in &self.policies {
            policy.push(leaf.ask(req).await);
        }
        self.eval(req, &policy)
    }
}

enum PolicyLeaf {
    Bypass(BoxBypass),
    Admission(BoxAdmission),
}

impl PolicyLeaf {
    async fn ask(&self, req: &SelectRequest) -> bool {
        match self {
            // gost: the rule matches when the host is *not* bypassed.
            PolicyLeaf::Bypass(b) => {
                let Some(host) = req.host_name() else { return false };
                let target = Address::parse(&host)
                    .or_else(|_| Address::from_host_port(&host, 0))
                    .ok()
                    .or_else(|| req.target.clone());
                match target {
                    Some(t) => !b.contains(Network::Tcp, t).await,
                    None => false,
                }
            }
            PolicyLeaf::Admission(a) => match req.client_addr {
                Some(c) => a.admit(c).await,
                None => false,
            },
        }
    }
}

/// What the leaves read, computed once per evaluation.
struct Facts<'a> {
    req: &'a SelectRequest,
    /// The host without port, lower case, trimmed.
    host: Option<String>,
}

impl<'a> Facts<'a> {
    fn new(req: &'a SelectRequest) -> Self {
        let host = req.host_name().map(|h| strip_port(h.trim()).to_ascii_lowercase());
        Facts { req, host: host.filter(|h| !h.is_empty()) }
    }
}

/// `host:port`, `[v6]:port`, `[v6]` or a bare host, without the port.
fn strip_port(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split_once(']').map_or(addr, |(h, _)| h);
    }
    match addr.rsplit_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((h, _)) if !h.contains(':') => h,
        _ => addr,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Cmp {
    fn parse(op: &str) -> Option<Cmp> {
        Some(match op {
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            _ => return None,
        })
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// How a header, query or JSON value is tested.
enum ValueTest {
    /// Present at all.
    Present,
    Equals(String),
    Regex(Regex),
    Compare(Cmp, f64),
}

impl ValueTest {
    fn holds(&self, v: &str) -> bool {
        match self {
            ValueTest::Present => true,
            ValueTest::Equals(want) => v == want,
            ValueTest::Regex(re) => re.is_match(v),
            ValueTest::Compare(op, n) => v.trim().parse::<f64>().is_ok_and(|f| op.holds(f, *n)),
        }
    }
}

enum Leaf {
    Host(String),
    HostRegexp(Regex),
    ClientIp(IpOrCidr),
    Network(String),
    Proto(String),
    Method(String),
    Path(String),
    PathPrefix(String),
    PathRegexp(Regex),
    Header(String, ValueTest),
    Query(String, ValueTest),
    BodyRegexp(Regex),
    BodyJson(Vec<String>, ValueTest),
    /// The index of a policy leaf in [`RuleMatcher::policies`].
    Policy(usize),
}

enum IpOrCidr {
    Ip(IpAddr),
    Cidr(Cidr),
}

enum Expr {
    Leaf(Leaf),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    fn uses_body(&self) -> bool {
        match self {
            Expr::Leaf(l) => matches!(l, Leaf::BodyRegexp(_) | Leaf::BodyJson(..)),
            Expr::Not(e) => e.uses_body(),
            Expr::And(a, b) | Expr::Or(a, b) => a.uses_body() || b.uses_body(),
        }
    }

    fn eval(&self, f: &Facts<'_>, policy: &[bool]) -> bool {
        match self {
            Expr::Leaf(leaf) => leaf.eval(f, policy),
            Expr::Not(e) => !e.eval(f, policy),
            Expr::And(a, b) => a.eval(f, policy) && b.eval(f, policy),
            Expr::Or(a, b) => a.eval(f, policy) || b.eval(f, policy),
        }
    }
}

impl Leaf {
    fn eval(&self, f: &Facts<'_>, policy: &[bool]) -> bool {
        let req = f.req;
        match self {
            Leaf::Host(want) => f.host.as_deref().is_some_and(|h| {
                h == want || (want.starts_with('.') && h.ends_with(want.as_str()))
            }),
            Leaf::HostRegexp(re) => re.is_match(f.host.as_deref().unwrap_or("")),
            Leaf::ClientIp(want) => req.client_addr.is_some_and(|c| {
                let ip = c.ip().to_canonical();
                match want {
                    IpOrCidr::Ip(w) => w.to_canonical() == ip,
                    IpOrCidr::Cidr(c) => c.contains(ip),
                }
            }),
            Leaf::Network(want) => req.network.as_str().starts_with(want.as_str()),
            Leaf::Proto(want) => req.protocol.as_deref() == Some(want.as_str()),
            Leaf::Method(want) => req.method.as_deref() == Some(want.as_str()),
            Leaf::Path(want) => req.path.as_deref() == Some(want.as_str()),
            Leaf::PathPrefix(want) => req.path.as_deref().is_some_and(|p| p.starts_with(want)),
            Leaf::PathRegexp(re) => req.path.as_deref().is_some_and(|p| re.is_match(p)),
            Leaf::Header(name, test) => req
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .any(|(_, v)| test.holds(v)),
            Leaf::Query(key, test) => req.query.as_deref().is_some_and(|q| {
                query_pairs(q).filter(|(k, _)| k == key).any(|(_, v)| test.holds(&v))
            }),
            Leaf::BodyRegexp(re) => {
                !req.body.is_empty() && re.is_match(&String::from_utf8_lossy(&req.body))
            }
            Leaf::BodyJson(path, test) => {
                !req.body.is_empty() && test.holds(&json_at(&req.body, path).unwrap_or_default())
            }
            Leaf::Policy(i) => policy.get(*i).copied().unwrap_or(false),
        }
    }
}

/// `a=1&b=x%20y` as decoded pairs (`+` is a space; a pair with a bad escape or a `;` is left
/// out), as Go's `url.ParseQuery` gives them.
fn query_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let decode = |s: &str| {
        let bytes = gost_proto::http::percent_decode(&s.replace('+', " "))?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    };
    q.split('&').filter(|p| !p.is_empty() && !p.contains(';')).filter_map(move |p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        Some((decode(k)?, decode(v)?))
    })
}

/// The JSON value at `path` as gjson's `String()` gives it: a string's text, a number's or
/// boolean's literal, an object's or array's JSON; `None` when absent or not JSON.
fn json_at(body: &[u8], path: &[String]) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    for key in path {
        v = match v {
            serde_json::Value::Object(mut m) => m.remove(key)?,
            serde_json::Value::Array(mut a) => {
                let i: usize = key.parse().ok()?;
                if i >= a.len() {
                    return None;
                }
                a.swap_remove(i)
            }
            _ => return None,
        };
    }
    Some(match v {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// `a.b\.c.0` → `["a", "b.c", "0"]` (gjson's escaped dot).
fn json_path(path: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(last)) = (chars.next(), parts.last_mut()) {
                    last.push(n);
                }
            }
            '.' => parts.push(String::new()),
            c => {
                if let Some(last) = parts.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    parts
}

// ---- lexing and parsing ----

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    LParen,
    RParen,
    Comma,
    And,
    Or,
    Not,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Ident(s) => write!(f, "`{s}`"),
            Token::Str(s) => write!(f, "string {s:?}"),
            Token::LParen => f.write_str("`(`"),
            Token::RParen => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
            Token::And => f.write_str("`&&`"),
            Token::Or => f.write_str("`||`"),
            Token::Not => f.write_str("`!`"),
        }
    }
}

fn lex(s: &str) -> std::result::Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::LParen),
            ')' => out.push(Token::RParen),
            ',' => out.push(Token::Comma),
            '!' => out.push(Token::Not),
            '&' | '|' => {
                if it.next_if(|&(_, n)| n == c).is_none() {
                    return Err(format!("`{c}` at {i} (write `{c}{c}`)"));
                }
                out.push(if c == '&' { Token::And } else { Token::Or });
            }
            '`' => {
                let mut v = String::new();
                loop {
                    match it.next() {
                        Some((_, '`')) => break,
                        Some((_, c)) => v.push(c),
                        None => return Err(format!("unterminated string at {i}")),
                    }
                }
                out.push(Token::Str(v));
            }
            '"' => {
                let mut v = String::new();
                loop {
                    match it.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => v.push(unescape(&mut it, i)?),
                        Some((_, '\n')) | None => {
                            return Err(format!("unterminated string at {i}"));
                        }
                        Some((_, c)) => v.push(c),
                    }
                }
                out.push(Token::Str(v));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut v = String::from(c);
                while let Some((_, n)) = it.next_if(|&(_, n)| n.is_alphanumeric() || n == '_') {
                    v.push(n);
                }
                out.push(Token::Ident(v));
            }
            c => return Err(format!("unexpected {c:?} at {i}")),
        }
    }
    Ok(out)
}

/// A Go string escape after `\`.
fn unescape(
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    at: usize,
) -> std::result::Result<char, String> {
    let bad = || format!("bad escape in the string at {at}");
    let (_, c) = it.next().ok_or_else(bad)?;
    let simple = match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\x07',
        'b' => '\x08',
        'f' => '\x0c',
        'v' => '\x0b',
        '\\' => '\\',
        '"' => '"',
        '\'' => '\'',
        'x' | 'u' | 'U' => {
            let n = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let mut code = 0u32;
            for _ in 0..n {
                let (_, d) = it.next().ok_or_else(bad)?;
                code = code * 16 + d.to_digit(16).ok_or_else(bad)?;
            }
            return char::from_u32(code).ok_or_else(bad);
        }
        _ => return Err(bad()),
    };
    Ok(simple)
}

/// How deep parentheses and `!` may nest, and how many matchers a rule may have: parsing and
/// evaluating recurse, and a rule comes from configuration anyone with the Web API can write.
const MAX_DEPTH: usize = 32;
const MAX_LEAVES: usize = 256;

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    leaves: usize,
    policies: Vec<PolicyLeaf>,
    lookup: &'a dyn PolicyLookup,
}

type ParseResult<T> = std::result::Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn eat(&mut self, t: &Token) -> bool {
        let hit = self.peek() == Some(t);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expr(&mut self) -> ParseResult<Expr> {
        let mut left = self.and()?;
        while self.eat(&Token::Or) {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> ParseResult<Expr> {
        let mut left = self.unary()?;
        while self.eat(&Token::And) {
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> ParseResult<Expr> {
        if matches!(self.peek(), Some(Token::Not | Token::LParen)) {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(format!("the rule nests deeper than {MAX_DEPTH} levels"));
            }
            let e = if self.eat(&Token::Not) {
                Expr::Not(Box::new(self.unary()?))
            } else {
                self.pos += 1;
                let e = self.expr()?;
                if !self.eat(&Token::RParen) {
                    return Err(self.expected("`)`"));
                }
                e
            };
            self.depth -= 1;
            return Ok(e);
        }
        self.leaves += 1;
        if self.leaves > MAX_LEAVES {
            return Err(format!("the rule has more than {MAX_LEAVES} matchers"));
        }
        let Some(Token::Ident(name)) = self.peek().cloned() else {
            return Err(self.expected("a matcher such as Host(`example.com`)"));
        };
        self.pos += 1;
        if !self.eat(&Token::LParen) {
            return Err(self.expected(&format!("`(` after {name}")));
        }
        let mut args = Vec::new();
        if !self.eat(&Token::RParen) {
            loop {
                match self.peek().cloned() {
                    Some(Token::Str(s)) => {
                        self.pos += 1;
                        args.push(s);
                    }
                    _ => return Err(self.expected(&format!("a string argument of {name}"))),
                }
                if self.eat(&Token::RParen) {
                    break;
                }
                if !self.eat(&Token::Comma) {
                    return Err(self.expected("`,` or `)`"));
                }
            }
        }
        self.leaf(&name, args).map(Expr::Leaf)
    }

    fn expected(&self, what: &str) -> String {
        match self.peek() {
            Some(t) => format!("expected {what}, found {t}"),
            None => format!("expected {what} at the end"),
        }
    }

    fn leaf(&mut self, name: &str, args: Vec<String>) -> ParseResult<Leaf> {
        let canonical = MATCHERS.iter().find(|(m, _)| accepts_name(m, name)).ok_or_else(|| {
            let known: Vec<&str> = MATCHERS.iter().map(|(m, _)| *m).collect();
            format!("unknown matcher {name} (known: {})", known.join(", "))
        })?;
        let (m, counts) = *canonical;
        if !counts.contains(&args.len()) {
            return Err(format!(
                "{m} takes {} argument(s), got {}",
                counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" or "),
                args.len()
            ));
        }
        if let Some(i) = args.iter().position(String::is_empty) {
            return Err(format!("{m}: argument {} is empty", i + 1));
        }
        let re = |s: &str| Regex::new(s).map_err(|e| format!("{m}: bad regexp {s:?}: {e}"));
        let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        Ok(match m {
            "Host" => {
                let h = a(0).trim().to_ascii_lowercase();
                if !a(0).is_ascii() {
                    return Err(format!("Host: {:?} is not ASCII", a(0)));
                }
                match h.strip_prefix('*') {
                    Some(rest) if rest.starts_with('.') => Leaf::Host(rest.to_owned()),
                    Some(rest) => Leaf::Host(format!(".{rest}")),
                    None => Leaf::Host(h),
                }
            }
            "HostRegexp" => {
                if !a(0).is_ascii() {
                    return Err(format!("HostRegexp: {:?} is not ASCII", a(0)));
                }
                Leaf::HostRegexp(re(a(0))?)
            }
            "ClientIP" => {
                let v = a(0).trim();
                match v.parse::<IpAddr>() {
                    Ok(ip) => Leaf::ClientIp(IpOrCidr::Ip(ip)),
                    Err(_) => Leaf::ClientIp(IpOrCidr::Cidr(
                        Cidr::parse(v)
                            .ok_or_else(|| format!("ClientIP: {v:?} is no IP or CIDR"))?,
                    )),
                }
            }
            "Network" => Leaf::Network(a(0).to_ascii_lowercase()),
            "Proto" => Leaf::Proto(a(0).to_ascii_lowercase()),
            "Method" => Leaf::Method(a(0).to_ascii_uppercase()),
            "Path" | "PathPrefix" => {
                if !a(0).starts_with('/') {
                    return Err(format!("{m}: {:?} does not start with /", a(0)));
                }
                if m == "Path" { Leaf::Path(a(0).into()) } else { Leaf::PathPrefix(a(0).into()) }
            }
            "PathRegexp" => Leaf::PathRegexp(re(a(0))?),
            "Header" | "Query" => {
                let test = value_test(m, &args)?;
                if m == "Header" {
                    Leaf::Header(a(0).into(), test)
                } else {
                    Leaf::Query(a(0).into(), test)
                }
            }
            "HeaderRegexp" | "QueryRegexp" => {
                let test =
                    if args.len() == 1 { ValueTest::Present } else { ValueTest::Regex(re(a(1))?) };
                if m == "HeaderRegexp" {
                    Leaf::Header(a(0).into(), test)
                } else {
                    Leaf::Query(a(0).into(), test)
                }
            }
            "BodyRegexp" => Leaf::BodyRegexp(re(a(0))?),
            "BodyJSON" => {
                let test = if args.len() == 3 {
                    value_test(m, &args)?
                } else {
                    ValueTest::Regex(re(a(1))?)
                };
                Leaf::BodyJson(json_path(a(0)), test)
            }
            "Bypass" => {
                let b = self
                    .lookup
                    .bypass(a(0))
                    .ok_or_else(|| format!("Bypass: no bypass {:?}", a(0)))?;
                self.policies.push(PolicyLeaf::Bypass(b));
                Leaf::Policy(self.policies.len() - 1)
            }
            "Admission" => {
                let adm = self
                    .lookup
                    .admission(a(0))
                    .ok_or_else(|| format!("Admission: no admission {:?}", a(0)))?;
                self.policies.push(PolicyLeaf::Admission(adm));
                Leaf::Policy(self.policies.len() - 1)
            }
            other => return Err(format!("matcher {other} is not implemented")),
        })
    }
}

/// `key`, `key value`, or `key op number`.
fn value_test(m: &str, args: &[String]) -> ParseResult<ValueTest> {
    Ok(match args {
        [_] => ValueTest::Present,
        [_, v] => ValueTest::Equals(v.clone()),
        [_, op, n] => {
            let op = Cmp::parse(op).ok_or_else(|| format!("{m}: unknown comparison {op:?}"))?;
            let n = n.trim().parse::<f64>().map_err(|_| format!("{m}: {n:?} is not a number"))?;
            ValueTest::Compare(op, n)
        }
        _ => return Err(format!("{m}: wrong number of arguments")),
    })
}

/// The matchers and how many arguments each takes.
const MATCHERS: &[(&str, &[usize])] = &[
    ("ClientIP", &[1]),
    ("Network", &[1]),
    ("Proto", &[1]),
    ("Host", &[1]),
    ("HostRegexp", &[1]),
    ("Method", &[1]),
    ("Path", &[1]),
    ("PathRegexp", &[1]),
    ("PathPrefix", &[1]),
    ("Header", &[1, 2, 3]),
    ("HeaderRegexp", &[1, 2]),
    ("Query", &[1, 2, 3]),
    ("QueryRegexp", &[1, 2]),
    ("BodyJSON", &[2, 3]),
    ("BodyRegexp", &[1]),
    ("Bypass", &[1]),
    ("Admission", &[1]),
];

/// gost registers each matcher as written, lower case, upper case and capitalised lower case.
fn accepts_name(canonical: &str, name: &str) -> bool {
    let lower = canonical.to_ascii_lowercase();
    let mut title = lower.clone();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    name == canonical || name == lower || name == canonical.to_ascii_uppercase() || name == title
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn rule(s: &str) -> RuleMatcher {
        RuleMatcher::parse(s, &NoPolicies).unwrap()
    }

    fn host(h: &str) -> SelectRequest {
        let mut r = SelectRequest::for_network(Network::Tcp);
        r.host = Some(h.into());
        r
    }

    fn check(s: &str, req: &SelectRequest) -> bool {
        rule(s).eval(req, &[])
    }

    #[test]
    fn hosts_exact_and_wildcard() {
        assert!(check("Host(`example.com`)", &host("EXAMPLE.com:443")));
        assert!(!check("Host(`example.com`)", &host("www.example.com")));
        assert!(check("Host(`*.example.com`)", &host("www.example.com")));
        assert!(check("Host(`*example.com`)", &host("a.example.com")));
        assert!(!check("Host(`*.example.com`)", &host("example.com")));
        assert!(check("Host(`.example.com`)", &host("a.b.example.com")));
        assert!(check("host(`::1`)", &host("[::1]:80")));
        assert!(check("host(`::1`)", &host("::1")));
        assert!(check("HostRegexp(`^api[0-9]+\\.`)", &host("API7.example.com")));
        // The target's host when nothing was sniffed.
        let req = SelectRequest::new(Network::Tcp, Address::parse("db.internal:5432").unwrap());
        assert!(check("Host(`db.internal`)", &req));
    }

    #[test]
    fn operators_precedence_and_names() {
        let r = host("a.test");
        assert!(check("Host(`b.test`) || Host(`a.test`) && !Host(`c.test`)", &r));
        assert!(!check("(Host(`b.test`) || Host(`a.test`)) && !Host(`a.test`)", &r));
        assert!(check("!!HOST(`a.test`)", &r));
        assert!(check("Hostregexp(`a`)", &r));
        assert!(check("hostregexp(`a`)", &r));
        assert!(RuleMatcher::parse("hostRegexp(`a`)", &NoPolicies).is_err());
    }

    #[test]
    fn http_fields() {
        let mut r = host("x.test");
        r.method = Some("POST".into());
        r.path = Some("/api/v1/items".into());
        r.query = Some("page=3&q=a%20b&flag&bad=%zz".into());
        r.headers = vec![("x-tier".into(), "gold".into()), ("X-Count".into(), "12".into())];
        r.body = Arc::from(&br#"{"user":{"id":42,"name":"ann"},"tags":["a","b"]}"#[..]);
        for (s, want) in [
            ("Method(`post`)", true),
            ("Path(`/api/v1/items`)", true),
            ("Path(`/api`)", false),
            ("PathPrefix(`/api/`)", true),
            ("PathRegexp(`^/api/v[0-9]+/`)", true),
            ("Header(`X-Tier`)", true),
            ("Header(`X-Tier`, `gold`)", true),
            ("Header(`X-Tier`, `silver`)", false),
            ("Header(`X-Count`, `gt`, `10`)", true),
            ("Header(`X-Count`, `le`, `10`)", false),
            ("HeaderRegexp(`X-Tier`, `^go`)", true),
            ("Query(`page`, `ge`, `3`)", true),
            ("Query(`q`, `a b`)", true),
            ("Query(`flag`)", true),
            ("Query(`nope`)", false),
            ("Query(`bad`)", false),
            ("QueryRegexp(`q`, `^a `)", true),
            ("BodyRegexp(`\"name\":\"ann\"`)", true),
            ("BodyJSON(`user.id`, `eq`, `42`)", true),
            ("BodyJSON(`user.name`, `^an`)", true),
            ("BodyJSON(`tags.1`, `^b$`)", true),
            ("BodyJSON(`user.missing`, `.`)", false),
        ] {
            assert_eq!(check(s, &r), want, "{s}");
        }
    }

    #[test]
    fn client_network_proto() {
        let mut r = host("x.test");
        r.client_addr = Some("10.1.2.3:5555".parse::<SocketAddr>().unwrap());
        r.protocol = Some("tls".into());
        assert!(check("ClientIP(`10.0.0.0/8`)", &r));
        assert!(check("ClientIP(`10.1.2.3`)", &r));
        assert!(!check("ClientIP(`192.168.0.0/16`)", &r));
        r.client_addr = Some("[::ffff:10.1.2.3]:1".parse::<SocketAddr>().unwrap());
        assert!(check("ClientIP(`10.1.2.3`)", &r));
        assert!(check("Network(`tcp`)", &r));
        assert!(!check("Network(`udp`)", &r));
        assert!(check("Proto(`TLS`)", &r));
        assert!(!check("Proto(`http`)", &r));
        // Nothing known: no match.
        let empty = SelectRequest::default();
        assert!(!check("ClientIP(`10.0.0.0/8`)", &empty));
        assert!(!check("Host(`x`)", &empty));
        assert!(!check("Method(`GET`)", &empty));
    }

    #[test]
    fn bad_rules_are_errors_naming_the_rule() {
        for bad in [
            "",
            "Host(`a`",
            "Host(`a`) &",
            "Host(`a`) Host(`b`)",
            "Nope(`a`)",
            "Host()",
            "Host(`a`, `b`)",
            "Host(``)",
            "Host(a)",
            "Path(`api`)",
            "PathRegexp(`(`)",
            "ClientIP(`10.0.0.0/99`)",
            "Header(`a`, `bigger`, `1`)",
            "Header(`a`, `gt`, `x`)",
            "Host(\"unterminated)",
            "Host(`a`) && Bypass(`none`)",
            "Host(`ä`)",
        ] {
            let err = RuleMatcher::parse(bad, &NoPolicies).unwrap_err().to_string();
            assert!(err.contains("matcher rule"), "{bad}: {err}");
        }
    }

    #[test]
    fn path_rewrites_expand_groups() {
        let r = path_rewrite("^/api/v1/(.*)$", "/v2/$1").unwrap();
        assert_eq!(r("/api/v1/items").as_deref(), Some("/v2/items"));
        assert_eq!(r("/other"), None);
        let q = path_rewrite("^/old$", "/new?from=old").unwrap();
        assert_eq!(q("/old").as_deref(), Some("/new?from=old"));
        assert!(path_rewrite("(", "x").is_err());
    }

    /// Random text (bytes from the rule alphabet) never panics the parser; what parses also
    /// evaluates without panicking.
    #[test]
    fn random_rules_never_panic() {
        const ALPHABET: &[u8] =
            b"HostPathClientIPHeaderQueryBodyJSONRegexp()!&|,`\"\\ ./*?[]^$0123456789abcx";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let req = host("a.test");
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 48) as usize;
            let text: String = (0..len)
                .map(|i| {
                    let y = x.rotate_left(i as u32 * 7) ^ (i as u64).wrapping_mul(0x9E37_79B9);
                    ALPHABET[(y % ALPHABET.len() as u64) as usize] as char
                })
                .collect();
            if let Ok(m) = RuleMatcher::parse(&text, &NoPolicies) {
                let _ = m.eval(&req, &[]);
            }
        }
        // Deep nesting and long chains are refused, not recursed into until the stack ends.
        for deep in [
            format!("{}Host(`a`){}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}Host(`a`)", "!".repeat(100_000)),
            vec!["Host(`a`)"; 10_000].join(" && "),
        ] {
            assert!(RuleMatcher::parse(&deep, &NoPolicies).is_err());
        }
        let fine = format!("{}Host(`a`){}", "(".repeat(30), ")".repeat(30));
        assert!(RuleMatcher::parse(&fine, &NoPolicies).is_ok());
    }

    #[test]
    fn body_rules_are_known() {
        assert!(rule("Host(`a`) || !BodyJSON(`a.b`, `x`)").uses_body());
        assert!(!rule("Host(`a`) && Path(`/x`)").uses_body());
    }

    #[test]
    fn go_string_escapes() {
        assert!(check("Host(\"a\\x2etest\")", &host("a.test")));
        assert!(check("Path(\"/\\u00e9\")", &{
            let mut r = host("x");
            r.path = Some("/é".into());
            r
        }));
    }

    struct CorpBypass;
    impl Bypass for CorpBypass {
        async fn contains(&self, _: Network, target: Address) -> bool {
            target.host().ends_with(".corp")
        }
    }

    struct LoopbackOnly;
    impl Admission for LoopbackOnly {
        async fn admit(&self, client: SocketAddr) -> bool {
            client.ip().is_loopback()
        }
    }

    struct Lists;
    impl PolicyLookup for Lists {
        fn bypass(&self, name: &str) -> Option<BoxBypass> {
            (name == "corp").then(|| BoxBypass::new(CorpBypass))
        }
        fn admission(&self, name: &str) -> Option<BoxAdmission> {
            (name == "lan").then(|| BoxAdmission::new(LoopbackOnly))
        }
    }

    #[tokio::test]
    async fn bypass_and_admission_leaves() {
        let m = RuleMatcher::parse("Bypass(`corp`) && Admission(`lan`)", &Lists).unwrap();
        let mut r = host("db.corp:5432");
        r.client_addr = Some("127.0.0.1:1".parse().unwrap());
        assert!(!m.matches(&r).await, "a bypassed host does not match");
        r.host = Some("example.com".into());
        assert!(m.matches(&r).await);
        r.client_addr = Some("192.0.2.1:1".parse().unwrap());
        assert!(!m.matches(&r).await, "not admitted");
    }

    use std::sync::Arc;
}
