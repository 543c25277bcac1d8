//! A contextual novelty detector (after the idea of CAD OSE, the "contextual
//! anomaly detector" of NAB: values become symbols, short sequences of
//! symbols are learnt online, and a sample is anomalous when the context it
//! completes has not been seen). Written from that published description;
//! the memory here is a fixed-size pair of bit sets instead of CAD's growing
//! context dictionary, so the state stays bounded.
//!
//! How a sample is scored:
//! 1. Discretisation: the first `learn` samples fix an origin and a bin width
//!    (`levels` bins whose centres span their range). Every later value gives two symbols,
//!    its bin and its bin on a grid shifted by half a bin, so a value near a
//!    bin edge is not novel just because noise moved it across the edge.
//!    Values outside the first range simply get symbols outside
//!    `0..levels` (new symbols, hence novel). When the input range is known
//!    up front ([`ContextDetector::with_range`], NAB's protocol), it fixes
//!    the grid instead (`range_levels` bins, as the whole range, outliers
//!    included, is wider than the first samples') and contexts are learnt
//!    from the first sample.
//! 2. Contexts: for each grid and each order `k` in `0..=order`, the key is
//!    the last `k` symbols followed by the current one. A key is novel when
//!    it is in neither of two generations of a small Bloom-style bit set.
//!    Every key not in the current generation is added to it (so contexts
//!    in use are carried forward). When the current generation is a quarter
//!    full it becomes the previous one and a fresh one starts, so memory is
//!    bounded and contexts unused for about two generations are forgotten.
//! 3. The novelty is the fraction of novel keys, in `[0, 1]`: 0 for a sample
//!    whose every context was seen recently, 1 for a value never seen before.
//!
//! ```
//! use argus_detect::anomaly::{ContextConfig, ContextDetector};
//! let mut d = ContextDetector::new(ContextConfig::default());
//! let mut last = 0.0;
//! for i in 0..3000 {
//!     last = d.update(f64::from(i % 24)); // a repeating pattern
//! }
//! assert_eq!(last, 0.0);
//! assert_eq!(d.update(100.0), 1.0); // a value never seen: every key novel
//! assert!(d.state_bytes() <= 640);
//! ```

use serde::{Deserialize, Serialize};

/// Longest context (in previous symbols) the detector can hold.
pub const MAX_ORDER: usize = 4;
/// 64-bit words per generation of the seen-set (2 048 bits).
const WORDS: usize = 32;
const BITS: u32 = (WORDS * 64) as u32;

/// Configuration of the [`ContextDetector`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// Bins over the range of the first `learn` samples. Default 32.
    pub levels: u32,
    /// Bins over a known input range ([`ContextDetector::with_range`]); 0
    /// means `levels`. Default 64: the whole range, outliers included, is
    /// typically about twice as wide as the first samples' (ADR 0009).
    pub range_levels: u32,
    /// Previous symbols in the longest context, at most [`MAX_ORDER`];
    /// 0 keeps only the value's own bin. Default 0 (on NAB, longer contexts
    /// flag noise: ADR 0009).
    pub order: u32,
    /// Samples that fix the bin grid; contexts are learnt from then on.
    /// Default 300.
    pub learn: u32,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            levels: 32,
            range_levels: 64,
            order: 0,
            learn: 300,
        }
    }
}

/// Per-series contextual novelty detector; see the module docs.
#[derive(Debug, Clone)]
pub struct ContextDetector {
    levels: f64,
    order: usize,
    learn: u32,
    n: u32,
    lo: f64,
    hi: f64,
    sum: f64,
    /// Bin width, 0 until the first `learn` samples fixed it.
    width: f64,
    /// Last symbols of each grid, newest first.
    hist: [[i32; MAX_ORDER]; 2],
    /// Symbols in `hist` so far (up to `order`).
    filled: usize,
    /// Two generations of the seen-set; `cur` is the one being filled.
    seen: [[u64; WORDS]; 2],
    cur: usize,
    /// Bits set in the current generation.
    set_bits: u32,
}

