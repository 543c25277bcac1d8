//! The symbol table and the inverted postings index: label name → value →
//! sorted series ids (`u32`), answering Prometheus's four matcher kinds.
//!
//! ```text
//! let mut syms = Symbols::default();
//! let mut p = Postings::default();
//! let l = syms.intern_pairs([("job", "a")]);
//! p.add(1, &l);
//! assert_eq!(p.select(&[Matcher::eq("job", "a")], &syms), vec![1]);
//! ```

use argus_model::{MatchOp, Matcher};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Interned strings: each distinct label name or value is stored once and
/// referred to by a `u32`. Symbols are never removed while the process runs.
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    strs: Vec<Arc<str>>,
    map: HashMap<Arc<str>, u32>,
}

impl Symbols {
    /// The id of `s`, adding it if new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.strs.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.strs.push(a.clone());
        self.map.insert(a, id);
        id
    }

    /// Interns sorted pairs into the flat `[name, value, name, value, ...]` form.
    pub(crate) fn intern_pairs<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Box<[u32]> {
        let mut v = Vec::new();
        for (n, val) in pairs {
            v.push(self.intern(n));
            v.push(self.intern(val));
        }
        v.into_boxed_slice()
    }

    /// The id of `s`, if interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    /// The string of `id`. Ids come only from this table, so they are in range;
    /// an out-of-range id yields "" rather than a panic.
    #[inline]
    pub(crate) fn str(&self, id: u32) -> &str {
        self.strs.get(id as usize).map_or("", |s| s)
    }

    /// Number of symbols.
    pub(crate) fn len(&self) -> usize {
        self.strs.len()
    }

    /// Builds owned labels from flat symbol ids.
    pub(crate) fn labels(&self, ids: &[u32]) -> argus_model::Labels {
        ids.chunks_exact(2)
            .map(|c| argus_model::Label {
                name: self.str(c[0]).to_string(),
                value: self.str(c[1]).to_string(),
            })
            .collect()
    }
}

/// Inverted index from `(name symbol, value symbol)` to sorted series ids (`u32`).
#[derive(Debug, Default)]
pub(crate) struct Postings {
    by_name: HashMap<u32, HashMap<u32, Vec<u32>>>,
    all: Vec<u32>,
}

fn insert_sorted(v: &mut Vec<u32>, id: u32) {
    match v.last() {
        None => v.push(id),
        Some(&l) if l < id => v.push(id),
        _ => {
            if let Err(i) = v.binary_search(&id) {
                v.insert(i, id);
            }
        }
    }
}

/// Sorted intersection of two sorted lists.
fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// True when sorted `a` and `b` share an element.
fn intersects(a: &[u32], b: &[u32]) -> bool {
    let (small, big) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut lo = 0;
    for x in small {
        match big[lo..].binary_search(x) {
            Ok(_) => return true,
            Err(i) => lo += i,
        }
        if lo >= big.len() {
            return false;
        }
    }
    false
}

/// Sorted `a` minus sorted `b`.
fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut j, mut out) = (0, Vec::with_capacity(a.len()));
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

fn union(lists: Vec<&Vec<u32>>) -> Vec<u32> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].clone(),
        _ => {
            let mut v: Vec<u32> = lists.into_iter().flatten().copied().collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    }
}

impl Postings {
    /// Adds series `id` with flat symbol labels.
    pub(crate) fn add(&mut self, id: u32, labels: &[u32]) {
        for c in labels.chunks_exact(2) {
            insert_sorted(
                self.by_name
                    .entry(c[0])
                    .or_default()
                    .entry(c[1])
                    .or_default(),
                id,
            );
        }
        insert_sorted(&mut self.all, id);
    }

    /// Removes the `dead` series everywhere; empties are dropped.
    pub(crate) fn remove(&mut self, dead: &HashSet<u32>) {
        if dead.is_empty() {
            return;
        }
        self.all.retain(|id| !dead.contains(id));
        self.by_name.retain(|_, vals| {
            vals.retain(|_, ids| {
                ids.retain(|id| !dead.contains(id));
                !ids.is_empty()
            });
            !vals.is_empty()
        });
    }

