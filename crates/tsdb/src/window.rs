//! The window of sample timestamps the store accepts, measured around the
//! injected clock's now, and a dependency-free RFC 3339 formatter for the
//! error messages that name it.
//!
//! ```
//! use argus_tsdb::{format_ms, MAX_TIMESTAMP_MS};
//! assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
//! assert_eq!(format_ms(MAX_TIMESTAMP_MS), "9999-12-31T23:59:59.999Z");
//! assert_eq!(format_ms(i64::MIN), "before year 0");
//! ```

use crate::Options;

/// The oldest timestamp the store ever accepts: 0000-01-01T00:00:00Z. Every
/// accepted timestamp can be written as an RFC 3339 date, and block-window
/// arithmetic (`t / range * range + range`) stays far from `i64` overflow.
pub const MIN_TIMESTAMP_MS: i64 = -62_167_219_200_000;
/// The newest timestamp the store ever accepts: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// An inclusive range of accepted timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// Oldest accepted timestamp.
    pub(crate) min: i64,
    /// Newest accepted timestamp.
    pub(crate) max: i64,
}

impl Window {
    /// The window for new samples at `now`: no older than the retention
    /// (when set), no newer than `now + max_future_ms`, and always inside
    /// [`MIN_TIMESTAMP_MS`, `MAX_TIMESTAMP_MS`].
    pub(crate) fn for_append(now: i64, opts: &Options) -> Window {
        let min = opts
            .retention_ms
            .map_or(MIN_TIMESTAMP_MS, |r| now.saturating_sub(r.max(0)));
        Window {
            min: min.clamp(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS),
            max: Self::max_at(now, opts),
        }
    }

    /// The window for samples replayed from the WAL at `now`: as for new
    /// samples, but with no retention bound (acknowledged old data is kept;
    /// retention deletes it once it is in a block).
    pub(crate) fn for_replay(now: i64, opts: &Options) -> Window {
        Window {
            min: MIN_TIMESTAMP_MS,
            max: Self::max_at(now, opts),
        }
    }

    fn max_at(now: i64, opts: &Options) -> i64 {
        now.saturating_add(opts.max_future_ms.max(0))
            .clamp(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)
    }

    /// True when `t` is inside the window.
    #[inline]
    pub(crate) fn contains(&self, t: i64) -> bool {
        t >= self.min && t <= self.max
    }
}

/// `t` (ms since 1970) as an RFC 3339 UTC date with milliseconds, or a short
/// phrase when it is outside years 0 to 9999.
pub fn format_ms(t: i64) -> String {
    if t < MIN_TIMESTAMP_MS {
        return "before year 0".to_string();
    }
    if t > MAX_TIMESTAMP_MS {
        return "after year 9999".to_string();
    }
    argus_model::time::format_rfc3339_ms(t, argus_model::time::Fraction::Millis)
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_across_the_range() {
        assert_eq!(format_ms(MIN_TIMESTAMP_MS), "0000-01-01T00:00:00.000Z");
        assert_eq!(format_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ms(MAX_TIMESTAMP_MS + 1), "after year 9999");
    }

    #[test]
    fn windows_saturate_and_clamp() {
        let o = Options {
            retention_ms: Some(i64::MAX),
            max_future_ms: i64::MAX,
            ..Options::default()
        };
        let w = Window::for_append(i64::MAX, &o);
        assert_eq!((w.min, w.max), (0, MAX_TIMESTAMP_MS));
        let w = Window::for_append(i64::MIN, &o);
        assert_eq!((w.min, w.max), (MIN_TIMESTAMP_MS, -1));
        let o = Options::default();
        let w = Window::for_append(1_000_000_000_000, &o);
        assert_eq!(w.max, 1_000_000_000_000 + 600_000);
        assert_eq!(w.min, 1_000_000_000_000 - 15 * 86_400_000);
        assert!(!w.contains(i64::MIN) && !w.contains(i64::MAX));
        assert_eq!(Window::for_replay(0, &o).min, MIN_TIMESTAMP_MS);
    }
}
