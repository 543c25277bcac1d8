//! The lexing pieces of the text-format parser: names, quoted values,
//! tokens, sample values and timestamps.

use super::TextFormat;
use std::borrow::Cow;

pub(super) fn char_at(line: &str, i: usize) -> char {
    line.get(i..).and_then(|s| s.chars().next()).unwrap_or(' ')
}

pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end of a metric name (`colon` allowed) or label name starting at `i`; `i` when none.
pub(super) fn scan_name(b: &[u8], i: usize, colon: bool) -> usize {
    let ok_first = |c: u8| c.is_ascii_alphabetic() || c == b'_' || (colon && c == b':');
    let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || (colon && c == b':');
    if i >= b.len() || !ok_first(b[i]) {
        return i;
    }
    let mut j = i + 1;
    while j < b.len() && ok(b[j]) {
        j += 1;
    }
    j
}

/// A quoted label value starting just after its opening quote; returns the
/// value and the index after the closing quote.
pub(super) fn scan_value(
    line: &str,
    start: usize,
) -> Result<(Cow<'_, str>, usize), (usize, String)> {
    let b = line.as_bytes();
    let mut i = start;
    let mut owned: Option<String> = None;
    let mut run = start;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let v = match owned {
                    Some(mut s) => {
                        s.push_str(&line[run..i]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&line[start..i]),
                };
                return Ok((v, i + 1));
            }
            b'\\' => {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&line[run..i]);
                match b.get(i + 1) {
                    Some(b'\\') => s.push('\\'),
                    Some(b'"') => s.push('"'),
                    Some(b'n') => s.push('\n'),
                    Some(_) => {
                        return Err((
                            i + 1,
                            format!(
                                "invalid escape sequence \"\\{}\" in label value",
                                char_at(line, i + 1)
                            ),
                        ))
                    }
                    None => {
                        return Err((
                            i + 1,
                            "unterminated label value: missing closing '\"'".into(),
                        ))
                    }
                }
                i += 2;
                run = i;
            }
            _ => i += 1,
        }
    }
    Err((
        start,
        "unterminated label value: missing closing '\"'".into(),
    ))
}

/// The whitespace-delimited token at `i` and its end.
pub(super) fn token(line: &str, i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let mut j = i;
    while j < b.len() && b[j] != b' ' && b[j] != b'\t' {
        j += 1;
    }
    (&line[i..j], j)
}

/// A sample value: a decimal float, or `+Inf`, `-Inf`, `NaN` (any case).
pub(super) fn parse_value(tok: &str) -> Option<f64> {
    let ok = tok
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
    if !ok {
        return None;
    }
    tok.parse::<f64>().ok()
}

pub(super) fn parse_timestamp(tok: &str, format: TextFormat) -> Result<i64, String> {
    match format {
        TextFormat::Prometheus => tok
            .parse::<i64>()
            .map_err(|_| format!("invalid timestamp {tok:?}: expected integer milliseconds")),
        TextFormat::OpenMetrics => {
            let secs = parse_value(tok)
                .ok_or_else(|| format!("invalid timestamp {tok:?}: expected seconds"))?;
            let ms = (secs * 1000.0).round();
            if !ms.is_finite() || ms.abs() >= 9.2e18 {
                return Err(format!(
                    "invalid timestamp {tok:?}: must be a finite number of seconds"
                ));
            }
            Ok(ms as i64)
        }
    }
}

pub(super) fn unescape_help(text: &str, format: TextFormat) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if format == TextFormat::OpenMetrics => out.push('"'),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}
