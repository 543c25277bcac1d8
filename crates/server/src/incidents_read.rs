//! Reading an incident's evidence from the store within a budget of series.
//! A large system has more series than the ranking may read; which ones it
//! reads must not depend on their names' order (the store sorts by label
//! set, so a cut in that order keeps the first metric families of every
//! service and drops the rest). Histogram buckets are left out (the ranking
//! reads quantiles, sums and counts); beyond the budget the series are taken
//! in turn from every service, and within a service one of each metric
//! family before a second of any.

use argus_incident::evidence::SeriesData;
use argus_incident::service::SourceError;
use argus_model::{Labels, MatchOp, Matcher};
use argus_tsdb::{Db, Querier};
use std::collections::{BTreeMap, HashSet, VecDeque};

/// The most samples one read of the store loads.
const EVIDENCE_MAX_SAMPLES: usize = 5_000_000;

/// At most `max` of `all`, spread over services (their `service` label;
/// series without one are a group of their own) and, within a service,
/// over metric families; all of them when they fit.
pub(crate) fn pick_fairly(all: Vec<Labels>, max: usize) -> Vec<Labels> {
    if all.len() <= max {
        return all;
    }
    let mut groups: BTreeMap<String, BTreeMap<String, VecDeque<Labels>>> = BTreeMap::new();
    for l in all {
        let svc = l.get("service").unwrap_or_default().to_string();
        let fam = l.get("__name__").unwrap_or_default().to_string();
        groups
            .entry(svc)
            .or_default()
            .entry(fam)
            .or_default()
            .push_back(l);
    }
    // Each service's series in rounds: the first of every family, then the
    // second of every family, and so on.
    let mut queues: Vec<VecDeque<Labels>> = groups
        .into_values()
        .map(|fams| {
            let mut fams: Vec<VecDeque<Labels>> = fams.into_values().collect();
            let mut q = VecDeque::new();
            loop {
                let before = q.len();
                for f in &mut fams {
                    q.extend(f.pop_front());
                }
                if q.len() == before {
                    break q;
                }
            }
        })
        .collect();
    let mut out = Vec::with_capacity(max);
    while out.len() < max {
        let before = out.len();
        for q in &mut queues {
            if out.len() >= max {
                break;
            }
            out.extend(q.pop_front());
        }
        if out.len() == before {
            break;
        }
    }
    out
}

fn source_error(e: impl std::fmt::Display) -> SourceError {
    SourceError(e.to_string())
}

/// Series matching any of `selectors` (label name, regular expression) with
/// samples in `[from_ms, to_ms]`, histogram buckets left out, at most
/// `max_series` of them picked by [`pick_fairly`].
pub(crate) fn read_fairly(
    db: &Db,
    selectors: &[(String, String)],
    from_ms: i64,
    to_ms: i64,
    max_series: usize,
) -> Result<Vec<SeriesData>, SourceError> {
    let mut seen = HashSet::new();
    let mut wanted = Vec::new();
    let mut matchers = Vec::new();
    for (name, values) in selectors {
        let m = Matcher::new(MatchOp::Re, name, values)
            .map_err(|e| SourceError(format!("{name}=~{values:?}: {e}")))?;
        for l in db
            .series(std::slice::from_ref(&m), from_ms, to_ms)
            .map_err(source_error)?
        {
            if l.get("le").is_none() && seen.insert(l.stable_hash()) {
                wanted.push(l);
            }
        }
        matchers.push(m);
    }
    let all = wanted.len();
    let picked = pick_fairly(wanted, max_series);
    let keep: HashSet<u64> = picked.iter().map(Labels::stable_hash).collect();
    let mut out = Vec::with_capacity(picked.len());
    let push = |s: argus_tsdb::Series, out: &mut Vec<SeriesData>| {
        let samples = s
            .samples
            .iter()
            .filter(|x| !argus_model::is_stale_nan(x.v))
            .map(|x| (x.t, x.v))
            .collect();
        out.push(SeriesData {
            labels: s.labels,
            samples,
        });
    };
    let mut taken = HashSet::new();
    if picked.len() == all {
        // Everything fits: one read per selector, without the buckets (and
        // without a series that appeared since the listing, so the budget
        // holds).
        let no_bucket = Matcher::new(MatchOp::Eq, "le", "").map_err(source_error)?;
        for m in matchers {
            let found = db
                .select_limited(
                    &[m, no_bucket.clone()],
                    from_ms,
                    to_ms,
                    EVIDENCE_MAX_SAMPLES,
                )
                .map_err(source_error)?;
            for s in found {
                let h = s.labels.stable_hash();
                if keep.contains(&h) && taken.insert(h) {
                    push(s, &mut out);
                }
            }
        }
        return Ok(out);
    }
    // A part: each picked series read by its whole label set.
    for l in &picked {
        let exact: Vec<Matcher> = l
            .iter()
            .map(|p| Matcher::new(MatchOp::Eq, &p.name, &p.value))
            .collect::<Result<_, _>>()
            .map_err(source_error)?;
        let found = db
            .select_limited(&exact, from_ms, to_ms, EVIDENCE_MAX_SAMPLES)
            .map_err(source_error)?;
        for s in found {
            let h = s.labels.stable_hash();
            if keep.contains(&h) && taken.insert(h) {
                push(s, &mut out);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(svc: &str, fam: &str, pod: &str) -> Labels {
        Labels::from_pairs(&[("__name__", fam), ("service", svc), ("pod", pod)])
    }

    #[test]
    fn everything_is_kept_when_it_fits() {
        let all = vec![l("a", "cpu", "1"), l("b", "cpu", "1")];
        assert_eq!(pick_fairly(all.clone(), 2), all);
    }

    #[test]
    fn over_the_budget_every_service_and_family_is_read() {
        // Service "a" has many pods of two families and comes first in the
        // store's order; "z" has one series of a family named last.
        let mut all = Vec::new();
        for p in 0..50 {
            all.push(l("a", "a_cpu", &p.to_string()));
            all.push(l("a", "b_memory", &p.to_string()));
        }
        for p in 0..5 {
            all.push(l("m", "a_cpu", &p.to_string()));
        }
        all.push(l("z", "zz_latency_seconds", "0"));
        let picked = pick_fairly(all, 10);
        assert_eq!(picked.len(), 10);
        let has = |svc: &str, fam: &str| {
            picked
                .iter()
                .any(|x| x.get("service") == Some(svc) && x.get("__name__") == Some(fam))
        };
        assert!(has("z", "zz_latency_seconds"));
        assert!(has("a", "a_cpu") && has("a", "b_memory"));
        let of = |svc: &str| {
            picked
                .iter()
                .filter(|x| x.get("service") == Some(svc))
                .count()
        };
        // Taken in turn: "z" ran out after one, the others share the rest.
        assert_eq!((of("a"), of("m"), of("z")), (5, 4, 1));
    }
}
