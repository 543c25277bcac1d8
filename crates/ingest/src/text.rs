//! A hand-written parser for the Prometheus text exposition format 0.0.4 and
//! OpenMetrics 1.0, and [`ingest_text`] for `POST /api/v1/import/prometheus`.
//!
//! [`TextParser`] is a streaming iterator over the lines of a body: it yields
//! one `Result` per sample line, so a broken line is reported with its line and
//! column and the lines after it are still read. `# TYPE`, `# HELP` and
//! `# UNIT` are collected into [`TextParser::metadata`] (or read alone with
//! [`parse_metadata`]) for `/api/v1/metadata`.
//!
//! Accepted: comments and blank lines, Windows line endings, `m{} 1`, a
//! trailing comma in a label set, the escapes `\\`, `\"` and `\n` in label
//! values, `+Inf`/`-Inf`/`NaN` values, optional timestamps (integer
//! milliseconds in 0.0.4, float seconds in OpenMetrics), exemplars after ` # `
//! (OpenMetrics, skipped), `# EOF` (OpenMetrics; required, nothing may follow),
//! and `_created` series of counters, histograms and summaries (OpenMetrics,
//! skipped). Columns are 1-based byte offsets within the line.
//!
//! ```
//! use argus_ingest::text::{TextFormat, TextParser};
//!
//! let body = b"# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\",} 1027 1395066363000\nm{1a=\"x\"} 1\n";
//! let mut p = TextParser::new(body, TextFormat::Prometheus);
//! let s = p.next().unwrap().unwrap();
//! assert_eq!((s.name, s.value, s.timestamp_ms), ("http_requests_total", 1027.0, Some(1395066363000)));
//! assert_eq!(s.labels[0].1, "200");
//! let e = p.next().unwrap().unwrap_err();
//! assert_eq!((e.line, e.column), (3, 3));
//! assert!(p.next().is_none());
//! assert_eq!(p.metadata()["http_requests_total"].metric_type.as_str(), "counter");
//! ```

mod lex;

use crate::validate::validate_pairs;
use crate::IngestReport;
use argus_tsdb::Appender;
use lex::{
    char_at, parse_timestamp, parse_value, scan_name, scan_value, skip_ws, token, unescape_help,
};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Prometheus text format 0.0.4: timestamps in integer milliseconds.
    Prometheus,
    /// OpenMetrics 1.0: timestamps in float seconds, `# EOF` required.
    OpenMetrics,
}

impl TextFormat {
    /// `application/openmetrics-text` means OpenMetrics; anything else (or nothing) 0.0.4.
    pub fn from_content_type(content_type: Option<&str>) -> TextFormat {
        match content_type {
            Some(ct)
                if ct
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/openmetrics-text") =>
            {
                TextFormat::OpenMetrics
            }
            _ => TextFormat::Prometheus,
        }
    }
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSample<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The metric name.
    pub name: &'a str,
    /// The labels in input order, without `__name__`; values unescaped.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if the line had one.
    pub timestamp_ms: Option<i64>,
}

/// A line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column within the line.
    pub column: usize,
    /// What was wrong.
    pub reason: String,
}

/// A metric family type from `# TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `summary`.
    Summary,
    /// `info` (OpenMetrics).
    Info,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `untyped` (0.0.4) or `unknown` (OpenMetrics), or no `# TYPE` line.
    #[default]
    Unknown,
}

impl MetricType {
    /// Parses a `# TYPE` keyword.
    pub fn parse(s: &str) -> Option<MetricType> {
        Some(match s {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "gaugehistogram" => MetricType::GaugeHistogram,
            "summary" => MetricType::Summary,
            "info" => MetricType::Info,
            "stateset" => MetricType::StateSet,
            "untyped" | "unknown" => MetricType::Unknown,
            _ => return None,
        })
    }

    /// The name `/api/v1/metadata` uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// What `# TYPE`, `# HELP` and `# UNIT` said about one metric family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricMetadata {
    /// The type.
    pub metric_type: MetricType,
    /// The help text, unescaped.
    pub help: String,
    /// The unit (OpenMetrics), or empty.
    pub unit: String,
}

/// A streaming parser over an exposition body. See the module documentation.
#[derive(Debug)]
pub struct TextParser<'a> {
    body: &'a [u8],
    pos: usize,
    line: usize,
    format: TextFormat,
    metadata: BTreeMap<String, MetricMetadata>,
    eof_seen: bool,
    finished: bool,
    max_labels: usize,
}

impl<'a> TextParser<'a> {
    /// A parser over `body`.
    pub fn new(body: &'a [u8], format: TextFormat) -> Self {
        TextParser {
            body,
            pos: 0,
            line: 0,
            format,
            metadata: BTreeMap::new(),
            eof_seen: false,
            finished: false,
            max_labels: usize::MAX,
        }
    }

    /// Refuses a sample line with more than `n` labels (the metric name
    /// counted as one) as soon as its label set passes `n`, without reading
    /// the rest of the line. Default: no limit.
    pub fn with_max_labels(mut self, n: usize) -> Self {
        self.max_labels = n;
        self
    }

