//! Header formats in Loghub's convention: `<Name>` is a field (as few
//! characters as possible, possibly none), the text between fields is a
//! regular-expression fragment whose runs of spaces match any run of
//! whitespace, the pattern is anchored at both ends of the trimmed line, and
//! `<Content>` (the message) comes last. A line that does not match keeps
//! its whole trimmed text as its content.
//!
//! ```
//! use argus_logs::format::Format;
//! let f = Format::parse(r"<Date> <Time> <Level> <Component>: <Content>").unwrap();
//! let line = "17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls to: yarn,curi";
//! assert_eq!(f.content(line), "Changing view acls to: yarn,curi");
//! assert_eq!(f.field(line, "Level"), Some("INFO"));
//! assert_eq!(f.content("  no header here "), "no header here");
//! ```

use regex::Regex;

/// A format that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// It has no `<Content>` field, or a field after it.
    #[error("the format must end with the <Content> field: {0:?}")]
    NoContent(String),
    /// A field name is not a name.
    #[error("field <{0}> is not a name (letters, digits and _)")]
    BadField(String),
    /// The pattern it makes is not a regular expression.
    #[error("the format is not a valid pattern: {0}")]
    Pattern(String),
}

/// A compiled header format.
#[derive(Debug, Clone)]
pub struct Format {
    re: Regex,
    fields: Vec<String>,
    /// When every text between fields is a pattern of its own: the text
    /// before the first field, then the one after each field but the last.
    /// The message is found by matching them in turn, each at its first
    /// place (what the lazy fields of the whole pattern choose), falling
    /// back to the whole pattern when one is missing.
    seps: Option<Vec<Regex>>,
}

impl Format {
    /// Compiles a Loghub-style format string.
    pub fn parse(fmt: &str) -> Result<Format, FormatError> {
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut literals: Vec<String> = Vec::new();
        let mut rest = fmt.trim();
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            pattern.push_str(&literal(&rest[..open]));
            literals.push(literal(&rest[..open]));
            let name = &rest[open + 1..open + close];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(FormatError::BadField(name.to_string()));
            }
            if name == "Content" {
                pattern.push_str("(?P<Content>.*?)");
            } else {
                pattern.push_str(&format!("(?P<{name}>.*?)"));
            }
            fields.push(name.to_string());
            rest = &rest[open + close + 1..];
        }
        pattern.push_str(&literal(rest));
        pattern.push('$');
        if fields.last().map(String::as_str) != Some("Content") {
            return Err(FormatError::NoContent(fmt.to_string()));
        }
        let re = Regex::new(&format!("(?s){pattern}"))
            .map_err(|e| FormatError::Pattern(e.to_string()))?;
        let seps = if rest.trim().is_empty() {
            literals
                .iter()
                .map(|l| Regex::new(&format!("(?s){l}")).ok())
                .collect::<Option<Vec<Regex>>>()
        } else {
            None
        };
        Ok(Format { re, fields, seps })
    }

    /// Where the message starts, by matching the texts between fields in
    /// turn; `None` when one is missing (the whole pattern decides then).
    fn content_start(&self, t: &str) -> Option<usize> {
        let seps = self.seps.as_ref()?;
        let (first, rest) = seps.split_first()?;
        let m = first.find_at(t, 0)?;
        if m.start() != 0 {
            return None;
        }
        let mut pos = m.end();
        for sep in rest {
            pos = sep.find_at(t, pos)?.end();
        }
        Some(pos)
    }

    /// The field names, in order (`Content` last).
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The message part of `line`: `<Content>`, or the whole trimmed line
    /// when the header does not match.
    pub fn content<'a>(&self, line: &'a str) -> &'a str {
        let t = line.trim();
        if let Some(start) = self.content_start(t) {
            return &t[start..];
        }
        match self.re.captures(t).and_then(|c| c.name("Content")) {
            Some(m) => m.as_str(),
            None => t,
        }
    }

    /// The value of header field `name` in `line`, when the header matches.
    pub fn field<'a>(&self, line: &'a str, name: &str) -> Option<&'a str> {
        let t = line.trim();
        self.re
            .captures(t)
            .and_then(|c| c.name(name))
            .map(|m| m.as_str())
    }
}

/// A text between fields as a pattern: kept as the user wrote it (it is a
/// regular-expression fragment), with each run of spaces matching any run of
/// whitespace.
fn literal(s: &str) -> String {
    let mut out = String::new();
    let mut in_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !in_space {
                out.push_str(r"\s+");
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loghub_formats_split_their_lines() {
        let mac = Format::parse(
            r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
        )
        .unwrap();
        let l = "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0";
        assert!(mac.content(l).starts_with("IOThunderboltSwitch<0>"));
        let apache = Format::parse(r"\[<Time>\] \[<Level>\] <Content>").unwrap();
        assert_eq!(
            apache.content("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties\r"),
            "workerEnv.init() ok /etc/httpd/conf/workers2.properties"
        );
        let hpc = Format::parse(r"<Time>\|<Component>\|<Pid>\|<Content>").unwrap();
        assert_eq!(
            hpc.content("20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579"),
            "onStandStepChanged 3579"
        );
    }

    #[test]
    fn the_quick_split_agrees_with_the_whole_pattern() {
        let f = Format::parse(r"<Date> <Time> <Level> <Component>: <Content>").unwrap();
        assert!(f.seps.is_some());
        for l in [
            "17/06/09 20:10:40 INFO a.B: x: y",
            "17/06/09   20:10:40 INFO a.B:   spaced",
            "short line",
            "a b c d:",
        ] {
            let t = l.trim();
            let whole =
                f.re.captures(t)
                    .and_then(|c| c.name("Content"))
                    .map_or(t, |m| m.as_str());
            assert_eq!(f.content(l), whole, "{l}");
        }
    }

    #[test]
    fn bad_formats_are_named() {
        assert!(matches!(
            Format::parse("<Date> <Time>"),
            Err(FormatError::NoContent(_))
        ));
        assert!(matches!(
            Format::parse("<Da te> <Content>"),
            Err(FormatError::BadField(_))
        ));
        assert!(matches!(
            Format::parse("(<Date> <Content>"),
            Err(FormatError::Pattern(_))
        ));
    }
}
