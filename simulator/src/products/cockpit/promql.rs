//! The little of PromQL and of the Prometheus HTTP API parameters the data plane understands: instant vector
//! selectors (`name`, `name{label="v", …}`, `{__name__=~"instance_.*"}`) with the four matchers, fully anchored
//! regular expressions (literals, `.`, classes, groups, alternation and the `*`, `+`, `?` quantifiers),
//! timestamps (Unix seconds or RFC 3339) and durations (`300`, `300s`, `5m`, `1h30m`).

use chrono::DateTime;

/// One label matcher of a selector.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub label: String,
    kind: MatchKind,
}

#[derive(Debug, Clone)]
enum MatchKind {
    Equal(String),
    NotEqual(String),
    Regex(Regex),
    NotRegex(Regex),
}

impl Matcher {
    pub(crate) fn matches(&self, value: &str) -> bool {
        match &self.kind {
            MatchKind::Equal(v) => value == v,
            MatchKind::NotEqual(v) => value != v,
            MatchKind::Regex(r) => r.is_match(value),
            MatchKind::NotRegex(r) => !r.is_match(value),
        }
    }
}

/// An instant vector selector: every matcher must hold (a missing label has the value "").
#[derive(Debug, Clone)]
pub(crate) struct Selector {
    pub matchers: Vec<Matcher>,
}

impl Selector {
    /// Whether a series with these labels is selected.
    pub(crate) fn matches(&self, labels: &[(&str, &str)]) -> bool {
        self.matchers.iter().all(|m| {
            let value = labels.iter().find(|(name, _)| *name == m.label).map_or("", |(_, v)| v);
            m.matches(value)
        })
    }

