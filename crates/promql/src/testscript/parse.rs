//! Parser for Prometheus's `.test` script language (see `FORMAT.md`).

use argus_model::{parse_duration, Labels, METRIC_NAME, STALE_NAN};

/// One point of a series description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// A float value (stale markers are `STALE_NAN`).
    Value(f64),
    /// `_`: no sample at this position.
    Omitted,
    /// A native histogram `{{...}}` (not evaluated by this engine).
    Histogram,
}

/// A series with its expanded points.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    /// The label set.
    pub labels: Labels,
    /// One point per interval/step.
    pub points: Vec<Point>,
}

/// What an `eval` expects as its result.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A list of series (possibly empty).
    Series(Vec<SeriesDesc>),
    /// A scalar.
    Scalar(f64),
    /// A string.
    Str(String),
}

/// An annotation/error expectation (`expect <kind> [msg|regex]: <text>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// `fail`, `warn`, `info`, `no_warn`, `no_info` or `ordered`.
    pub kind: String,
    /// Exact message.
    pub msg: Option<String>,
    /// Regular expression.
    pub regex: Option<String>,
}

/// One `eval` command.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCmd {
    /// 1-based line number of the `eval` line.
    pub line: usize,
    /// The PromQL expression.
    pub expr: String,
    /// `Some(t)` for an instant query at `t` ms.
    pub at: Option<i64>,
    /// Range query `(start, end, step)` in ms.
    pub range: Option<(i64, i64, i64)>,
    /// Expectations, legacy forms included (`eval_fail` becomes `expect fail`...).
    pub expects: Vec<Expect>,
    /// The expected result.
    pub expected: Expected,
}

impl EvalCmd {
    /// Whether an expectation of `kind` is present.
    pub fn has(&self, kind: &str) -> bool {
        self.expects.iter().any(|e| e.kind == kind)
    }
}

/// A script command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `load <interval>` (with `nhcb` for `load_with_nhcb`).
    Load {
        /// Interval in ms.
        interval: i64,
        /// The series.
        series: Vec<SeriesDesc>,
        /// Whether classic histograms are also converted to native ones.
        nhcb: bool,
    },
    /// `clear`.
    Clear,
    /// `eval ...`.
    Eval(EvalCmd),
}

/// Parses a time such as `1m`, `0`, `10s` or a plain number of seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = parse_duration(s) {
        return Ok(ms);
    }
    s.parse::<f64>()
        .map(|x| (x * 1000.0).round() as i64)
        .map_err(|_| format!("invalid time {s:?}"))
}

/// Parses a number the way Go's test runner does (`Inf`, `NaN`, hex...).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()? as f64
    } else {
        match body.to_ascii_lowercase().as_str() {
            "inf" | "infinity" => f64::INFINITY,
            "nan" => f64::NAN,
            _ => {
                if body.is_empty()
                    || !body
                        .chars()
                        .all(|c| c.is_ascii_digit() || "._eE+-".contains(c))
                {
                    return None;
                }
                body.replace('_', "").parse::<f64>().ok()?
            }
        }
    };
    Some(if neg { -v } else { v })
}

/// Unquotes a Go-style quoted string (`"..."`, `'...'` or `` `...` ``).
pub fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    if q == '`' {
        return Some(inner.to_string());
    }
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'u' => {
                let h: String = it.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
            }
            'x' => {
                let h: String = it.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
            }
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    Some(out)
}

/// Reads a quoted string at the start of `s`; returns it and the rest.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let q = s.chars().next()?;
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'\\' && q != '`' {
            i += 2;
            continue;
        }
        if b[i] as char == q {
            return Some((unquote(&s[..=i])?, &s[i + 1..]));
        }
        i += 1;
    }
    None
}

/// Parses `metric{a="b"}` / `{__name__="m"}` / `{}` at the start of `s`.
pub fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let s = s.trim_start();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    if name_end > 0 {
        pairs.push((METRIC_NAME.to_string(), s[..name_end].to_string()));
    }
    let mut rest = &s[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        rest = r.trim_start();
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let (lname, r) = if rest.starts_with('"') || rest.starts_with('\'') {
                take_quoted(rest).ok_or("bad quoted label name")?
            } else {
                let e = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or("unterminated label set")?;
                (rest[..e].to_string(), &rest[e..])
            };
            let r = r.trim_start();
            if let Some(r2) = r.strip_prefix('=') {
                let (val, r3) = take_quoted(r2.trim_start()).ok_or("bad label value")?;
                pairs.push((lname, val));
                rest = r3.trim_start();
            } else {
                // A quoted metric name inside the braces.
                pairs.push((METRIC_NAME.to_string(), lname));
                rest = r;
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            }
        }
    }
    if pairs.is_empty() && !s.starts_with('{') {
        return Err(format!("cannot parse series {s:?}"));
    }
    Ok((Labels::from_pairs(&pairs), rest))
}

fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth <= 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Expands a values string: `1 2+3x2 _ _x3 stale {{...}}`.
pub fn parse_values(s: &str) -> Result<Vec<Point>, String> {
    let mut out = Vec::new();
    for tok in split_values(s) {
        if tok.starts_with("{{") {
            let n = tok
                .rsplit_once("}}x")
                .and_then(|(_, n)| n.parse::<usize>().ok())
                .map(|n| n + 1)
                .unwrap_or(1);
            out.extend(std::iter::repeat_n(Point::Histogram, n));
            continue;
        }
        let (base, times) = match tok.rsplit_once('x') {
            Some((b, n))
                if !b.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() =>
            {
                (
                    b.to_string(),
                    Some(n.parse::<usize>().map_err(|e| e.to_string())?),
                )
            }
            _ => (tok.clone(), None),
        };
        if base == "_" {
            out.extend(std::iter::repeat_n(Point::Omitted, times.unwrap_or(1)));
            continue;
        }
        if base == "stale" {
            out.extend(std::iter::repeat_n(
                Point::Value(STALE_NAN),
                times.unwrap_or(1),
            ));
            continue;
        }
        let Some(times) = times else {
            out.push(Point::Value(
                parse_number(&base).ok_or(format!("bad value {tok:?}"))?,
            ));
            continue;
        };
        // a+bxN / a-bxN / axN
        let bytes = base.as_bytes();
        let mut split = None;
        for i in 1..bytes.len() {
            if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                split = Some(i);
            }
        }
        let (start, step) = match split {
            Some(i) => {
                let a = parse_number(&base[..i]).ok_or(format!("bad value {tok:?}"))?;
                let b = parse_number(&base[i + 1..]).ok_or(format!("bad value {tok:?}"))?;
                (a, if bytes[i] == b'-' { -b } else { b })
            }
            None => (
                parse_number(&base).ok_or(format!("bad value {tok:?}"))?,
                0.0,
            ),
        };
        let mut k = start;
        for _ in 0..=times {
            out.push(Point::Value(k));
            k += step;
        }
    }
    Ok(out)
}

/// Parses a series line `metric{...} values`.
pub fn parse_series_line(s: &str) -> Result<SeriesDesc, String> {
    let (labels, rest) = parse_labels(s)?;
    Ok(SeriesDesc {
        labels,
        points: parse_values(rest)?,
    })
}

fn parse_expect(line: &str) -> Result<Expect, String> {
    let rest = line.trim_start_matches("expect").trim();
    let (kind, tail) = match rest.split_once(char::is_whitespace) {
        Some((k, t)) => (k.to_string(), t.trim()),
        None => (rest.to_string(), ""),
    };
    let mut e = Expect {
        kind,
        msg: None,
        regex: None,
    };
    if let Some(m) = tail.strip_prefix("msg:") {
        e.msg = Some(m.trim().to_string());
    } else if let Some(r) = tail.strip_prefix("regex:") {
        e.regex = Some(r.trim().to_string());
    } else if !tail.is_empty() {
        return Err(format!("bad expect line {line:?}"));
    }
    Ok(e)
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    // As in Prometheus: comment lines become blank lines, which end blocks.
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let lineno = i + 1;
        i += 1;
        if line.is_empty() {
            continue;
        }
        let mut block = Vec::new();
        while line != "clear" && i < lines.len() && !lines[i].is_empty() {
            block.push(lines[i].clone());
            i += 1;
        }
        let (word, rest) = line
            .split_once(char::is_whitespace)
            .unwrap_or((line.as_str(), ""));
        match word {
            "clear" => cmds.push(Command::Clear),
            "load" | "load_with_nhcb" => {
                let interval = parse_time(rest).map_err(|e| format!("line {lineno}: {e}"))?;
                let series = block
                    .iter()
                    .map(|l| parse_series_line(l))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| format!("line {lineno}: {e}"))?;
                cmds.push(Command::Load {
                    interval,
                    series,
                    nhcb: word == "load_with_nhcb",
                });
            }
            w if w.starts_with("eval") => cmds.push(Command::Eval(
                parse_eval(lineno, w, rest, &block).map_err(|e| format!("line {lineno}: {e}"))?,
            )),
            _ => return Err(format!("line {lineno}: unknown command {line:?}")),
        }
    }
    Ok(cmds)
}

