//! `time_intervals:` (and the legacy `mute_time_intervals:`): named sets of periods, evaluated
//! exactly like Alertmanager's `timeinterval` package.
//!
//! ```
//! use argus_alert::config::TimeInterval;
//! let t: TimeInterval = serde_saphyr::from_str(
//!     "weekdays: ['monday:friday']\ntimes: [{start_time: '09:00', end_time: '17:00'}]\n").unwrap();
//! // 2024-01-01 was a Monday; 10:00 UTC.
//! assert!(t.contains(1_704_103_200_000));
//! // Saturday 2024-01-06 10:00 UTC.
//! assert!(!t.contains(1_704_535_200_000));
//! ```

use chrono::{Datelike, TimeZone, Timelike};
use serde::{Deserialize, Deserializer};

/// A named list of intervals; it is active when any of them contains the instant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    /// Name referenced by routes.
    pub name: String,
    /// The periods.
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

/// One period: every field that is set must contain the instant (in `location`, UTC by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Times of day, `start_time` inclusive, `end_time` exclusive.
    #[serde(default)]
    pub times: Vec<TimeRange>,
    /// `monday:friday`, `sunday`.
    #[serde(default)]
    pub weekdays: Vec<Range<Weekday>>,
    /// `1:5`, `-3:-1` (counted from the end of the month).
    #[serde(default)]
    pub days_of_month: Vec<Range<DayOfMonth>>,
    /// `january:march`, `1:3`.
    #[serde(default)]
    pub months: Vec<Range<Month>>,
    /// `2024:2025`.
    #[serde(default)]
    pub years: Vec<Range<Year>>,
    /// IANA zone name, `UTC` or `Local`.
    #[serde(default)]
    pub location: Option<Location>,
}

/// A time zone.
#[derive(Debug, Clone)]
pub enum Location {
    /// The machine's zone.
    Local,
    /// A named zone.
    Zone(chrono_tz::Tz),
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "Local" {
            return Ok(Location::Local);
        }
        s.parse::<chrono_tz::Tz>()
            .map(Location::Zone)
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {s:?}")))
    }
}

/// A time-of-day range in minutes since midnight.
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// First minute (inclusive).
    pub start: u32,
    /// End minute (exclusive), up to 1440.
    pub end: u32,
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            start_time: String,
            end_time: String,
        }
        let r = Raw::deserialize(d)?;
        let p = |s: &str| -> Result<u32, String> {
            let (h, m) = s
                .split_once(':')
                .ok_or_else(|| format!("invalid time {s:?}: expected HH:MM"))?;
            let h: u32 = h.parse().map_err(|_| format!("invalid hour in {s:?}"))?;
            let m: u32 = m.parse().map_err(|_| format!("invalid minute in {s:?}"))?;
            if m > 59 || h > 24 || (h == 24 && m != 0) {
                return Err(format!("time {s:?} out of range"));
            }
            Ok(h * 60 + m)
        };
        let start = p(&r.start_time).map_err(serde::de::Error::custom)?;
        let end = p(&r.end_time).map_err(serde::de::Error::custom)?;
        if start >= end {
            return Err(serde::de::Error::custom(format!(
                "start_time {} must be before end_time {}",
                r.start_time, r.end_time
            )));
        }
        Ok(TimeRange { start, end })
    }
}

/// How one kind of range element parses.
pub trait RangeKind {
    /// Parses one bound.
    fn parse(s: &str) -> Result<i32, String>;
    /// Checks a parsed range.
    fn check(begin: i32, end: i32) -> Result<(), String> {
        if begin > end {
            return Err(format!("range start {begin} is after its end {end}"));
        }
        Ok(())
    }
}

/// An inclusive range `begin:end` (or a single value).
#[derive(Debug, Clone, Copy)]
pub struct Range<K> {
    /// First value.
    pub begin: i32,
    /// Last value (inclusive).
    pub end: i32,
    _k: std::marker::PhantomData<K>,
}

impl<'de, K: RangeKind> Deserialize<'de> for Range<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(i64),
            S(String),
        }
        let s = match Raw::deserialize(d)? {
            Raw::N(n) => n.to_string(),
            Raw::S(s) => s,
        };
        // A leading '-' belongs to the number (days_of_month), so split on ':' only.
        let (a, b) = s.split_once(':').unwrap_or((&s, &s));
        let begin = K::parse(a.trim()).map_err(serde::de::Error::custom)?;
        let end = K::parse(b.trim()).map_err(serde::de::Error::custom)?;
        K::check(begin, end).map_err(serde::de::Error::custom)?;
        Ok(Range {
            begin,
            end,
            _k: std::marker::PhantomData,
        })
    }
}

/// Weekday names; Sunday is 0.
#[derive(Debug, Clone, Copy)]
pub struct Weekday;
impl RangeKind for Weekday {
    fn parse(s: &str) -> Result<i32, String> {
        const N: [&str; 7] = [
            "sunday",
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
        ];
        N.iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|p| p as i32)
            .ok_or_else(|| format!("unknown weekday {s:?}"))
    }
}

