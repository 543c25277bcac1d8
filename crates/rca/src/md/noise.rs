//! The forecast noise of the normal leaves: its scale per magnitude band,
//! and how heavy its tail is.

/// Leaves per magnitude band when the noise is estimated per band.
const BAND_LEAVES: usize = 400;
/// The most magnitude bands.
const MAX_BANDS: usize = 8;
/// The rank from the top at which the noise's tail is measured.
const TAIL_RANK: usize = 10;

/// The median (0 for none); reorders `v`.
pub(super) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// The relative noise of the leaves, per band of leaves of similar
/// magnitude: the median absolute deviation of the free (uncovered) leaves'
/// relative deviations in that band.
pub(super) struct Noise {
    /// Each leaf's band.
    pub band: Vec<u8>,
    /// Each band's noise (a standard deviation).
    pub sigma: Vec<f64>,
}

impl Noise {
    /// Estimates the noise from the free leaves of `order` (the informative
    /// leaves, by increasing magnitude).
    pub fn estimate(
        x: &[f64],
        magnitude: &[f64],
        covered: &[bool],
        order: &[usize],
        floor: f64,
    ) -> Noise {
        let free: Vec<usize> = order.iter().copied().filter(|&l| !covered[l]).collect();
        let bands = (free.len() / BAND_LEAVES).clamp(1, MAX_BANDS);
        let mut band = vec![0u8; x.len()];
        if bands == 1 {
            let mut all: Vec<f64> = free.iter().map(|&l| x[l].abs()).collect();
            let g = (1.4826 * median(&mut all)).max(floor);
            return Noise {
                band,
                sigma: vec![g],
            };
        }
        // Band edges by magnitude among the free leaves; covered leaves take
        // the band of their magnitude.
        let edges: Vec<f64> = (1..bands)
            .map(|b| magnitude[free[b * free.len() / bands]])
            .collect();
        let band_of = |m: f64| edges.iter().take_while(|&&e| m >= e).count();
        let mut per: Vec<Vec<f64>> = vec![Vec::new(); bands];
        for &l in &free {
            per[band_of(magnitude[l])].push(x[l].abs());
        }
        let sigma = per
            .iter_mut()
            .map(|v| (1.4826 * median(v)).max(floor))
            .collect();
        for &l in order {
            band[l] = band_of(magnitude[l]) as u8;
        }
        Noise { band, sigma }
    }

    /// The noise of leaf `l`.
    pub fn of(&self, l: usize) -> f64 {
        self.sigma[self.band[l] as usize]
    }
}

/// The standard normal quantile at `p` (0 < p < 1), by a rational
/// approximation good to about 1e-9 (Acklam's coefficients).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        let q = (-2.0 * q.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// How much heavier than a normal distribution's the tail of the free
/// leaves' noise is: the `TAIL_RANK`-th largest |x/σ| over the normal
/// quantile of the same rank (at least 1). Extreme single leaves of a
/// heavy-tailed noise are then not taken for faults.
pub(super) fn tail_factor(x: &[f64], noise: &Noise, covered: &[bool], order: &[usize]) -> f64 {
    let mut z: Vec<f64> = order
        .iter()
        .filter(|&&l| !covered[l])
        .map(|&l| (x[l] / noise.of(l)).abs())
        .collect();
    let n = z.len();
    let k = TAIL_RANK.max(n / 1000);
    if n < 4 * k {
        return 1.0;
    }
    let (_, e, _) = z.select_nth_unstable_by(n - k, f64::total_cmp);
    let want = normal_quantile(1.0 - k as f64 / (2.0 * n as f64));
    (*e / want).max(1.0)
}
