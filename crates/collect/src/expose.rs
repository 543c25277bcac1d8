//! The agent's data model and the exposition encoders: Prometheus text 0.0.4
//! and OpenMetrics 1.0, chosen from the request's `Accept` header.
//!
//! The encoder is written by hand into one reused `String` instead of going
//! through `prometheus-client`: our families are rebuilt on every gather from
//! plain values, so a registry of typed metric objects would only add copies
//! and allocations on the hot path, and the format is small enough to write
//! directly (escaping and float spelling are covered by the tests below).
//!
//! ```
//! use argus_collect::expose::{render, Format, MetricFamily, MetricKind};
//!
//! let mut f = MetricFamily::new("node_load1", "1m load average.", MetricKind::Gauge);
//! f.push(&[], 0.5);
//! let mut out = String::new();
//! render(&[f], Format::Text, &mut out);
//! assert_eq!(out, "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n");
//! ```

use std::borrow::Cow;

use argus_model::exposition::{escape_help, write_header, write_labels};
use argus_model::{Label, Labels, Sample};

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing counter; its name ends in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// No type information (node_exporter's vmstat fields).
    Untyped,
    /// An info metric: value 1, information in the labels; its name ends in `_info`.
    /// Exposed as a gauge in the text format and as `info` in OpenMetrics.
    Info,
}

/// One sample of a family: label pairs (names are static) and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSample {
    /// Label pairs in the order they are written. Names must be valid label names.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

/// A metric family: a name, a help text, a kind and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The sample name as exposed in the text format (counters include `_total`).
    pub name: Cow<'static, str>,
    /// The help text, unescaped.
    pub help: Cow<'static, str>,
    /// The type.
    pub kind: MetricKind,
    /// The samples.
    pub samples: Vec<MetricSample>,
}

impl MetricFamily {
    /// An empty family.
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricKind,
    ) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a sample with the given label pairs.
    pub fn push(&mut self, labels: &[(&'static str, &str)], value: f64) {
        self.samples.push(MetricSample {
            labels: labels.iter().map(|(n, v)| (*n, (*v).to_string())).collect(),
            value,
        });
    }

    /// Adds a sample with owned label values.
    pub fn push_owned(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(MetricSample { labels, value });
    }
}

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Chooses the format from an `Accept` header: OpenMetrics when the client
/// ranks `application/openmetrics-text` (version 1.0.0 or 0.0.1, or none given)
/// strictly above `text/plain` and `*/*`; the text format otherwise, including
/// when the header is absent or unparsable.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut best_om = 0.0f64;
    let mut best_text = 0.0f64;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f64;
        let mut version_ok = true;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim().trim_matches('"'));
            if k.eq_ignore_ascii_case("q") {
                q = v.parse().unwrap_or(0.0);
            } else if k.eq_ignore_ascii_case("version") && media == "application/openmetrics-text" {
                version_ok = v == "1.0.0" || v == "0.0.1";
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if version_ok => best_om = best_om.max(q),
            "text/plain" | "*/*" | "text/*" => best_text = best_text.max(q),
            _ => {}
        }
    }
    if best_om > 0.0 && best_om > best_text {
        Format::OpenMetrics
    } else {
        Format::Text
    }
}

