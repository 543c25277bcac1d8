//! The forwarder: keeps the alerts that are active, sends new and changed
//! ones at once and all of them again every resend interval, to every
//! Alertmanager discovered, as Prometheus's notifier does.

use crate::config::{validate, AlertmanagerConfig, ForwardConfigError};
use argus_ingest::relabel::{relabel, RelabelConfig};
use argus_ingest::scrape::config::{expand_pattern, read_sd_file};
use argus_ingest::scrape::TargetGroup;
use argus_model::alert::{AlertEvent, RESOLVED_RETENTION_MS};
use argus_model::time::{format_rfc3339_ms, Fraction};
use argus_model::{Clock, Labels};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// At most this many alerts wait to be sent; beyond it the oldest are
/// dropped and counted (Prometheus's default queue capacity).
pub const QUEUE_CAPACITY: usize = 10_000;

/// At most this many alerts go in one request (Prometheus's batch size).
pub const MAX_BATCH: usize = 256;

/// What the forwarder sends where: the `alerting.alertmanagers` entries and
/// the `alerting.alert_relabel_configs` applied to every alert first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// The Alertmanagers.
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Relabeling of every alert before it is sent (a dropped alert is not
    /// sent anywhere).
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

/// [`Settings`] checked and with their HTTP clients built, ready for
/// [`Forwarder::apply`].
#[derive(Debug)]
pub struct PreparedSettings {
    settings: Settings,
    clients: Vec<reqwest::Client>,
}

impl Settings {
    /// Checks every entry (naming it on error) and builds the clients,
    /// changing nothing.
    pub fn prepare(self) -> Result<PreparedSettings, ForwardConfigError> {
        let clients = validate(&self.alertmanagers, &self.alert_relabel_configs)?;
        Ok(PreparedSettings {
            settings: self,
            clients,
        })
    }
}

/// Counters of the forwarder, for the self-metrics.
#[derive(Debug, Default)]
pub struct Counters {
    /// Alerts sent, per Alertmanager URL.
    pub sent: Mutex<HashMap<String, u64>>,
    /// Alerts whose request failed, per Alertmanager URL.
    pub errors: Mutex<HashMap<String, u64>>,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
}

struct Am {
    cfg: AlertmanagerConfig,
    client: reqwest::Client,
    /// The alert URLs and when they were resolved (ms).
    urls: Option<(Vec<String>, i64)>,
    /// What the DNS, HTTP and Kubernetes discoveries found last, one list
    /// per discovery in the order of [`AlertmanagerConfig::discover`].
    discovered: Vec<Vec<TargetGroup>>,
    /// When those discoveries are due again (ms).
    next_discovery_ms: i64,
}

#[derive(Default)]
struct State {
    ams: Vec<Am>,
    alert_relabel: Vec<RelabelConfig>,
    pending: VecDeque<AlertEvent>,
    /// The last event of every alert not resolved for longer than the
    /// retention, by labels (after relabeling).
    active: HashMap<Labels, AlertEvent>,
    /// Bumped by every `apply`, so a discovery that ran over old settings
    /// does not land in new ones.
    generation: u64,
    /// The next send goes to every Alertmanager with every active alert
    /// (a discovery found new Alertmanagers).
    resend_all_next: bool,
}

struct Inner {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    wake: Notify,
    counters: Counters,
}

/// Sends alerts on to external Alertmanagers. Cheap to clone.
///
/// ```no_run
/// use argus_forward::{AlertmanagerConfig, Forwarder, Settings};
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let fwd = Forwarder::new(std::sync::Arc::new(argus_model::SystemClock));
/// fwd.apply(Settings {
///     alertmanagers: vec![AlertmanagerConfig::new_static(&["127.0.0.1:9093"])],
///     ..Settings::default()
/// }.prepare()?);
/// let (_stop, stopped) = tokio::sync::watch::channel(false);
/// let task = fwd.spawn(std::time::Duration::from_secs(60), stopped);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("alertmanagers", &self.inner.state.lock().ams.len())
            .finish()
    }
}

