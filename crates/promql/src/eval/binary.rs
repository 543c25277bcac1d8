//! Binary operators: arithmetic, comparisons (with and without `bool`), set
//! operators, and vector matching with `on`/`ignoring`/`group_left`/`group_right`.

use std::collections::{HashMap, HashSet};

use argus_model::{Labels, Sample};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::util::{sig_hash, sig_labels};
use super::{Evaluator, Grid};
use crate::error::{exec, PromqlError};
use crate::value::{SSeries, Val};

/// A hasher for keys that are already hashes (`u64` signatures): no rehashing.
#[derive(Default, Clone, Copy)]
pub(crate) struct PreHashed;

/// The state of [`PreHashed`].
#[derive(Default)]
pub(crate) struct PreHashedState(u64);

impl std::hash::BuildHasher for PreHashed {
    type Hasher = PreHashedState;
    fn build_hasher(&self) -> PreHashedState {
        PreHashedState(0)
    }
}

impl std::hash::Hasher for PreHashedState {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Mix so that pairs of hashes and small integers spread too.
        self.0 = (self.0.rotate_left(23) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

fn is_cmp(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Applies `op` to two floats: `(value, keep)`. Comparisons return the left value.
pub(crate) fn apply(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

/// Prometheus's `labels.String()`: `{a="1", b="2"}`.
pub(crate) fn prom_labels_string(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|x| format!("{}={:?}", x.name, x.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Evaluates a binary expression.
pub(crate) fn eval_binary(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    grid: &Grid,
) -> Result<Val, PromqlError> {
    let op = b.op.to_string();
    let op = op.as_str();
    let rb = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, grid)?;
    let rhs = ev.eval(&b.rhs, grid)?;
    let cmp = is_cmp(op);
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.iter()
                .zip(r.iter())
                .map(|(a, b)| {
                    let (v, keep) = apply(op, *a, *b);
                    if cmp {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(v), Val::Scalar(s)) => {
            Ok(Val::Vector(vector_scalar(op, v, &s, false, rb, grid)))
        }
        (Val::Scalar(s), Val::Vector(v)) => {
            Ok(Val::Vector(vector_scalar(op, v, &s, true, rb, grid)))
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let (on, names) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
                Some(LabelModifier::Include(ls)) => (true, ls.labels.clone()),
                Some(LabelModifier::Exclude(ls)) => (false, ls.labels.clone()),
                None => (false, Vec::new()),
            };
            let card = b
                .modifier
                .as_ref()
                .map(|m| m.card.clone())
                .unwrap_or(VectorMatchCardinality::OneToOne);
            match op {
                "and" | "or" | "unless" => Ok(Val::Vector(set_op(op, l, r, on, &names, grid))),
                _ => vector_vector(ev, op, l, r, on, &names, &card, rb, grid).map(Val::Vector),
            }
        }
        _ => exec(format!(
            "binary operator {op} is not defined on these operand types"
        )),
    }
}

fn vector_scalar(
    op: &str,
    v: Vec<SSeries>,
    s: &[f64],
    swap: bool,
    rb: bool,
    grid: &Grid,
) -> Vec<SSeries> {
    let cmp = is_cmp(op);
    let mut out = Vec::with_capacity(v.len());
    for mut series in v {
        let mut pts = Vec::with_capacity(series.pts.len());
        for p in &series.pts {
            let sc = s[grid.idx(p.t)];
            let (l, r) = if swap { (sc, p.v) } else { (p.v, sc) };
            let (mut val, keep) = apply(op, l, r);
            if cmp && swap {
                val = p.v;
            }
            if rb {
                val = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            pts.push(Sample::new(p.t, val));
        }
        if !pts.is_empty() {
            series.pts = pts;
            if !cmp || rb {
                series.drop_name = true;
            }
            out.push(series);
        }
    }
    out
}

/// Iterates the grid, handing each step's present `(series, value)` pairs of both sides.
fn step_values(v: &[SSeries], cursors: &mut [usize], t: i64, buf: &mut Vec<(usize, f64)>) {
    buf.clear();
    for (i, s) in v.iter().enumerate() {
        let c = &mut cursors[i];
        if *c < s.pts.len() && s.pts[*c].t == t {
            buf.push((i, s.pts[*c].v));
            *c += 1;
        }
    }
}

fn set_op(
    op: &str,
    l: Vec<SSeries>,
    r: Vec<SSeries>,
    on: bool,
    names: &[String],
    grid: &Grid,
) -> Vec<SSeries> {
    let lsig: Vec<u64> = l.iter().map(|s| sig_hash(&s.labels, on, names)).collect();
    let rsig: Vec<u64> = r.iter().map(|s| sig_hash(&s.labels, on, names)).collect();
    let mut out: Vec<SSeries> = Vec::new();
    let mut key: HashMap<Labels, usize> = HashMap::new();
    let mut lout: Vec<Option<usize>> = vec![None; l.len()];
    let mut rout: Vec<Option<usize>> = vec![None; r.len()];
    let mut lc = vec![0usize; l.len()];
    let mut rc = vec![0usize; r.len()];
    let (mut lb, mut rbuf) = (Vec::new(), Vec::new());
    let mut get_out = |s: &SSeries, slot: &mut Option<usize>, out: &mut Vec<SSeries>| -> usize {
        if let Some(o) = *slot {
            return o;
        }
        let next = out.len();
        let o = *key.entry(s.labels.clone()).or_insert(next);
        if o == next {
            out.push(SSeries::new(s.labels.clone(), s.drop_name));
        }
        *slot = Some(o);
        o
    };
    for i in 0..grid.len() {
        let t = grid.ts(i);
        step_values(&l, &mut lc, t, &mut lb);
        step_values(&r, &mut rc, t, &mut rbuf);
        match op {
            "and" | "unless" => {
                let rs: HashSet<u64> = rbuf.iter().map(|x| rsig[x.0]).collect();
                for &(li, v) in &lb {
                    if rs.contains(&lsig[li]) == (op == "and") {
                        let o = get_out(&l[li], &mut lout[li], &mut out);
                        out[o].pts.push(Sample::new(t, v));
                    }
                }
            }
            _ => {
                let ls: HashSet<u64> = lb.iter().map(|x| lsig[x.0]).collect();
                for &(li, v) in &lb {
                    let o = get_out(&l[li], &mut lout[li], &mut out);
                    out[o].pts.push(Sample::new(t, v));
                }
                for &(ri, v) in &rbuf {
                    if !ls.contains(&rsig[ri]) {
                        let o = get_out(&r[ri], &mut rout[ri], &mut out);
                        out[o].pts.push(Sample::new(t, v));
                    }
                }
            }
        }
    }
    for s in &mut out {
        s.pts.sort_by_key(|p| p.t);
    }
    out.retain(|s| !s.pts.is_empty());
    out
}

#[allow(clippy::too_many_arguments)]
fn vector_vector(
    ev: &mut Evaluator<'_>,
    op: &str,
    l: Vec<SSeries>,
    r: Vec<SSeries>,
    on: bool,
    names: &[String],
    card: &VectorMatchCardinality,
    rb: bool,
    grid: &Grid,
) -> Result<Vec<SSeries>, PromqlError> {
    let swap = matches!(card, VectorMatchCardinality::OneToMany(_));
    let include: Vec<String> = match card {
        VectorMatchCardinality::ManyToOne(ls) | VectorMatchCardinality::OneToMany(ls) => {
            ls.labels.clone()
        }
        _ => Vec::new(),
    };
    let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
    let (ls, rs) = if swap { (&r, &l) } else { (&l, &r) };
    let lsig: Vec<u64> = ls.iter().map(|s| sig_hash(&s.labels, on, names)).collect();
    let rsig: Vec<u64> = rs.iter().map(|s| sig_hash(&s.labels, on, names)).collect();
    let mut out: Vec<SSeries> = Vec::new();
    let mut key: HashMap<Labels, usize> = HashMap::new();
    let mut pair_out: HashMap<(usize, usize), (usize, u64)> = HashMap::new();
    // The last (right series, output, output hash) of each left series: pairs
    // rarely change between steps, so most steps skip the pair map.
    let mut last_pair: Vec<Option<(usize, usize, u64)>> = vec![None; ls.len()];
    let mut lc = vec![0usize; ls.len()];
    let mut rc = vec![0usize; rs.len()];
    let (mut lb, mut rbuf) = (Vec::new(), Vec::new());
    let drop = matches!(op, "+" | "-" | "*" | "/" | "%" | "^" | "atan2");
    // Per-step scratch, cleared rather than reallocated. Keys are already hashes.
    let mut right: HashMap<u64, (usize, f64), PreHashed> = HashMap::default();
    let mut seen_sig: HashSet<u64, PreHashed> = HashSet::default();
    let mut seen_out: HashSet<(u64, u64), PreHashed> = HashSet::default();
    for i in 0..grid.len() {
        let t = grid.ts(i);
        if i % 256 == 0 {
            ev.check()?;
        }
        step_values(ls, &mut lc, t, &mut lb);
        step_values(rs, &mut rc, t, &mut rbuf);
        if lb.is_empty() || rbuf.is_empty() {
            continue;
        }
        right.clear();
        seen_sig.clear();
        seen_out.clear();
        for &(ri, v) in &rbuf {
            if let Some(&(dup, _)) = right.get(&rsig[ri]) {
                let side = if swap { "left" } else { "right" };
                return exec(format!(
                    "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                    prom_labels_string(&sig_labels(&rs[ri].labels, on, names)),
                    prom_labels_string(&rs[ri].labels),
                    prom_labels_string(&rs[dup].labels),
                ));
            }
            right.insert(rsig[ri], (ri, v));
        }
        for &(li, lv) in &lb {
            let sig = lsig[li];
            let Some(&(ri, rv)) = right.get(&sig) else {
                continue;
            };
            let (fl, fr) = if swap { (rv, lv) } else { (lv, rv) };
            let (mut val, keep) = apply(op, fl, fr);
            if rb {
                val = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            let cached = match last_pair[li] {
                Some((r, o, h)) if r == ri => Some((o, h)),
                _ => pair_out.get(&(li, ri)).copied(),
            };
            let (o, ohash) = match cached {
                Some(x) => x,
                None => {
                    let mut m = ls[li].labels.clone();
                    if drop {
                        crate::eval::util::drop_metric_name(&mut m);
                    }
                    if one_to_one {
                        m = if on {
                            m.iter()
                                .filter(|x| names.iter().any(|n| n == &x.name))
                                .cloned()
                                .collect()
                        } else {
                            m.iter()
                                .filter(|x| !names.iter().any(|n| n == &x.name))
                                .cloned()
                                .collect()
                        };
                    }
                    for ln in &include {
                        match rs[ri].labels.get(ln) {
                            Some(v) => {
                                let v = v.to_string();
                                m.set(ln, &v)
                            }
                            None => m.remove(ln),
                        }
                    }
                    let h = m.stable_hash();
                    let next = out.len();
                    let o = *key.entry(m.clone()).or_insert(next);
                    if o == next {
                        out.push(SSeries::new(m, rb || ls[li].drop_name && !drop));
                    }
                    pair_out.insert((li, ri), (o, h));
                    (o, h)
                }
            };
            last_pair[li] = Some((ri, o, ohash));
            if !seen_sig.insert(sig) {
                if one_to_one {
                    return exec("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)");
                }
                if !seen_out.insert((sig, ohash)) {
                    return exec(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    );
                }
            } else {
                seen_out.insert((sig, ohash));
            }
            out[o].pts.push(Sample::new(t, val));
        }
    }
    for s in &mut out {
        s.pts.sort_by_key(|p| p.t);
    }
    out.retain(|s| !s.pts.is_empty());
    Ok(out)
}
