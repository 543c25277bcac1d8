//! Calendar maths and RFC 3339 formatting on Unix milliseconds, without a
//! date crate: the proleptic Gregorian calendar in UTC (Howard Hinnant's
//! `days_from_civil` / `civil_from_days`), and time stamps written the way
//! Prometheus, Alertmanager and `chrono` write them.
//!
//! ```
//! use argus_model::time::{civil_from_days, days_from_civil, format_rfc3339_ms, Fraction};
//!
//! assert_eq!(civil_from_days(19_782), (2024, 2, 29));
//! assert_eq!(days_from_civil(2024, 2, 29), 19_782);
//! assert_eq!(
//!     format_rfc3339_ms(1_709_208_000_120, Fraction::Trimmed).as_deref(),
//!     Some("2024-02-29T12:00:00.12Z")
//! );
//! ```

/// Go's zero `time.Time` in JSON: what Prometheus and Alertmanager write for
/// "never" (an unset `endsAt`, a rule not evaluated yet).
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// Days between 0000-03-01 and 1970-01-01.
const EPOCH_SHIFT: i64 = 719_468;

/// Days in a 400-year era.
const ERA_DAYS: i64 = 146_097;

/// The first and last year [`format_rfc3339_ms`] writes (the range `chrono`
/// accepts, so callers that used it keep their fallbacks for the rest).
const YEARS: std::ops::RangeInclusive<i64> = -262_143..=262_142;

/// (year, month 1–12, day 1–31) of a day number (days since 1970-01-01).
///
/// ```
/// use argus_model::time::civil_from_days;
///
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + EPOCH_SHIFT;
    let era = z.div_euclid(ERA_DAYS);
    let doe = z.rem_euclid(ERA_DAYS);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day number (days since 1970-01-01) of a civil date; the inverse of
/// [`civil_from_days`]. Days past the end of a month run on into the next
/// (`(2023, 2, 29)` is 2023-03-01).
///
/// ```
/// use argus_model::time::days_from_civil;
///
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 3, 1), 11_017);
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * ERA_DAYS + doe - EPOCH_SHIFT
}

/// Whether `year` is a Gregorian leap year.
///
/// ```
/// use argus_model::time::is_leap_year;
///
/// assert!(is_leap_year(2000) && is_leap_year(2024));
/// assert!(!is_leap_year(1900) && !is_leap_year(2023));
/// ```
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1–12) of `year`; 0 for a month outside 1–12.
///
/// ```
/// use argus_model::time::days_in_month;
///
/// assert_eq!(days_in_month(2024, 2), 29);
/// assert_eq!(days_in_month(2023, 2), 28);
/// assert_eq!(days_in_month(2023, 4), 30);
/// ```
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// How [`format_rfc3339_ms`] writes the milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fraction {
    /// No fraction: whole seconds (`chrono`'s `SecondsFormat::Secs`).
    Omit,
    /// Always three digits, `.000` included (`SecondsFormat::Millis`).
    Millis,
    /// Three digits, or none when they are all zero (`SecondsFormat::AutoSi`).
    MillisIfAny,
    /// Trailing zeros trimmed, as Go's `time.Time` JSON writes it (`.12`).
    Trimmed,
}

