//! Series selectors (`up{job="node"}`, `{__name__=~"up|x"}`,
//! `{job="a" or job="b"}`, `rate_me{a=~"x.*"}[5m]`) as matcher sets: what the
//! HTTP API's `match[]` and the dynamic rules' `selector` accept.
//!
//! ```
//! use argus_model::Matcher;
//! let s = argus_promql::parse_selector(r#"up{job="a" or job="b"}[5m]"#).unwrap();
//! assert_eq!(s.sets.len(), 2);
//! assert_eq!(s.sets[1], vec![Matcher::eq("__name__", "up"), Matcher::eq("job", "b")]);
//! assert_eq!(s.range_ms, Some(300_000));
//! let e = argus_promql::parse_selector(r#"{job=~".*"}"#).unwrap_err();
//! assert!(e.to_string().contains("at least one non-empty matcher"));
//! ```

use argus_model::{MatchOp, Matcher};
use promql_parser::parser::Expr;

use crate::{parse, ParseLimits, PromqlError};

/// A parsed series selector: the matchers and, for `x[5m]`, the range in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// Matcher sets (more than one for `or`), the metric name included as `__name__="..."`.
    pub sets: Vec<Vec<Matcher>>,
    /// The range of a matrix selector, if one was given.
    pub range_ms: Option<i64>,
}

/// Why a text is not a usable series selector.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SelectorError {
    /// The text does not parse as PromQL.
    #[error("{0}")]
    Parse(#[from] PromqlError),
    /// It parses, but is not a vector or matrix selector.
    #[error("{text:?} is not a series selector like up{{job=\"x\"}}")]
    NotASelector {
        /// The selector as written.
        text: String,
    },
    /// It has an `offset` or `@` modifier.
    #[error("{text:?}: offset and @ are not allowed in a series selector")]
    Modifier {
        /// The selector as written.
        text: String,
    },
    /// A matcher is invalid (for example a regular expression that does not compile).
    #[error("{0}")]
    Matcher(#[from] argus_model::ModelError),
    /// Every matcher of a set matches the empty string.
    #[error("{text:?}: vector selector must contain at least one non-empty matcher")]
    MatchesEverything {
        /// The selector as written.
        text: String,
    },
}

/// Parses a series selector. Like Prometheus, refuses selectors whose every
/// matcher matches the empty string. The text is parsed with the default
/// [`ParseLimits`].
pub fn parse_selector(s: &str) -> Result<Selector, SelectorError> {
    let expr = parse(s, &ParseLimits::default())?;
    let (vs, range_ms) = match &expr {
        Expr::VectorSelector(vs) => (vs, None),
        Expr::MatrixSelector(m) => (&m.vs, Some(m.range.as_millis() as i64)),
        _ => {
            return Err(SelectorError::NotASelector {
                text: s.to_string(),
            })
        }
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(SelectorError::Modifier {
            text: s.to_string(),
        });
    }
    let sets = convert_matchers(vs.name.as_ref(), &vs.matchers)?;
    if sets.iter().any(|set| set.iter().all(|m| m.matches_empty())) {
        return Err(SelectorError::MatchesEverything {
            text: s.to_string(),
        });
    }
    Ok(Selector { sets, range_ms })
}

fn convert_group(
    name: Option<&String>,
    group: &[promql_parser::label::Matcher],
) -> Result<Vec<Matcher>, SelectorError> {
    let mut out = Vec::new();
    if let Some(n) = name {
        out.push(Matcher::eq("__name__", n));
    }
    for m in group {
        use promql_parser::label::MatchOp as P;
        let op = match &m.op {
            P::Equal => MatchOp::Eq,
            P::NotEqual => MatchOp::Neq,
            P::Re(_) => MatchOp::Re,
            P::NotRe(_) => MatchOp::Nre,
        };
        out.push(Matcher::new(op, &m.name, &m.value)?);
    }
    Ok(out)
}

/// The matcher sets of a selector: one, or one per `or` branch
/// (`{a="1" or b="2"}`); a series matches the selector if it matches any set.
fn convert_matchers(
    name: Option<&String>,
    ms: &promql_parser::label::Matchers,
) -> Result<Vec<Vec<Matcher>>, SelectorError> {
    if ms.or_matchers.is_empty() {
        return Ok(vec![convert_group(name, &ms.matchers)?]);
    }
    let mut sets = Vec::new();
    for g in &ms.or_matchers {
        // Matchers written before the first `or` are moved into the first group
        // by the parser; any still outside the groups apply to every branch.
        let mut all = g.clone();
        all.extend(ms.matchers.iter().cloned());
        sets.push(convert_group(name, &all)?);
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        let s = parse_selector(r#"up{job=~"n.*"}[5m]"#).unwrap();
        assert_eq!(s.sets.len(), 1);
        assert_eq!(s.sets[0].len(), 2);
        assert_eq!(s.range_ms, Some(300_000));
        let s = parse_selector(r#"{__name__=~"up|x", job!=""}"#).unwrap();
        assert_eq!(
            s.sets,
            vec![vec![
                Matcher::new(MatchOp::Re, "__name__", "up|x").unwrap(),
                Matcher::new(MatchOp::Neq, "job", "").unwrap(),
            ]]
        );
        assert!(matches!(
            parse_selector(r#"{job="a" or x=~".*"}"#),
            Err(SelectorError::MatchesEverything { .. })
        ));
        assert!(matches!(
            parse_selector("up offset 5m"),
            Err(SelectorError::Modifier { .. })
        ));
        assert!(matches!(
            parse_selector("sum(up)"),
            Err(SelectorError::NotASelector { .. })
        ));
        assert!(matches!(
            parse_selector("up{"),
            Err(SelectorError::Parse(_))
        ));
        assert_eq!(
            parse_selector("sum(up)").unwrap_err().to_string(),
            "\"sum(up)\" is not a series selector like up{job=\"x\"}"
        );
    }
}
