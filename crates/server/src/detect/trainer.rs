//! The trainer task: takes [`TrainRequest`]s one at a time, reads the
//! series' history from the store and runs `argus_detect::train::train` on
//! the blocking pool (never on the ingest path), then installs the active
//! model, keeps the other version and persists both.
//!
//! ```no_run
//! # async fn f(shared: std::sync::Arc<argus_server::detect::engine::Shared>,
//! #            rx: tokio::sync::mpsc::UnboundedReceiver<argus_server::detect::engine::TrainRequest>) {
//! tokio::spawn(argus_server::detect::trainer::run(shared, rx));
//! # }
//! ```

use std::sync::atomic::Ordering;
use std::sync::Arc;

use argus_detect::train::{train, TrainInput, TrainOutcome};
use argus_model::{Labels, Matcher};
use argus_tsdb::Querier;
use tokio::sync::mpsc;

use super::engine::{SeriesState, Shared, TrainRequest};
use super::jobs::Job;
use super::store::ModelRecord;

/// Serves training requests until the queue closes.
pub async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<TrainRequest>) {
    while let Some(req) = rx.recv().await {
        let res = train_one(&shared, &req).await;
        match &res {
            Ok(true) => {
                shared.metrics.trainings_ok.fetch_add(1, Ordering::Relaxed);
            }
            Ok(false) => {}
            Err(e) => {
                shared
                    .metrics
                    .trainings_failed
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(series = ?req.labels, error = %e, "Training a dynamic baseline failed.");
            }
        }
        if let Some(job) = &req.job {
            job.finish_one(match res {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!("{:?}: too little history", req.labels)),
                Err(e) => Err(format!("{:?}: {e}", req.labels)),
            });
        }
    }
}

/// The series' history in `[from, to]`, finite values only.
fn history(
    db: &argus_tsdb::Db,
    labels: &Labels,
    from: i64,
    to: i64,
) -> Result<(Vec<i64>, Vec<f64>), String> {
    let ms: Vec<Matcher> = labels
        .iter()
        .map(|l| Matcher::eq(&l.name, &l.value))
        .collect();
    let found = db
        .select(&ms, from, to)
        .map_err(|e| format!("cannot read the history: {e}"))?;
    let mut ts = Vec::new();
    let mut vs = Vec::new();
    if let Some(s) = found.into_iter().find(|s| s.labels == *labels) {
        for p in s.samples {
            if p.v.is_finite() {
                ts.push(p.t);
                vs.push(p.v);
            }
        }
    }
    Ok((ts, vs))
}

