//! The search behind [`localize`]: a greedy sparse fit of per-element
//! shifts of the leaves' relative deviations (see the module header of
//! [`super`]).

use super::{Cause, Element, Found, Leaf, MdError, Settings};
use std::collections::HashMap;

/// Leaves per magnitude band when the noise is estimated per band.
const BAND_LEAVES: usize = 400;
/// The most magnitude bands.
const MAX_BANDS: usize = 8;
/// The rank from the top at which the noise's tail is measured.
const TAIL_RANK: usize = 10;
/// Above this many (cuboid, leaf) pairs the deepest layers are left out.
const MAX_WORK: usize = 60_000_000;

/// The dimension values of the leaves as small integers.
struct Coded {
    /// `codes[l * d + j]`: leaf `l`'s value of dimension `j`.
    codes: Vec<u32>,
    /// The text of each value, per dimension.
    names: Vec<Vec<String>>,
}

fn encode(dims: usize, leaves: &[Leaf]) -> Coded {
    let mut maps: Vec<HashMap<&str, u32>> = vec![HashMap::new(); dims];
    let mut names: Vec<Vec<String>> = vec![Vec::new(); dims];
    let mut codes = Vec::with_capacity(leaves.len() * dims);
    for leaf in leaves {
        for (j, v) in leaf.values.iter().enumerate() {
            let next = maps[j].len() as u32;
            let id = *maps[j].entry(v.as_str()).or_insert_with(|| {
                names[j].push(v.clone());
                next
            });
            codes.push(id);
        }
    }
    Coded { codes, names }
}

/// One cuboid: a set of dimensions, and each leaf's element in it.
struct Cuboid {
    dims: Vec<usize>,
    /// The dimensions as a bit set.
    mask: u32,
    /// The element of each leaf (a compact index).
    of_leaf: Vec<u32>,
    /// The first leaf of each element (to name it).
    first_leaf: Vec<u32>,
    /// The penalty an element of this cuboid pays.
    penalty: f64,
}