impl ContextDetector {
    /// A fresh detector; `order` is capped at [`MAX_ORDER`] and `levels`
    /// and `learn` count as at least 1.
    pub fn new(cfg: ContextConfig) -> Self {
        Self {
            levels: f64::from(cfg.levels.max(1)),
            order: (cfg.order as usize).min(MAX_ORDER),
            learn: cfg.learn.max(1),
            n: 0,
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            sum: 0.0,
            width: 0.0,
            hist: [[0; MAX_ORDER]; 2],
            filled: 0,
            seen: [[0; WORDS]; 2],
            cur: 0,
            set_bits: 0,
        }
    }

    /// A detector whose grid is fixed from a known input range instead of
    /// the first `learn` samples: `range_levels` bins whose centres span
    /// `[min, max]`, and contexts are learnt from the first sample on. This
    /// is NAB's standard protocol (every NAB detector is given the data
    /// file's `inputMin`/`inputMax`); a streaming series has no such range,
    /// so production uses [`ContextDetector::new`]. A non-finite range or
    /// `min > max` falls back to [`ContextDetector::new`]; a flat range
    /// (`min == max`) gets a small bin width around the value.
    ///
    /// ```
    /// use argus_detect::anomaly::{ContextConfig, ContextDetector};
    /// let mut d = ContextDetector::with_range(ContextConfig::default(), 0.0, 23.0);
    /// assert!(d.is_learning());
    /// assert_eq!(d.update(5.0), 1.0); // the first value is new
    /// assert_eq!(d.update(5.0), 0.0); // and then known
    /// ```
    pub fn with_range(cfg: ContextConfig, min: f64, max: f64) -> Self {
        let levels = if cfg.range_levels > 0 {
            cfg.range_levels
        } else {
            cfg.levels
        };
        let mut d = Self::new(ContextConfig { levels, ..cfg });
        if min.is_finite() && max.is_finite() && min <= max {
            d.fix_grid(min, max, 0.5 * (min + max));
        }
        d
    }

    /// Fixes the grid so that the centres of the first and the last bin sit
    /// on `lo` and `hi` (the extremes do not sit on bin edges).
    fn fix_grid(&mut self, lo: f64, hi: f64, mean: f64) {
        // A flat range still gets a usable grid.
        let floor = 1e-9 + 1e-3 * mean.abs();
        self.width = ((hi - lo) / (self.levels - 1.0).max(1.0)).max(floor);
        self.lo = lo - 0.5 * self.width;
        self.hi = hi;
    }

    /// Bytes held for this series (all inline, no heap).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    /// True once the bin grid is fixed and contexts are being learnt.
    pub fn is_learning(&self) -> bool {
        self.width > 0.0
    }

    /// The novelty of `x` in `[0, 1]` (0 while the grid is being fixed),
    /// then learns its contexts. Non-finite values are ignored and give 0.
    pub fn update(&mut self, x: f64) -> f64 {
        if !x.is_finite() {
            return 0.0;
        }
        if self.width == 0.0 {
            self.n += 1;
            self.lo = self.lo.min(x);
            self.hi = self.hi.max(x);
            self.sum += x;
            if self.n >= self.learn {
                let mean = self.sum / f64::from(self.n);
                self.fix_grid(self.lo, self.hi, mean);
            }
            return 0.0;
        }
        let mut novel = 0u32;
        let mut total = 0u32;
        for grid in 0..2 {
            let pos = (x - self.lo) / self.width + 0.5 * grid as f64;
            // Saturating float-to-int cast: far outliers share the end symbols.
            let sym = pos.floor() as i32;
            for k in 0..=self.order.min(self.filled) {
                let key = self.key(grid, k, sym);
                total += 1;
                let (in_cur, in_prev) = self.contains(key);
                if !in_cur && !in_prev {
                    novel += 1;
                }
                if !in_cur {
                    // Seen again: refresh it into the current generation.
                    self.insert(key);
                }
            }
            let h = &mut self.hist[grid];
            h.copy_within(0..MAX_ORDER - 1, 1);
            h[0] = sym;
        }
        self.filled = (self.filled + 1).min(self.order);
        f64::from(novel) / f64::from(total)
    }

