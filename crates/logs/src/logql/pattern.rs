//! The `pattern` and `regexp` parsers of a LogQL pipeline.
//!
//! `| pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size>"` reads a line by its literal
//! parts: `<name>` captures up to the next literal (or the end), `<_>` skips the same way, and
//! the text between must be there. A line that does not fit extracts nothing and passes on, as in
//! Loki. `| regexp "(?P<status>\\d{3})"` extracts the named groups of its first match.
//!
//! ```
//! use argus_logs::logql::Pattern;
//! let p = Pattern::parse(r#"<ip> - - [<_>] "<method> <uri> <_>" <status> <_>"#).unwrap();
//! let got = p.captures(r#"10.0.0.7 - - [06/Dec/2026:10:00:00 +0000] "GET /pay HTTP/1.1" 502 31"#).unwrap();
//! assert_eq!(got, vec![("ip", "10.0.0.7"), ("method", "GET"), ("uri", "/pay"), ("status", "502")]);
//! ```

/// One part of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// A capture; `None` for `<_>`.
    Capture(Option<String>),
}

/// A compiled `pattern` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    parts: Vec<Part>,
}

impl Pattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn parse(src: &str) -> Result<Pattern, String> {
        let parts = parts(src)?;
        if !parts.iter().any(|p| matches!(p, Part::Capture(Some(_)))) {
            return Err(format!(
                "the pattern {src:?} names no capture such as <status>"
            ));
        }
        Ok(Pattern { parts })
    }

    /// Compiles the pattern of a line filter (`|> "<_> timeout <_>"`): it needs literal text
    /// but no named capture.
    pub fn filter(src: &str) -> Result<Pattern, String> {
        let parts = parts(src)?;
        if !parts.iter().any(|x| matches!(x, Part::Literal(_))) {
            return Err(format!(
                "the pattern {src:?} has no literal text to look for"
            ));
        }
        Ok(Pattern { parts })
    }

    /// True when `line` fits: the literal parts in order, the first at the start unless the
    /// pattern starts with a capture, the last at the end unless it ends with one.
    pub fn fits(&self, line: &str) -> bool {
        let mut rest = line;
        let n = self.parts.len();
        for (i, part) in self.parts.iter().enumerate() {
            let Part::Literal(l) = part else {
                continue;
            };
            let found = match (i == 0, i + 1 == n) {
                (true, true) => (rest == l.as_str()).then_some(""),
                (true, false) => rest.strip_prefix(l.as_str()),
                (false, true) => rest.strip_suffix(l.as_str()).map(|_| ""),
                (false, false) => rest.find(l.as_str()).map(|at| &rest[at + l.len()..]),
            };
            match found {
                Some(r) => rest = r,
                None => return false,
            }
        }
        true
    }

    /// The named captures of `line`, or `None` when the line does not fit.
    pub fn captures<'a>(&'a self, line: &'a str) -> Option<Vec<(&'a str, &'a str)>> {
        let mut out = Vec::new();
        let mut rest = line;
        let mut i = 0;
        while i < self.parts.len() {
            match &self.parts[i] {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Capture(name) => {
                    let (value, after) = match self.parts.get(i + 1) {
                        Some(Part::Literal(l)) => {
                            let at = rest.find(l.as_str())?;
                            (&rest[..at], &rest[at..])
                        }
                        _ => (rest, ""),
                    };
                    if let Some(n) = name {
                        out.push((n.as_str(), value));
                    }
                    rest = after;
                }
            }
            i += 1;
        }
        Some(out)
    }
}

/// The parts of a pattern, with the errors that make any pattern invalid.
fn parts(src: &str) -> Result<Vec<Part>, String> {
    let mut parts: Vec<Part> = Vec::new();
    let mut rest = src;
    while !rest.is_empty() {
        let capture = rest.strip_prefix('<').and_then(|r| {
            let end = r.find('>')?;
            let name = &r[..end];
            let ok = name == "_"
                || (!name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !name.starts_with(|c: char| c.is_ascii_digit()));
            ok.then(|| (name, &r[end + 1..]))
        });
        match capture {
            Some((name, r)) => {
                if matches!(parts.last(), Some(Part::Capture(_))) {
                    return Err(format!(
                        "the pattern {src:?} has two captures with no text between them"
                    ));
                }
                parts.push(Part::Capture((name != "_").then(|| name.to_string())));
                rest = r;
            }
            None => {
                let mut chars = rest.char_indices();
                let first = chars.next().map_or(0, |(_, c)| c.len_utf8());
                let next = rest[first..].find('<').map_or(rest.len(), |i| i + first);
                match parts.last_mut() {
                    Some(Part::Literal(l)) => l.push_str(&rest[..next]),
                    _ => parts.push(Part::Literal(rest[..next].to_string())),
                }
                rest = &rest[next..];
            }
        }
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_between_literals_and_refuse_nonsense() {
        let p = Pattern::parse("<_> level=<level> msg=<msg>").unwrap();
        assert_eq!(
            p.captures("ts=1 level=warn msg=disk almost full").unwrap(),
            vec![("level", "warn"), ("msg", "disk almost full")]
        );
        assert_eq!(p.captures("no fields here"), None);
        let h = Pattern::parse("<date> <time> <level> <component>: <content>").unwrap();
        let got = h
            .captures("081109 203615 INFO dfs.DataNode: Receiving block blk_1")
            .unwrap();
        assert_eq!(got[2], ("level", "INFO"));
        assert_eq!(got[4], ("content", "Receiving block blk_1"));
        assert!(Pattern::parse("<a><b>")
            .unwrap_err()
            .contains("two captures"));
        assert!(Pattern::parse("just text")
            .unwrap_err()
            .contains("names no capture"));
        assert!(Pattern::parse("<_> only").is_err());
        // `<` that opens no capture is text.
        let q = Pattern::parse("a < b <x>").unwrap();
        assert_eq!(q.captures("a < b 7").unwrap(), vec![("x", "7")]);
    }
}
