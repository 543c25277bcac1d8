//! Positions for parse errors.
//!
//! promql-parser reports a grammar error as a bare "invalid promql query" and
//! a lexer error without its place. This module finds the place and words the
//! message as Prometheus does: `1:7: parse error: unexpected "="`.
//!
//! A grammar error is located by growing the query one token at a time: the
//! first prefix that no short completion (an operand, a label matcher, a
//! duration, then the closing brackets) turns into a valid query ends with
//! the unexpected token. If every prefix can be completed, the query ended
//! too early. A lexer error is located at the end of the shortest prefix that
//! fails with the same message.

use lrpar::{Lexeme, Lexer};

/// Longest text located (in tokens for grammar errors, bytes for lexer
/// errors): locating costs a parse per token and completion, so very long
/// queries keep the bare message.
const MAX_TOKENS: usize = 400;
const MAX_LEXER_BYTES: usize = 4096;

/// What promql-parser says for any grammar error.
const GENERIC: &str = "invalid promql query";

/// Operands and fragments tried after a prefix, before its closing brackets.
const COMPLETIONS: &[&str] = &[
    "",
    " 1",
    " x",
    " (x)",
    " 1, x",
    " x, \"a\"",
    "\"\"",
    "=\"\"",
    " 5m",
    ":5m",
    " by (x) (x)",
];

/// Rewrites a promql-parser error message for `text` with its position.
/// Messages that are not about syntax (type errors found while building the
/// tree) are returned unchanged.
pub(crate) fn describe(text: &str, err: String) -> String {
    if err == GENERIC {
        return match locate_grammar_error(text) {
            Some((offset, what)) => format!("{}: parse error: {what}", position(text, offset)),
            None => format!("parse error: {err}"),
        };
    }
    if promql_parser::parser::lexer(text).is_err() {
        return match locate_lexer_error(text, &err) {
            Some(offset) => format!("{}: parse error: {err}", position(text, offset)),
            None => format!("parse error: {err}"),
        };
    }
    err
}

/// `line:column` (both from 1, the column in characters) of byte `offset`.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    format!("{line}:{col}")
}

/// Byte offset and description of the first token no valid query can have
/// there, or of the end of the text.
fn locate_grammar_error(text: &str) -> Option<(usize, String)> {
    let lexer = promql_parser::parser::lexer(text).ok()?;
    let spans: Vec<(usize, usize)> = lexer
        .iter()
        .filter_map(|l| l.ok())
        .map(|l| (l.span().start(), l.span().end()))
        .collect();
    if spans.is_empty() || spans.len() > MAX_TOKENS {
        return None;
    }
    for (start, end) in &spans {
        if !can_complete(&text[..*end]) {
            return Some((*start, unexpected(&text[*start..*end])));
        }
    }
    Some((text.trim_end().len(), "unexpected end of input".to_string()))
}

/// Whether some short completion makes `prefix` a valid query.
fn can_complete(prefix: &str) -> bool {
    let closers = closers(prefix);
    COMPLETIONS.iter().any(|middle| {
        let candidate = format!("{prefix}{middle}{closers}");
        promql_parser::parser::parse(&candidate).is_ok()
    })
}

/// The brackets `prefix` leaves open, closed innermost first (quoted text
/// and comments skipped).
fn closers(prefix: &str) -> String {
    let mut open = Vec::new();
    let mut quote = None;
    let mut chars = prefix.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), '\\') if q != '`' => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '#') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            (None, '(') => open.push(')'),
            (None, '{') => open.push('}'),
            (None, '[') => open.push(']'),
            (None, ')' | '}' | ']') => {
                open.pop();
            }
            _ => {}
        }
    }
    open.iter().rev().collect()
}

/// Prometheus's wording for an unexpected token.
fn unexpected(token: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "and",
        "or",
        "unless",
        "atan2",
    ];
    let lower = token.to_ascii_lowercase();
    let first = token.chars().next().unwrap_or(' ');
    if KEYWORDS.contains(&lower.as_str()) {
        format!("unexpected <{lower}>")
    } else if first.is_ascii_digit() || (first == '.' && token.len() > 1) {
        format!("unexpected number {token:?}")
    } else if first.is_alphabetic() || first == '_' || first == ':' && token.len() > 1 {
        format!("unexpected identifier {token:?}")
    } else if matches!(first, '"' | '\'' | '`') {
        format!("unexpected string {token}")
    } else {
        format!("unexpected {token:?}")
    }
}

/// Byte offset of the character at which the lexer first fails with `err`.
fn locate_lexer_error(text: &str, err: &str) -> Option<usize> {
    if err.starts_with("unclosed") {
        // Found at the end of the text, as Prometheus reports it.
        return Some(text.trim_end().len());
    }
    if text.len() > MAX_LEXER_BYTES {
        return None;
    }
    let mut ends: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
    ends.dedup();
    ends.into_iter()
        .find_map(|end| match promql_parser::parser::lexer(&text[..end]) {
            Err(e) if e == err => text[..end].char_indices().last().map(|(i, _)| i),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(q: &str) -> String {
        let err = promql_parser::parser::parse(q).unwrap_err();
        describe(q, err)
    }

    #[test]
    fn grammar_errors_say_where() {
        assert_eq!(msg("up == = 0"), r#"1:7: parse error: unexpected "=""#);
        assert_eq!(msg("sum(x) +"), "1:9: parse error: unexpected end of input");
        assert_eq!(msg("up +"), "1:5: parse error: unexpected end of input");
        assert_eq!(
            msg("up up"),
            r#"1:4: parse error: unexpected identifier "up""#
        );
        assert_eq!(msg("1 2"), r#"1:3: parse error: unexpected number "2""#);
        assert_eq!(
            msg("sum(x) by"),
            "1:10: parse error: unexpected end of input"
        );
        assert_eq!(msg("x by (a)"), "1:3: parse error: unexpected <by>");
        assert_eq!(msg("up ==\n = 0"), r#"2:2: parse error: unexpected "=""#);
    }

    #[test]
    fn lexer_errors_say_where() {
        assert_eq!(
            msg("sum(x))"),
            "1:7: parse error: unexpected right parenthesis ')'"
        );
        assert_eq!(
            msg("sum(rate(x[5m])"),
            "1:16: parse error: unclosed left parenthesis"
        );
        assert_eq!(
            msg("up{a=\"b\""),
            "1:3: parse error: unexpected end of input inside braces"
        );
    }

    #[test]
    fn type_errors_are_unchanged() {
        let q = "rate(x)";
        let err = promql_parser::parser::parse(q).unwrap_err();
        assert_eq!(describe(q, err.clone()), err);
    }
}