fn parse_eval(line: usize, word: &str, rest: &str, block: &[String]) -> Result<EvalCmd, String> {
    let mut expects = Vec::new();
    if let Some(k) = word.strip_prefix("eval_") {
        expects.push(Expect {
            kind: k.to_string(),
            msg: None,
            regex: None,
        });
    }
    let rest = rest.trim();
    let (at, range, expr) = if let Some(r) = rest.strip_prefix("instant") {
        let r = r.trim_start();
        let r = r.strip_prefix("at").ok_or("expected 'at'")?.trim_start();
        let (t, e) = r
            .split_once(char::is_whitespace)
            .ok_or("missing expression")?;
        (Some(parse_time(t)?), None, e.trim().to_string())
    } else if let Some(r) = rest.strip_prefix("range") {
        let r = r
            .trim_start()
            .strip_prefix("from")
            .ok_or("expected 'from'")?
            .trim_start();
        let (from, r) = r.split_once(" to ").ok_or("expected 'to'")?;
        let (to, r) = r.trim().split_once(" step ").ok_or("expected 'step'")?;
        let (step, e) = r
            .trim()
            .split_once(char::is_whitespace)
            .ok_or("missing expression")?;
        (
            None,
            Some((parse_time(from)?, parse_time(to)?, parse_time(step)?)),
            e.trim().to_string(),
        )
    } else {
        return Err(format!("bad eval line {rest:?}"));
    };
    let mut series = Vec::new();
    let mut expected = None;
    for l in block {
        if l.starts_with("expect ") || l == "expect" {
            expects.push(parse_expect(l)?);
        } else if let Some(m) = l.strip_prefix("expected_fail_message") {
            expects.push(Expect {
                kind: "fail".into(),
                msg: Some(m.trim().to_string()),
                regex: None,
            });
        } else if let Some(m) = l.strip_prefix("expected_fail_regexp") {
            expects.push(Expect {
                kind: "fail".into(),
                msg: None,
                regex: Some(m.trim().to_string()),
            });
        } else if let Some(v) = parse_number(l) {
            expected = Some(Expected::Scalar(v));
        } else if let Some(s) = unquote(l) {
            expected = Some(Expected::Str(s));
        } else {
            series.push(parse_series_line(l)?);
        }
    }
    Ok(EvalCmd {
        line,
        expr,
        at,
        range,
        expects,
        expected: expected.unwrap_or(Expected::Series(series)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_values() {
        let v = parse_values("5 2+3x2 _ stale 1x1 -1-1x1 _x2").unwrap();
        assert_eq!(
            v[..4],
            [
                Point::Value(5.0),
                Point::Value(2.0),
                Point::Value(5.0),
                Point::Value(8.0)
            ]
        );
        assert_eq!(v[4], Point::Omitted);
        assert!(matches!(v[5], Point::Value(x) if argus_model::is_stale_nan(x)));
        assert_eq!(
            v[6..10],
            [
                Point::Value(1.0),
                Point::Value(1.0),
                Point::Value(-1.0),
                Point::Value(-2.0)
            ]
        );
        assert_eq!(v.len(), 12);
        assert_eq!(
            parse_values("{{schema:1 sum:3 count:22 buckets:[5 10 7]}}x2 1")
                .unwrap()
                .len(),
            4
        );
    }

    #[test]
    fn parses_labels() {
        let (l, rest) = parse_labels(r#"m{a="x,}", b='y'} 1 2"#).unwrap();
        assert_eq!(l.get("a"), Some("x,}"));
        assert_eq!(l.get("b"), Some("y"));
        assert_eq!(l.get("__name__"), Some("m"));
        assert_eq!(rest.trim(), "1 2");
        let (l, _) = parse_labels(r#"{"some.metric", a="1"} 1"#).unwrap();
        assert_eq!(l.get("__name__"), Some("some.metric"));
    }

    #[test]
    fn parses_eval_block() {
        let s = "load 1m\n  m 1 2\n\n# c\neval_fail instant at 1m foo(\n  expected_fail_message bad\n\neval range from 0 to 2m step 1m m\n  m 1 2 _\n";
        let c = parse_script(s).unwrap();
        assert_eq!(c.len(), 3);
        let Command::Eval(e) = &c[1] else { panic!() };
        assert_eq!(e.at, Some(60_000));
        assert!(e.has("fail"));
        let Command::Eval(e) = &c[2] else { panic!() };
        assert_eq!(e.range, Some((0, 120_000, 60_000)));
    }
}
