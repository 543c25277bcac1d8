//! One target's scrape loop: fetch, parse, relabel, append, staleness, report series.

use super::config::ScrapeConfig;
use super::target::{Health, Target, TargetStatus};
use crate::relabel::relabel;
use crate::text::{MetricMetadata, TextFormat, TextParser};
use crate::{AppenderFactory, MAX_BODY_BYTES, MAX_REPORTED_ERRORS};
use argus_model::{is_valid_metric_name, Clock, Labels, STALE_NAN};
use argus_tsdb::Appender;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The Accept header: OpenMetrics first, then text 0.0.4.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";

/// Why a loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    Run,
    /// The target is gone: write stale markers for its series.
    Remove,
    /// The process is stopping: no stale markers (a restart must not leave gaps).
    Shutdown,
}

/// What a loop carries from one scrape to the next.
#[derive(Debug, Default)]
pub(crate) struct LoopState {
    /// Series of the previous scrape that get stale markers when they vanish.
    prev: HashMap<u64, Labels>,
}

/// Everything a loop task shares with the manager.
pub(crate) struct Shared<F> {
    pub factory: Arc<F>,
    pub clock: Arc<dyn Clock>,
    /// The job's client; replaced when a reload changes its settings.
    pub client: Arc<RwLock<reqwest::Client>>,
    pub target: Arc<Target>,
    pub cfg: Arc<RwLock<Arc<ScrapeConfig>>>,
    pub status: Arc<Mutex<TargetStatus>>,
    pub metadata: Arc<Mutex<BTreeMap<String, MetricMetadata>>>,
    /// Bumped when this target goes down or comes back up.
    pub health_changes: Arc<watch::Sender<u64>>,
}

/// Counts of one scrape, for the report series.
#[derive(Debug, Default)]
struct Counts {
    scraped: u64,
    post_relabel: u64,
    added: u64,
    errors: Vec<String>,
}

/// The loop: waits for the target's offset, then scrapes every interval until stopped.
pub(crate) async fn run<F: AppenderFactory>(sh: Arc<Shared<F>>, mut stop: watch::Receiver<Stop>) {
    let mut state = LoopState::default();
    let mut interval = sh.cfg.read().interval();
    let iv_ms = interval.as_millis().max(1) as u64;
    let now = sh.clock.now_ms().rem_euclid(iv_ms as i64) as u64;
    let delay = (sh.target.hash % iv_ms + iv_ms - now) % iv_ms;
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(delay),
        interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            r = stop.changed() => {
                if r.is_err() || *stop.borrow() != Stop::Run { break; }
                continue;
            }
            _ = ticker.tick() => {}
        }
        state = scrape_once(&sh, state).await;
        let now_iv = sh.cfg.read().interval();
        if now_iv != interval {
            interval = now_iv;
            ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        }
    }
    let mode = *stop.borrow();
    if mode != Stop::Shutdown {
        let sh2 = sh.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let ts = sh2.clock.now_ms();
            let mut app = sh2.factory.appender();
            for l in state.prev.values() {
                let _ = app.append(l, ts, STALE_NAN);
            }
            for name in REPORT_NAMES {
                let mut l = sh2.target.labels.clone();
                l.set(argus_model::METRIC_NAME, name);
                let _ = app.append(&l, ts, STALE_NAN);
            }
            if let Err(e) = app.commit() {
                tracing::warn!(target_url = %sh2.target.url, error = %e, "Could not write stale markers for a removed target.");
            }
        })
        .await;
    }
}

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// One scrape, start to commit. Public to the crate so tests can drive it.
pub(crate) async fn scrape_once<F: AppenderFactory>(
    sh: &Arc<Shared<F>>,
    state: LoopState,
) -> LoopState {
    let cfg = sh.cfg.read().clone();
    let ts = sh.clock.now_ms();
    let started = Instant::now();
    let client = sh.client.read().clone();
    let fetched = fetch(&client, &cfg, &sh.target.url).await;
    let sh2 = sh.clone();
    let joined = tokio::task::spawn_blocking(move || {
        let mut state = state;
        let mut app = sh2.factory.appender();
        let (up, err, counts) = match fetched {
            Ok((body, ct)) => {
                let format = TextFormat::from_content_type(ct.as_deref());
                match process(&mut app, &mut state, &sh2.target, &cfg, &body, format, ts) {
                    Ok((counts, meta)) => {
                        *sh2.metadata.lock() = meta;
                        let err = if counts.errors.is_empty() {
                            None
                        } else {
                            Some(counts.errors.join("; "))
                        };
                        (true, err, counts)
                    }
                    Err(e) => {
                        for l in state.prev.values() {
                            let _ = app.append(l, ts, STALE_NAN);
                        }
                        state.prev.clear();
                        (false, Some(e), Counts::default())
                    }
                }
            }
            Err(e) => {
                for l in state.prev.values() {
                    let _ = app.append(l, ts, STALE_NAN);
                }
                state.prev.clear();
                (false, Some(e), Counts::default())
            }
        };
        let dur = started.elapsed();
        let values = [
            if up { 1.0 } else { 0.0 },
            dur.as_secs_f64(),
            counts.scraped as f64,
            counts.post_relabel as f64,
            counts.added as f64,
        ];
        for (name, v) in REPORT_NAMES.iter().zip(values) {
            let mut l = sh2.target.labels.clone();
            l.set(argus_model::METRIC_NAME, name);
            let _ = app.append(&l, ts, v);
        }
        let err = match app.commit() {
            Ok(_) => err,
            Err(e) => Some(format!("storing the scrape failed: {e}")),
        };
        let mut st = sh2.status.lock();
        let health = if up { Health::Up } else { Health::Down };
        let changed = match (st.health, health) {
            (Health::Unknown, Health::Up) => false,
            (old, new) => old != new,
        };
        st.health = health;
        st.last_error = err;
        st.last_scrape_ms = Some(ts);
        st.last_scrape_duration = Some(dur);
        st.scrape_interval = cfg.interval();
        st.scrape_timeout = cfg.timeout();
        drop(st);
        if changed {
            sh2.health_changes.send_modify(|n| *n += 1);
        }
        state
    })
    .await;
    // A panic inside the blocking task loses only this loop's staleness state.
    joined.unwrap_or_default()
}