    /// Hash of (grid, order, last `k` symbols, current symbol).
    fn key(&self, grid: usize, k: usize, sym: i32) -> u64 {
        let mut h = mix(((grid as u64) << 8) | k as u64);
        for &s in &self.hist[grid][..k] {
            h = mix(h ^ u64::from(s as u32));
        }
        mix(h ^ (u64::from(sym as u32) << 1))
    }

    /// The two bit positions of a key.
    fn bits(key: u64) -> [u32; 2] {
        [(key as u32) % BITS, ((key >> 32) as u32) % BITS]
    }

    /// Whether the key is in the current and in the previous generation.
    fn contains(&self, key: u64) -> (bool, bool) {
        let has = |g: &[u64; WORDS]| {
            Self::bits(key)
                .iter()
                .all(|&b| g[(b / 64) as usize] & (1 << (b % 64)) != 0)
        };
        (has(&self.seen[self.cur]), has(&self.seen[self.cur ^ 1]))
    }

    fn insert(&mut self, key: u64) {
        if self.set_bits >= BITS / 4 {
            // The current generation becomes the previous one.
            self.cur ^= 1;
            self.seen[self.cur] = [0; WORDS];
            self.set_bits = 0;
        }
        for b in Self::bits(key) {
            let w = &mut self.seen[self.cur][(b / 64) as usize];
            let m = 1u64 << (b % 64);
            if *w & m == 0 {
                *w |= m;
                self.set_bits += 1;
            }
        }
    }
}

