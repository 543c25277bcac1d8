//! Guarded parsing: every PromQL text from outside (HTTP queries, rule files,
//! `format_query`) goes through [`parse`], which bounds what a hostile or
//! careless query can cost before the parser, the evaluator or `Drop` recurse.
//!
//! - the text's length is bounded ([`ParseLimits::max_length`]);
//! - bracket nesting is measured on the raw text, before parsing;
//! - the parser runs on a stack sized for the text, never on the caller's
//!   (a 2 MiB async worker stack overflows on `1+1+…+1` with 2,000 terms);
//! - the tree's depth is measured without recursion and bounded
//!   ([`ParseLimits::max_depth`]); a tree refused for depth is dropped on the
//!   large stack too.
//!
//! ```
//! use argus_promql::{parse, ParseLimits};
//! let limits = ParseLimits::default();
//! assert!(parse("sum by (job) (rate(x[5m]))", &limits).is_ok());
//! let deep = format!("{}1{}", "abs(".repeat(1500), ")".repeat(1500));
//! let err = parse(&deep, &limits).unwrap_err().to_string();
//! assert!(err.contains("nested"), "{err}");
//! ```

use promql_parser::parser::Expr;

use crate::error::PromqlError;

/// Limits on the shape of a query, enforced by [`parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Longest query text accepted, in bytes. 0 means unlimited.
    pub max_length: usize,
    /// Deepest expression tree accepted (brackets, operators and function
    /// calls each add a level). Always bounded; 0 means the default.
    pub max_depth: usize,
}

/// Default longest query: 64 KiB. Generated dashboard queries with long
/// regular expressions stay well under it.
pub const DEFAULT_MAX_LENGTH: usize = 64 << 10;
/// Default deepest expression: 256 levels. Hand-written and generated queries
/// seldom pass 30; the limit exists so that evaluation and `Drop`, which
/// recurse over the tree, stay bounded.
pub const DEFAULT_MAX_DEPTH: usize = 256;

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_length: DEFAULT_MAX_LENGTH,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl ParseLimits {
    fn depth(&self) -> usize {
        if self.max_depth == 0 {
            DEFAULT_MAX_DEPTH
        } else {
            self.max_depth
        }
    }
}

/// Stack given to the parser: 1 MiB plus 2 KiB per byte of text (the parser
/// and its error recovery use a few hundred bytes per token, with a wide
/// margin for unoptimised builds). Allocated lazily by the OS, so only what
/// is touched costs memory.
fn parser_stack(len: usize) -> usize {
    (1 << 20) + len.saturating_mul(2 << 10)
}

/// Parses `text` within `limits`. Errors are [`PromqlError::Parse`] (HTTP 400)
/// and say which limit was passed.
pub fn parse(text: &str, limits: &ParseLimits) -> Result<Expr, PromqlError> {
    if limits.max_length > 0 && text.len() > limits.max_length {
        return Err(PromqlError::Parse(format!(
            "query is {} bytes long, more than the limit of {} bytes",
            text.len(),
            limits.max_length
        )));
    }
    let max_depth = limits.depth();
    let nesting = bracket_depth(text);
    if nesting > max_depth {
        return Err(too_deep(nesting, max_depth));
    }
    check_duration_numbers(text)?;
    stacker::grow(parser_stack(text.len()), || {
        let expr = promql_parser::parser::parse(text)
            .map_err(|e| PromqlError::Parse(crate::locate::describe(text, e)))?;
        let depth = tree_depth(&expr);
        if depth > max_depth {
            // Dropped here, on the large stack: `Drop` recurses too.
            drop(expr);
            return Err(too_deep(depth, max_depth));
        }
        Ok(expr)
    })
}

/// Runs `f` on a 16 MiB stack: for work that recurses over a parsed tree
/// outside the evaluator (pretty-printing, `Display`, `Clone`, `Drop`).
pub fn with_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::grow(16 << 20, f)
}

fn too_deep(depth: usize, max: usize) -> PromqlError {
    PromqlError::Parse(format!(
        "query is nested {depth} levels deep, more than the limit of {max}"
    ))
}

/// The largest number of seconds a duration written as a plain number may
/// have (about 31.7 million years); the parser cannot turn a larger one, an
/// infinite one or NaN into a duration.
const MAX_DURATION_SECONDS: f64 = 1e15;

