//! The trainer task: takes [`TrainRequest`]s in order and runs up to
//! `detect.training_concurrency` of them at once; each reads the series'
//! history from the store and runs `argus_detect::train::train` on the
//! blocking pool (never on the ingest path), then installs the active
//! model, keeps the other version and persists both. Two requests for the
//! same series never run at once: the later one waits ([`Slots`]).
//!
//! ```no_run
//! # async fn f(shared: std::sync::Arc<argus_dynamic::engine::Shared>,
//! #            rx: tokio::sync::mpsc::UnboundedReceiver<argus_dynamic::engine::TrainRequest>) {
//! tokio::spawn(argus_dynamic::trainer::run(shared, rx, 2));
//! # }
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use argus_detect::train::{train, TrainInput, TrainOutcome};
use argus_model::{Labels, Matcher};
use argus_tsdb::Querier;
use tokio::sync::mpsc;

use crate::engine::{SeriesState, Shared, TrainRequest};
use crate::jobs::Job;
use crate::store::ModelRecord;

/// Which requests may start: at most `limit` at once, one per series,
/// otherwise in arrival order. Pure bookkeeping (the trainer task drives it).
#[derive(Debug)]
pub struct Slots {
    limit: usize,
    busy: HashSet<(String, Labels)>,
    waiting: VecDeque<TrainRequest>,
}

fn key(r: &TrainRequest) -> (String, Labels) {
    (r.rule.clone(), r.labels.clone())
}

impl Slots {
    /// At most `limit` (at least 1) trainings at once.
    pub fn new(limit: usize) -> Slots {
        Slots {
            limit: limit.max(1),
            busy: HashSet::new(),
            waiting: VecDeque::new(),
        }
    }

    /// Trainings running.
    pub fn running(&self) -> usize {
        self.busy.len()
    }

    /// Whether a new request can be taken from the queue (a free slot).
    /// Requests waiting hold only series being trained, so they do not
    /// block other series.
    pub fn has_room(&self) -> bool {
        self.busy.len() < self.limit
    }

    /// Offers a request: returned when it may start now, else kept waiting
    /// (no free slot, or its series is being trained).
    pub fn offer(&mut self, req: TrainRequest) -> Option<TrainRequest> {
        if self.busy.len() < self.limit && !self.busy.contains(&key(&req)) {
            self.busy.insert(key(&req));
            Some(req)
        } else {
            self.waiting.push_back(req);
            None
        }
    }

    /// Marks `req`'s training finished; returns the waiting requests that
    /// may start now, oldest first.
    pub fn finish(&mut self, rule: &str, labels: &Labels) -> Vec<TrainRequest> {
        self.busy.remove(&(rule.to_string(), labels.clone()));
        let mut start = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() && self.busy.len() < self.limit {
            if self.busy.contains(&key(&self.waiting[i])) {
                i += 1;
                continue;
            }
            if let Some(r) = self.waiting.remove(i) {
                self.busy.insert(key(&r));
                start.push(r);
            }
        }
        start
    }
}

/// Serves training requests until the queue closes, `concurrency` at once.
pub async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<TrainRequest>,
    concurrency: usize,
) {
    let mut slots = Slots::new(concurrency);
    let mut running = tokio::task::JoinSet::new();
    // Task id → its series, so a task that panicked still frees its slot.
    let mut keys = HashMap::new();
    let spawn = |running: &mut tokio::task::JoinSet<()>,
                 keys: &mut HashMap<tokio::task::Id, (String, Labels)>,
                 req: TrainRequest| {
        let s = shared.clone();
        let k = key(&req);
        let h = running.spawn(async move { serve(&s, &req).await });
        keys.insert(h.id(), k);
    };
    loop {
        tokio::select! {
            req = rx.recv(), if slots.has_room() => {
                let Some(req) = req else { break };
                if let Some(r) = slots.offer(req) {
                    spawn(&mut running, &mut keys, r);
                }
            }
            Some(done) = running.join_next_with_id() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "A training task failed.");
                        e.id()
                    }
                };
                let Some((rule, labels)) = keys.remove(&id) else { continue };
                for r in slots.finish(&rule, &labels) {
                    spawn(&mut running, &mut keys, r);
                }
            }
        }
    }
    while running.join_next().await.is_some() {}
}