/// Fetches the target; the error says what failed.
async fn fetch(
    client: &reqwest::Client,
    cfg: &ScrapeConfig,
    url: &str,
) -> Result<(Vec<u8>, Option<String>), String> {
    let timeout = cfg.timeout();
    let chain = |e: &dyn std::error::Error| {
        let mut s = e.to_string();
        let mut src = e.source();
        while let Some(x) = src {
            s.push_str(": ");
            s.push_str(&x.to_string());
            src = x.source();
        }
        s
    };
    let limit = match cfg.body_size_limit.0 {
        0 => MAX_BODY_BYTES,
        n => (n as usize).min(MAX_BODY_BYTES),
    };
    let too_big = || format!("body size limit exceeded: the response is larger than {limit} bytes");
    let mut req = client
        .get(url)
        .header(reqwest::header::ACCEPT, ACCEPT_HEADER)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", timeout.as_secs_f64()),
        )
        .timeout(timeout);
    if let Some(h) = cfg
        .http_client_config()
        .auth_header()
        .map_err(|e| e.to_string())?
    {
        req = req.header(reqwest::header::AUTHORIZATION, h);
    }
    let mut resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("scrape of {url} timed out after {timeout:?}")
        } else {
            chain(&e)
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("server returned HTTP status {}", resp.status()));
    }
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            if e.is_timeout() {
                format!("scrape of {url} timed out after {timeout:?}")
            } else {
                chain(&e)
            }
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, ct))
}

/// The first label limit of the job that `lb` breaks, as Prometheus words it.
fn label_limit_error(lb: &Labels, cfg: &ScrapeConfig) -> Option<String> {
    let name = lb.metric_name().unwrap_or("");
    let n = lb.iter().count() as u64;
    if cfg.label_limit > 0 && n > cfg.label_limit {
        return Some(format!(
            "label_limit exceeded (metric: {name:.50}, number of labels: {n}, limit: {})",
            cfg.label_limit
        ));
    }
    for l in lb.iter() {
        let (nl, vl) = (l.name.len() as u64, l.value.len() as u64);
        if cfg.label_name_length_limit > 0 && nl > cfg.label_name_length_limit {
            return Some(format!(
                "label_name_length_limit exceeded (metric: {name:.50}, label name: {:.50}, length: {nl}, limit: {})",
                l.name, cfg.label_name_length_limit
            ));
        }
        if cfg.label_value_length_limit > 0 && vl > cfg.label_value_length_limit {
            return Some(format!(
                "label_value_length_limit exceeded (metric: {name:.50}, label name: {:.50}, value: {:.50}, length: {vl}, limit: {})",
                l.name, l.value, cfg.label_value_length_limit
            ));
        }
    }
    None
}