/// SplitMix64's finaliser: a cheap, well-mixing 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bounded noise in [-0.5, 0.5).
    fn noise(i: u32) -> f64 {
        let x = u64::from(i)
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) % 1000) as f64 / 1000.0 - 0.5
    }

    /// A daily sine (288 samples a day) with small noise.
    fn periodic(i: u32) -> f64 {
        let phase = f64::from(i % 288) / 288.0 * std::f64::consts::TAU;
        50.0 + 20.0 * phase.sin() + 0.5 * noise(i)
    }

    fn run(
        d: &mut ContextDetector,
        range: std::ops::Range<u32>,
        f: impl Fn(u32) -> f64,
    ) -> Vec<f64> {
        range.map(|i| d.update(f(i))).collect()
    }

    #[test]
    fn a_clean_periodic_series_is_learnt_and_stays_quiet() {
        let mut d = ContextDetector::new(ContextConfig::default());
        run(&mut d, 0..288 * 5, periodic);
        let later = run(&mut d, 288 * 5..288 * 20, periodic);
        let loud = later.iter().filter(|&&v| v > 0.3).count();
        assert_eq!(
            loud,
            0,
            "max {:?}",
            later.iter().copied().fold(0.0, f64::max)
        );
        let mean = later.iter().sum::<f64>() / later.len() as f64;
        assert!(mean < 0.01, "mean novelty {mean}");
    }

    #[test]
    fn a_spike_is_novel() {
        let mut d = ContextDetector::new(ContextConfig::default());
        run(&mut d, 0..288 * 6, periodic);
        // A spike to 1.5× the usual peak: a bin never seen.
        assert_eq!(d.update(105.0), 1.0);
        // The next ordinary value is not novel.
        assert_eq!(d.update(periodic(288 * 6 + 1)), 0.0);
    }

    #[test]
    fn longer_contexts_flag_a_value_out_of_place() {
        // A square wave 10/20 with a period of 8 samples; order 3 learns
        // that a 20 follows 10 only after several 10s. A 20 after a single
        // 10 is an old value in a new context (its order-2 and order-3
        // keys are novel, the order-0 and order-1 keys are not).
        let cfg = ContextConfig {
            order: 3,
            ..ContextConfig::default()
        };
        let wave = |i: u32| if i % 8 < 4 { 10.0 } else { 20.0 };
        let mut d = ContextDetector::new(cfg);
        let learnt = run(&mut d, 0..800, wave);
        assert!(learnt[700..].iter().all(|&v| v == 0.0));
        let mut plain = ContextDetector::new(ContextConfig::default());
        run(&mut plain, 0..800, wave);
        // 800 % 8 == 0: the low half; its second sample jumps to 20.
        d.update(wave(800));
        plain.update(wave(800));
        let v = d.update(20.0);
        assert_eq!(v, 0.5, "out-of-place value, order 3");
        assert_eq!(plain.update(20.0), 0.0, "order 0 sees only a known value");
    }

    #[test]
    fn a_level_shift_is_novel_then_learnt() {
        let mut d = ContextDetector::new(ContextConfig::default());
        run(&mut d, 0..2000, |i| 10.0 + noise(i));
        let after = run(&mut d, 2000..4000, |i| 20.0 + noise(i));
        assert_eq!(after[0], 1.0, "first shifted sample");
        assert!(after[1000..].iter().all(|&v| v < 0.3), "not learnt");
    }

    #[test]
    fn a_known_range_fixes_the_grid_at_once() {
        let cfg = ContextConfig {
            range_levels: 11,
            levels: 11,
            ..ContextConfig::default()
        };
        // Bins of width 100 centred on 0, 100, ..., 1000: learning starts
        // with the first sample, no `learn` samples needed.
        let mut d = ContextDetector::with_range(cfg.clone(), 0.0, 1000.0);
        assert!(d.is_learning());
        assert_eq!(d.update(10.0), 1.0, "first value");
        // 40 is in the same bin on both grids (the shifted grid's edge is
        // at 50): known. 60 is in the same bin on the main grid only.
        assert_eq!(d.update(40.0), 0.0);
        assert_eq!(d.update(60.0), 0.5);
        assert_eq!(d.update(1000.0), 1.0, "the range's maximum, never seen");
        // Learnt online from the first 300 samples (0..20) instead, the grid
        // is 2 wide and 10 → 40 is a new value.
        let mut online = ContextDetector::new(cfg.clone());
        run(&mut online, 0..600, |i| f64::from(i % 21));
        assert_eq!(online.update(10.0), 0.0);
        assert_eq!(online.update(40.0), 1.0);
        // The range's grid has `range_levels` bins (0: `levels`): 21 bins of
        // width 50 split 10 and 40 on the main grid.
        let mut finer = ContextDetector::with_range(
            ContextConfig {
                range_levels: 21,
                ..cfg.clone()
            },
            0.0,
            1000.0,
        );
        finer.update(10.0);
        assert_eq!(finer.update(40.0), 0.5);
        let mut same = ContextDetector::with_range(
            ContextConfig {
                range_levels: 0,
                ..cfg.clone()
            },
            0.0,
            1000.0,
        );
        same.update(10.0);
        assert_eq!(same.update(40.0), 0.0);
        // A range that is not one falls back to the online grid.
        for (lo, hi) in [(f64::NAN, 1.0), (2.0, 1.0), (0.0, f64::INFINITY)] {
            assert!(!ContextDetector::with_range(cfg.clone(), lo, hi).is_learning());
        }
        // A flat range still gets a grid, and a value off it is novel.
        let mut flat = ContextDetector::with_range(cfg, 5.0, 5.0);
        assert_eq!(flat.update(5.0), 1.0);
        assert_eq!(flat.update(5.0), 0.0);
        assert_eq!(flat.update(6.0), 1.0);
    }

    #[test]
    fn state_is_bounded_and_bad_values_are_ignored() {
        let mut d = ContextDetector::new(ContextConfig::default());
        let before = d.state_bytes();
        assert!(before <= 640, "{before}");
        assert_eq!(d.update(f64::NAN), 0.0);
        assert!(!d.is_learning());
        // A flat start gets a grid; a long random walk never grows the state.
        run(&mut d, 0..300, |_| 0.0);
        assert!(d.is_learning());
        let mut x = 0.0;
        for i in 0..50_000 {
            x += noise(i);
            let v = d.update(x);
            assert!((0.0..=1.0).contains(&v));
        }
        assert_eq!(d.state_bytes(), before);
        assert_eq!(d.update(f64::INFINITY), 0.0);
    }
}
