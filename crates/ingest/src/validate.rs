//! Label-set validation shared by every receiver.

use argus_model::{is_valid_label_name, is_valid_metric_name, METRIC_NAME};

/// Normalises and checks one series' label pairs in place, for
/// [`argus_tsdb::Appender::append_pairs`]: drops pairs with an empty value
/// (Prometheus treats them as absent), sorts by name when not already sorted,
/// then refuses duplicate names, invalid label names and a missing or invalid
/// `__name__`. The error says what is wrong, without the series (the caller
/// names it, for example with [`describe_pairs`]).
///
/// ```
/// let mut p = vec![("job", "a"), ("__name__", "up"), ("empty", "")];
/// argus_ingest::validate_pairs(&mut p).unwrap();
/// assert_eq!(p, vec![("__name__", "up"), ("job", "a")]);
/// let mut bad = vec![("__name__", "up"), ("a", "1"), ("a", "2")];
/// assert!(argus_ingest::validate_pairs(&mut bad).unwrap_err().contains("duplicate"));
/// ```
pub fn validate_pairs(pairs: &mut Vec<(&str, &str)>) -> Result<(), String> {
    if pairs.iter().any(|(_, v)| v.is_empty()) {
        pairs.retain(|(_, v)| !v.is_empty());
    }
    if !pairs.windows(2).all(|w| w[0].0 <= w[1].0) {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    for w in pairs.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(format!("duplicate label name {:?}", w[0].0));
        }
    }
    let mut name = None;
    for (n, v) in pairs.iter() {
        if *n == METRIC_NAME {
            name = Some(*v);
        } else if !is_valid_label_name(n) {
            return Err(format!("invalid label name {n:?}"));
        }
    }
    match name {
        None => Err("missing metric name (__name__ label)".to_string()),
        Some(n) if !is_valid_metric_name(n) => Err(format!("invalid metric name {n:?}")),
        Some(_) => Ok(()),
    }
}

/// The Prometheus text form of label pairs, `name{a="b"}`, for error messages.
/// Values are quoted with Rust escaping and long sets are cut at 256 bytes.
pub fn describe_pairs(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    let name = pairs
        .iter()
        .find(|(n, _)| *n == METRIC_NAME)
        .map(|(_, v)| *v);
    s.push_str(name.unwrap_or(""));
    s.push('{');
    let mut first = true;
    for (n, v) in pairs.iter().filter(|(n, _)| *n != METRIC_NAME) {
        if !first {
            s.push(',');
        }
        first = false;
        s.push_str(&format!("{n}={v:?}"));
        if s.len() > 256 {
            let mut cut = 256;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            s.push_str("...");
            return s;
        }
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_cases() {
        let ok = |p: &[(&'static str, &'static str)]| validate_pairs(&mut p.to_vec());
        assert!(ok(&[("__name__", "a:b_c")]).is_ok());
        assert!(ok(&[("a", "1")])
            .unwrap_err()
            .contains("missing metric name"));
        assert!(ok(&[("__name__", "")])
            .unwrap_err()
            .contains("missing metric name"));
        assert!(ok(&[("__name__", "1x")])
            .unwrap_err()
            .contains("invalid metric name"));
        assert!(ok(&[("__name__", "x"), ("1a", "v")])
            .unwrap_err()
            .contains("invalid label name"));
        assert!(ok(&[("__name__", "x"), ("b", "v"), ("b", "w")])
            .unwrap_err()
            .contains("duplicate"));
    }

    #[test]
    fn describe() {
        assert_eq!(
            describe_pairs(&[("__name__", "up"), ("a", "x\"y")]),
            r#"up{a="x\"y"}"#
        );
        let long = "v".repeat(1000);
        assert!(describe_pairs(&[("__name__", "up"), ("a", &long)]).ends_with("..."));
    }
}
