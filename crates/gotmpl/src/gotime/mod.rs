//! Go's `time.Time` and `time.Duration` as template values: formatting with Go's reference-time
//! layouts (`"2006-01-02 15:04:05"`), `Time.String()`, `Duration.String()`, and the methods
//! templates call on them (`.Format`, `.Unix`, `.UTC`, `.Sub`, `.Seconds`, ...).
//!
//! Time zones other than fixed offsets need a zone database, which this crate does not carry:
//! a caller that has one (Alertmanager's `tz` function in `argus-alert`) builds a [`GoTime`]
//! with the zone's offset and abbreviation.
//!
//! ```
//! use argus_gotmpl::{GoTime, Value};
//! let t = GoTime::from_unix(1_700_000_000, 500_000_000); // 2023-11-14 22:13:20.5 UTC
//! assert_eq!(t.format("2006-01-02 15:04:05.000 MST"), "2023-11-14 22:13:20.500 UTC");
//! assert_eq!(t.format(time_layouts::KITCHEN), "10:13PM");
//! assert_eq!(Value::Time(t).to_go_string(), "2023-11-14 22:13:20.5 +0000 UTC");
//! assert_eq!(argus_gotmpl::go_duration(90_500_000_000), "1m30.5s");
//! # use argus_gotmpl::time_layouts;
//! ```

mod layout;
mod methods;

use argus_model::time::{civil_from_days, days_from_civil, days_in_month};

pub use methods::{go_duration, humanize_duration, time_method};

/// Seconds from Go's zero time (January 1, year 1, UTC) to the Unix epoch, negated.
pub const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// A few of Go's predefined layouts.
pub mod time_layouts {
    /// `time.RFC3339`.
    pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";
    /// `time.RFC3339Nano`.
    pub const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";
    /// `time.Kitchen`.
    pub const KITCHEN: &str = "3:04PM";
    /// What `Time.String()` uses.
    pub const STRING: &str = "2006-01-02 15:04:05.999999999 -0700 MST";
}

/// An instant with the zone it is shown in, like Go's `time.Time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second, `0..1e9`.
    pub nanos: u32,
    /// The zone's offset east of UTC, seconds.
    pub offset: i32,
    /// The zone's abbreviation (`UTC`, `CET`); empty shows the numeric offset, as Go does.
    pub zone: String,
}

impl GoTime {
    /// An instant in UTC.
    pub fn from_unix(secs: i64, nanos: u32) -> GoTime {
        GoTime {
            secs: secs + i64::from(nanos / 1_000_000_000),
            nanos: nanos % 1_000_000_000,
            offset: 0,
            zone: "UTC".to_string(),
        }
    }

    /// An instant from milliseconds since the epoch, in UTC.
    pub fn from_unix_ms(ms: i64) -> GoTime {
        GoTime::from_unix(
            ms.div_euclid(1000),
            (ms.rem_euclid(1000) * 1_000_000) as u32,
        )
    }

    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
    pub fn zero() -> GoTime {
        GoTime::from_unix(ZERO_TIME_UNIX, 0)
    }

    /// Parses RFC 3339 (`2024-05-01T10:00:00.5+02:00`, `...Z`); the offset is kept, and
    /// named `UTC` when zero (as Go's `time.Parse` does for `Z`).
    pub fn parse_rfc3339(s: &str) -> Result<GoTime, String> {
        let bad = || format!("parsing time {s:?} as RFC 3339: bad format");
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            let t = s.get(r).ok_or_else(bad)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<i64>().map_err(|_| bad())
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return Err(bad());
        }
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo)
            || d < 1
            || d > i64::from(days_in_month(y, mo as u32))
            || h > 23
            || mi > 59
            || se > 59
        {
            return Err(format!("parsing time {s:?}: value out of range"));
        }
        let mut i = 19;
        let mut nanos: u32 = 0;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            let digits = &s[start..i.min(start + 9)];
            nanos = digits.parse::<u32>().map_err(|_| bad())? * 10u32.pow(9 - digits.len() as u32);
        }
        let offset: i32 = match &s[i..] {
            "Z" | "z" => 0,
            z if z.len() == 6
                && matches!(z.as_bytes()[0], b'+' | b'-')
                && z.as_bytes()[3] == b':' =>
            {
                let hh = num(i + 1..i + 3)? as i32;
                let mm = num(i + 4..i + 6)? as i32;
                let o = hh * 3600 + mm * 60;
                if z.starts_with('-') {
                    -o
                } else {
                    o
                }
            }
            _ => return Err(bad()),
        };
        let local = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se;
        Ok(GoTime {
            secs: local - i64::from(offset),
            nanos,
            offset,
            zone: if offset == 0 {
                "UTC".to_string()
            } else {
                String::new()
            },
        })
    }

    /// The same instant in UTC.
    pub fn utc(&self) -> GoTime {
        GoTime::from_unix(self.secs, self.nanos)
    }

    /// The same instant shown at `offset` seconds east of UTC, named `zone`.
    pub fn in_zone(&self, offset: i32, zone: &str) -> GoTime {
        GoTime {
            secs: self.secs,
            nanos: self.nanos,
            offset,
            zone: zone.to_string(),
        }
    }

    /// Whether this is Go's zero time.
    pub fn is_zero(&self) -> bool {
        self.secs == ZERO_TIME_UNIX && self.nanos == 0
    }

    /// Nanoseconds since the epoch (wide enough for any year).
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// The instant `d` nanoseconds later.
    pub fn add(&self, d: i64) -> GoTime {
        let n = self.unix_nanos() + i128::from(d);
        GoTime {
            secs: n.div_euclid(1_000_000_000) as i64,
            nanos: n.rem_euclid(1_000_000_000) as u32,
            offset: self.offset,
            zone: self.zone.clone(),
        }
    }

    /// `self - other` as a Go duration (saturating at its range, as Go's `Sub` does).
    pub fn sub(&self, other: &GoTime) -> i64 {
        let d = self.unix_nanos() - other.unix_nanos();
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The wall clock in this time's zone.
    pub(crate) fn civil(&self) -> Civil {
        let local = self.secs + i64::from(self.offset);
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month: i64::from(month),
            day: i64::from(day),
            hour: sod / 3600,
            minute: sod % 3600 / 60,
            second: sod % 60,
            // 1970-01-01 was a Thursday (4).
            weekday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(year, 1, 1) + 1,
        }
    }

    /// What Go's `Time.String()` prints.
    pub fn go_string(&self) -> String {
        self.format(time_layouts::STRING)
    }
}

pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: i64,
    pub(crate) day: i64,
    pub(crate) hour: i64,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    pub(crate) weekday: i64,
    pub(crate) yday: i64,
}

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(crate) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