/// Trains one request and records its outcome (metrics, job, log).
async fn serve(shared: &Arc<Shared>, req: &TrainRequest) {
    let res = train_one(shared, req).await;
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

/// The series' history in `[from, to]`, finite values only.
pub(crate) fn history(
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
    let (previous, progress, rule) = {
        let mut all = shared.series.lock();
        let gone = || format!("the rule {:?} is no longer configured", req.rule);
        let (r, rule) = shared.rule_named(&req.rule).ok_or_else(gone)?;
        if !rule.matches(&req.labels) {
            return Err("the series no longer matches the rule's selector".into());
        }
        let map = all.get_mut(r).ok_or_else(gone)?;
        let st = match map.get_mut(&req.labels) {
            Some(st) => st,
            None => {
                let st = SeriesState::new(&rule, &req.labels).map_err(|e| e.to_string())?;
                map.entry(req.labels.clone()).or_insert(st)
            }
        };
        let p = st.training.get_or_insert_with(Default::default).clone();
        (st.det.model().map(|m| (**m).clone()), p, rule)
    };
    let now = shared.clock.now_ms();
    let (db, labels, spec, force) = (
        shared.db.clone(),
        req.labels.clone(),
        rule.spec.clone(),
        req.force,
    );
    let from = now.saturating_sub(rule.window_ms);
    let progress2 = progress.clone();
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
            progress2.set(p)
        })
        .map(Some)
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("the training task failed: {e}"))
    .and_then(|x| x);
    let record = {
        let mut all = shared.series.lock();
        // A reload may have removed or changed the rule meanwhile: a model
        // for other detector settings is not installed.
        let r = match shared.rule_named(&req.rule) {
            Some((r, now_rule)) if Arc::ptr_eq(&now_rule.spec, &rule.spec) => r,
            _ => return Err("the rule was changed by a reload during training".into()),
        };
        let Some(st) = all.get_mut(r).and_then(|m| m.get_mut(&req.labels)) else {
            return Err("the series disappeared during training".into());
        };
        // A later request (queued while this one ran) keeps its own progress.
        if st
            .training
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &progress))
        {
            st.training = None;
        }
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
    rule: &str,
    extra: Vec<Vec<Matcher>>,
    matcher: Option<String>,
) -> Arc<Job> {
    let id = shared.next_job.fetch_add(1, Ordering::Relaxed);
    let Some((_, rule)) = shared.rule_named(rule) else {
        let job = Arc::new(Job::new(
            id,
            rule.to_string(),
            matcher,
            shared.clock.now_ms(),
        ));
        job.fail(format!("no dynamic rule named {rule:?}"));
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
        let gone = "the rule was removed or changed by a reload".to_string();
        let rule = match s2.rule_named(&rule.name) {
            Some((r, now_rule)) if Arc::ptr_eq(&now_rule.spec, &rule.spec) => (r, now_rule),
            _ => return j2.fail(gone),
        };
        let Some(map) = all.get_mut(rule.0) else {
            return j2.fail(gone);
        };
        let rule = &rule.1;
        for l in series {
            if !map.contains_key(&l) {
                match SeriesState::new(rule, &l) {
                    Ok(st) => {
                        map.insert(l.clone(), st);
                        s2.metrics.series.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        j2.finish_one(Err(e.to_string()));
                        continue;
                    }
                }
            }
            if let Some(st) = map.get_mut(&l) {
                st.probed = true;
                s2.request_training(st, &rule.name, &l, true, Some(j2.clone()));
            }
        }
    });
    job
}