    /// The metadata read so far, by metric family name.
    pub fn metadata(&self) -> &BTreeMap<String, MetricMetadata> {
        &self.metadata
    }

    /// Consumes the parser and returns the metadata read so far.
    pub fn into_metadata(self) -> BTreeMap<String, MetricMetadata> {
        self.metadata
    }

    fn err<T>(&self, column: usize, reason: impl Into<String>) -> Option<Result<T, ParseError>> {
        Some(Err(ParseError {
            line: self.line,
            column,
            reason: reason.into(),
        }))
    }

    /// Handles a `#` line; `Some` when it yields an error.
    fn comment(&mut self, line: &'a str) -> Option<Result<TextSample<'a>, ParseError>> {
        let rest = line[1..].trim_start_matches([' ', '\t']);
        let mut words = rest.splitn(3, [' ', '\t']);
        let keyword = words.next().unwrap_or("");
        if keyword == "EOF" && self.format == TextFormat::OpenMetrics {
            self.eof_seen = true;
            return None;
        }
        if keyword != "TYPE" && keyword != "HELP" && keyword != "UNIT" {
            return None; // An ordinary comment.
        }
        let name = words.next().unwrap_or("");
        let text = words.next().unwrap_or("").trim_start_matches([' ', '\t']);
        let col = line.len() - rest.len() + keyword.len() + 2;
        if !argus_model::is_valid_metric_name(name) {
            return self.err(
                col,
                format!("# {keyword} line needs a valid metric name, got {name:?}"),
            );
        }
        let format = self.format;
        let entry = self.metadata.entry(name.to_string()).or_default();
        match keyword {
            "TYPE" => match MetricType::parse(text.trim_end()) {
                Some(t) => entry.metric_type = t,
                None => {
                    let reason = format!("unknown metric type {:?} for {name}", text.trim_end());
                    return self.err(col + name.len() + 1, reason);
                }
            },
            "HELP" => entry.help = unescape_help(text, format),
            _ => entry.unit = text.trim_end().to_string(),
        }
        None
    }

    fn sample(&self, line: &'a str) -> Result<Option<TextSample<'a>>, (usize, String)> {
        let b = line.as_bytes();
        let name_end = scan_name(b, 0, true);
        if name_end == 0 {
            let what = if b[0] == b'{' {
                "missing metric name".to_string()
            } else {
                format!("invalid metric name start {:?}", char_at(line, 0))
            };
            return Err((1, what));
        }
        let name = &line[..name_end];
        let mut i = name_end;
        let mut labels: Vec<(&'a str, Cow<'a, str>)> = Vec::new();
        if b.get(skip_ws(b, i)) == Some(&b'{') {
            i = skip_ws(b, i) + 1;
            loop {
                i = skip_ws(b, i);
                match b.get(i) {
                    None => return Err((i + 1, "unterminated label set: expected '}'".into())),
                    Some(b'}') => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                let ln_start = i;
                let ln_end = scan_name(b, i, false);
                if ln_end == ln_start {
                    return Err((
                        i + 1,
                        format!("invalid label name start {:?}", char_at(line, i)),
                    ));
                }
                let lname = &line[ln_start..ln_end];
                if lname == argus_model::METRIC_NAME {
                    return Err((ln_start + 1, format!("duplicate label name {lname:?}")));
                }
                if labels.len() + 1 >= self.max_labels {
                    return Err((
                        ln_start + 1,
                        format!(
                            "metric {name} has more than {} labels (the limit per series, the metric name counted as one); the rest of the line was not read",
                            self.max_labels
                        ),
                    ));
                }
                i = skip_ws(b, ln_end);
                if b.get(i) != Some(&b'=') {
                    return Err((i + 1, format!("expected '=' after label name {lname:?}")));
                }
                i = skip_ws(b, i + 1);
                if b.get(i) != Some(&b'"') {
                    return Err((
                        i + 1,
                        format!("expected '\"' to open the value of label {lname:?}"),
                    ));
                }
                let (value, after) = scan_value(line, i + 1)?;
                labels.push((lname, value));
                i = skip_ws(b, after);
                match b.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {}
                    _ => {
                        return Err((
                            i + 1,
                            format!("expected ',' or '}}' after the value of label {lname:?}"),
                        ))
                    }
                }
            }
        }
        if let Some(dup) = first_duplicate(&labels) {
            let col = dup.as_ptr() as usize - line.as_ptr() as usize + 1;
            return Err((col, format!("duplicate label name {dup:?}")));
        }
        let ws = skip_ws(b, i);
        if ws == i {
            let reason = if i >= b.len() {
                "missing value".to_string()
            } else {
                format!(
                    "unexpected {:?} after metric name and labels",
                    char_at(line, i)
                )
            };
            return Err((i + 1, reason));
        }
        i = ws;
        let (tok, end) = token(line, i);
        if tok.is_empty() {
            return Err((i + 1, "missing value".into()));
        }
        let value = parse_value(tok).ok_or_else(|| (i + 1, format!("invalid value {tok:?}")))?;
        i = skip_ws(b, end);
        let mut timestamp_ms = None;
        let om = self.format == TextFormat::OpenMetrics;
        if i < b.len() && !(om && b[i] == b'#') {
            let (tok, end) = token(line, i);
            timestamp_ms = Some(parse_timestamp(tok, self.format).map_err(|r| (i + 1, r))?);
            i = skip_ws(b, end);
        }
        if i < b.len() && !(om && b[i] == b'#') {
            return Err((
                i + 1,
                format!("unexpected text {:?} after the sample", &line[i..]),
            ));
        }
        if om && name.ends_with("_created") {
            let family = &name[..name.len() - "_created".len()];
            if let Some(m) = self.metadata.get(family) {
                if matches!(
                    m.metric_type,
                    MetricType::Counter
                        | MetricType::Histogram
                        | MetricType::Summary
                        | MetricType::GaugeHistogram
                ) {
                    return Ok(None);
                }
            }
        }
        Ok(Some(TextSample {
            line: self.line,
            name,
            labels,
            value,
            timestamp_ms,
        }))
    }
}

impl<'a> Iterator for TextParser<'a> {
    type Item = Result<TextSample<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            if self.pos >= self.body.len() {
                self.finished = true;
                if self.format == TextFormat::OpenMetrics && !self.eof_seen && !self.body.is_empty()
                {
                    self.line += 1;
                    return self.err(1, "missing \"# EOF\" at the end of OpenMetrics input");
                }
                return None;
            }
            let rest = &self.body[self.pos..];
            let len = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            self.pos += len + 1;
            self.line += 1;
            let raw = &rest[..len];
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = match std::str::from_utf8(raw) {
                Ok(l) => l,
                Err(e) => return self.err(e.valid_up_to() + 1, "line is not valid UTF-8"),
            };
            if line.trim().is_empty() {
                continue;
            }
            if self.eof_seen {
                return self.err(1, "content after \"# EOF\"");
            }
            if line.starts_with('#') {
                match self.comment(line) {
                    Some(e) => return Some(e),
                    None => continue,
                }
            }
            let start = line.len() - line.trim_start_matches([' ', '\t']).len();
            match self.sample(&line[start..]) {
                Ok(Some(s)) => return Some(Ok(s)),
                Ok(None) => continue,
                Err((col, reason)) => return self.err(col + start, reason),
            }
        }
        None
    }
}

