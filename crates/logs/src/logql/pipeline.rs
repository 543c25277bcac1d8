//! Running a pipeline over one line: line filters, the `json` and `logfmt` parsers, label
//! filters.

use super::lex::{byte_size, go_duration_secs, go_quoted};
use super::parse::{CmpOp, LabelExpr, LabelFmt, LineFilter, LineOp, NumKind, Stage};
use argus_model::Labels;
use serde_json::Value;
use std::borrow::Cow;

/// The label that carries a parser's or a filter's error, as in Loki.
pub const ERROR_LABEL: &str = "__error__";
/// `__error__` when a line is not a JSON object.
pub const JSON_ERR: &str = "JSONParserErr";
/// `__error__` when `logfmt --strict` meets a malformed pair.
pub const LOGFMT_ERR: &str = "LogfmtParserErr";
/// `__error__` when a numeric label filter meets a value that is not a number.
pub const LABEL_FILTER_ERR: &str = "LabelFilterErr";
/// `__error__` when a `line_format` or `label_format` template fails to run.
pub const TEMPLATE_ERR: &str = "TemplateFormatErr";
/// `__error__` when `unwrap` meets a label that is missing or not a number.
pub const SAMPLE_ERR: &str = "SampleExtractionErr";
/// The label that says what went wrong, next to `__error__`, as in Loki.
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";

/// Nesting of JSON objects flattened at most; deeper objects are skipped.
const MAX_JSON_DEPTH: usize = 64;

/// Runs `stages` on one line of a stream; `None` when a filter drops it, else the labels
/// (the stream's, the line's structured metadata, as Loki 3 shows and filters them, plus what
/// parsers extracted) and the line (changed by `line_format`).
pub(crate) fn run<'a, 'l>(
    stages: &[Stage],
    stream: &'a Labels,
    metadata: &[(String, String)],
    line: &'l str,
    ts_ns: i64,
) -> Option<(Cow<'a, Labels>, Cow<'l, str>)> {
    let mut labels = Cow::Borrowed(stream);
    let mut cur: Cow<'l, str> = Cow::Borrowed(line);
    if !metadata.is_empty() {
        let out = labels.to_mut();
        for (k, v) in metadata {
            set_extracted(out, stream, &sanitize(k), v);
        }
    }
    for st in stages {
        match st {
            Stage::Line(f) => {
                if !line_passes(f, &cur) {
                    return None;
                }
            }
            Stage::Json => json(&cur, stream, labels.to_mut()),
            Stage::Decolorize => {
                if cur.contains('\u{1b}') {
                    cur = Cow::Owned(decolorize(&cur));
                }
            }
            Stage::Unpack => {
                if let Some(entry) = unpack(&cur, stream, labels.to_mut()) {
                    cur = Cow::Owned(entry);
                }
            }
            Stage::Logfmt { strict } => logfmt(&cur, stream, labels.to_mut(), *strict),
            Stage::Pattern(p) => {
                if let Some(caps) = p.captures(&cur) {
                    let out = labels.to_mut();
                    for (name, value) in caps {
                        set_extracted(out, stream, name, value);
                    }
                }
            }
            Stage::Regexp(re) => {
                if let Some(caps) = re.captures(&cur) {
                    let out = labels.to_mut();
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            set_extracted(out, stream, name, m.as_str());
                        }
                    }
                }
            }
            Stage::Drop(sels) => {
                let gone: Vec<String> = labels
                    .iter()
                    .filter(|l| sels.iter().any(|s| s.selects(&l.name, &l.value)))
                    .map(|l| l.name.clone())
                    .collect();
                if !gone.is_empty() {
                    let l = labels.to_mut();
                    for n in gone {
                        l.remove(&n);
                    }
                }
            }
            Stage::Keep(sels) => {
                let kept: Labels = labels
                    .iter()
                    .filter(|l| sels.iter().any(|s| s.selects(&l.name, &l.value)))
                    .cloned()
                    .collect();
                if kept.len() != labels.len() {
                    labels = Cow::Owned(kept);
                }
            }
            Stage::Labels(e) => {
                let mut err = None;
                if !label_passes(e, &labels, &mut err) {
                    return None;
                }
                if let Some(e) = err {
                    labels.to_mut().set(ERROR_LABEL, e);
                }
            }
            Stage::LineFormat(t) => match t.render(&labels, &cur, ts_ns) {
                Ok(new) => cur = Cow::Owned(new),
                Err(e) => set_error(labels.to_mut(), TEMPLATE_ERR, &e),
            },
            Stage::LabelFormat(fmts) => label_format(fmts, labels.to_mut(), &cur, ts_ns),
            // The parser moves `unwrap` out of the pipeline.
            Stage::Unwrap(_) => {}
        }
    }
    Some((labels, cur))
}