fn choose(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

fn cuboids(coded: &Coded, d: usize, n: usize, s: &Settings) -> Vec<Cuboid> {
    let mut max_layer = if s.max_layer == 0 {
        d
    } else {
        s.max_layer.min(d)
    };
    // Keep the work bounded when there are many dimensions.
    while max_layer > 1 {
        let count: f64 = (1..=max_layer).map(|k| choose(d, k)).sum();
        if count * n as f64 <= MAX_WORK as f64 {
            break;
        }
        max_layer -= 1;
    }
    let card: Vec<usize> = coded.names.iter().map(|v| v.len().max(1)).collect();
    let mut out = Vec::new();
    for mask in 1u32..(1u32 << d) {
        let dims: Vec<usize> = (0..d).filter(|j| mask & (1 << j) != 0).collect();
        let k = dims.len();
        if k > max_layer {
            continue;
        }
        let possible: f64 = dims.iter().map(|&j| card[j] as f64).product();
        let prior = (max_layer as f64).ln() + choose(d, k).ln() + possible.ln();
        let mut of_leaf = Vec::with_capacity(n);
        let mut first_leaf = Vec::new();
        if possible <= (4 * n + 1024) as f64 {
            let mut stride = Vec::with_capacity(k);
            let mut acc = 1usize;
            for &j in &dims {
                stride.push(acc);
                acc *= card[j];
            }
            let mut slot = vec![u32::MAX; acc];
            for l in 0..n {
                let key: usize = dims
                    .iter()
                    .zip(&stride)
                    .map(|(&j, &st)| coded.codes[l * d + j] as usize * st)
                    .sum();
                if slot[key] == u32::MAX {
                    slot[key] = first_leaf.len() as u32;
                    first_leaf.push(l as u32);
                }
                of_leaf.push(slot[key]);
            }
        } else {
            let mut slot: HashMap<Vec<u32>, u32> = HashMap::new();
            for l in 0..n {
                let key: Vec<u32> = dims.iter().map(|&j| coded.codes[l * d + j]).collect();
                let next = first_leaf.len() as u32;
                let id = *slot.entry(key).or_insert_with(|| {
                    first_leaf.push(l as u32);
                    next
                });
                of_leaf.push(id);
            }
        }
        out.push(Cuboid {
            dims,
            mask,
            of_leaf,
            first_leaf,
            penalty: prior + s.penalty,
        });
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// The relative noise of each informative leaf: the median absolute
/// deviation of the residuals of the leaves no element covers, per band of
/// leaves of similar magnitude.
fn noise(
    resid: &[f64],
    magnitude: &[f64],
    covered: &[bool],
    order: &[usize],
    floor: f64,
) -> Vec<f64> {
    let free: Vec<usize> = order.iter().copied().filter(|&l| !covered[l]).collect();
    let bands = (free.len() / BAND_LEAVES).clamp(1, MAX_BANDS);
    let mut sigma = vec![floor; resid.len()];
    let mut global: Vec<f64> = free.iter().map(|&l| resid[l].abs()).collect();
    let g = (1.4826 * median(&mut global)).max(floor);
    if bands == 1 {
        sigma.iter_mut().for_each(|s| *s = g);
        return sigma;
    }
    // Band edges by magnitude among the free leaves; covered leaves take
    // the band of their magnitude.
    let edges: Vec<f64> = (1..bands)
        .map(|b| magnitude[free[b * free.len() / bands]])
        .collect();
    let band_of = |m: f64| edges.iter().take_while(|&&e| m >= e).count();
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); bands];
    for &l in &free {
        per[band_of(magnitude[l])].push(resid[l].abs());
    }
    let sig: Vec<f64> = per
        .iter_mut()
        .map(|v| (1.4826 * median(v)).max(floor))
        .collect();
    for &l in order {
        sigma[l] = sig[band_of(magnitude[l])];
    }
    sigma
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
fn tail_factor(x: &[f64], sigma: &[f64], covered: &[bool], order: &[usize]) -> f64 {
    let mut z: Vec<f64> = order
        .iter()
        .filter(|&&l| !covered[l])
        .map(|&l| (x[l] / sigma[l]).abs())
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

/// The chosen elements: (cuboid, element) pairs.
type Chosen = Vec<(usize, u32)>;

/// How much the leaves of one faulty element spread around their common
/// shift, relative to it.
const SPREAD: f64 = 0.25;

/// What leaf `x` (with noise `sigma`) gains from being explained by a fault
/// that shifts its element by `mu`, against being normal: the log-likelihood
/// of `N(mu, sigma² + (SPREAD·mu)²)` over that of `N(0, sigma²)`.
fn leaf_gain(x: f64, sigma2: f64, mu: f64) -> f64 {
    let v = sigma2 + SPREAD * SPREAD * mu * mu;
    let r = x - mu;
    x * x / (2.0 * sigma2) - r * r / (2.0 * v) - 0.5 * (v / sigma2).ln()
}

fn greedy(
    cubes: &[Cuboid],
    x: &[f64],
    sigma: &[f64],
    informative: &[bool],
    min_shift: f64,
    s: &Settings,
) -> Chosen {
    let n = x.len();
    let sigma2: Vec<f64> = sigma.iter().map(|s| s * s).collect();
    let mut covered: Vec<bool> = informative.iter().map(|i| !i).collect();
    let mut chosen: Chosen = Vec::new();
    let mut acc: Vec<[f64; 2]> = Vec::new();
    let mut net: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    let mut value: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    let mut split: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    // Deepest cuboids first, for the bottom-up values.
    let mut by_depth: Vec<usize> = (0..cubes.len()).collect();
    by_depth.sort_by_key(|&c| std::cmp::Reverse(cubes[c].dims.len()));
    let children: Vec<Vec<usize>> = cubes
        .iter()
        .map(|c| {
            (0..cubes.len())
                .filter(|&o| {
                    cubes[o].mask & c.mask == c.mask && cubes[o].dims.len() == c.dims.len() + 1
                })
                .collect()
        })
        .collect();
    while chosen.len() < s.max_causes {
        for (ci, c) in cubes.iter().enumerate() {
            let m = c.first_leaf.len();
            acc.clear();
            acc.resize(m, [0.0; 2]);
            for l in 0..n {
                if !covered[l] {
                    let a = &mut acc[c.of_leaf[l] as usize];
                    a[0] += 1.0 / sigma2[l];
                    a[1] += x[l] / sigma2[l];
                }
            }
            let g = &mut net[ci];
            g.clear();
            g.resize(m, -c.penalty);
            for l in 0..n {
                if !covered[l] {
                    let e = c.of_leaf[l] as usize;
                    let a = acc[e];
                    g[e] += leaf_gain(x[l], sigma2[l], a[1] / a[0]);
                }
            }
            for (e, a) in acc.iter().enumerate() {
                if a[0] <= 0.0 || (a[1] / a[0]).abs() < min_shift {
                    g[e] = f64::NEG_INFINITY;
                }
            }
        }
        // The best an element's leaves can be described: by itself, or by
        // its children in one finer cuboid (each by its own best).
        for &ci in &by_depth {
            let m = cubes[ci].first_leaf.len();
            let mut best_split = vec![0.0f64; m];
            for &k in &children[ci] {
                let mut sum = vec![0.0f64; m];
                for (ce, v) in value[k].iter().enumerate() {
                    let parent = cubes[ci].of_leaf[cubes[k].first_leaf[ce] as usize] as usize;
                    sum[parent] += v;
                }
                for (b, s) in best_split.iter_mut().zip(sum) {
                    *b = b.max(s);
                }
            }
            value[ci] = net[ci]
                .iter()
                .zip(&best_split)
                .map(|(&n, &b)| n.max(b).max(0.0))
                .collect();
            split[ci] = best_split;
        }
        let mut best: Option<(f64, usize, u32)> = None;
        for ci in 0..cubes.len() {
            for (e, (&g, &b)) in net[ci].iter().zip(&split[ci]).enumerate() {
                if g > 0.0 && g >= b && best.is_none_or(|x| g > x.0) {
                    best = Some((g, ci, e as u32));
                }
            }
        }
        let Some((_, ci, e)) = best else { break };
        let c = &cubes[ci];
        for l in 0..n {
            if c.of_leaf[l] == e {
                covered[l] = true;
            }
        }
        chosen.push((ci, e));
    }
    chosen
}

/// Finds the elements that explain the deviation of `leaves` (one value per
/// dimension of `dims` each). See [`super`] for the method.
pub fn localize(dims: &[String], leaves: &[Leaf], s: &Settings) -> Result<Found, MdError> {
    let d = dims.len();
    if d == 0 {
        return Err(MdError::NoDimensions);
    }
    for (i, leaf) in leaves.iter().enumerate() {
        if leaf.values.len() != d {
            return Err(MdError::Arity {
                leaf: i,
                got: leaf.values.len(),
                want: d,
            });
        }
        if !leaf.actual.is_finite() {
            return Err(MdError::NotFinite {
                leaf: i,
                what: "actual",
            });
        }
        if !leaf.expected.is_finite() {
            return Err(MdError::NotFinite {
                leaf: i,
                what: "expected",
            });
        }
    }
    let n = leaves.len();
    let total_actual: f64 = leaves.iter().map(|l| l.actual).sum();
    let total_expected: f64 = leaves.iter().map(|l| l.expected).sum();
    let mut found = Found {
        causes: Vec::new(),
        total_actual,
        total_expected,
        noise: 0.0,
    };
    if n == 0 {
        return Ok(found);
    }
    let magnitude: Vec<f64> = leaves
        .iter()
        .map(|l| (l.actual.abs() + l.expected.abs()) / 2.0)
        .collect();
    let informative: Vec<bool> = magnitude.iter().map(|&m| m > 0.0).collect();
    let x: Vec<f64> = leaves
        .iter()
        .zip(&magnitude)
        .map(|(l, &m)| {
            if m > 0.0 {
                (l.actual - l.expected) / m
            } else {
                0.0
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&l| informative[l]).collect();
    order.sort_by(|&a, &b| magnitude[a].total_cmp(&magnitude[b]));
    if order.is_empty() {
        return Ok(found);
    }

    let coded = encode(d, leaves);
    let cubes = cuboids(&coded, d, n, s);

    // Two passes: the noise estimated from all leaves, then again from the
    // leaves the first answer leaves uncovered.
    let mut covered = vec![false; n];
    let mut chosen = Vec::new();
    let mut sigma = Vec::new();
    for _ in 0..2 {
        sigma = noise(&x, &magnitude, &covered, &order, s.min_noise);
        let mut typical: Vec<f64> = order.iter().map(|&l| sigma[l]).collect();
        let min_shift = s.min_change.max(0.5 * median(&mut typical));
        let t = tail_factor(&x, &sigma, &covered, &order);
        sigma.iter_mut().for_each(|s| *s *= t);
        chosen = greedy(&cubes, &x, &sigma, &informative, min_shift, s);
        covered.iter_mut().for_each(|c| *c = false);
        for &(ci, e) in &chosen {
            for l in 0..n {
                if cubes[ci].of_leaf[l] == e {
                    covered[l] = true;
                }
            }
        }
    }
    let mut sig: Vec<f64> = order.iter().map(|&l| sigma[l]).collect();
    found.noise = median(&mut sig);

    let dev = total_actual - total_expected;
    for (ci, e) in chosen {
        let c = &cubes[ci];
        let first = c.first_leaf[e as usize] as usize;
        let parts = c
            .dims
            .iter()
            .map(|&j| {
                let v = coded.codes[first * d + j] as usize;
                (dims[j].clone(), coded.names[j][v].clone())
            })
            .collect();
        let (mut a, mut ex, mut count) = (0.0, 0.0, 0usize);
        for l in 0..n {
            if c.of_leaf[l] == e {
                a += leaves[l].actual;
                ex += leaves[l].expected;
                count += 1;
            }
        }
        found.causes.push(Cause {
            element: Element::new(parts),
            actual: a,
            expected: ex,
            share: if dev != 0.0 { (a - ex) / dev } else { 0.0 },
            change: if ex != 0.0 { a / ex - 1.0 } else { 0.0 },
            leaves: count,
        });
    }
    found
        .causes
        .sort_by(|a, b| b.share.abs().total_cmp(&a.share.abs()));
    Ok(found)
}
