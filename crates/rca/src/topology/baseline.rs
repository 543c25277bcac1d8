//! A simple robust z-score baseline (BARO-like), run beside [`super::rank`]
//! in the offline harness: per series, the largest `|x − median| / (1.4826 ·
//! MAD)` over the points from the start on, the median and MAD taken over the
//! normal period when there is one (else the history before the start); a
//! zero MAD counts as 1, as scikit-learn's `RobustScaler` does. A service
//! scores its best series. No graph, no floors, no counters.

use super::kind::signal_of;
use super::stats::median_mad;
use super::{Case, Ranking, Suspect};
use std::collections::{BTreeMap, HashMap};

/// Ranks the services of `case` by the baseline; series without
/// `service_label` are left out.
pub fn zscore_baseline(case: &Case, service_label: &str) -> Ranking {
    let normal: HashMap<&argus_model::Labels, &super::Series> =
        case.normal.iter().map(|s| (&s.labels, s)).collect();
    let mut best: BTreeMap<&str, (f64, &str)> = BTreeMap::new();
    for s in &case.window {
        let Some(svc) = s.labels.get(service_label) else {
            continue;
        };
        let finite = |v: &[(i64, f64)]| -> Vec<(i64, f64)> {
            v.iter().copied().filter(|x| x.1.is_finite()).collect()
        };
        let samples = finite(&s.samples);
        let before: Vec<f64> = match normal.get(&s.labels) {
            Some(n) if !case.normal.is_empty() => finite(&n.samples).iter().map(|x| x.1).collect(),
            _ => samples
                .iter()
                .filter(|x| x.0 < case.start_ms)
                .map(|x| x.1)
                .collect(),
        };
        let Some((m, mad)) = median_mad(&before) else {
            continue;
        };
        let scale = if mad > 0.0 { mad } else { 1.0 };
        let z = samples
            .iter()
            .filter(|x| x.0 >= case.start_ms)
            .map(|x| (x.1 - m).abs() / scale)
            .fold(f64::NEG_INFINITY, f64::max);
        if !z.is_finite() {
            continue;
        }
        let family = s.labels.metric_name().unwrap_or("");
        let e = best.entry(svc).or_insert((f64::NEG_INFINITY, family));
        if z > e.0 || (z == e.0 && family < e.1) {
            *e = (z, family);
        }
    }
    let mut suspects: Vec<Suspect> = best
        .into_iter()
        .map(|(svc, (z, fam))| Suspect {
            service: svc.to_string(),
            score: z,
            metric: fam.to_string(),
            kind: signal_of(fam).kind(),
            evidence: format!("{fam} scored {z:.1} robust z units"),
        })
        .collect();
    suspects.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.service.cmp(&b.service))
    });
    Ranking { suspects }
}
