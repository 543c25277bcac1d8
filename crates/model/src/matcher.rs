//! Label matchers: `=`, `!=`, `=~` and `!~`, with Prometheus's fully anchored regexes.

use crate::ModelError;
use regex::Regex;
use std::fmt;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~`
    Nre,
}

/// A label matcher. A missing label matches as the empty string, as in Prometheus.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    re: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name && self.op == o.op && self.value == o.value
    }
}

impl Matcher {
    /// Builds a matcher; regexes are anchored at both ends (`^(?:...)$`).
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Self, ModelError> {
        let re = match op {
            MatchOp::Re | MatchOp::Nre => Some(Regex::new(&format!("^(?s:{value})$")).map_err(
                |e| ModelError::BadRegex {
                    label: name.to_string(),
                    pattern: value.to_string(),
                    reason: e.to_string(),
                },
            )?),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// An equality matcher (cannot fail).
    pub fn eq(name: &str, value: &str) -> Self {
        Matcher {
            name: name.to_string(),
            op: MatchOp::Eq,
            value: value.to_string(),
            re: None,
        }
    }

    /// True when the label value `v` (empty for an absent label) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Neq => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// True when this matcher matches the empty string, i.e. also series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// For a regex of plain alternatives (`a|b|c`), the literal values; `None` otherwise.
    /// Lets an index look values up directly instead of scanning.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        if self.op != MatchOp::Re {
            return None;
        }
        let specials = |c: char| "\\.+*?()[]{}^$".contains(c);
        if self.value.chars().any(specials) {
            return None;
        }
        Some(self.value.split('|').map(str::to_string).collect())
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Eq => "=",
            MatchOp::Neq => "!=",
            MatchOp::Re => "=~",
            MatchOp::Nre => "!~",
        };
        write!(f, "{}{}{:?}", self.name, op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::new(MatchOp::Re, "job", "no").unwrap();
        assert!(m.matches("no"));
        assert!(!m.matches("node"));
        let n = Matcher::new(MatchOp::Nre, "job", "a.*").unwrap();
        assert!(n.matches("b"));
        assert!(!n.matches("abc"));
        assert!(n.matches_empty());
    }

    #[test]
    fn bad_regex_names_label_and_pattern() {
        let e = Matcher::new(MatchOp::Re, "job", "(").unwrap_err();
        assert!(e.to_string().contains("job"), "{e}");
    }

    #[test]
    fn set_matches_only_for_plain_alternatives() {
        let m = Matcher::new(MatchOp::Re, "a", "x|y").unwrap();
        assert_eq!(m.set_matches(), Some(vec!["x".into(), "y".into()]));
        let m = Matcher::new(MatchOp::Re, "a", "x.*").unwrap();
        assert_eq!(m.set_matches(), None);
    }
}
