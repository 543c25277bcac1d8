//! A small writer for the Prometheus text exposition format (0.0.4) and the
//! pieces OpenMetrics shares with it: `# HELP`/`# TYPE` lines, label-value and
//! help-text escaping, and sample values spelled as Prometheus parses them
//! (`NaN`, `+Inf`, `-Inf`). The self-metrics writers build on it.
//!
//! ```
//! use argus_model::exposition::{write_family, write_header, write_sample};
//!
//! let mut out = String::new();
//! write_family("argus_up", "gauge", "1 while running.", 1.0, &mut out);
//! write_header("argus_errors_total", "Errors by kind.", "counter", &mut out);
//! write_sample("argus_errors_total", &[("kind", "disk \"full\"")], 2.0, &mut out);
//! let want = [
//!     "# HELP argus_up 1 while running.",
//!     "# TYPE argus_up gauge",
//!     "argus_up 1",
//!     "# HELP argus_errors_total Errors by kind.",
//!     "# TYPE argus_errors_total counter",
//!     r#"argus_errors_total{kind="disk \"full\""} 2"#,
//! ];
//! assert_eq!(out, want.join("\n") + "\n");
//! ```

use std::fmt::Write as _;

/// Writes a float the way Prometheus parses it: `NaN`, `+Inf`, `-Inf`, or the
/// shortest decimal that round-trips (integers without a fraction).
///
/// ```
/// use argus_model::exposition::write_value;
///
/// let mut out = String::new();
/// for v in [1.0, 0.25, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
///     write_value(v, &mut out);
///     out.push(' ');
/// }
/// assert_eq!(out, "1 0.25 +Inf -Inf NaN ");
/// ```
pub fn write_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        // Writing into a String cannot fail.
        let _ = write!(out, "{v}");
    }
}

/// Escapes a label value: backslash, double quote and newline.
///
/// ```
/// use argus_model::exposition::escape_label_value;
///
/// let mut out = String::new();
/// escape_label_value("a\"b\\c\nd", &mut out);
/// assert_eq!(out, r#"a\"b\\c\nd"#);
/// ```
pub fn escape_label_value(v: &str, out: &mut String) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Escapes help text: backslash and newline, plus double quote when `quote`
/// (OpenMetrics).
///
/// ```
/// use argus_model::exposition::escape_help;
///
/// let mut out = String::new();
/// escape_help("a \"b\"\\\n", false, &mut out);
/// assert_eq!(out, "a \"b\"\\\\\\n");
/// ```
pub fn escape_help(h: &str, quote: bool, out: &mut String) {
    for c in h.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Writes a family's text-format header: `# HELP name help` (help escaped)
/// then `# TYPE name kind`, each ending in a newline.
///
/// ```
/// use argus_model::exposition::write_header;
///
/// let mut out = String::new();
/// write_header("x_total", "Xs.", "counter", &mut out);
/// assert_eq!(out, "# HELP x_total Xs.\n# TYPE x_total counter\n");
/// ```
pub fn write_header(name: &str, help: &str, kind: &str, out: &mut String) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_help(help, false, out);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

/// Writes one sample line: `name{label="value",…} value` and a newline (no
/// braces without labels). Label names are written as given.
///
/// ```
/// use argus_model::exposition::write_sample;
///
/// let mut out = String::new();
/// write_sample("x", &[], 0.5, &mut out);
/// write_sample("x", &[("a", "1"), ("b", "2")], f64::NAN, &mut out);
/// assert_eq!(out, "x 0.5\nx{a=\"1\",b=\"2\"} NaN\n");
/// ```
pub fn write_sample(name: &str, labels: &[(&str, &str)], value: f64, out: &mut String) {
    out.push_str(name);
    write_labels(labels.iter().copied(), out);
    out.push(' ');
    write_value(value, out);
    out.push('\n');
}

/// Writes a sample's label set, `{a="1",b="2"}` with the values escaped, or
/// nothing when there are no labels.
///
/// ```
/// use argus_model::exposition::write_labels;
///
/// let mut out = String::new();
/// write_labels([("path", "/a\"b")], &mut out);
/// write_labels(std::iter::empty(), &mut out);
/// assert_eq!(out, r#"{path="/a\"b"}"#);
/// ```
pub fn write_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>, out: &mut String) {
    let mut first = true;
    for (n, v) in labels {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(n);
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
    }
    if !first {
        out.push('}');
    }
}

/// Writes a family of one unlabelled sample: [`write_header`] then
/// [`write_sample`].
///
/// ```
/// use argus_model::exposition::write_family;
///
/// let mut out = String::new();
/// write_family("x_ready", "gauge", "1 when ready.", 0.0, &mut out);
/// assert_eq!(out, "# HELP x_ready 1 when ready.\n# TYPE x_ready gauge\nx_ready 0\n");
/// ```
pub fn write_family(name: &str, kind: &str, help: &str, value: f64, out: &mut String) {
    write_header(name, help, kind, out);
    write_sample(name, &[], value, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: f64) -> String {
        let mut out = String::new();
        write_value(v, &mut out);
        out
    }

    #[test]
    fn values_as_prometheus_reads_them() {
        assert_eq!(value(0.0), "0");
        assert_eq!(value(-0.0), "-0");
        assert_eq!(value(3.0), "3");
        assert_eq!(value(-1.5e-7), "-0.00000015");
        assert_eq!(value(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(value(1e21), "1000000000000000000000");
        assert_eq!(value(f64::INFINITY), "+Inf");
        assert_eq!(value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(value(f64::NAN), "NaN");
        assert_eq!(value(u64::MAX as f64), "18446744073709552000");
    }

    #[test]
    fn escapes() {
        let mut l = String::new();
        escape_label_value("plain", &mut l);
        escape_label_value("\\\"\n\t日", &mut l);
        assert_eq!(l, "plain\\\\\\\"\\n\t日");
        let (mut text, mut om) = (String::new(), String::new());
        escape_help("Requests \"served\"\\ok\nnext.", false, &mut text);
        escape_help("Requests \"served\"\\ok\nnext.", true, &mut om);
        assert_eq!(text, "Requests \"served\"\\\\ok\\nnext.");
        assert_eq!(om, "Requests \\\"served\\\"\\\\ok\\nnext.");
    }

    #[test]
    fn families_and_samples() {
        let mut out = String::new();
        write_family("a_total", "counter", "A \\ b\nc.", 7.0, &mut out);
        write_header("h", "H.", "histogram", &mut out);
        write_sample("h_bucket", &[("le", "+Inf")], 2.0, &mut out);
        write_sample("h", &[("x", "a\nb")], f64::NEG_INFINITY, &mut out);
        assert_eq!(
            out,
            "# HELP a_total A \\\\ b\\nc.\n# TYPE a_total counter\na_total 7\n\
             # HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh{x=\"a\\nb\"} -Inf\n"
        );
    }
}