impl Forwarder {
    /// A forwarder with no Alertmanager (it keeps nothing until it has one).
    pub fn new(clock: Arc<dyn Clock>) -> Forwarder {
        Forwarder {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(State::default()),
                wake: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    /// Puts prepared settings in force (start-up or reload). The alerts
    /// already active are sent to the new Alertmanagers at the next send.
    pub fn apply(&self, prepared: PreparedSettings) {
        let PreparedSettings { settings, clients } = prepared;
        let mut st = self.inner.state.lock();
        st.ams = settings
            .alertmanagers
            .into_iter()
            .zip(clients)
            .map(|(cfg, client)| Am {
                cfg,
                client,
                urls: None,
                discovered: Vec::new(),
                next_discovery_ms: 0,
            })
            .collect();
        st.generation += 1;
        st.alert_relabel = settings.alert_relabel_configs;
        if st.ams.is_empty() {
            st.pending.clear();
            st.active.clear();
        } else {
            let all: Vec<AlertEvent> = st.active.values().cloned().collect();
            st.pending.extend(all);
        }
        drop(st);
        self.inner.wake.notify_one();
    }

    /// Whether any Alertmanager is configured.
    pub fn enabled(&self) -> bool {
        !self.inner.state.lock().ams.is_empty()
    }

    /// Queues alerts for sending; never blocks. Alerts that
    /// `alert_relabel_configs` drops are not sent.
    pub fn submit(&self, alerts: &[AlertEvent]) {
        let mut st = self.inner.state.lock();
        if st.ams.is_empty() {
            return;
        }
        for a in alerts {
            let mut a = a.clone();
            if !st.alert_relabel.is_empty() && !relabel(&mut a.labels, &st.alert_relabel) {
                continue;
            }
            st.active.insert(a.labels.clone(), a.clone());
            if st.pending.len() >= QUEUE_CAPACITY {
                st.pending.pop_front();
                self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            st.pending.push_back(a);
        }
        drop(st);
        self.inner.wake.notify_one();
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// The self-metrics, named as Prometheus's notifier names them:
    /// `prometheus_notifications_sent_total` and `..._errors_total` per
    /// Alertmanager, `..._dropped_total`, `..._queue_length`,
    /// `..._queue_capacity` and `..._alertmanagers_discovered`.
    pub fn metrics_text(&self, out: &mut String) {
        use argus_model::exposition::{write_header, write_sample};
        let c = &self.inner.counters;
        for (name, help, map) in [
            (
                "prometheus_notifications_sent_total",
                "Alerts sent to each external Alertmanager.",
                &c.sent,
            ),
            (
                "prometheus_notifications_errors_total",
                "Alerts whose sending to an external Alertmanager failed (they are sent again at the next resend).",
                &c.errors,
            ),
        ] {
            write_header(name, help, "counter", out);
            let mut rows: Vec<(String, u64)> =
                map.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
            rows.sort();
            for (url, v) in rows {
                write_sample(name, &[("alertmanager", url.as_str())], v as f64, out);
            }
        }
        let gauges = [
            (
                "prometheus_notifications_dropped_total",
                "counter",
                "Alerts dropped because the queue to the external Alertmanagers was full.",
                c.dropped.load(Ordering::Relaxed) as f64,
            ),
            (
                "prometheus_notifications_queue_length",
                "gauge",
                "Alerts waiting to be sent to the external Alertmanagers.",
                self.queue_length() as f64,
            ),
            (
                "prometheus_notifications_queue_capacity",
                "gauge",
                "The most alerts that wait to be sent to the external Alertmanagers.",
                QUEUE_CAPACITY as f64,
            ),
            (
                "prometheus_notifications_alertmanagers_discovered",
                "gauge",
                "External Alertmanagers discovered and in use.",
                self.alertmanagers().len() as f64,
            ),
        ];
        for (name, kind, help, v) in gauges {
            write_header(name, help, kind, out);
            write_sample(name, &[], v, out);
        }
    }

    /// Alerts waiting to be sent.
    pub fn queue_length(&self) -> usize {
        self.inner.state.lock().pending.len()
    }

    /// The alert URLs of the Alertmanagers discovered now.
    pub fn alertmanagers(&self) -> Vec<String> {
        let now = self.inner.clock.now_ms();
        let mut st = self.inner.state.lock();
        let mut out = Vec::new();
        for am in &mut st.ams {
            out.extend(resolve(am, now));
        }
        out
    }

    /// Runs the sends until `stop` turns true: what is queued at once, and
    /// every active alert again each `resend` (firing alerts until they
    /// resolve, resolved ones for 15 minutes), so an Alertmanager that was
    /// down or restarted gets them all back.
    pub fn spawn(
        &self,
        resend: std::time::Duration,
        mut stop: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let discovery = tokio::spawn(self.clone().discovery_loop());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(resend.max(std::time::Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                let resend_all = tokio::select! {
                    _ = me.inner.wake.notified() => false,
                    _ = tick.tick() => true,
                    _ = stop.wait_for(|s| *s) => {
                        discovery.abort();
                        return;
                    }
                };
                let (batch, targets) = me.take(resend_all);
                if !batch.is_empty() {
                    me.send(&batch, targets).await;
                }
            }
        })
    }

    /// Runs the DNS, HTTP and Kubernetes discoveries of every entry when
    /// due (checked each second), until the forwarder's task stops.
    async fn discovery_loop(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.discover_due().await;
        }
    }

    /// Runs the discoveries that are due now. When one finds a different
    /// set, the URLs are worked out again and the next send resends every
    /// active alert, so a new Alertmanager gets them all.
    async fn discover_due(&self) {
        let now = self.inner.clock.now_ms();
        type Due = (usize, AlertmanagerConfig, Vec<Vec<TargetGroup>>);
        let (generation, due): (u64, Vec<Due>) = {
            let st = self.inner.state.lock();
            let due = st
                .ams
                .iter()
                .enumerate()
                .filter(|(_, a)| a.cfg.discovers() && now >= a.next_discovery_ms)
                .map(|(i, a)| (i, a.cfg.clone(), a.discovered.clone()))
                .collect();
            (st.generation, due)
        };
        for (i, cfg, last) in due {
            let groups = cfg.discover(&last).await;
            let every = cfg
                .discovery_interval()
                .map_or(30_000, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let mut st = self.inner.state.lock();
            if st.generation != generation {
                return;
            }
            let Some(am) = st.ams.get_mut(i) else {
                return;
            };
            am.next_discovery_ms = now.saturating_add(every.max(1000));
            if am.discovered != groups {
                am.discovered = groups;
                am.urls = None;
                st.resend_all_next = true;
                drop(st);
                self.inner.wake.notify_one();
            }
        }
    }

    /// The alerts to send now and where to.
    fn take(&self, resend_all: bool) -> (Vec<AlertEvent>, Vec<Target>) {
        let now = self.inner.clock.now_ms();
        let mut st = self.inner.state.lock();
        let resend_all = resend_all || std::mem::take(&mut st.resend_all_next);
        let batch: Vec<AlertEvent> = if resend_all {
            st.active
                .retain(|_, a| a.ends_at_ms.is_none_or(|e| e > now - RESOLVED_RETENTION_MS));
            st.pending.clear();
            st.active.values().cloned().collect()
        } else {
            st.pending.drain(..).collect()
        };
        let mut targets = Vec::new();
        for am in &mut st.ams {
            for url in resolve(am, now) {
                targets.push(Target {
                    url,
                    client: am.client.clone(),
                    http: am.cfg.http_client_config(),
                    timeout: am.cfg.timeout.0,
                    relabel: am.cfg.alert_relabel_configs.clone(),
                });
            }
        }
        (batch, targets)
    }

    async fn send(&self, batch: &[AlertEvent], targets: Vec<Target>) {
        let mut set = tokio::task::JoinSet::new();
        for t in targets {
            let mut alerts: Vec<AlertEvent> = batch.to_vec();
            if !t.relabel.is_empty() {
                alerts.retain_mut(|a| relabel(&mut a.labels, &t.relabel));
            }
            set.spawn(async move {
                let mut ok = 0u64;
                let mut failed = 0u64;
                for chunk in alerts.chunks(MAX_BATCH) {
                    match post(&t, chunk).await {
                        Ok(()) => ok += chunk.len() as u64,
                        Err(e) => {
                            failed += chunk.len() as u64;
                            tracing::warn!(alertmanager = %t.url, alerts = chunk.len(), error = %e, "Sending alerts to an Alertmanager failed; they are sent again at the next resend.");
                        }
                    }
                }
                (t.url, ok, failed)
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok((url, ok, failed)) = r {
                let c = &self.inner.counters;
                *c.sent.lock().entry(url.clone()).or_default() += ok;
                if failed > 0 {
                    *c.errors.lock().entry(url).or_default() += failed;
                }
            }
        }
    }
}

struct Target {
    url: String,
    client: reqwest::Client,
    http: argus_ingest::scrape::HttpClientConfig,
    timeout: std::time::Duration,
    relabel: Vec<RelabelConfig>,
}

/// Why one request failed.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Auth(#[from] argus_ingest::scrape::HttpConfigError),
    #[error("the Alertmanager answered {status}: {body}")]
    Status {
        status: reqwest::StatusCode,
        body: String,
    },
}

async fn post(t: &Target, alerts: &[AlertEvent]) -> Result<(), SendError> {
    let body = serde_json::Value::Array(alerts.iter().map(alert_json).collect());
    let mut req = t.client.post(&t.url).timeout(t.timeout).json(&body);
    if let Some(h) = t.http.auth_header()? {
        req = req.header(reqwest::header::AUTHORIZATION, h);
    }
    let resp = req.send().await?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = resp.text().await.unwrap_or_default();
    body.truncate(512);
    Err(SendError::Status { status, body })
}

/// One alert in Alertmanager's `POST /api/v2/alerts` shape.
pub fn alert_json(a: &AlertEvent) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = a
        .labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string().into()))
        .collect();
    let mut v = serde_json::json!({
        "labels": labels,
        "annotations": a.annotations,
    });
    let t = |ms| format_rfc3339_ms(ms, Fraction::Millis);
    if let Some(s) = t(a.starts_at_ms) {
        v["startsAt"] = s.into();
    }
    if let Some(e) = a.ends_at_ms.and_then(t) {
        v["endsAt"] = e.into();
    }
    if !a.generator_url.is_empty() {
        v["generatorURL"] = a.generator_url.clone().into();
    }
    v
}

/// The alert URLs of one entry, re-discovered when its files are due.
fn resolve(am: &mut Am, now: i64) -> Vec<String> {
    let refresh = am
        .cfg
        .file_sd_configs
        .iter()
        .map(|f| f.refresh_interval.0.as_millis() as i64)
        .min();
    if let Some((urls, at)) = &am.urls {
        if refresh.is_none_or(|r| now - at < r) {
            return urls.clone();
        }
    }
    let mut groups: Vec<TargetGroup> = am.cfg.static_configs.clone();
    groups.extend(am.discovered.iter().flatten().cloned());
    for f in &am.cfg.file_sd_configs {
        for pattern in &f.files {
            for path in expand_pattern(pattern) {
                match read_sd_file(&path) {
                    Ok(g) => groups.extend(g),
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "Cannot read an Alertmanager discovery file; its targets are left out.")
                    }
                }
            }
        }
    }
    let urls = target_urls(&am.cfg, &groups);
    am.urls = Some((urls.clone(), now));
    urls
}

