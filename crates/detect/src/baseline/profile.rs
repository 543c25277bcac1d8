//! A band per phase bin of a period (e.g. 96 bins of 15 minutes over a day),
//! linearly interpolated between bin centres. Shared by KDE, DataCluster and
//! the seasonal part of Holt-Winters.
//!
//! ```
//! use argus_detect::baseline::profile::{BinRule, Profile};
//!
//! // two bins over a 2-hour period; bin 0 holds values near 10, bin 1 near 20
//! let mut bins = vec![Vec::new(), Vec::new()];
//! for i in 0..50 {
//!     bins[0].push((10.0 + (i % 3) as f64, 1.0));
//!     bins[1].push((20.0 + (i % 3) as f64, 1.0));
//! }
//! let p = Profile::build(7_200_000, 3_600_000, bins, BinRule::Sigma(3.0), false);
//! let (a, b) = (p.band_at(1_800_000).expected, p.band_at(5_400_000).expected);
//! assert!(a < 13.0 && b > 19.0); // bin centres (each pooled with its neighbour)
//! assert_eq!(p.band_at(3_600_000).expected, (a + b) / 2.0); // half-way between centres
//! ```

use serde::{Deserialize, Serialize};

use super::stats::{kde_quantile, silverman_bandwidth, weighted_mad_sigma, weighted_quantile};
use super::Band;

/// How a bin's band is derived from its points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinRule {
    /// median ± k·σ (σ = 1.4826·weighted MAD).
    Sigma(f64),
    /// Kernel-density quantiles `q` and `1 − q`, widened by `margin`·σ.
    Kde {
        /// Lower quantile.
        q: f64,
        /// Extra margin in σ.
        margin: f64,
    },
}

/// A per-bin band over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The period, ms.
    pub period_ms: i64,
    /// Bin width, ms.
    pub bin_ms: i64,
    /// `[expected, lower, upper]` per bin (f32 keeps models small).
    pub bins: Vec<[f32; 3]>,
}

impl Profile {
    /// Number of bins for a period and bin width (at least 1).
    pub fn bin_count(period_ms: i64, bin_ms: i64) -> usize {
        if bin_ms <= 0 {
            return 1;
        }
        ((period_ms + bin_ms - 1) / bin_ms).max(1) as usize
    }

    /// Builds a profile from the weighted points of each bin. Each bin is
    /// pooled with its two neighbours at half weight (cyclically when
    /// `cyclic`), so phases blend smoothly. Empty bins take the band of all
    /// points together.
    pub fn build(
        period_ms: i64,
        bin_ms: i64,
        per_bin: Vec<Vec<(f64, f64)>>,
        rule: BinRule,
        cyclic: bool,
    ) -> Profile {
        let n = per_bin.len();
        let all: Vec<(f64, f64)> = per_bin.iter().flatten().copied().collect();
        let global = band_of(&all, rule);
        let mut bins = Vec::with_capacity(n);
        for i in 0..n {
            let mut pooled = per_bin[i].clone();
            let neighbours = [
                if i > 0 {
                    Some(i - 1)
                } else if cyclic && n > 1 {
                    Some(n - 1)
                } else {
                    None
                },
                if i + 1 < n {
                    Some(i + 1)
                } else if cyclic && n > 1 {
                    Some(0)
                } else {
                    None
                },
            ];
            for j in neighbours.into_iter().flatten() {
                if j != i {
                    pooled.extend(per_bin[j].iter().map(|&(x, w)| (x, 0.5 * w)));
                }
            }
            let b = if pooled.iter().any(|p| p.1 > 0.0) {
                band_of(&pooled, rule)
            } else {
                global
            };
            bins.push([b.expected as f32, b.lower as f32, b.upper as f32]);
        }
        Profile {
            period_ms,
            bin_ms,
            bins,
        }
    }

    /// The band at `phase_ms` (milliseconds into the period), interpolated
    /// between the centres of the two nearest bins.
    pub fn band_at(&self, phase_ms: i64) -> Band {
        let Some((i, j, f)) = self.neighbours(phase_ms) else {
            return Band::OPEN;
        };
        let (a, b) = (self.bins[i], self.bins[j]);
        let lerp = |k: usize| f64::from(a[k] + (b[k] - a[k]) * f);
        Band {
            expected: lerp(0),
            lower: lerp(1),
            upper: lerp(2),
        }
    }

    /// The two bins whose centres enclose `phase_ms`, and how far (0–1)
    /// the phase lies from the first towards the second; `None` for an
    /// empty profile.
    pub fn neighbours(&self, phase_ms: i64) -> Option<(usize, usize, f32)> {
        let n = self.bins.len();
        if n == 0 || self.bin_ms <= 0 {
            return None;
        }
        let pos = phase_ms.rem_euclid(self.period_ms.max(1)) as f64 / self.bin_ms as f64 - 0.5;
        let pos = pos.rem_euclid(n as f64);
        let i = (pos.floor() as usize).min(n - 1);
        Some((i, (i + 1) % n, (pos - i as f64) as f32))
    }
}

/// The band of one pooled set of points.
pub fn band_of(points: &[(f64, f64)], rule: BinRule) -> Band {
    let mut v = points.to_vec();
    let med = weighted_quantile(&mut v, 0.5);
    if !med.is_finite() {
        return Band::OPEN;
    }
    let sigma = weighted_mad_sigma(&v, med);
    match rule {
        BinRule::Sigma(k) => Band {
            expected: med,
            lower: med - k * sigma,
            upper: med + k * sigma,
        },
        BinRule::Kde { q, margin } => {
            // `v` is sorted by weighted_quantile above.
            let h = silverman_bandwidth(&v);
            Band {
                expected: med,
                lower: kde_quantile(&v, h, q) - margin * sigma,
                upper: kde_quantile(&v, h, 1.0 - q) + margin * sigma,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bin_takes_global_band() {
        let bins = vec![vec![(1.0, 1.0), (2.0, 1.0), (3.0, 1.0)], vec![], vec![]];
        let p = Profile::build(3, 1, bins, BinRule::Sigma(2.0), false);
        assert!(p.bins.iter().all(|b| b[0] > 0.0));
    }

    #[test]
    fn kde_band_contains_bulk() {
        let pts: Vec<(f64, f64)> = (0..200).map(|i| ((i % 20) as f64, 1.0)).collect();
        let b = band_of(
            &pts,
            BinRule::Kde {
                q: 0.005,
                margin: 0.0,
            },
        );
        assert!(b.lower < 0.0 && b.upper > 19.0, "{b:?}");
    }

    #[test]
    fn interpolation_wraps() {
        let p = Profile {
            period_ms: 100,
            bin_ms: 50,
            bins: vec![[0.0, -1.0, 1.0], [10.0, 9.0, 11.0]],
        };
        assert_eq!(p.band_at(25).expected, 0.0);
        assert_eq!(p.band_at(75).expected, 10.0);
        assert_eq!(p.band_at(0).expected, 5.0); // between last and first centre
        assert_eq!(p.band_at(-25).expected, 10.0);
    }
}