/// Sets `__error__` (unless a stage before set it) and `__error_details__`.
pub(crate) fn set_error(l: &mut Labels, err: &str, details: &str) {
    if l.get(ERROR_LABEL).is_none() {
        l.set(ERROR_LABEL, err);
        l.set(ERROR_DETAILS_LABEL, details);
    }
}

/// Loki's `label_format`: templates read the labels as they were before the stage; a rename
/// of a missing label does nothing.
fn label_format(fmts: &[LabelFmt], l: &mut Labels, line: &str, ts_ns: i64) {
    let before = l.clone();
    for f in fmts {
        match f {
            LabelFmt::Rename { dst, src } => {
                if let Some(v) = l.get(src).map(str::to_string) {
                    l.remove(src);
                    l.set(dst, &v);
                }
            }
            LabelFmt::Template { dst, tmpl } => match tmpl.render(&before, line, ts_ns) {
                Ok(v) => l.set(dst, &v),
                Err(e) => set_error(l, TEMPLATE_ERR, &e),
            },
        }
    }
}

fn line_passes(f: &LineFilter, line: &str) -> bool {
    match f.op {
        LineOp::Contains => line.contains(f.text.as_str()),
        LineOp::NotContains => !line.contains(f.text.as_str()),
        LineOp::Match => f.re.as_ref().is_some_and(|r| r.is_match(line)),
        LineOp::NotMatch => !f.re.as_ref().is_some_and(|r| r.is_match(line)),
        LineOp::Fits => f.pattern.as_ref().is_some_and(|p| p.fits(line)),
        LineOp::NotFits => !f.pattern.as_ref().is_some_and(|p| p.fits(line)),
    }
}

/// Loki's semantics: a line already in error passes numeric filters (only `__error__`
/// matchers can drop it); a missing label fails them; an unreadable value passes and marks
/// the line `LabelFilterErr`.
pub(crate) fn label_passes(e: &LabelExpr, l: &Labels, err: &mut Option<&'static str>) -> bool {
    match e {
        LabelExpr::And(a, b) => label_passes(a, l, err) && label_passes(b, l, err),
        LabelExpr::Or(a, b) => label_passes(a, l, err) || label_passes(b, l, err),
        LabelExpr::Str(m) => m.matches(l.get(&m.name).unwrap_or("")),
        LabelExpr::Num {
            name,
            op,
            value,
            kind,
        } => {
            if l.get(ERROR_LABEL).is_some() || err.is_some() {
                return true;
            }
            let Some(raw) = l.get(name) else {
                return false;
            };
            let got = match kind {
                NumKind::Number => raw.trim().parse::<f64>().ok(),
                NumKind::Duration => go_duration_secs(raw.trim()),
                NumKind::Bytes => byte_size(raw.trim()),
            };
            let Some(got) = got else {
                *err = Some(LABEL_FILTER_ERR);
                return true;
            };
            match op {
                CmpOp::Eq => got == *value,
                CmpOp::Ne => got != *value,
                CmpOp::Gt => got > *value,
                CmpOp::Ge => got >= *value,
                CmpOp::Lt => got < *value,
                CmpOp::Le => got <= *value,
            }
        }
    }
}

/// A key as a label name: characters outside `[a-zA-Z0-9_]` become `_`, and a leading digit
/// gets a `_` in front.
pub(crate) fn sanitize(key: &str) -> String {
    let mut s: String = key
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        s.insert(0, '_');
    }
    s
}

/// Sets an extracted label; a name the stream already has gets `_extracted` appended.
fn set_extracted(out: &mut Labels, stream: &Labels, name: &str, value: &str) {
    if name.is_empty() {
        return;
    }
    if stream.get(name).is_some() {
        out.set(&format!("{name}_extracted"), value);
    } else {
        out.set(name, value);
    }
}