/// Refuses a plain number used as a duration (after `offset`, or inside
/// `[…]`) that is too large to be one, before the parser sees it.
fn check_duration_numbers(text: &str) -> Result<(), PromqlError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_brackets = 0usize;
    let mut after_offset = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                after_offset = false;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'[' => in_brackets += 1,
            b']' => in_brackets = in_brackets.saturating_sub(1),
            _ => {}
        }
        if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                // An exponent's sign belongs to the number.
                if (b[i] == b'e' || b[i] == b'E')
                    && i + 1 < b.len()
                    && (b[i + 1] == b'+' || b[i + 1] == b'-')
                    && b[start].is_ascii_digit()
                {
                    i += 1;
                }
                i += 1;
            }
            let word = &text[start..i];
            if word.eq_ignore_ascii_case("offset") {
                after_offset = true;
                continue;
            }
            if after_offset || in_brackets > 0 {
                let lower = word.to_ascii_lowercase();
                let number = if let Some(hex) = lower.strip_prefix("0x") {
                    u64::from_str_radix(hex, 16).ok().map(|v| v as f64)
                } else {
                    lower.parse::<f64>().ok()
                };
                if let Some(v) = number {
                    if !v.is_finite() || v.abs() > MAX_DURATION_SECONDS {
                        return Err(PromqlError::Parse(format!(
                            "{word} is not a duration: a duration written as a number of seconds must be finite and at most {MAX_DURATION_SECONDS:e}"
                        )));
                    }
                }
            }
            after_offset = false;
            continue;
        }
        if !c.is_ascii_whitespace() && c != b'-' && c != b'+' {
            after_offset = false;
        }
        i += 1;
    }
    Ok(())
}

/// Deepest nesting of `()`, `[]` and `{}` outside string literals and comments.
fn bracket_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '"' | '\'' | '`' => {
                // Skip the literal; backslash escapes only in "" and ''.
                while let Some(d) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    max
}

/// The tree's depth (a leaf is 1), walked with an explicit stack.
pub fn tree_depth(expr: &Expr) -> usize {
    let mut max = 0usize;
    let mut todo: Vec<(&Expr, usize)> = vec![(expr, 1)];
    while let Some((e, d)) = todo.pop() {
        max = max.max(d);
        let d = d + 1;
        match e {
            Expr::Aggregate(a) => {
                todo.push((&a.expr, d));
                if let Some(p) = &a.param {
                    todo.push((p, d));
                }
            }
            Expr::Unary(u) => todo.push((&u.expr, d)),
            Expr::Binary(b) => {
                todo.push((&b.lhs, d));
                todo.push((&b.rhs, d));
            }
            Expr::Paren(p) => todo.push((&p.expr, d)),
            Expr::Subquery(s) => todo.push((&s.expr, d)),
            Expr::Call(c) => todo.extend(c.args.args.iter().map(|a| (a.as_ref(), d))),
            Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        // The size of a tokio worker's stack: what the HTTP handlers run on.
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn a_syntax_error_says_where_and_is_bad_data() {
        let err = parse("up == = 0", &ParseLimits::default()).unwrap_err();
        assert_eq!(err.to_string(), r#"1:7: parse error: unexpected "=""#);
        assert_eq!(err.error_type(), "bad_data");
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn a_long_sum_is_refused_without_overflowing_a_small_stack() {
        let q = vec!["1"; 2000].join("+");
        let err = run_on_small_stack(move || parse(&q, &ParseLimits::default()).unwrap_err());
        assert!(err.to_string().contains("nested 2000 levels deep"), "{err}");
    }

    #[test]
    fn deep_function_nesting_is_refused_before_parsing() {
        let q = format!("{}1{}", "abs(".repeat(1500), ")".repeat(1500));
        let err = run_on_small_stack(move || parse(&q, &ParseLimits::default()).unwrap_err());
        assert!(err.to_string().contains("nested 1500 levels deep"), "{err}");
    }

    #[test]
    fn a_query_at_the_depth_limit_parses_and_one_past_it_does_not() {
        let limits = ParseLimits {
            max_length: 0,
            max_depth: 50,
        };
        // n terms of a left-associative sum: depth n.
        let ok = vec!["x"; 50].join(" + ");
        assert_eq!(tree_depth(&parse(&ok, &limits).unwrap()), 50);
        let bad = vec!["x"; 51].join(" + ");
        assert!(parse(&bad, &limits).is_err());
    }

    #[test]
    fn long_texts_are_refused_with_their_length() {
        let q = format!("x{{a=\"{}\"}}", "y".repeat(100));
        let limits = ParseLimits {
            max_length: 64,
            max_depth: 0,
        };
        let err = parse(&q, &limits).unwrap_err().to_string();
        assert!(err.contains("more than the limit of 64 bytes"), "{err}");
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        let q = format!("x{{a=\"{}\"}} # {}", "(".repeat(500), "[".repeat(500));
        assert_eq!(bracket_depth(&q), 1);
        assert!(parse(&q, &ParseLimits::default()).is_ok());
    }

    #[test]
    fn the_parsers_own_errors_pass_through() {
        let err = parse("sum(", &ParseLimits::default()).unwrap_err();
        assert!(matches!(err, PromqlError::Parse(_)));
    }

    #[test]
    fn format_query_of_a_deep_tree_fits() {
        let q = vec!["x"; 250].join(" + ");
        let out = run_on_small_stack(move || {
            let e = parse(&q, &ParseLimits::default()).unwrap();
            with_stack(|| e.prettify())
        });
        assert_eq!(out.matches('x').count(), 250, "{out}");
    }
}
