//! Calendar arithmetic for the day-class baselines, with no time-zone
//! database: a fixed UTC offset (minutes) is applied first.
//!
//! ```
//! use argus_detect::baseline::calendar::{civil, parse_date, weekday};
//!
//! // 2024-02-29 12:00 UTC
//! let ms = 1_709_208_000_000;
//! assert_eq!(civil(ms, 0), (2024, 2, 29));
//! assert_eq!(weekday(ms, 0), 3); // Thursday (0 = Monday)
//! assert_eq!(parse_date("2024-02-29").unwrap(), (2024, 2, 29));
//! ```

use serde::{Deserialize, Serialize};

use crate::DetectError;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of the local day containing `ts_ms`.
pub fn day_number(ts_ms: i64, utc_offset_min: i32) -> i64 {
    (ts_ms + i64::from(utc_offset_min) * 60_000).div_euclid(DAY_MS)
}

/// Milliseconds since local midnight.
pub fn ms_of_day(ts_ms: i64, utc_offset_min: i32) -> i64 {
    (ts_ms + i64::from(utc_offset_min) * 60_000).rem_euclid(DAY_MS)
}

/// Weekday of the local day, 0 = Monday … 6 = Sunday.
pub fn weekday(ts_ms: i64, utc_offset_min: i32) -> u32 {
    // 1970-01-01 was a Thursday (3).
    (day_number(ts_ms, utc_offset_min) + 3).rem_euclid(7) as u32
}

/// (year, month, day) of a day number (proleptic Gregorian calendar); see
/// [`argus_model::time::civil_from_days`].
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let (y, m, d) = argus_model::time::civil_from_days(z);
    (y as i32, m, d)
}

/// Local (year, month, day) of `ts_ms`.
pub fn civil(ts_ms: i64, utc_offset_min: i32) -> (i32, u32, u32) {
    civil_from_days(day_number(ts_ms, utc_offset_min))
}

/// Days in a month (1–12); see [`argus_model::time::days_in_month`].
pub fn days_in_month(y: i32, m: u32) -> u32 {
    argus_model::time::days_in_month(i64::from(y), m)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<(i32, u32, u32), DetectError> {
    let bad = || DetectError::Config(format!("bad date {s:?}, expected YYYY-MM-DD"));
    let mut it = s.trim().splitn(3, '-');
    let y: i32 = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let m: u32 = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let d: u32 = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(bad());
    }
    Ok((y, m, d))
}

/// Day number of a civil date (inverse of [`civil_from_days`]); see
/// [`argus_model::time::days_from_civil`].
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    argus_model::time::days_from_civil(i64::from(y), m, d)
}

/// The calendar class of a day (DataCluster's clusters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayClass {
    /// Monday to Friday.
    Workday,
    /// Saturday (and Sunday, when Sundays are alike Saturdays).
    Weekend,
    /// The first `month_start_days` days of a month.
    MonthStart,
    /// The last `month_end_days` days of a month.
    MonthEnd,
    /// A listed special day (holiday, promotion).
    Special,
    /// Sunday, which often differs from Saturday.
    Sunday,
}

impl DayClass {
    /// The class a day of this class is most like when it is merged: a
    /// special day (a holiday) is a Sunday, a Sunday a Saturday, and a
    /// Saturday a workday. (Month starts and ends are factors on their own
    /// weekday's profile instead; see the DataCluster model.)
    pub fn base(self) -> DayClass {
        match self {
            DayClass::Workday | DayClass::MonthStart | DayClass::MonthEnd | DayClass::Weekend => {
                DayClass::Workday
            }
            DayClass::Sunday => DayClass::Weekend,
            DayClass::Special => DayClass::Sunday,
        }
    }
}

/// How days are classed: the calendar part of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarSpec {
    /// Local time offset from UTC, minutes.
    pub utc_offset_min: i32,
    /// Days at the start of a month classed `month_start` (0 disables).
    pub month_start_days: u32,
    /// Days at the end of a month classed `month_end` (0 disables).
    pub month_end_days: u32,
    /// Special days as day numbers (days since 1970-01-01), sorted.
    pub special_days: Vec<i64>,
}

impl CalendarSpec {
    /// The class of the local day containing `ts_ms`. Priority: special,
    /// month start, month end, Sunday, Saturday (`weekend`), workday.
    pub fn class_of(&self, ts_ms: i64) -> DayClass {
        let dn = day_number(ts_ms, self.utc_offset_min);
        self.class_of_day(dn)
    }

    /// The class of a day number.
    pub fn class_of_day(&self, dn: i64) -> DayClass {
        if self.special_days.binary_search(&dn).is_ok() {
            return DayClass::Special;
        }
        let (y, m, d) = civil_from_days(dn);
        if d <= self.month_start_days {
            return DayClass::MonthStart;
        }
        if d + self.month_end_days > days_in_month(y, m) {
            return DayClass::MonthEnd;
        }
        if (dn + 3).rem_euclid(7) == 6 {
            DayClass::Sunday
        } else if CalendarSpec::weekday_class(dn) == DayClass::Weekend {
            DayClass::Weekend
        } else {
            DayClass::Workday
        }
    }

    /// The weekday class (workday/weekend) of a day, ignoring month and special days.
    pub fn weekday_class(dn: i64) -> DayClass {
        if (dn + 3).rem_euclid(7) >= 5 {
            DayClass::Weekend
        } else {
            DayClass::Workday
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip() {
        for dn in [-1000i64, 0, 59, 60, 11_016, 19_782, 20_000, 50_000] {
            let (y, m, d) = civil_from_days(dn);
            assert_eq!(days_from_civil(y, m, d), dn);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn classes() {
        let cal = CalendarSpec {
            utc_offset_min: 0,
            month_start_days: 2,
            month_end_days: 1,
            special_days: vec![days_from_civil(2024, 1, 10)],
        };
        let c = |y, m, d| cal.class_of_day(days_from_civil(y, m, d));
        assert_eq!(c(2024, 1, 1), DayClass::MonthStart); // a Monday
        assert_eq!(c(2024, 1, 2), DayClass::MonthStart);
        assert_eq!(c(2024, 1, 3), DayClass::Workday);
        assert_eq!(c(2024, 1, 6), DayClass::Weekend);
        assert_eq!(c(2024, 6, 1), DayClass::MonthStart); // a Saturday
        assert_eq!(DayClass::Special.base(), DayClass::Sunday);
        assert_eq!(DayClass::Sunday.base(), DayClass::Weekend);
        assert_eq!(DayClass::Weekend.base(), DayClass::Workday);
        assert_eq!(DayClass::MonthEnd.base(), DayClass::Workday);
        assert_eq!(c(2024, 1, 7), DayClass::Sunday);
        assert_eq!(c(2024, 1, 10), DayClass::Special);
        assert_eq!(c(2024, 1, 31), DayClass::MonthEnd);
        assert_eq!(c(2024, 2, 29), DayClass::MonthEnd);
        assert_eq!(c(2024, 2, 28), DayClass::Workday);
    }

    #[test]
    fn offsets_and_dates() {
        // 2024-01-06 23:30 UTC is already Sunday in UTC+1
        let ms = days_from_civil(2024, 1, 6) * DAY_MS + 23 * 3_600_000 + 1_800_000;
        assert_eq!(weekday(ms, 0), 5);
        assert_eq!(weekday(ms, 60), 6);
        assert_eq!(ms_of_day(ms, 60), 1_800_000);
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_date("x").is_err());
    }
}