fn json(line: &str, stream: &Labels, out: &mut Labels) {
    match serde_json::from_str::<serde_json::Map<String, Value>>(line) {
        Ok(obj) => flatten("", &obj, stream, out, 0),
        Err(_) => out.set(ERROR_LABEL, JSON_ERR),
    }
}

fn flatten(
    prefix: &str,
    obj: &serde_json::Map<String, Value>,
    stream: &Labels,
    out: &mut Labels,
    depth: usize,
) {
    if depth > MAX_JSON_DEPTH {
        return;
    }
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            sanitize(k)
        } else {
            let part: String = k
                .trim()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("{prefix}_{part}")
        };
        match v {
            Value::Object(inner) => flatten(&key, inner, stream, out, depth + 1),
            Value::String(s) => set_extracted(out, stream, &key, s),
            Value::Number(n) => set_extracted(out, stream, &key, &n.to_string()),
            Value::Bool(b) => set_extracted(out, stream, &key, if *b { "true" } else { "false" }),
            // Loki's parser without expressions skips arrays; null is an empty value.
            Value::Array(_) | Value::Null => {}
        }
    }
}

/// Parses `key=value key2="quoted value" flag` pairs. Without `strict`, malformed pieces are
/// skipped (Loki's default); with it, the first one stops parsing and marks the line.
fn logfmt(line: &str, stream: &Labels, out: &mut Labels, strict: bool) {
    let b = line.as_bytes();
    let mut i = 0;
    let n = b.len();
    let skip_token = |mut i: usize| {
        while i < n && b[i] > b' ' {
            i += 1;
        }
        i
    };
    while i < n {
        while i < n && b[i] <= b' ' {
            i += 1;
        }
        if i >= n {
            break;
        }
        let ks = i;
        while i < n && b[i] > b' ' && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        if ks == i {
            // `=` or `"` where a key should start.
            if strict {
                out.set(ERROR_LABEL, LOGFMT_ERR);
                return;
            }
            i = skip_token(i + 1);
            continue;
        }
        let key = &line[ks..i];
        if i < n && b[i] == b'"' {
            if strict {
                out.set(ERROR_LABEL, LOGFMT_ERR);
                return;
            }
            i = skip_token(i);
            continue;
        }
        if i >= n || b[i] != b'=' {
            // A key without a value: an empty value, which a label set does not keep.
            continue;
        }
        i += 1;
        if i < n && b[i] == b'"' {
            match go_quoted(line, i) {
                Ok((v, len)) => {
                    set_extracted(out, stream, &sanitize(key), &v);
                    i += len;
                }
                Err(_) => {
                    if strict {
                        out.set(ERROR_LABEL, LOGFMT_ERR);
                        return;
                    }
                    // Skip the rest of the malformed quoted value.
                    i += 1;
                    while i < n && b[i] != b'"' {
                        i += 1;
                    }
                    i = skip_token((i + 1).min(n));
                }
            }
            continue;
        }
        let vs = i;
        let ve = skip_token(i);
        let value = &line[vs..ve];
        i = ve;
        if value.contains(['=', '"']) {
            if strict {
                out.set(ERROR_LABEL, LOGFMT_ERR);
                return;
            }
            continue;
        }
        set_extracted(out, stream, &sanitize(key), value);
    }
}

/// The line without ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or
/// `ESC \\`) and two-byte escapes.
pub(crate) fn decolorize(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @–~.
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(d) = chars.next() {
                    if d == '\u{7}' {
                        break;
                    }
                    if d == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `| unpack`: of a JSON object line, the string fields but `_entry` become labels (as
/// extracted labels: a clash with a stream label gets `_extracted`); returns `_entry`, the
/// new line. A line that is not a JSON object is left as it is, with `__error__="JSONParserErr"`.
fn unpack(line: &str, stream: &Labels, out: &mut Labels) -> Option<String> {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(line) else {
        out.set(ERROR_LABEL, JSON_ERR);
        return None;
    };
    let mut entry = None;
    for (k, v) in m {
        match (k.as_str(), v) {
            ("_entry", serde_json::Value::String(s)) => entry = Some(s),
            (_, serde_json::Value::String(s)) => set_extracted(out, stream, &sanitize(&k), &s),
            _ => {}
        }
    }
    entry
}
