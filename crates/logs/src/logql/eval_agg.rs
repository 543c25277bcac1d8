//! Vector aggregations (`sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`, `topk`,
//! `bottomk`) by or without labels.

use super::*;

fn group_labels(l: &Labels, g: Option<&Grouping>) -> Labels {
    match g {
        None => Labels::empty(),
        Some(Grouping::By(names)) => l
            .iter()
            .filter(|x| names.contains(&x.name))
            .cloned()
            .collect(),
        Some(Grouping::Without(names)) => l
            .iter()
            .filter(|x| !names.contains(&x.name))
            .cloned()
            .collect(),
    }
}

#[derive(Default)]
struct Acc {
    n: f64,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        if self.n == 0.0 || v < self.min || self.min.is_nan() {
            self.min = v;
        }
        if self.n == 0.0 || v > self.max || self.max.is_nan() {
            self.max = v;
        }
        self.n += 1.0;
        self.sum += v;
        let d = v - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (v - self.mean);
    }

    fn value(&self, op: AggOp) -> f64 {
        match op {
            AggOp::Sum => self.sum,
            AggOp::Min => self.min,
            AggOp::Max => self.max,
            AggOp::Avg => self.mean,
            AggOp::Count => self.n,
            AggOp::Stdvar => self.m2 / self.n,
            AggOp::Stddev => (self.m2 / self.n).sqrt(),
            AggOp::Topk | AggOp::Bottomk => f64::NAN,
        }
    }
}

pub(super) fn aggregate(input: Vec<Series>, op: AggOp, g: Option<&Grouping>) -> Vec<Series> {
    let mut groups: Vec<Labels> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut accs: BTreeMap<(usize, usize), Acc> = BTreeMap::new();
    for s in input {
        let key = group_labels(&s.labels, g);
        let gi = match index.get(&key) {
            Some(i) => *i,
            None => {
                groups.push(key.clone());
                index.insert(key, groups.len() - 1);
                groups.len() - 1
            }
        };
        for (step, v) in s.points {
            accs.entry((gi, step)).or_default().add(v);
        }
    }
    let mut out: Vec<Series> = groups
        .into_iter()
        .map(|labels| Series {
            labels,
            points: Vec::new(),
        })
        .collect();
    for ((gi, step), acc) in accs {
        if let Some(s) = out.get_mut(gi) {
            s.points.push((step, acc.value(op)));
        }
    }
    out
}

pub(super) fn select_k(
    input: Vec<Series>,
    top: bool,
    k: usize,
    g: Option<&Grouping>,
) -> Vec<Series> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut cands: BTreeMap<(usize, usize), Vec<(f64, usize)>> = BTreeMap::new();
    for (si, s) in input.iter().enumerate() {
        let key = group_labels(&s.labels, g);
        let n = index.len();
        let gi = *index.entry(key).or_insert(n);
        for (step, v) in &s.points {
            cands.entry((gi, *step)).or_default().push((*v, si));
        }
    }
    let mut chosen: Vec<Vec<(usize, f64)>> = vec![Vec::new(); input.len()];
    for ((_, step), mut c) in cands {
        // NaN sorts last either way.
        c.sort_by(|a, b| {
            let ord = if top {
                b.0.partial_cmp(&a.0)
            } else {
                a.0.partial_cmp(&b.0)
            };
            ord.unwrap_or_else(|| a.0.is_nan().cmp(&b.0.is_nan()))
        });
        for (v, si) in c.into_iter().take(k) {
            if let Some(p) = chosen.get_mut(si) {
                p.push((step, v));
            }
        }
    }
    input
        .into_iter()
        .zip(chosen)
        .filter(|(_, p)| !p.is_empty())
        .map(|(s, mut points)| {
            points.sort_by_key(|p| p.0);
            Series {
                labels: s.labels,
                points,
            }
        })
        .collect()
}
