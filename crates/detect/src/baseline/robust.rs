//! The robust short-history model for cold start: median ± k·1.4826·MAD of
//! the last 64 values, kept in a fixed ring (256 bytes). Used until a series
//! has a trained model; its verdicts are flagged `cold_start`.
//!
//! ```
//! use argus_detect::baseline::robust::ColdStart;
//!
//! let mut c = ColdStart::default();
//! for i in 0..40 { c.push(10.0 + (i % 3) as f64); }
//! let b = c.band(4.0, 8).unwrap();
//! assert_eq!(b.expected, 11.0);
//! assert!(b.lower < 10.0 && b.upper > 12.0);
//! ```

use serde::{Deserialize, Serialize};

use super::stats::{median, MAD_TO_SIGMA};
use super::Band;

/// Values remembered for cold start.
pub const COLD_WINDOW: usize = 64;

/// Ring of the most recent values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    #[serde(with = "ring_serde")]
    vals: [f32; COLD_WINDOW],
    len: u8,
    next: u8,
}

mod ring_serde {
    use super::COLD_WINDOW;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32; COLD_WINDOW], s: S) -> Result<S::Ok, S::Error> {
        v.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; COLD_WINDOW], D::Error> {
        let v = Vec::<f32>::deserialize(d)?;
        let mut out = [0.0; COLD_WINDOW];
        for (o, x) in out.iter_mut().zip(v) {
            *o = x;
        }
        Ok(out)
    }
}

impl Default for ColdStart {
    fn default() -> Self {
        Self {
            vals: [0.0; COLD_WINDOW],
            len: 0,
            next: 0,
        }
    }
}

impl ColdStart {
    /// Remembers a value, forgetting the oldest when full.
    pub fn push(&mut self, v: f64) {
        self.vals[usize::from(self.next)] = v as f32;
        self.next = ((usize::from(self.next) + 1) % COLD_WINDOW) as u8;
        self.len = (usize::from(self.len) + 1).min(COLD_WINDOW) as u8;
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// median ± k·σ, or `None` with fewer than `min_points` values. σ is
    /// floored at 1 % of |median| (or 1e-9) so a flat history still gives a
    /// usable band.
    pub fn band(&self, k: f64, min_points: usize) -> Option<Band> {
        let n = self.len();
        if n < min_points.max(1) {
            return None;
        }
        let mut buf = [0.0f64; COLD_WINDOW];
        for (b, v) in buf.iter_mut().zip(&self.vals[..n]) {
            *b = f64::from(*v);
        }
        let med = median(&mut buf[..n]);
        for b in buf[..n].iter_mut() {
            *b = (*b - med).abs();
        }
        let sigma = (MAD_TO_SIGMA * median(&mut buf[..n]))
            .max(0.01 * med.abs())
            .max(1e-9);
        Some(Band {
            expected: med,
            lower: med - k * sigma,
            upper: med + k * sigma,
        })
    }

    /// The spread the band was built from (for `N`'s floor).
    pub fn scale(band: &Band, k: f64) -> f64 {
        (band.upper - band.expected) / k.max(1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_min_points_and_wraps() {
        let mut c = ColdStart::default();
        assert!(c.band(4.0, 8).is_none());
        for _ in 0..200 {
            c.push(5.0);
        }
        assert_eq!(c.len(), COLD_WINDOW);
        let b = c.band(4.0, 8).unwrap();
        assert_eq!(b.expected, 5.0);
        assert!(
            (b.upper - 5.2).abs() < 1e-6,
            "1 % floor on a flat series: {b:?}"
        );
        for _ in 0..COLD_WINDOW {
            c.push(9.0);
        }
        assert_eq!(c.band(4.0, 8).unwrap().expected, 9.0);
    }
}