/// Trains one series. `Ok(false)`: not enough history for an automatic
/// training (the series stays in cold start).
async fn train_one(shared: &Arc<Shared>, req: &TrainRequest) -> Result<bool, String> {
    let r = usize::from(req.rule);
    let rule = shared
        .rules
        .get(r)
        .cloned()
        .ok_or_else(|| format!("no rule #{r}"))?;
    let (previous, progress) = {
        let mut all = shared.series.lock();
        let map = all.get_mut(r).ok_or_else(|| format!("no rule #{r}"))?;
        let st = match map.get_mut(&req.labels) {
            Some(st) => st,
            None => {
                let st = SeriesState::new(&rule, &req.labels)?;
                map.entry(req.labels.clone()).or_insert(st)
            }
        };
        let p = st.training.get_or_insert_with(Default::default).clone();
        (st.det.model().map(|m| (**m).clone()), p)
    };
    let now = shared.clock.now_ms();
    let (db, labels, spec, force) = (
        shared.db.clone(),
        req.labels.clone(),
        rule.spec.clone(),
        req.force,
    );
    let from = now.saturating_sub(rule.window_ms);
    let res = tokio::task::spawn_blocking(move || -> Result<Option<TrainOutcome>, String> {
        let (ts, vs) = history(&db, &labels, from, now)?;
        if !force && ts.len() < spec.min_points {
            return Ok(None);
        }
        let input = TrainInput {
            ts: &ts,
            values: &vs,
            flagged: None,
        };
        train(&spec, &input, previous.as_ref(), now, &mut |p| {
            progress.set(p)
        })
        .map(Some)
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the training task failed: {e}"))
    .and_then(|x| x);
    let record = {
        let mut all = shared.series.lock();
        let Some(st) = all.get_mut(r).and_then(|m| m.get_mut(&req.labels)) else {
            return Err("the series disappeared during training".into());
        };
        st.training = None;
        match res {
            Ok(None) => return Ok(false),
            Err(e) => {
                st.last_error = Some(e.clone());
                return Err(e);
            }
            Ok(Some(out)) => apply(st, out, &rule.name, &req.labels, now),
        }
    };
    let store = shared.store.clone();
    tokio::task::spawn_blocking(move || store.save(&record))
        .await
        .map_err(|e| format!("the save task failed: {e}"))??;
    Ok(true)
}

/// Installs the outcome; returns the record to persist.
fn apply(
    st: &mut SeriesState,
    out: TrainOutcome,
    rule: &str,
    labels: &Labels,
    now: i64,
) -> ModelRecord {
    let TrainOutcome {
        candidate,
        previous,
        replaced,
    } = out;
    let active = match previous {
        Some(p) if !replaced => {
            // The active model stays installed (its online state too); only
            // its refreshed score goes into the record.
            st.other = Some(candidate);
            st.other_rejected = true;
            p
        }
        prev => {
            st.det.install(Arc::new(candidate.clone()));
            st.other = prev;
            st.other_rejected = false;
            candidate
        }
    };
    st.last_trained_ms = Some(now);
    st.last_error = None;
    ModelRecord {
        rule: rule.to_string(),
        labels: labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
        active,
        other: st.other.clone(),
        other_rejected: st.other_rejected,
        last_trained_ms: now,
    }
}

/// Starts a job training every stored series of rule `r` that also matches
/// `extra` (any set; none = all), by hand (below `min_points` too).
pub fn start_job(
    shared: &Arc<Shared>,
    r: u16,
    extra: Vec<Vec<Matcher>>,
    matcher: Option<String>,
) -> Arc<Job> {
    let id = shared.next_job.fetch_add(1, Ordering::Relaxed);
    let Some(rule) = shared.rules.get(usize::from(r)).cloned() else {
        let job = Arc::new(Job::new(
            id,
            format!("#{r}"),
            matcher,
            shared.clock.now_ms(),
        ));
        job.fail(format!("no rule #{r}"));
        return job;
    };
    let job = Arc::new(Job::new(
        id,
        rule.name.clone(),
        matcher,
        shared.clock.now_ms(),
    ));
    shared.jobs.lock().insert(id, job.clone());
    let (s2, j2) = (shared.clone(), job.clone());
    tokio::spawn(async move {
        let db = s2.db.clone();
        let now = s2.clock.now_ms();
        let from = now.saturating_sub(rule.window_ms);
        let listed = tokio::task::spawn_blocking(move || -> Result<Vec<Labels>, String> {
            let mut found = std::collections::BTreeSet::new();
            for set in &rule.sets {
                let extras: Vec<Vec<Matcher>> = if extra.is_empty() {
                    vec![Vec::new()]
                } else {
                    extra.clone()
                };
                for e in extras {
                    let mut ms = set.clone();
                    ms.extend(e);
                    let ls = db.series(&ms, from, now).map_err(|e| e.to_string())?;
                    found.extend(ls.into_iter().filter(|l| {
                        !l.metric_name().is_some_and(|n| {
                            n.starts_with("argus_baseline_") || n.starts_with("argus_anomaly_")
                        })
                    }));
                }
            }
            Ok(found.into_iter().collect())
        })
        .await;
        let series = match listed {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return j2.fail(format!("cannot list the series: {e}")),
            Err(e) => return j2.fail(format!("the listing task failed: {e}")),
        };
        if series.is_empty() {
            return j2.fail("no stored series matches the rule's selector (and the match)".into());
        }
        j2.set_total(series.len());
        let mut all = s2.series.lock();
        let Some(map) = all.get_mut(usize::from(r)) else {
            return j2.fail("the rule is gone".into());
        };
        let Some(rule) = s2.rules.get(usize::from(r)) else {
            return j2.fail("the rule is gone".into());
        };
        for l in series {
            if !map.contains_key(&l) {
                match SeriesState::new(rule, &l) {
                    Ok(st) => {
                        map.insert(l.clone(), st);
                        s2.metrics.series.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        j2.finish_one(Err(e));
                        continue;
                    }
                }
            }
            if let Some(st) = map.get_mut(&l) {
                st.probed = true;
                s2.request_training(st, r, &l, true, Some(j2.clone()));
            }
        }
    });
    job
}
