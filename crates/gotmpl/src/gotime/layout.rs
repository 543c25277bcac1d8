//! Go's layout strings: the elements of the reference time `Mon Jan 2 15:04:05 MST 2006`
//! found the way Go's `nextStdChunk` finds them, and how each is written.
//!
//! ```
//! let t = argus_gotmpl::GoTime::from_unix(0, 0);
//! assert_eq!(t.format("Monday, _2 Jan 2006 3:04pm Z07:00"), "Thursday,  1 Jan 1970 12:00am Z");
//! ```

use super::{Civil, GoTime, DAYS, MONTHS};

impl GoTime {
    /// Formats with a Go layout: the parts of the reference time `Mon Jan 2 15:04:05 MST 2006`
    /// stand for this time's; everything else is copied.
    pub fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (lit, std, after) = next_chunk(rest);
            out.push_str(lit);
            let Some(std) = std else { break };
            self.push_std(&mut out, &c, std);
            rest = after;
        }
        out
    }

    fn push_std(&self, out: &mut String, c: &Civil, std: Std) {
        use std::fmt::Write;
        let h12 = match c.hour % 12 {
            0 => 12,
            h => h,
        };
        // Writing to a String cannot fail.
        let _ = match std {
            Std::LongYear => write!(out, "{:04}", c.year),
            Std::Year => write!(out, "{:02}", c.year.rem_euclid(100)),
            Std::Month => write!(out, "{}", &MONTHS[c.month as usize - 1][..3]),
            Std::LongMonth => write!(out, "{}", MONTHS[c.month as usize - 1]),
            Std::NumMonth => write!(out, "{}", c.month),
            Std::ZeroMonth => write!(out, "{:02}", c.month),
            Std::WeekDay => write!(out, "{}", &DAYS[c.weekday as usize][..3]),
            Std::LongWeekDay => write!(out, "{}", DAYS[c.weekday as usize]),
            Std::Day => write!(out, "{}", c.day),
            Std::UnderDay => write!(out, "{:>2}", c.day),
            Std::ZeroDay => write!(out, "{:02}", c.day),
            Std::UnderYearDay => write!(out, "{:>3}", c.yday),
            Std::ZeroYearDay => write!(out, "{:03}", c.yday),
            Std::Hour => write!(out, "{:02}", c.hour),
            Std::Hour12 => write!(out, "{h12}"),
            Std::ZeroHour12 => write!(out, "{h12:02}"),
            Std::Minute => write!(out, "{}", c.minute),
            Std::ZeroMinute => write!(out, "{:02}", c.minute),
            Std::Second => write!(out, "{}", c.second),
            Std::ZeroSecond => write!(out, "{:02}", c.second),
            Std::PM => write!(out, "{}", if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => write!(out, "{}", if c.hour >= 12 { "pm" } else { "am" }),
            Std::Tz => {
                if self.zone.is_empty() {
                    let m = self.offset / 60;
                    write!(
                        out,
                        "{}{:02}{:02}",
                        if m < 0 { '-' } else { '+' },
                        m.abs() / 60,
                        m.abs() % 60
                    )
                } else {
                    write!(out, "{}", self.zone)
                }
            }
            Std::Offset {
                iso,
                colon,
                mins,
                secs,
            } => {
                if iso && self.offset == 0 {
                    write!(out, "Z")
                } else {
                    let o = self.offset.abs();
                    let sep = if colon { ":" } else { "" };
                    let _ = write!(
                        out,
                        "{}{:02}",
                        if self.offset < 0 { '-' } else { '+' },
                        o / 3600
                    );
                    if mins {
                        let _ = write!(out, "{sep}{:02}", o % 3600 / 60);
                    }
                    if secs {
                        let _ = write!(out, "{sep}{:02}", o % 60);
                    }
                    Ok(())
                }
            }
            Std::Frac { sep, digits, trim } => {
                let f = format!("{:09}", self.nanos);
                let mut f = &f[..digits.min(9)];
                if trim {
                    f = f.trim_end_matches('0');
                }
                if !f.is_empty() {
                    out.push(sep);
                    out.push_str(f);
                }
                Ok(())
            }
        };
    }
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Std {
    LongYear,
    Year,
    Month,
    LongMonth,
    NumMonth,
    ZeroMonth,
    WeekDay,
    LongWeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    PM,
    Pm,
    Tz,
    Offset {
        iso: bool,
        colon: bool,
        mins: bool,
        secs: bool,
    },
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Splits `layout` into the literal text before its first element, the element, and the rest
/// (Go's `nextStdChunk`, same precedence).
fn next_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..i + s.len()) == Some(s);
    for i in 0..b.len() {
        let found: Option<(Std, usize)> = match b[i] {
            b'J' if at(i, "January") => Some((Std::LongMonth, 7)),
            b'J' if at(i, "Jan") => Some((Std::Month, 3)),
            b'M' if at(i, "Monday") => Some((Std::LongWeekDay, 6)),
            b'M' if at(i, "Mon") => Some((Std::WeekDay, 3)),
            b'M' if at(i, "MST") => Some((Std::Tz, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some((
                [
                    Std::ZeroMonth,
                    Std::ZeroDay,
                    Std::ZeroHour12,
                    Std::ZeroMinute,
                    Std::ZeroSecond,
                    Std::Year,
                ][(b[i + 1] - b'1') as usize],
                2,
            )),
            b'0' if at(i, "002") => Some((Std::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Std::Hour, 2)),
            b'1' => Some((Std::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Std::LongYear, 4)),
            b'2' => Some((Std::Day, 1)),
            b'_' if at(i, "_2006") => {
                // Go keeps the underscore as text before a long year.
                return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "__2") => Some((Std::UnderYearDay, 3)),
            b'_' if at(i, "_2") => Some((Std::UnderDay, 2)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if at(i, "PM") => Some((Std::PM, 2)),
            b'p' if at(i, "pm") => Some((Std::Pm, 2)),
            b'-' | b'Z' => {
                let iso = b[i] == b'Z';
                let tail = &layout[i + 1..];
                [
                    ("070000", false, true, true),
                    ("07:00:00", true, true, true),
                    ("0700", false, true, false),
                    ("07:00", true, true, false),
                    ("07", false, false, false),
                ]
                .iter()
                .find(|(p, ..)| tail.starts_with(p))
                .map(|(p, colon, mins, secs)| {
                    (
                        Std::Offset {
                            iso,
                            colon: *colon,
                            mins: *mins,
                            secs: *secs,
                        },
                        p.len() + 1,
                    )
                })
            }
            b'.' | b',' if i + 1 < b.len() && matches!(b[i + 1], b'0' | b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((
                        Std::Frac {
                            sep: b[i] as char,
                            digits: j - i - 1,
                            trim: ch == b'9',
                        },
                        j - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}