/// The alert URL of every target of `groups` that relabeling keeps.
///
/// ```
/// use argus_forward::{target_urls, AlertmanagerConfig};
/// let mut c = AlertmanagerConfig::new_static(&["am:9093"]);
/// c.path_prefix = "/am".into();
/// assert_eq!(target_urls(&c, &c.static_configs), ["http://am:9093/am/api/v2/alerts"]);
/// ```
pub fn target_urls(cfg: &AlertmanagerConfig, groups: &[TargetGroup]) -> Vec<String> {
    let path = format!("{}/api/v2/alerts", cfg.path_prefix.trim_end_matches('/'));
    let mut out = Vec::new();
    for g in groups {
        for addr in &g.targets {
            let mut pairs: Vec<(&str, &str)> = g
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            pairs.push(("__address__", addr));
            pairs.push(("__scheme__", &cfg.scheme));
            pairs.push(("__alerts_path__", &path));
            let mut l = Labels::from_pairs(&pairs);
            if !cfg.relabel_configs.is_empty() && !relabel(&mut l, &cfg.relabel_configs) {
                continue;
            }
            let (Some(scheme), Some(addr), Some(p)) = (
                l.get("__scheme__"),
                l.get("__address__"),
                l.get("__alerts_path__"),
            ) else {
                continue;
            };
            out.push(format!("{scheme}://{addr}{p}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