/// Adds the target labels to a scraped label set, as Prometheus does: with
/// `honor_labels` the scraped value wins; otherwise the target's wins and the
/// scraped one is kept as `exported_<name>`.
pub fn merge_target_labels(lb: &mut Labels, target: &Labels, honor_labels: bool) {
    if honor_labels {
        for l in target {
            if lb.get(&l.name).is_none() {
                lb.set(&l.name, &l.value);
            }
        }
        return;
    }
    let mut conflicts = Vec::new();
    for l in target {
        if let Some(v) = lb.get(&l.name) {
            conflicts.push((l.name.clone(), v.to_string()));
        }
        lb.set(&l.name, &l.value);
    }
    for (n, v) in conflicts {
        let mut new = format!("exported_{n}");
        while lb.get(&new).is_some() {
            new = format!("exported_{new}");
        }
        lb.set(&new, &v);
    }
}

/// Parses a body and stages its samples plus stale markers for vanished
/// series. A broken limit (`sample_limit`, label limits) fails the whole
/// scrape, as in Prometheus: nothing is staged and the error is returned.
fn process<A: Appender>(
    app: &mut A,
    state: &mut LoopState,
    target: &Target,
    cfg: &ScrapeConfig,
    body: &[u8],
    format: TextFormat,
    ts: i64,
) -> Result<(Counts, BTreeMap<String, MetricMetadata>), String> {
    let mut c = Counts::default();
    let mut staged: Vec<(Labels, i64, f64, bool, usize)> = Vec::new();
    let mut parser = TextParser::new(body, format);
    let push_err = |c: &mut Counts, e: String| {
        if c.errors.len() < MAX_REPORTED_ERRORS {
            c.errors.push(e);
        }
    };
    for item in parser.by_ref() {
        let s = match item {
            Ok(s) => s,
            Err(e) => {
                push_err(&mut c, e.to_string());
                continue;
            }
        };
        c.scraped += 1;
        let mut pairs: Vec<(&str, &str)> = s.labels.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        pairs.push((argus_model::METRIC_NAME, s.name));
        let mut lb = Labels::from_pairs(&pairs);
        merge_target_labels(&mut lb, &target.labels, cfg.honor_labels);
        if !cfg.metric_relabel_configs.is_empty() && !relabel(&mut lb, &cfg.metric_relabel_configs)
        {
            continue;
        }
        if !lb.metric_name().is_some_and(is_valid_metric_name) {
            push_err(
                &mut c,
                format!(
                    "line {}: metric relabeling left no valid metric name in {lb}",
                    s.line
                ),
            );
            continue;
        }
        if let Some(e) = label_limit_error(&lb, cfg) {
            return Err(e);
        }
        c.post_relabel += 1;
        if cfg.sample_limit > 0 && c.post_relabel > cfg.sample_limit {
            return Err(format!(
                "sample limit exceeded: more than {} samples after metric relabeling",
                cfg.sample_limit
            ));
        }
        let explicit = cfg.honor_timestamps && s.timestamp_ms.is_some();
        let t = if explicit {
            s.timestamp_ms.unwrap_or(ts)
        } else {
            ts
        };
        staged.push((lb, t, s.value, explicit, s.line));
    }
    let mut cur: HashMap<u64, Labels> = HashMap::with_capacity(state.prev.len());
    for (lb, t, v, explicit, line) in staged {
        let h = lb.stable_hash();
        match app.append(&lb, t, v) {
            Ok(()) => {
                if !state.prev.contains_key(&h) && !cur.contains_key(&h) {
                    c.added += 1;
                }
                if !explicit {
                    cur.insert(h, lb);
                }
            }
            Err(e) => push_err(&mut c, format!("line {line}: {e}")),
        }
    }
    for (h, l) in &state.prev {
        if !cur.contains_key(h) {
            let _ = app.append(l, ts, STALE_NAN);
        }
    }
    state.prev = cur;
    Ok((c, parser.into_metadata()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_prefix_on_conflict() {
        let target = Labels::from_pairs(&[("job", "node"), ("instance", "a:1")]);
        let mut lb = Labels::from_pairs(&[("__name__", "m"), ("job", "x"), ("exported_job", "y")]);
        merge_target_labels(&mut lb, &target, false);
        assert_eq!(lb.get("job"), Some("node"));
        assert_eq!(lb.get("exported_job"), Some("y"));
        assert_eq!(lb.get("exported_exported_job"), Some("x"));
        let mut lb = Labels::from_pairs(&[("__name__", "m"), ("job", "x")]);
        merge_target_labels(&mut lb, &target, true);
        assert_eq!(lb.get("job"), Some("x"));
        assert_eq!(lb.get("instance"), Some("a:1"));
    }
}
