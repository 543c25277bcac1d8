//! Prometheus duration strings: `1h30m`, `15s`, `500ms`, `2d`, `1w`, `1y`.
//!
//! ```
//! use argus_model::{parse_duration, format_duration, PromDuration};
//! assert_eq!(parse_duration("1m30s").unwrap(), 90_000);
//! assert_eq!(format_duration(90_000), "1m30s");
//! let d: PromDuration = "15s".parse().unwrap();
//! assert_eq!(d.as_millis(), 15_000);
//! ```

use std::fmt;
use std::str::FromStr;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The string as given.
    pub input: String,
    /// What was wrong.
    pub reason: String,
}

const UNITS: [(&str, i64); 8] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
    ("", 0),
];

/// Parses a Prometheus duration into milliseconds. Units must appear in
/// decreasing order (`y w d h m s ms`), each at most once; `0` alone is allowed.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let err = |reason: &str| DurationError {
        input: s.to_string(),
        reason: reason.to_string(),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err("empty string"));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut last_unit = usize::MAX; // index into UNITS of the previous unit
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err("expected a number"));
        }
        let n: i64 = s[start..i].parse().map_err(|_| err("number too large"))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit = &s[ustart..i];
        let idx = UNITS[..7]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| {
                err(&format!(
                    "unknown unit {unit:?} (use y, w, d, h, m, s or ms)"
                ))
            })?;
        if last_unit != usize::MAX && idx <= last_unit {
            return Err(err("units must be in decreasing order and appear once"));
        }
        last_unit = idx;
        total = n
            .checked_mul(UNITS[idx].1)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| err("duration too large"))?;
    }
    Ok(total)
}

/// Formats milliseconds the way Prometheus prints durations (`1h30m`, `0s`).
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms.unsigned_abs();
    if ms < 0 {
        out.push('-');
    }
    for (u, f) in UNITS[..7].iter() {
        let f = *f as u64;
        if rest >= f {
            out.push_str(&format!("{}{}", rest / f, u));
            rest %= f;
        }
    }
    out
}

/// A duration that (de)serializes as a Prometheus duration string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub i64);

impl PromDuration {
    /// Milliseconds.
    pub fn as_millis(self) -> i64 {
        self.0
    }
    /// As a `std::time::Duration` (negative values become zero).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0.max(0) as u64)
    }
    /// From whole seconds.
    pub fn from_secs(s: i64) -> Self {
        PromDuration(s * 1000)
    }
}

impl FromStr for PromDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(PromDuration)
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl serde::Serialize for PromDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for PromDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("500ms").unwrap(), 500);
        assert_eq!(parse_duration("2d").unwrap(), 172_800_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(1_500), "1s500ms");
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for bad in [
            "",
            "5",
            "1x",
            "1m1h",
            "1s1s",
            "h",
            "-1s",
            "99999999999999999999s",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
    }
}