/// Reads only the `# TYPE`, `# HELP` and `# UNIT` lines of a body.
pub fn parse_metadata(body: &[u8], format: TextFormat) -> BTreeMap<String, MetricMetadata> {
    let mut p = TextParser::new(body, format);
    for _ in p.by_ref() {}
    p.into_metadata()
}

/// Parses `body` and stages every good sample in `app`; lines without a
/// timestamp get `default_ts_ms`. Each broken line is rejected with its line
/// number and reason; the good lines are kept. The caller commits.
pub fn ingest_text<A: Appender>(
    app: &mut A,
    body: &[u8],
    default_ts_ms: i64,
    format: TextFormat,
) -> IngestReport {
    ingest_text_limited(app, body, default_ts_ms, format, usize::MAX)
}

/// [`ingest_text`] that refuses a line with more than `max_labels` labels
/// (the metric name counted as one) while parsing it, before its labels are
/// collected and sorted: the store would refuse the series anyway.
pub fn ingest_text_limited<A: Appender>(
    app: &mut A,
    body: &[u8],
    default_ts_ms: i64,
    format: TextFormat,
    max_labels: usize,
) -> IngestReport {
    let mut report = IngestReport::default();
    for item in TextParser::new(body, format).with_max_labels(max_labels) {
        let s = match item {
            Ok(s) => s,
            Err(e) => {
                report.reject(1, || e.to_string());
                continue;
            }
        };
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(s.labels.len() + 1);
        pairs.push((argus_model::METRIC_NAME, s.name));
        pairs.extend(s.labels.iter().map(|(n, v)| (*n, v.as_ref())));
        if let Err(reason) = validate_pairs(&mut pairs) {
            report.reject(1, || format!("line {}: {reason}", s.line));
            continue;
        }
        match app.append_pairs(&pairs, s.timestamp_ms.unwrap_or(default_ts_ms), s.value) {
            Ok(()) => report.accepted += 1,
            Err(e) => report.reject(1, || format!("line {}: {e}", s.line)),
        }
    }
    report
}

/// The second occurrence (in line order) of the first label name that
/// repeats, if any. O(n log n): a line may carry 100 000 labels.
fn first_duplicate<'a>(labels: &[(&'a str, Cow<'a, str>)]) -> Option<&'a str> {
    if labels.len() <= 8 {
        return (1..labels.len())
            .find(|&i| labels[..i].iter().any(|(n, _)| *n == labels[i].0))
            .map(|i| labels[i].0);
    }
    let mut idx: Vec<usize> = (0..labels.len()).collect();
    idx.sort_unstable_by(|&a, &b| labels[a].0.cmp(labels[b].0).then(a.cmp(&b)));
    idx.windows(2)
        .filter(|w| labels[w[0]].0 == labels[w[1]].0)
        .map(|w| w[1])
        .min()
        .map(|i| labels[i].0)
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