    /// Number of series indexed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.all.len()
    }

    /// Sorted ids of series matching all `matchers` (all series for none).
    /// A matcher that matches "" also selects series without the label.
    pub(crate) fn select(&self, matchers: &[Matcher], syms: &Symbols) -> Vec<u32> {
        let mut pos: Option<Vec<u32>> = None;
        let mut neg: Vec<Vec<u32>> = Vec::new();
        for m in matchers {
            let vals = syms.get(&m.name).and_then(|n| self.by_name.get(&n));
            let lookup = |v: &str| syms.get(v).and_then(|s| vals.and_then(|vs| vs.get(&s)));
            let scan = |want: bool| -> Vec<&Vec<u32>> {
                vals.map(|vs| {
                    vs.iter()
                        .filter(|(v, _)| m.matches(syms.str(**v)) == want)
                        .map(|(_, ids)| ids)
                        .collect()
                })
                .unwrap_or_default()
            };
            if m.matches_empty() {
                let excl = match m.op {
                    MatchOp::Neq => lookup(&m.value).cloned().unwrap_or_default(),
                    _ => union(scan(false)),
                };
                if !excl.is_empty() {
                    neg.push(excl);
                }
            } else {
                let inc = match m.op {
                    MatchOp::Eq => lookup(&m.value).cloned().unwrap_or_default(),
                    MatchOp::Re => match m.set_matches() {
                        Some(set) => union(set.iter().filter_map(|v| lookup(v)).collect()),
                        None => union(scan(true)),
                    },
                    _ => union(scan(true)),
                };
                let next = match pos {
                    None => inc,
                    Some(p) => intersect(&p, &inc),
                };
                if next.is_empty() {
                    return next;
                }
                pos = Some(next);
            }
        }
        let mut out = pos.unwrap_or_else(|| self.all.clone());
        for n in &neg {
            out = subtract(&out, n);
        }
        out
    }

    /// Sorted names of all indexed labels.
    pub(crate) fn names(&self, syms: &Symbols) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_name
            .keys()
            .map(|n| syms.str(*n).to_string())
            .collect();
        v.sort_unstable();
        v
    }

    /// Sorted values of label `name` held by at least one of the sorted `ids`.
    pub(crate) fn values_among(&self, name: &str, ids: &[u32], syms: &Symbols) -> Vec<String> {
        let mut v: Vec<String> = syms
            .get(name)
            .and_then(|n| self.by_name.get(&n))
            .map(|vs| {
                vs.iter()
                    .filter(|(_, list)| intersects(list, ids))
                    .map(|(s, _)| syms.str(*s).to_string())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    }

    /// Sorted values of label `name`.
    pub(crate) fn values(&self, name: &str, syms: &Symbols) -> Vec<String> {
        let mut v: Vec<String> = syms
            .get(name)
            .and_then(|n| self.by_name.get(&n))
            .map(|vs| vs.keys().map(|s| syms.str(*s).to_string()).collect())
            .unwrap_or_default();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Symbols, Postings) {
        let mut s = Symbols::default();
        let mut p = Postings::default();
        let sets: [&[(&str, &str)]; 4] = [
            &[("__name__", "up"), ("job", "api"), ("zone", "a")],
            &[("__name__", "up"), ("job", "db")],
            &[("__name__", "up"), ("job", "web"), ("zone", "b")],
            &[("__name__", "down"), ("zone", "a")],
        ];
        // Insert out of order to exercise sorted insertion.
        for (id, l) in [(3u32, sets[2]), (1, sets[0]), (2, sets[1]), (4, sets[3])] {
            let ids = s.intern_pairs(l.iter().copied());
            p.add(id, &ids);
        }
        (s, p)
    }

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    #[test]
    fn prometheus_matcher_semantics() {
        let (s, p) = setup();
        assert_eq!(p.select(&[], &s), vec![1, 2, 3, 4]);
        assert_eq!(
            p.select(&[m(MatchOp::Eq, "__name__", "up")], &s),
            vec![1, 2, 3]
        );
        assert_eq!(p.select(&[m(MatchOp::Eq, "zone", "")], &s), vec![2]);
        assert_eq!(p.select(&[m(MatchOp::Neq, "zone", "a")], &s), vec![2, 3]);
        assert_eq!(
            p.select(&[m(MatchOp::Re, "job", "api|web")], &s),
            vec![1, 3]
        );
        assert_eq!(p.select(&[m(MatchOp::Re, "job", "a.*|d.")], &s), vec![1, 2]);
        assert_eq!(
            p.select(&[m(MatchOp::Re, "job", ".*")], &s),
            vec![1, 2, 3, 4]
        );
        assert_eq!(p.select(&[m(MatchOp::Re, "job", ".+")], &s), vec![1, 2, 3]);
        assert_eq!(
            p.select(&[m(MatchOp::Nre, "job", "a.*")], &s),
            vec![2, 3, 4]
        );
        assert_eq!(
            p.select(
                &[
                    m(MatchOp::Eq, "__name__", "up"),
                    m(MatchOp::Nre, "zone", "b|")
                ],
                &s
            ),
            vec![1]
        );
        assert!(p.select(&[m(MatchOp::Eq, "nope", "x")], &s).is_empty());
        assert_eq!(p.select(&[m(MatchOp::Eq, "nope", "")], &s).len(), 4);
        assert_eq!(p.names(&s), vec!["__name__", "job", "zone"]);
        assert_eq!(p.values("zone", &s), vec!["a", "b"]);
    }

    #[test]
    fn removal_drops_ids_and_empty_values() {
        let (s, mut p) = setup();
        p.remove(&[1u32, 3].into_iter().collect());
        assert_eq!(p.len(), 2);
        assert_eq!(p.values("job", &s), vec!["db"]);
        assert_eq!(p.select(&[m(MatchOp::Eq, "zone", "a")], &s), vec![4]);
    }
}