/// Days of the month: 1..31 or -31..-1.
#[derive(Debug, Clone, Copy)]
pub struct DayOfMonth;
impl RangeKind for DayOfMonth {
    fn parse(s: &str) -> Result<i32, String> {
        let n: i32 = s
            .parse()
            .map_err(|_| format!("invalid day of month {s:?}"))?;
        if n == 0 || !(-31..=31).contains(&n) {
            return Err(format!("day of month {n} out of range"));
        }
        Ok(n)
    }
    fn check(begin: i32, end: i32) -> Result<(), String> {
        if (begin > 0 && end > 0 || begin < 0 && end < 0) && begin > end {
            return Err(format!("range start {begin} is after its end {end}"));
        }
        Ok(())
    }
}

/// Months: names or 1..12.
#[derive(Debug, Clone, Copy)]
pub struct Month;
impl RangeKind for Month {
    fn parse(s: &str) -> Result<i32, String> {
        const N: [&str; 12] = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        if let Some(p) = N.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(p as i32 + 1);
        }
        match s.parse::<i32>() {
            Ok(n) if (1..=12).contains(&n) => Ok(n),
            _ => Err(format!("unknown month {s:?}")),
        }
    }
}

/// Years.
#[derive(Debug, Clone, Copy)]
pub struct Year;
impl RangeKind for Year {
    fn parse(s: &str) -> Result<i32, String> {
        s.parse().map_err(|_| format!("invalid year {s:?}"))
    }
}

struct Parts {
    minute_of_day: u32,
    weekday: i32,
    day: i32,
    days_in_month: i32,
    month: i32,
    year: i32,
}

fn parts<T: TimeZone>(tz: &T, ms: i64) -> Option<Parts> {
    let t = tz.timestamp_millis_opt(ms).single()?;
    let (y, m) = (t.year(), t.month());
    let first_next = if m == 12 {
        chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
    }?;
    let days_in_month = first_next.pred_opt()?.day() as i32;
    Some(Parts {
        minute_of_day: t.hour() * 60 + t.minute(),
        weekday: t.weekday().num_days_from_sunday() as i32,
        day: t.day() as i32,
        days_in_month,
        month: m as i32,
        year: y,
    })
}

impl TimeInterval {
    /// True when the instant `ms` lies in this period.
    pub fn contains(&self, ms: i64) -> bool {
        let p = match &self.location {
            None => parts(&chrono::Utc, ms),
            Some(Location::Local) => parts(&chrono::Local, ms),
            Some(Location::Zone(z)) => parts(z, ms),
        };
        let Some(p) = p else { return false };
        let any = |empty: bool, hit: bool| empty || hit;
        any(
            self.times.is_empty(),
            self.times
                .iter()
                .any(|r| p.minute_of_day >= r.start && p.minute_of_day < r.end),
        ) && any(
            self.weekdays.is_empty(),
            self.weekdays
                .iter()
                .any(|r| p.weekday >= r.begin && p.weekday <= r.end),
        ) && any(
            self.days_of_month.is_empty(),
            self.days_of_month.iter().any(|r| {
                let fix = |d: i32| if d < 0 { p.days_in_month + d + 1 } else { d };
                let (b, e) = (fix(r.begin), fix(r.end).min(p.days_in_month));
                b <= p.days_in_month && p.day >= b && p.day <= e
            }),
        ) && any(
            self.months.is_empty(),
            self.months
                .iter()
                .any(|r| p.month >= r.begin && p.month <= r.end),
        ) && any(
            self.years.is_empty(),
            self.years
                .iter()
                .any(|r| p.year >= r.begin && p.year <= r.end),
        )
    }
}

impl TimeIntervalConfig {
    /// True when any period contains `ms`.
    pub fn active(&self, ms: i64) -> bool {
        self.time_intervals.iter().any(|t| t.contains(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ti(y: &str) -> TimeInterval {
        serde_saphyr::from_str(y).unwrap()
    }

    #[test]
    fn days_from_end_and_zones() {
        // 2024-02-29 12:00 UTC, the last day of a leap February.
        let t = 1_709_208_000_000;
        assert!(ti("days_of_month: ['-1']\n").contains(t));
        assert!(!ti("days_of_month: ['1:28']\n").contains(t));
        assert!(ti("months: ['february']\nyears: ['2024']\n").contains(t));
        // 12:00 UTC is 21:00 in Tokyo.
        assert!(
            ti("times: [{start_time: '20:00', end_time: '22:00'}]\nlocation: Asia/Tokyo\n")
                .contains(t)
        );
        assert!(serde_saphyr::from_str::<TimeInterval>("location: Mars/Base\n").is_err());
        assert!(serde_saphyr::from_str::<TimeInterval>("weekdays: ['funday']\n").is_err());
    }
}
