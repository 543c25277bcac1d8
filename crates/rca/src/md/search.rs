//! The search behind [`localize`]: a greedy sparse fit of per-element
//! shifts of the leaves' relative deviations (see the module header of
//! [`super`]).

use super::noise::{median, tail_factor, Noise};
use super::{Cause, Element, Found, Leaf, MdError, Settings};
use std::collections::HashMap;

/// The most dimensions a case may have.
pub const MAX_DIMS: usize = 64;
/// Above this many sets of dimensions the deepest layers are left out.
const MAX_CUBOIDS: usize = 20_000;
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
    mask: u64,
    /// The element of each leaf (a compact index).
    of_leaf: Vec<u32>,
    /// The first leaf of each element (to name it).
    first_leaf: Vec<u32>,
    /// The penalty an element of this cuboid pays.
    penalty: f64,
}

/// Every subset of `0..d` of at most `max` elements, smallest first, each
/// in increasing order.
fn subsets(d: usize, max: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new()];
    let mut layer: Vec<Vec<usize>> = vec![Vec::new()];
    for _ in 0..max.min(d) {
        let mut next = Vec::new();
        for set in &layer {
            let from = set.last().map_or(0, |&j| j + 1);
            for j in from..d {
                let mut s = set.clone();
                s.push(j);
                next.push(s);
            }
        }
        out.extend(next.iter().cloned());
        layer = next;
    }
    out
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
        if count * n as f64 <= MAX_WORK as f64 && count <= MAX_CUBOIDS as f64 {
            break;
        }
        max_layer -= 1;
    }
    let card: Vec<usize> = coded.names.iter().map(|v| v.len().max(1)).collect();
    let mut out = Vec::new();
    // The empty set of dimensions is the whole: every leaf alike.
    for dims in subsets(d, max_layer) {
        let k = dims.len();
        let mask = dims.iter().fold(0u64, |m, &j| m | 1 << j);
        let possible: f64 = dims.iter().map(|&j| card[j] as f64).product();
        let prior = ((max_layer + 1) as f64).ln() + choose(d, k).ln() + possible.ln();
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

/// The chosen elements: (cuboid, element) pairs.
type Chosen = Vec<(usize, u32)>;

/// How much the leaves of one faulty element spread around their common
/// shift, relative to it.
const SPREAD: f64 = 0.25;

/// What the uncovered leaves of one element gain from being explained by a
/// fault that shifts them all by one amount `mu` (with a spread of
/// `SPREAD·mu`), against being normal: the log-likelihood ratio of
/// `N(mu, σ² + (SPREAD·mu)²)` over `N(0, σ²)`, summed per noise band from
/// each band's count, sum and sum of squares (`acc[3b..3b+3]`).
///
/// Returns 0 without the full sum when even a perfect fit could not gain
/// more than `floor`.
fn element_gain(acc: &[f64], sigma2: &[f64], floor: f64) -> (f64, f64) {
    let (mut w, mut wx, mut most) = (0.0, 0.0, 0.0);
    for (b, s2) in sigma2.iter().enumerate() {
        w += acc[3 * b] / s2;
        wx += acc[3 * b + 1] / s2;
        most += acc[3 * b + 2] / (2.0 * s2);
    }
    if w <= 0.0 || most <= floor {
        return (0.0, 0.0);
    }
    let mu = wx / w;
    let mut g = 0.0;
    for (b, s2) in sigma2.iter().enumerate() {
        let (n, s1, sq) = (acc[3 * b], acc[3 * b + 1], acc[3 * b + 2]);
        if n == 0.0 {
            continue;
        }
        let v = s2 + SPREAD * SPREAD * mu * mu;
        let resid = (sq - 2.0 * mu * s1 + mu * mu * n).max(0.0);
        g += sq / (2.0 * s2) - resid / (2.0 * v) - 0.5 * n * (v / s2).ln();
    }
    (mu, g)
}

fn greedy(
    cubes: &[Cuboid],
    x: &[f64],
    noise: &Noise,
    informative: &[bool],
    min_shift: f64,
    s: &Settings,
) -> Chosen {
    let n = x.len();
    let sigma2: Vec<f64> = noise.sigma.iter().map(|s| s * s).collect();
    let width = 3 * sigma2.len();
    let mut covered: Vec<bool> = informative.iter().map(|i| !i).collect();
    let mut chosen: Chosen = Vec::new();
    let mut acc: Vec<f64> = Vec::new();
    let mut net: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    let mut value: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    let mut split: Vec<Vec<f64>> = vec![Vec::new(); cubes.len()];
    // Deepest cuboids first, for the bottom-up values.
    let mut by_depth: Vec<usize> = (0..cubes.len()).collect();
    by_depth.sort_by_key(|&c| std::cmp::Reverse(cubes[c].dims.len()));
    let by_mask: HashMap<u64, usize> = cubes.iter().enumerate().map(|(i, c)| (c.mask, i)).collect();
    let children: Vec<Vec<usize>> = cubes
        .iter()
        .map(|c| {
            (0..64)
                .filter(|j| c.mask & (1 << j) == 0)
                .filter_map(|j| by_mask.get(&(c.mask | 1 << j)).copied())
                .collect()
        })
        .collect();
    while chosen.len() < s.max_causes {
        for (ci, c) in cubes.iter().enumerate() {
            let m = c.first_leaf.len();
            acc.clear();
            acc.resize(m * width, 0.0);
            for l in 0..n {
                if !covered[l] {
                    let i = c.of_leaf[l] as usize * width + 3 * noise.band[l] as usize;
                    acc[i] += 1.0;
                    acc[i + 1] += x[l];
                    acc[i + 2] += x[l] * x[l];
                }
            }
            let g = &mut net[ci];
            g.clear();
            g.extend(acc.chunks_exact(width).map(|a| {
                let (mu, gain) = element_gain(a, &sigma2, c.penalty);
                if gain <= 0.0 || mu.abs() < min_shift {
                    f64::NEG_INFINITY
                } else {
                    gain - c.penalty
                }
            }));
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
        for (cov, &of) in covered.iter_mut().zip(&cubes[ci].of_leaf) {
            if of == e {
                *cov = true;
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
    if d > MAX_DIMS {
        return Err(MdError::TooManyDimensions { got: d });
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
    let mut typical = 0.0;
    for _ in 0..2 {
        let mut noise = Noise::estimate(&x, &magnitude, &covered, &order, s.min_noise);
        let mut each: Vec<f64> = order.iter().map(|&l| noise.of(l)).collect();
        typical = median(&mut each);
        let min_shift = s.min_change.max(0.5 * typical);
        let t = tail_factor(&x, &noise, &covered, &order);
        noise.sigma.iter_mut().for_each(|s| *s *= t);
        chosen = greedy(&cubes, &x, &noise, &informative, min_shift, s);
        covered.iter_mut().for_each(|c| *c = false);
        for &(ci, e) in &chosen {
            for (cov, &of) in covered.iter_mut().zip(&cubes[ci].of_leaf) {
                if of == e {
                    *cov = true;
                }
            }
        }
    }
    found.noise = typical;

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
        for (leaf, &of) in leaves.iter().zip(&c.of_leaf) {
            if of == e {
                a += leaf.actual;
                ex += leaf.expected;
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
