//! Small numeric and label helpers shared by the evaluator modules.

use argus_model::{Labels, METRIC_NAME};

/// Kahan-Neumaier compensated summation step: returns `(sum, c)`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    if t.is_infinite() {
        (t, 0.0)
    } else if sum.abs() >= inc.abs() {
        (t, c + ((sum - t) + inc))
    } else {
        (t, c + ((inc - t) + sum))
    }
}

/// Go's `math.Max`: NaN if either is NaN.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN if either is NaN.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Formats like Go's `strconv.FormatFloat(f, 'f', -1, 64)`.
pub(crate) fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// Formats like Go's `%g`/`%v` for floats (used in messages).
pub(crate) fn fmt_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        let s = format!("{f:e}");
        // Go writes e+XX / e-XX with at least two exponent digits.
        if let Some((m, e)) = s.split_once('e') {
            let (sign, digits) = if let Some(d) = e.strip_prefix('-') {
                ('-', d)
            } else {
                ('+', e)
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
        s
    } else {
        format!("{f}")
    }
}

/// Prometheus's `labels.Hash()`: XXH64 over `name 0xff value 0xff ...`.
pub(crate) fn prom_hash(l: &Labels) -> u64 {
    let mut b = Vec::with_capacity(256);
    for x in l.iter() {
        b.extend_from_slice(x.name.as_bytes());
        b.push(0xff);
        b.extend_from_slice(x.value.as_bytes());
        b.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&b, 0)
}

/// Hash of the labels selected for matching: `on` keeps only `names`,
/// otherwise `names` and `__name__` are excluded.
pub(crate) fn sig_hash(l: &Labels, on: bool, names: &[String]) -> u64 {
    let it = l.iter().filter(|x| {
        if on {
            names.iter().any(|n| n == &x.name)
        } else {
            x.name != METRIC_NAME && !names.iter().any(|n| n == &x.name)
        }
    });
    argus_model::hash_pairs(it.map(|x| (x.name.as_str(), x.value.as_str())))
}

/// The labels selected for matching (see [`sig_hash`]).
pub(crate) fn sig_labels(l: &Labels, on: bool, names: &[String]) -> Labels {
    l.iter()
        .filter(|x| {
            if on {
                names.iter().any(|n| n == &x.name)
            } else {
                x.name != METRIC_NAME && !names.iter().any(|n| n == &x.name)
            }
        })
        .cloned()
        .collect()
}

/// Prometheus's `almost.Equal` used by the test runner (relative epsilon).
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Sorts floats ascending with NaN first (Prometheus's `vectorByValueHeap`).
pub(crate) fn sort_nan_first(v: &mut [f64]) {
    v.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
}

/// Prometheus's `quantile` over values (linear interpolation between ranks).
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_nan_first(vals);
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    vals[lower as usize] * (1.0 - weight) + vals[upper as usize] * weight
}

/// Removes `__name__` and, with it, the `__type__` and `__unit__` metadata labels.
pub(crate) fn drop_metric_name(l: &mut Labels) {
    l.remove(METRIC_NAME);
    l.remove("__type__");
    l.remove("__unit__");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn almost_equal_is_relative() {
        assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
        assert!(!almost_equal(1.0, 1.01, 1e-6));
        assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
        assert!(!almost_equal(0.0, 1e-300, 1e-6));
    }

    #[test]
    fn go_like_formatting() {
        assert_eq!(fmt_float(1.5), "1.5");
        assert_eq!(fmt_float(f64::INFINITY), "+Inf");
        assert_eq!(fmt_g(1e-7), "1e-07");
        assert_eq!(fmt_g(0.25), "0.25");
    }

    #[test]
    fn quantile_interpolates() {
        assert_eq!(quantile(0.5, &mut [1.0, 3.0, 2.0, 4.0]), 2.5);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
    }
}
