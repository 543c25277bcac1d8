//! Size limits on the label set of a new series, and the bounded text form of
//! a series that error messages use.
//!
//! The limits are checked once, when a write creates a series (every ingest
//! path goes through the appender, so remote_write, text import, JSON push
//! and scrapes are all covered); samples of a series that already exists are
//! not checked again, and series replayed from the WAL are kept as they were
//! written.
//!
//! ```text
//! let lim = LabelLimits { max_labels: 2, ..LabelLimits::default() };
//! assert!(lim.check(&[("__name__", "up"), ("a", "1"), ("b", "2")]).is_err());
//! ```

use argus_model::Labels;

/// How long the text of a series in an error message may get, in bytes,
/// before it is cut with `...` and a note of its size: a refused 16 MiB label
/// value must not be echoed back to the sender or into the log.
pub const MAX_SERIES_TEXT: usize = 256;

/// Limits on the label set of a new series. `Default` gives the documented
/// defaults; see the fields of [`crate::Options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    /// Most labels per series, `__name__` included.
    pub max_labels: usize,
    /// Longest label name, in bytes (`__name__` itself is always allowed).
    pub max_name_bytes: usize,
    /// Longest label value (the metric name included), in bytes.
    pub max_value_bytes: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels: 64,
            max_name_bytes: 256,
            max_value_bytes: 16 << 10,
        }
    }
}

impl LabelLimits {
    /// No limits at all.
    pub const UNLIMITED: LabelLimits = LabelLimits {
        max_labels: usize::MAX,
        max_name_bytes: usize::MAX,
        max_value_bytes: usize::MAX,
    };

    /// Checks `pairs` against the limits; the error names the limit broken
    /// and the label (its name cut to a readable length), not the series.
    pub fn check(&self, pairs: &[(&str, &str)]) -> Result<(), String> {
        if pairs.len() > self.max_labels {
            return Err(format!(
                "the series has {} labels, more than the limit of {} labels per series (__name__ included)",
                pairs.len(),
                self.max_labels
            ));
        }
        for (n, v) in pairs {
            if n.len() > self.max_name_bytes && *n != argus_model::METRIC_NAME {
                return Err(format!(
                    "label name {:?} is {} bytes long, more than the limit of {} bytes",
                    prefix(n, 64),
                    n.len(),
                    self.max_name_bytes
                ));
            }
            if v.len() > self.max_value_bytes {
                return Err(format!(
                    "the value of label {:?} is {} bytes long, more than the limit of {} bytes",
                    prefix(n, 64),
                    v.len(),
                    self.max_value_bytes
                ));
            }
        }
        Ok(())
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary, with `...` appended when something was cut.
fn prefix(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

/// The Prometheus text form of sorted `pairs` for error messages, cut to
/// about [`MAX_SERIES_TEXT`] bytes (with a note of the real size) when the
/// series is larger. Linear in the size of the output, not of the series.
pub(crate) fn series_text(pairs: &[(&str, &str)]) -> String {
    let mut budget = MAX_SERIES_TEXT;
    let mut short = Vec::new();
    let mut cut = false;
    for (n, v) in pairs {
        if budget == 0 {
            cut = true;
            break;
        }
        let (n2, v2) = (prefix(n, budget), prefix(v, budget));
        cut |= n2.len() != n.len() || v2.len() != v.len();
        budget = budget.saturating_sub(n.len() + v.len() + 4);
        short.push((n2, v2));
    }
    let mut s = Labels::from_pairs(&short).to_string();
    if cut || s.len() > MAX_SERIES_TEXT {
        if s.len() > MAX_SERIES_TEXT {
            let mut at = MAX_SERIES_TEXT;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            s.truncate(at);
        }
        let bytes: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
        s.push_str(&format!(
            "... (cut: {} labels, {bytes} bytes of names and values)",
            pairs.len()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_accept_ordinary_series() {
        let lim = LabelLimits::default();
        assert!(lim.check(&[("__name__", "up"), ("job", "node")]).is_ok());
    }

    #[test]
    fn each_limit_is_named() {
        let lim = LabelLimits {
            max_labels: 2,
            max_name_bytes: 4,
            max_value_bytes: 5,
        };
        let e = lim
            .check(&[("__name__", "up"), ("a", "1"), ("b", "2")])
            .unwrap_err();
        assert!(e.contains("3 labels") && e.contains("limit of 2"), "{e}");
        let lim = LabelLimits {
            max_labels: 10,
            ..lim
        };
        let e = lim
            .check(&[("__name__", "up"), ("abcde", "1")])
            .unwrap_err();
        assert!(
            e.contains("\"abcde\"") && e.contains("limit of 4 bytes"),
            "{e}"
        );
        let e = lim
            .check(&[("__name__", "up"), ("a", "123456")])
            .unwrap_err();
        assert!(
            e.contains("label \"a\"") && e.contains("limit of 5 bytes"),
            "{e}"
        );
    }

    #[test]
    fn huge_series_text_is_cut() {
        let v = "x".repeat(16 << 20);
        let t = series_text(&[("__name__", "up"), ("big", &v)]);
        assert!(t.len() < 2 * MAX_SERIES_TEXT, "{}", t.len());
        assert!(
            t.starts_with("up{big=\"xxx") && t.contains("cut: 2 labels"),
            "{t}"
        );
        let names: Vec<String> = (0..100_000).map(|i| format!("l{i:06}")).collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        let t = series_text(&pairs);
        assert!(
            t.len() < 2 * MAX_SERIES_TEXT && t.contains("100000 labels"),
            "{t}"
        );
        assert_eq!(series_text(&[("__name__", "up")]), "up{}");
    }
}
