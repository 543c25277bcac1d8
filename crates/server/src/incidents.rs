//! Incidents in the server: the alert pipeline's observer feeds
//! `argus-incident`'s service (every alert taken, every delivery, every
//! acknowledgement), a task learns names and call edges from the store's
//! series, and the service's API is merged into the router.
//!
//! ```no_run
//! # async fn f(db: argus_tsdb::Db, am: argus_alert::config::Config) {
//! use argus_incident::config::IncidentsConfig;
//! use argus_server::alerting::AlertingService;
//! use std::sync::Arc;
//! let clock: Arc<dyn argus_model::Clock> = Arc::new(argus_model::SystemClock);
//! let data = std::path::Path::new("./data");
//! let mut up = argus_server::lifecycle::Components::default();
//! let opened = argus_server::incidents::open(&IncidentsConfig::default(), data, db, clock.clone()).unwrap();
//! let alerting = AlertingService::start_with_observer(am, data, "http://localhost:9797".into(),
//!     clock, Some(opened.observer())).await.unwrap();
//! let svc = opened.start(&alerting, None, &mut up);
//! # let _ = svc;
//! # }
//! ```

use crate::alerting::AlertingService;
use crate::lifecycle::{Components, Part};
use argus_alert::observe::{AlertChange, AlertObserver};
use argus_incident::config::IncidentsConfig;
use argus_incident::evidence::SeriesData;
use argus_incident::service::{Feed, IncidentService, Input, SeriesSource, SourceError};
use argus_incident::Signal;
use argus_model::{Clock, MatchOp, Matcher};
use argus_tsdb::{Db, Querier};
use std::path::Path;
use std::sync::Arc;

#[path = "incidents_read.rs"]
mod read;

/// The sub-directory of the data directory that holds incidents.
pub const STORE_DIR: &str = "incidents";

/// Hands the pipeline's news to the incident service: alerts are grouped at
/// once (so a route can group notifications by incident), deliveries and
/// acknowledgements through its queue.
#[derive(Debug)]
struct Observer(Feed, IncidentService, RunbookSlot);

/// Where the runbook service is put once it runs (it starts after the
/// alert pipeline, which asks which runbooks a notification offers).
pub type RunbookSlot = Arc<std::sync::OnceLock<argus_recover::RecoverService>>;

impl AlertObserver for Observer {
    fn incident_of(&self, fingerprint: u64) -> Option<String> {
        self.1.incident_of(fingerprint).map(|id| id.to_string())
    }

    /// The runbooks run by a person (manual or approval) that apply to the
    /// alert's incident, or to the alert alone before it is in one.
    fn runbooks(&self, fingerprint: u64, labels: &argus_model::Labels) -> Vec<String> {
        let Some(rs) = self.2.get() else {
            return Vec::new();
        };
        // Asked for every firing alert at every flush: without a runbook a
        // person runs, skip reading the incident.
        let by_hand = |r: &argus_recover::Runbook| r.mode != argus_recover::config::Mode::Auto;
        if !rs.config().runbooks.iter().any(by_hand) {
            return Vec::new();
        }
        let inc = self
            .1
            .incident_of(fingerprint)
            .and_then(|id| self.1.get(id));
        let inc = match inc.as_ref().and_then(|i| i.merged_into) {
            Some(to) => self.1.get(to),
            None => inc,
        };
        let subject = match &inc {
            Some(i) => crate::recover::subject(i),
            None => argus_recover::matching::Subject {
                alerts: vec![labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect()],
                ..Default::default()
            },
        };
        rs.runbooks_for(&subject)
            .into_iter()
            .filter(by_hand)
            .map(|r| r.name)
            .collect()
    }

    fn alerts(&self, changes: &[AlertChange]) {
        let sigs = changes
            .iter()
            .map(|c| Signal {
                key: c.fingerprint,
                labels: c.labels.clone(),
                annotations: c.annotations.clone(),
                firing: c.firing,
                at_ms: c.at_ms,
                starts_at_ms: c.starts_at_ms,
                ends_at_ms: c.firing.then_some(c.ends_at_ms).filter(|&e| e > 0),
            })
            .collect();
        // Grouped now, saved by the service's task within a second.
        self.1.observe_now(sigs);
    }

    fn delivered(&self, fingerprints: &[u64], receiver: &str, at_ms: i64) {
        self.0.send(Input::Delivered {
            keys: fingerprints.to_vec(),
            receiver: receiver.to_string(),
            at_ms,
        });
    }

    fn acknowledged(&self, fingerprints: &[u64], who: &str, at_ms: i64) {
        self.0.send(Input::Acknowledged {
            keys: fingerprints.to_vec(),
            who: who.to_string(),
            at_ms,
        });
    }
}

/// The store as the evidence ranking's series source.
#[derive(Debug)]
struct StoreSeries(Db);

impl SeriesSource for StoreSeries {
    fn read(
        &self,
        selectors: &[(String, String)],
        from_ms: i64,
        to_ms: i64,
        max_series: usize,
    ) -> Result<Vec<SeriesData>, SourceError> {
        read::read_fairly(&self.0, selectors, from_ms, to_ms, max_series)
    }
}

/// Services scoring under this (`ln(1 + z)` with a robust z under 1: nothing
/// of theirs moved) are not listed as likely causes.
const MIN_SUSPECT_SCORE: f64 = 0.7;

/// Ranks an incident's likely causes with the topology-aware ranking of
/// `argus-rca` (the code `argus eval rca-topology` measures).
#[derive(Debug)]
struct TopologyRanker;