    pub(crate) fn parse(input: &str) -> Result<Selector, String> {
        let mut p = Parser { chars: input.chars().collect(), pos: 0 };
        p.skip_spaces();
        let mut matchers = Vec::new();
        if p.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':') {
            let name = p.identifier(true);
            matchers.push(Matcher { label: "__name__".to_string(), kind: MatchKind::Equal(name) });
            p.skip_spaces();
        }
        if p.peek() == Some('{') {
            p.pos += 1;
            loop {
                p.skip_spaces();
                if p.peek() == Some('}') {
                    p.pos += 1;
                    break;
                }
                let label = p.identifier(false);
                if label.is_empty() {
                    return Err(p.error("expected a label name"));
                }
                p.skip_spaces();
                let op: String = ["=~", "!~", "!=", "="]
                    .into_iter()
                    .find(|op| p.rest().starts_with(op))
                    .ok_or_else(|| p.error("expected a label matching operator"))?
                    .to_string();
                p.pos += op.len();
                p.skip_spaces();
                let value = p.string()?;
                let kind = match op.as_str() {
                    "=" => MatchKind::Equal(value),
                    "!=" => MatchKind::NotEqual(value),
                    "=~" => MatchKind::Regex(Regex::new(&value)?),
                    _ => MatchKind::NotRegex(Regex::new(&value)?),
                };
                matchers.push(Matcher { label, kind });
                p.skip_spaces();
                match p.peek() {
                    Some(',') => p.pos += 1,
                    Some('}') => {}
                    _ => return Err(p.error("expected , or } in label matchers")),
                }
            }
            p.skip_spaces();
        }
        if p.pos < p.chars.len() {
            return Err(p.error("unsupported expression: only instant vector selectors are served"));
        }
        if matchers.is_empty() {
            return Err("parse error: unexpected end of input".to_string());
        }
        if matchers.iter().all(|m| m.matches("")) {
            return Err("parse error: vector selector must contain at least one non-empty matcher".to_string());
        }
        Ok(Selector { matchers })
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn rest(&self) -> String {
        self.chars[self.pos.min(self.chars.len())..].iter().collect()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> String {
        format!("parse error at char {}: {what}", self.pos + 1)
    }

    /// A metric name (`colons`) or a label name.
    fn identifier(&mut self, colons: bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let ok =
                c.is_ascii_alphabetic() || c == '_' || (colons && c == ':') || (self.pos > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A quoted string (`"…"`, `'…'` with Go escapes, or a raw `` `…` ``).
    fn string(&mut self) -> Result<String, String> {
        let quote =
            self.peek().filter(|c| matches!(c, '"' | '\'' | '`')).ok_or_else(|| self.error("expected a string"))?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or_else(|| self.error("unterminated quoted string"))?;
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c == '\\' && quote != '`' {
                let e = self.peek().ok_or_else(|| self.error("unterminated quoted string"))?;
                self.pos += 1;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '\\' | '"' | '\'' => e,
                    _ => return Err(self.error(&format!("unknown escape sequence \\{e}"))),
                });
            } else {
                out.push(c);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Regular expressions

/// A fully anchored regular expression, as Prometheus matches label values.
#[derive(Debug, Clone)]
pub(crate) struct Regex {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// Alternatives, each a sequence of quantified atoms.
    Alt(Vec<Vec<(Node, usize, Option<usize>)>>),
    Char(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
}

impl Regex {
    pub(crate) fn new(pattern: &str) -> Result<Regex, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let root = parse_alt(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!("error parsing regexp: unexpected ) in `{pattern}`"));
        }
        Ok(Regex { root })
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        match_node(&self.root, &chars, 0, &mut |end| end == chars.len())
    }
}

fn parse_alt(chars: &[char], pos: &mut usize) -> Result<Node, String> {
    let mut branches = vec![Vec::new()];
    while let Some(&c) = chars.get(*pos) {
        let atom = match c {
            ')' => break,
            '|' => {
                *pos += 1;
                branches.push(Vec::new());
                continue;
            }
            '(' => {
                *pos += 1;
                // Non-capturing groups read the same.
                if chars.get(*pos..*pos + 2) == Some(&['?', ':']) {
                    *pos += 2;
                }
                let inner = parse_alt(chars, pos)?;
                if chars.get(*pos) != Some(&')') {
                    return Err("error parsing regexp: missing closing )".to_string());
                }
                *pos += 1;
                inner
            }
            '.' => {
                *pos += 1;
                Node::Any
            }
            '[' => parse_class(chars, pos)?,
            '\\' => {
                let e = *chars.get(*pos + 1).ok_or("error parsing regexp: trailing backslash")?;
                *pos += 2;
                match e {
                    'd' => Node::Class { ranges: vec![('0', '9')], negated: false },
                    'w' => Node::Class { ranges: vec![('0', '9'), ('a', 'z'), ('A', 'Z'), ('_', '_')], negated: false },
                    's' => Node::Class { ranges: vec![(' ', ' '), ('\t', '\r')], negated: false },
                    e if e.is_ascii_alphanumeric() => {
                        return Err(format!("error parsing regexp: unsupported escape \\{e}"));
                    }
                    e => Node::Char(e),
                }
            }
            '*' | '+' | '?' | '{' => {
                return Err(format!("error parsing regexp: missing argument to repetition operator: `{c}`"));
            }
            c => {
                *pos += 1;
                Node::Char(c)
            }
        };
        let (min, max) = match chars.get(*pos) {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            _ => (1, Some(1)),
        };
        if (min, max) != (1, Some(1)) {
            *pos += 1;
            // Lazy quantifiers match the same strings when the whole text must match.
            if chars.get(*pos) == Some(&'?') {
                *pos += 1;
            }
        }
        if let Some(branch) = branches.last_mut() {
            branch.push((atom, min, max));
        }
    }
    Ok(Node::Alt(branches))
}

fn parse_class(chars: &[char], pos: &mut usize) -> Result<Node, String> {
    *pos += 1;
    let negated = chars.get(*pos) == Some(&'^');
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *chars.get(*pos).ok_or("error parsing regexp: missing closing ]")?;
        if c == ']' && !first {
            *pos += 1;
            break;
        }
        first = false;
        let lo = if c == '\\' {
            *pos += 1;
            *chars.get(*pos).ok_or("error parsing regexp: missing closing ]")?
        } else {
            c
        };
        *pos += 1;
        if chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|c| *c != ']') {
            let hi = chars[*pos + 1];
            *pos += 2;
            if hi < lo {
                return Err(format!("error parsing regexp: invalid character class range: `{lo}-{hi}`"));
            }
            ranges.push((lo, hi));
        } else {
            ranges.push((lo, lo));
        }
    }
    Ok(Node::Class { ranges, negated })
}

/// Matches `node` at `pos`, calling `k` with each possible end until it accepts (backtracking).
fn match_node(node: &Node, text: &[char], pos: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match node {
        Node::Char(c) => text.get(pos) == Some(c) && k(pos + 1),
        Node::Any => text.get(pos).is_some_and(|c| *c != '\n') && k(pos + 1),
        Node::Class { ranges, negated } => {
            text.get(pos).is_some_and(|c| ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated)
                && k(pos + 1)
        }
        Node::Alt(branches) => branches.iter().any(|b| match_seq(b, text, pos, k)),
    }
}

fn match_seq(
    seq: &[(Node, usize, Option<usize>)],
    text: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let Some(((node, min, max), rest)) = seq.split_first() else {
        return k(pos);
    };
    match_repeat(node, *min, *max, 0, rest, text, pos, k)
}

/// Greedy repetition of `node` (`count` times matched so far), then the rest of the sequence.
#[allow(clippy::too_many_arguments)]
fn match_repeat(
    node: &Node,
    min: usize,
    max: Option<usize>,
    count: usize,
    rest: &[(Node, usize, Option<usize>)],
    text: &[char],
    pos: usize,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    if max.is_none_or(|m| count < m) {
        let more = match_node(node, text, pos, &mut |end| {
            // An empty iteration cannot make progress: stop repeating there.
            end > pos && match_repeat(node, min, max, count + 1, rest, text, end, k)
        });
        if more {
            return true;
        }
    }
    count >= min && match_seq(rest, text, pos, k)
}

// ---------------------------------------------------------------------------------------------------------------
// Timestamps and durations

/// The earliest and latest timestamps (ms) the data plane distinguishes, some 31,000 years around 1970: clients
/// send far-away bounds to mean "all time", and every difference of two clamped times fits an `i64`.
const TIME_BOUND_MS: i64 = 1_000_000_000_000_000;

/// A Prometheus timestamp parameter (Unix seconds, possibly fractional, or RFC 3339), in ms since the epoch,
/// clamped to ±10^15 ms.
pub(crate) fn parse_time(value: &str) -> Option<i64> {
    let ms = if let Ok(seconds) = value.parse::<f64>() {
        if !seconds.is_finite() {
            return None;
        }
        (seconds * 1000.0).round().clamp(-TIME_BOUND_MS as f64, TIME_BOUND_MS as f64) as i64
    } else {
        DateTime::parse_from_rfc3339(value).ok()?.timestamp_millis()
    };
    Some(ms.clamp(-TIME_BOUND_MS, TIME_BOUND_MS))
}

/// A Prometheus duration parameter (seconds, possibly fractional, or `1h30m`-style units), in ms.
pub(crate) fn parse_duration(value: &str) -> Option<i64> {
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds.abs() < 1e12).then(|| (seconds * 1000.0).round() as i64);
    }
    if value.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit: i64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_are_anchored() {
        let r = |p: &str| Regex::new(p).unwrap();
        assert!(r("instance_.*").is_match("instance_server_cpu_seconds_total"));
        assert!(!r("instance_.*").is_match("xinstance_a"));
        assert!(!r("instance").is_match("instance_a"));
        assert!(r("a|b|c").is_match("b"));
        assert!(!r("a|b|c").is_match("ab"));
        assert!(r("(web|api)-[0-9]+").is_match("api-007"));
        assert!(!r("(web|api)-[0-9]+").is_match("api-"));
        assert!(r("x?y\\.z").is_match("y.z"));
        assert!(!r("x?y\\.z").is_match("yaz"));
        assert!(r("[^a-c]+").is_match("xyz"));
        assert!(r("").is_match(""));
        assert!(r("(a*)*b").is_match("aaab"));
        for bad in ["(a", "a)", "*a", "[a", "\\q"] {
            assert!(Regex::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn selectors() {
        let labels = [("__name__", "instance_server_vcpu_count"), ("az", "fr-par-1")];
        for ok in [
            "instance_server_vcpu_count",
            r#"{__name__="instance_server_vcpu_count"}"#,
            r#"{__name__=~"instance_.*"}"#,
            r#"instance_server_vcpu_count{az="fr-par-1", resource_id!="x",}"#,
            r#" instance_server_vcpu_count { az =~ 'fr-.*' } "#,
        ] {
            assert!(Selector::parse(ok).unwrap().matches(&labels), "{ok}");
        }
        for no in ["instance_server_cpu_seconds_total", r#"{__name__!~"instance_.*", az="fr-par-1"}"#, r#"up{az="x"}"#]
        {
            assert!(!Selector::parse(no).unwrap().matches(&labels), "{no}");
        }
        for bad in ["", "rate(x[5m])", "{}", r#"{a=""}"#, "x{a=b}", r#"x{a="b""#, "x + y"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1754006400"), Some(1_754_006_400_000));
        assert_eq!(parse_time("1754006400.25"), Some(1_754_006_400_250));
        assert_eq!(parse_time("2025-08-01T00:00:00Z"), Some(1_754_006_400_000));
        assert_eq!(parse_time("2025-08-01T02:00:00.5+02:00"), Some(1_754_006_400_500));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("-1e300"), Some(-TIME_BOUND_MS));
        assert_eq!(parse_time("9999999999999999"), Some(TIME_BOUND_MS));
        assert_eq!(parse_duration("300"), Some(300_000));
        assert_eq!(parse_duration("300s"), Some(300_000));
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("0.5"), Some(500));
        for bad in ["", "5x", "m", "5m3"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