/// Renders `families` in `format`, appending to `out` (clear it first to reuse it).
/// Families without samples are skipped. OpenMetrics output ends with `# EOF`.
pub fn render(families: &[MetricFamily], format: Format, out: &mut String) {
    for f in families {
        if f.samples.is_empty() {
            continue;
        }
        match format {
            Format::Text => render_text_family(f, out),
            Format::OpenMetrics => render_om_family(f, out),
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

fn render_text_family(f: &MetricFamily, out: &mut String) {
    let ty = match f.kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge | MetricKind::Info => "gauge",
        MetricKind::Untyped => "untyped",
    };
    write_header(&f.name, &f.help, ty, out);
    for s in &f.samples {
        write_sample(&f.name, "", s, out);
    }
}

fn render_om_family(f: &MetricFamily, out: &mut String) {
    let (family, suffix, ty): (&str, &str, &str) = match f.kind {
        MetricKind::Counter => (
            f.name.strip_suffix("_total").unwrap_or(&f.name),
            "_total",
            "counter",
        ),
        MetricKind::Info => match f.name.strip_suffix("_info") {
            Some(base) => (base, "_info", "info"),
            None => (&f.name, "", "gauge"),
        },
        MetricKind::Gauge => (&f.name, "", "gauge"),
        MetricKind::Untyped => (&f.name, "", "unknown"),
    };
    out.push_str("# TYPE ");
    out.push_str(family);
    out.push(' ');
    out.push_str(ty);
    out.push_str("\n# HELP ");
    out.push_str(family);
    out.push(' ');
    escape_help(&f.help, true, out);
    out.push('\n');
    for s in &f.samples {
        write_sample(family, suffix, s, out);
    }
}

fn write_sample(name: &str, suffix: &str, s: &MetricSample, out: &mut String) {
    out.push_str(name);
    out.push_str(suffix);
    write_labels(s.labels.iter().map(|(n, v)| (*n, v.as_str())), out);
    out.push(' ');
    write_value(s.value, out);
    out.push('\n');
}

/// Writes a float the way Prometheus parses it; see [`argus_model::exposition`].
pub use argus_model::exposition::write_value;

/// Escapes a label value; see [`argus_model::exposition`].
pub use argus_model::exposition::escape_label_value;

/// Turns families into labelled samples at `t_ms`, for remote_write and for
/// the in-process agent of `argus up`. The sample name is the text-format name
/// (counters keep `_total`, info metrics keep `_info`). `extra_labels` (such as
/// `instance` and `job`) are added to every series; a sample's own label of the
/// same name wins.
pub fn to_samples(
    families: &[MetricFamily],
    extra_labels: &Labels,
    t_ms: i64,
) -> Vec<(Labels, Sample)> {
    let n: usize = families.iter().map(|f| f.samples.len()).sum();
    let mut out = Vec::with_capacity(n);
    for f in families {
        for s in &f.samples {
            let mut v: Vec<Label> = Vec::with_capacity(1 + extra_labels.len() + s.labels.len());
            v.extend(extra_labels.iter().cloned());
            v.push(Label {
                name: argus_model::METRIC_NAME.to_string(),
                value: f.name.to_string(),
            });
            v.extend(s.labels.iter().map(|(n, val)| Label {
                name: (*n).to_string(),
                value: val.clone(),
            }));
            out.push((Labels::from_vec(v), Sample::new(t_ms, s.value)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fams() -> Vec<MetricFamily> {
        let mut c = MetricFamily::new(
            "x_requests_total",
            "Requests \"served\"\\ok\nnext.",
            MetricKind::Counter,
        );
        c.push(&[("path", "a\"b\\c\nd")], 3.0);
        let mut i = MetricFamily::new("x_build_info", "Build.", MetricKind::Info);
        i.push(&[("version", "1")], 1.0);
        let mut u = MetricFamily::new("x_vm", "VM.", MetricKind::Untyped);
        u.push(&[], f64::INFINITY);
        let mut g = MetricFamily::new("x_g", "G.", MetricKind::Gauge);
        g.push(&[("a", "1"), ("b", "2")], f64::NAN);
        g.push(&[], -1.5e-7);
        let empty = MetricFamily::new("x_empty", "E.", MetricKind::Gauge);
        vec![c, i, u, g, empty]
    }

    #[test]
    fn text_format_escapes_and_types() {
        let mut out = String::new();
        render(&fams(), Format::Text, &mut out);
        let want = "# HELP x_requests_total Requests \"served\"\\\\ok\\nnext.\n# TYPE x_requests_total counter\n\
x_requests_total{path=\"a\\\"b\\\\c\\nd\"} 3\n# HELP x_build_info Build.\n# TYPE x_build_info gauge\n\
x_build_info{version=\"1\"} 1\n# HELP x_vm VM.\n# TYPE x_vm untyped\nx_vm +Inf\n# HELP x_g G.\n# TYPE x_g gauge\n\
x_g{a=\"1\",b=\"2\"} NaN\nx_g -0.00000015\n";
        assert_eq!(out, want);
    }

    #[test]
    fn openmetrics_format_strips_total_and_ends_with_eof() {
        let mut out = String::new();
        render(&fams(), Format::OpenMetrics, &mut out);
        assert!(out.contains(
            "# TYPE x_requests counter\n# HELP x_requests Requests \\\"served\\\"\\\\ok\\nnext.\n"
        ));
        assert!(out.contains("\nx_requests_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"));
        assert!(out.contains("# TYPE x_build info\n"));
        assert!(out.contains("\nx_build_info{version=\"1\"} 1\n"));
        assert!(out.contains("# TYPE x_vm unknown\n"));
        assert!(!out.contains("x_empty"));
        assert!(out.ends_with("# EOF\n"));
    }

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("")), Format::Text);
        assert_eq!(negotiate(Some("garbage;;;q=x")), Format::Text);
        assert_eq!(negotiate(Some("text/plain;version=0.0.4")), Format::Text);
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(
            negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;version=9.9.9")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0.2, text/plain")),
            Format::Text
        );
        assert_eq!(
            negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
    }

    #[test]
    fn to_samples_adds_name_and_extra_labels() {
        let extra = Labels::from_pairs(&[("instance", "h1"), ("path", "lost")]);
        let s = to_samples(&fams(), &extra, 42);
        assert_eq!(s.len(), 5);
        let (l, v) = &s[0];
        assert_eq!(l.get("__name__"), Some("x_requests_total"));
        assert_eq!(l.get("instance"), Some("h1"));
        assert_eq!(l.get("path"), Some("a\"b\\c\nd"));
        assert_eq!(v.t, 42);
        assert_eq!(v.v, 3.0);
    }
}