impl argus_incident::suspects::SuspectRanker for TopologyRanker {
    fn rank(
        &self,
        input: &argus_incident::suspects::RankInput<'_>,
    ) -> Vec<argus_incident::suspects::Suspect> {
        use argus_rca::topology::{rank, Case, Entry, Series, Settings};
        let case = Case {
            window: input
                .series
                .iter()
                .map(|s| Series {
                    labels: s.labels.clone(),
                    samples: s.samples.clone(),
                })
                .collect(),
            normal: Vec::new(),
            start_ms: input.start_ms,
            entry: (input.entry.is_some() || input.entry_metric.is_some()).then(|| Entry {
                service: input.entry.map(str::to_string),
                metric: input.entry_metric.map(str::to_string),
            }),
            edges: input.edges.to_vec(),
        };
        match rank(&case, &Settings::default()) {
            Ok(r) => r
                .suspects
                .into_iter()
                .filter(|s| s.score >= MIN_SUSPECT_SCORE)
                .map(|s| argus_incident::suspects::Suspect {
                    service: s.service,
                    score: s.score,
                    metric: s.metric,
                    kind: s.kind.as_str().to_string(),
                    evidence: s.evidence,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "Could not rank the likely causes of an incident.");
                Vec::new()
            }
        }
    }
}

/// Why the incident service could not start.
#[derive(Debug, thiserror::Error)]
pub enum IncidentsError {
    /// `incidents:` is invalid.
    #[error(transparent)]
    Config(#[from] argus_incident::config::ConfigError),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] argus_incident::store::StoreError),
}

/// Series whose labels tie names together (a target's service, instance and
/// machine) or name the two ends of a call.
const LEARN_FROM: &str = "up|target_info|kube_pod_info|node_uname_info|argus_service_up|traces_service_graph_request_total|istio_requests_total";

/// The incident service, opened before the alert pipeline starts so the
/// pipeline can report to it from its first alert; [`Opened::start`] runs
/// it once the pipeline runs.
pub struct Opened {
    svc: IncidentService,
    runbooks: RunbookSlot,
    observer: Arc<Observer>,
    db: Db,
    clock: Arc<dyn Clock>,
    learn_every: std::time::Duration,
}

/// Opens the incident store under `<data_dir>/incidents` and restores it.
pub fn open(
    cfg: &IncidentsConfig,
    data_dir: &Path,
    db: Db,
    clock: Arc<dyn Clock>,
) -> Result<Opened, IncidentsError> {
    cfg.validate()?;
    let dir = data_dir.join(STORE_DIR);
    let svc = IncidentService::open(Some(&dir), cfg, clock.clone())?;
    svc.set_source(Arc::new(StoreSeries(db.clone())));
    svc.set_ranker(Arc::new(TopologyRanker));
    tracing::info!(dir = %dir.display(), enabled = cfg.enabled, "Opened the incident store.");
    // Always installed: the feed drops what it is sent while `enabled` is false.
    let runbooks = RunbookSlot::default();
    let observer = Arc::new(Observer(svc.feed(), svc.clone(), runbooks.clone()));
    Ok(Opened {
        svc,
        runbooks,
        observer,
        db,
        clock,
        learn_every: cfg.learn_interval.to_std(),
    })
}

impl Opened {
    /// What the alert pipeline reports to
    /// ([`AlertingService::start_with_observer`]).
    pub fn observer(&self) -> Arc<dyn AlertObserver> {
        self.observer.clone()
    }

    /// Where to put the runbook service once it runs, so notifications
    /// offer links to the runbooks that apply.
    pub fn runbook_slot(&self) -> RunbookSlot {
        self.runbooks.clone()
    }

    /// Groups the alerts the pipeline already holds (kept across a restart,
    /// or taken after the store's last save before a crash; an alert already
    /// in an incident stays where it is), then starts the service's task,
    /// the learning task and its routes as the `incidents` part.
    /// `logs`: the log store, whose lines the assistant quotes.
    pub fn start(
        self,
        alerting: &AlertingService,
        logs: Option<Arc<argus_logs::store::LogStore>>,
        up: &mut Components,
    ) -> IncidentService {
        let Opened {
            svc,
            runbooks: _,
            observer,
            db,
            clock,
            learn_every,
        } = self;
        observer.alerts(&alerting.firing_alerts());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = svc.spawn(stopped.clone());
        let learn = spawn_learner(db, svc.feed(), clock, learn_every, stopped);
        up.push(
            Part::new("incidents")
                .routes(
                    argus_incident::api::router(svc.clone())
                        .merge(crate::assistant::router(svc.clone(), logs)),
                )
                .on_stop(async move {
                    let _ = stop.send(true);
                    let _ = learn.await;
                    let _ = task.await;
                }),
        );
        svc
    }
}

/// Every `every`, reads the label sets of the series that tie names together
/// from the last `every` (at least 10 minutes) and sends them to be learned.
fn spawn_learner(
    db: Db,
    feed: Feed,
    clock: Arc<dyn Clock>,
    every: std::time::Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if every.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            let (db, now) = (db.clone(), clock.now_ms());
            let span = (every.as_millis() as i64).max(600_000);
            let found = tokio::task::spawn_blocking(move || {
                let m = Matcher::new(MatchOp::Re, "__name__", LEARN_FROM)?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(db.series(
                    &[m],
                    now - span,
                    now,
                )?)
            })
            .await;
            match found {
                Ok(Ok(sets)) if !sets.is_empty() => feed.send(Input::Learn(sets)),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "Could not read series to learn service names from.")
                }
                Err(e) => tracing::warn!(error = %e, "The learning task failed."),
            }
        }
    })
}
