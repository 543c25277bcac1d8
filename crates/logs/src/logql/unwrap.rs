//! Unwrapped samples: reading a label as a number, and the range functions over the values
//! of a window.

use super::lex::{byte_size, go_duration_secs};
use super::parse::{Conversion, Grouping, LabelExpr, RangeFn, Unwrap};
use super::pipeline::{label_passes, set_error, ERROR_DETAILS_LABEL, ERROR_LABEL, SAMPLE_ERR};
use super::LogqlError;
use argus_model::{Labels, MatchOp, Matcher};
use std::borrow::Cow;

/// Reads the sample of one line, as Loki does: a missing (or empty) label skips the line; a
/// value that does not convert marks it `__error__="SampleExtractionErr"` (the label stays,
/// so the error shows which value it was); a value that does is removed from the labels. The
/// label filters after `unwrap` run last. `None` drops the line.
pub(crate) fn extract<'a>(
    u: &Unwrap,
    mut labels: Cow<'a, Labels>,
) -> Option<(Cow<'a, Labels>, f64)> {
    let raw = labels.get(&u.label)?;
    let v = match u.conv {
        Conversion::Number => raw.parse::<f64>().ok(),
        Conversion::Duration => go_duration_secs(raw.trim()),
        Conversion::Bytes => byte_size(raw.trim()),
    };
    let v = match v {
        Some(v) => {
            labels.to_mut().remove(&u.label);
            v
        }
        None => {
            let what = match u.conv {
                Conversion::Number => "a number",
                Conversion::Duration => "a duration",
                Conversion::Bytes => "a byte size",
            };
            let details = format!("the value {raw:?} of label {} is not {what}", u.label);
            set_error(labels.to_mut(), SAMPLE_ERR, &details);
            0.0
        }
    };
    for e in &u.post {
        if !post_passes(e, &mut labels) {
            return None;
        }
    }
    Some((labels, v))
}

fn post_passes(e: &LabelExpr, labels: &mut Cow<'_, Labels>) -> bool {
    let mut err = None;
    if !label_passes(e, labels, &mut err) {
        return false;
    }
    if let Some(e) = err {
        labels.to_mut().set(ERROR_LABEL, e);
    }
    true
}

/// The labels `by`/`without` on a range function keep; `__error__` and its details always
/// stay, so that an error still fails the query.
pub(crate) fn group(l: &Labels, g: &Grouping) -> Labels {
    let keep = |name: &str| {
        name == ERROR_LABEL
            || name == ERROR_DETAILS_LABEL
            || match g {
                Grouping::By(names) => names.iter().any(|n| n == name),
                Grouping::Without(names) => !names.iter().any(|n| n == name),
            }
    };
    l.iter().filter(|x| keep(&x.name)).cloned().collect()
}

/// Loki's error for a series that kept `__error__`.
pub(crate) fn check_error(labels: &Labels) -> Result<(), LogqlError> {
    match labels.get(ERROR_LABEL) {
        Some(e) => Err(LogqlError::Pipeline {
            error: e.to_string(),
            series: labels.to_string(),
        }),
        None => Ok(()),
    }
}

/// The labels of `absent_over_time`'s series: the selector's equality matchers (a name given
/// twice is left out).
pub(crate) fn absent_labels(matchers: &[Matcher]) -> Labels {
    let mut out = Labels::empty();
    for m in matchers.iter().filter(|m| m.op == MatchOp::Eq) {
        let twice = matchers
            .iter()
            .filter(|o| o.name == m.name && o.op == MatchOp::Eq)
            .count()
            > 1;
        if !twice {
            out.set(&m.name, &m.value);
        }
    }
    out
}

/// The value of `func` over the samples `s` (sorted by time, non-empty) of the window
/// `(t - range, t]`; `None` when the function gives no point.
pub(crate) fn window(
    func: RangeFn,
    param: Option<f64>,
    s: &[(i64, f64)],
    t: i64,
    range_ns: i64,
) -> Option<f64> {
    let (first, last) = (s.first()?, s.last()?);
    let n = s.len() as f64;
    let values = || s.iter().map(|x| x.1);
    Some(match func {
        RangeFn::AvgOverTime => values().sum::<f64>() / n,
        RangeFn::MaxOverTime => {
            values().fold(first.1, |m, v| if v > m || m.is_nan() { v } else { m })
        }
        RangeFn::MinOverTime => {
            values().fold(first.1, |m, v| if v < m || m.is_nan() { v } else { m })
        }
        RangeFn::FirstOverTime => first.1,
        RangeFn::LastOverTime => last.1,
        RangeFn::StdvarOverTime | RangeFn::StddevOverTime => {
            let mean = values().sum::<f64>() / n;
            let var = values().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            if func == RangeFn::StddevOverTime {
                var.sqrt()
            } else {
                var
            }
        }
        RangeFn::QuantileOverTime => quantile(param.unwrap_or(f64::NAN), values().collect()),
        RangeFn::RateCounter => return rate_counter(s, t, range_ns),
        // The sums and counts are done with prefix sums by the caller.
        _ => values().sum::<f64>(),
    })
}

/// The φ-quantile with linear interpolation between the closest ranks, as Prometheus's
/// `quantile_over_time`: φ < 0 gives -Inf, φ > 1 gives +Inf.
fn quantile(phi: f64, mut v: Vec<f64>) -> f64 {
    if phi.is_nan() || v.is_empty() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let rank = phi * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let w = rank - rank.floor();
    v[lo] * (1.0 - w) + v[hi] * w
}

/// Per-second increase of a counter over the window, counting resets (a drop starts over
/// from zero) and extrapolating to the window's edges as Prometheus's `rate` does. Fewer than
/// two samples give no point.
fn rate_counter(s: &[(i64, f64)], t: i64, range_ns: i64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut increase = last.1 - first.1;
    for w in s.windows(2) {
        if w[1].1 < w[0].1 {
            increase += w[0].1;
        }
    }
    let secs = |ns: i64| ns as f64 / 1e9;
    let sampled = secs(last.0 - first.0);
    if sampled <= 0.0 {
        return None;
    }
    let mut to_start = secs(first.0 - (t - range_ns));
    let to_end = secs(t - last.0);
    if increase > 0.0 && first.1 >= 0.0 {
        to_start = to_start.min(sampled * (first.1 / increase));
    }
    let avg_gap = sampled / (s.len() - 1) as f64;
    let threshold = avg_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_gap / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_gap / 2.0
    };
    Some(increase * (interval / sampled) / secs(range_ns))
}