/// `ms` (since 1970, UTC) as RFC 3339 with a `Z`: `YYYY-MM-DDTHH:MM:SS`, the
/// fraction as `frac` says, then `Z`. Years outside 0–9999 carry a sign and
/// at least four digits (`+10000`, `-0001`), as `chrono` writes them; `None`
/// beyond the years `chrono` represents (±262,142), so each caller keeps its
/// own fallback.
///
/// ```
/// use argus_model::time::{format_rfc3339_ms, Fraction};
///
/// let f = |ms, frac| format_rfc3339_ms(ms, frac).unwrap();
/// assert_eq!(f(1_500, Fraction::Omit), "1970-01-01T00:00:01Z");
/// assert_eq!(f(1_500, Fraction::Millis), "1970-01-01T00:00:01.500Z");
/// assert_eq!(f(1_000, Fraction::MillisIfAny), "1970-01-01T00:00:01Z");
/// assert_eq!(f(1_500, Fraction::Trimmed), "1970-01-01T00:00:01.5Z");
/// assert_eq!(f(-1, Fraction::Millis), "1969-12-31T23:59:59.999Z");
/// assert_eq!(format_rfc3339_ms(i64::MAX, Fraction::Omit), None);
/// ```
pub fn format_rfc3339_ms(ms: i64, frac: Fraction) -> Option<String> {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    if !YEARS.contains(&y) {
        return None;
    }
    let ms_of_day = ms.rem_euclid(DAY_MS);
    let mut out = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else {
        format!("{y:+05}")
    };
    out.push_str(&format!(
        "-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        ms_of_day / 3_600_000,
        ms_of_day / 60_000 % 60,
        ms_of_day / 1000 % 60
    ));
    let milli = ms_of_day % 1000;
    match frac {
        Fraction::Omit => {}
        Fraction::Millis => out.push_str(&format!(".{milli:03}")),
        Fraction::MillisIfAny if milli != 0 => out.push_str(&format!(".{milli:03}")),
        Fraction::MillisIfAny => {}
        Fraction::Trimmed if milli != 0 => {
            let f = format!("{milli:03}");
            out.push('.');
            out.push_str(f.trim_end_matches('0'));
        }
        Fraction::Trimmed => {}
    }
    out.push('Z');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_across_eras() {
        for dn in (-800_000..800_000).step_by(997).chain([
            -719_468, -719_469, -1, 0, 59, 60, 11_016, 11_017, 19_782, 2_932_896,
        ]) {
            let (y, m, d) = civil_from_days(dn);
            assert!((1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m));
            assert_eq!(days_from_civil(y, m, d), dn, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(days_from_civil(9999, 12, 31), 2_932_896);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
    }

    #[test]
    fn consecutive_days_are_consecutive_dates() {
        let mut prev = civil_from_days(-2000);
        for dn in -1999..2000 {
            let cur = civil_from_days(dn);
            let (y, m, d) = prev;
            let next = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(cur, next);
            prev = cur;
        }
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(0));
        assert!(is_leap_year(-4) && !is_leap_year(-1) && !is_leap_year(-100));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2023));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 12), 31);
        assert_eq!(days_in_month(2024, 0), 0);
        assert_eq!(days_in_month(2024, 13), 0);
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        assert_eq!(days_from_civil(2023, 2, 29), days_from_civil(2023, 3, 1));
    }

    #[test]
    fn rfc3339_fractions() {
        let f = |ms, frac| format_rfc3339_ms(ms, frac).unwrap();
        assert_eq!(f(0, Fraction::Trimmed), "1970-01-01T00:00:00Z");
        assert_eq!(f(1_000, Fraction::Trimmed), "1970-01-01T00:00:01Z");
        assert_eq!(f(1_120, Fraction::Trimmed), "1970-01-01T00:00:01.12Z");
        assert_eq!(f(1_001, Fraction::Trimmed), "1970-01-01T00:00:01.001Z");
        assert_eq!(f(1_100, Fraction::MillisIfAny), "1970-01-01T00:00:01.100Z");
        assert_eq!(f(0, Fraction::MillisIfAny), "1970-01-01T00:00:00Z");
        assert_eq!(f(0, Fraction::Millis), "1970-01-01T00:00:00.000Z");
        assert_eq!(f(1_999, Fraction::Omit), "1970-01-01T00:00:01Z");
    }

    #[test]
    fn rfc3339_negative_and_boundaries() {
        let f = |ms, frac| format_rfc3339_ms(ms, frac).unwrap();
        assert_eq!(f(-1, Fraction::Millis), "1969-12-31T23:59:59.999Z");
        assert_eq!(f(-1, Fraction::Omit), "1969-12-31T23:59:59Z");
        assert_eq!(f(-1_500, Fraction::Trimmed), "1969-12-31T23:59:58.5Z");
        // New Year and leap day.
        let ny = days_from_civil(2025, 1, 1) * DAY_MS;
        assert_eq!(f(ny - 1, Fraction::Millis), "2024-12-31T23:59:59.999Z");
        assert_eq!(f(ny, Fraction::Millis), "2025-01-01T00:00:00.000Z");
        let leap = days_from_civil(2024, 2, 29) * DAY_MS + 43_200_000;
        assert_eq!(f(leap, Fraction::Omit), "2024-02-29T12:00:00Z");
        // The last millisecond of year 9999, then signed years.
        let end = days_from_civil(10_000, 1, 1) * DAY_MS - 1;
        assert_eq!(f(end, Fraction::Millis), "9999-12-31T23:59:59.999Z");
        assert_eq!(f(end + 1, Fraction::Omit), "+10000-01-01T00:00:00Z");
        let y0 = days_from_civil(0, 1, 1) * DAY_MS;
        assert_eq!(f(y0, Fraction::Omit), "0000-01-01T00:00:00Z");
        assert_eq!(f(y0 - 1, Fraction::Omit), "-0001-12-31T23:59:59Z");
        assert_eq!(f(-62_135_596_800_000, Fraction::Omit), GO_ZERO_TIME);
    }

    #[test]
    fn rfc3339_gives_up_where_chrono_does() {
        let first = days_from_civil(-262_143, 1, 1) * DAY_MS;
        let last = days_from_civil(262_143, 1, 1) * DAY_MS - 1;
        assert_eq!(
            format_rfc3339_ms(first, Fraction::Omit).as_deref(),
            Some("-262143-01-01T00:00:00Z")
        );
        assert_eq!(
            format_rfc3339_ms(last, Fraction::Millis).as_deref(),
            Some("+262142-12-31T23:59:59.999Z")
        );
        assert_eq!(format_rfc3339_ms(first - 1, Fraction::Omit), None);
        assert_eq!(format_rfc3339_ms(last + 1, Fraction::Omit), None);
        assert_eq!(format_rfc3339_ms(i64::MIN, Fraction::Omit), None);
        assert_eq!(format_rfc3339_ms(i64::MAX, Fraction::Omit), None);
    }
}
