//! Runbooks in the server: the recovery service opened on the data
//! directory, fed with each incident as a [`Subject`], answered about
//! alerts (the incident's) and conditions (the query service), and told of
//! every execution's outcome, which goes onto the incident's timeline (a
//! verified execution sets its recovery time; a failed one escalates with a
//! `RunbookFailed` alert through the notification pipeline).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /api/argus/v1/runbooks` | the runbooks, the kill switch |
//! | `POST /api/argus/v1/runbooks/kill-switch` | `{"on": true\|false}`: stops every execution and refuses new ones, or lets them run again |
//! | `GET /api/argus/v1/runbooks/executions` | executions, newest first (`incident` to filter) |
//! | `GET /api/argus/v1/runbooks/executions/{id}` | one execution with its steps, outputs and verification |
//! | `POST /api/argus/v1/runbooks/executions/{id}/approve` | approves (someone other than the requester) |
//! | `POST /api/argus/v1/runbooks/executions/{id}/cancel` | cancels |
//! | `GET /api/argus/v1/runbooks/audit` | the journal's last events (`limit`, default 200) |
//! | `GET /api/argus/v1/incidents/{id}/runbooks` | the runbooks that apply to an incident and its executions |
//! | `POST /api/argus/v1/incidents/{id}/runbooks/{name}` | runs one (`{"dry_run": true}` shows the plan only) |
//!
//! The actor is the signed-in user (the `X-Argus-User` header the sign-in
//! layer sets), else `{"who": …}` in the body.

use crate::alerting::sources::IngressSink;
use crate::api::exec::QueryService;
use argus_incident::model::{Incident, State as IncState};
use argus_incident::service::{IncidentService, ListQuery};
use argus_model::alert::AlertEvent;
use argus_model::{Clock, Labels};
use argus_recover::config::LoadError;
use argus_recover::exec::{Execution, State};
use argus_recover::matching::Subject;
use argus_recover::{Host, RecoverConfig, RecoverService};
use futures::future::BoxFuture;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

mod api;
pub use api::router;

/// The directory, under the data directory, of the recovery journal.
pub const DIR: &str = "recover";

/// One-click runbook links: the runbook runs on the incident the link's
/// alert is in (or the incident that one was merged into).
#[derive(Debug, Clone)]
pub struct LinkRunbooks {
    /// The runbooks.
    pub recover: RecoverService,
    /// The incidents the alerts are in.
    pub incidents: IncidentService,
}

impl argus_alert_service::RunbookLinks for LinkRunbooks {
    fn request(&self, alert: u64, runbook: &str, who: &str) -> argus_alert_service::RunbookAnswer {
        use argus_alert_service::RunbookAnswer;
        let inc = self
            .incidents
            .incident_of(alert)
            .and_then(|id| self.incidents.get(id));
        let inc = match inc.as_ref().and_then(|i| i.merged_into) {
            Some(to) => self.incidents.get(to),
            None => inc,
        };
        let Some(inc) = inc else {
            return RunbookAnswer::NoIncident;
        };
        match self.recover.request(runbook, &subject(&inc), who, false) {
            Ok(e) => RunbookAnswer::Requested {
                incident: inc.id.to_string(),
                execution: e.id.to_string(),
                pending_approval: e.state == State::PendingApproval,
            },
            Err(e) => RunbookAnswer::Refused {
                incident: inc.id.to_string(),
                reason: e.to_string(),
            },
        }
    }
}

/// What a runbook sees of `inc`: its alerts (firing first), its root
/// service, and the located cause (a dynamic rule's localisation on one of
/// its alerts, else the top likely cause as `service kind`).
pub fn subject(inc: &Incident) -> Subject {
    let mut alerts: Vec<_> = inc.alerts.iter().collect();
    alerts.sort_by_key(|a| !a.firing);
    let root_cause = inc
        .alerts
        .iter()
        .find_map(|a| a.annotations.get("root_cause").cloned())
        .or_else(|| {
            inc.suspects
                .first()
                .map(|s| format!("{} {}", s.service, s.kind))
        });
    Subject {
        incident: inc.id,
        title: inc.title.clone(),
        severity: inc.severity.as_str().to_string(),
        alerts: alerts.into_iter().map(|a| a.labels.clone()).collect(),
        root_service: inc.root.as_ref().and_then(|r| r.service.clone()),
        root_cause,
        located: inc.times.located_ms.is_some(),
        detected_ms: inc.times.detected_ms,
        reopened_ms: inc
            .timeline
            .iter()
            .filter(|e| e.kind == argus_incident::model::EntryKind::Reopened)
            .map(|e| e.at_ms)
            .max()
            .unwrap_or(0),
    }
}

/// The server's side of the executor.
#[derive(Debug)]
pub struct ServerHost {
    incidents: IncidentService,
    query: Arc<QueryService>,
    alerts: IngressSink,
    clock: Arc<dyn Clock>,
    external_url: String,
    /// The last state told to the timeline, per execution.
    told: Mutex<HashMap<u64, State>>,
}

impl ServerHost {
    fn incident(&self, id: u64) -> Option<Incident> {
        let inc = self.incidents.get(id)?;
        match inc.merged_into {
            Some(to) => self.incidents.get(to),
            None => Some(inc),
        }
    }

    fn line(e: &Execution) -> Option<(String, Option<i64>)> {
        let rb = &e.runbook.name;
        let by = &e.requested_by;
        Some(match e.state {
            State::PendingApproval => (
                format!("Runbook {rb} asked for by {by}; it waits for someone else's approval."),
                None,
            ),
            State::Running if e.steps.is_empty() => match &e.approved_by {
                Some(a) => (
                    format!("Runbook {rb} started (asked for by {by}, approved by {a})."),
                    None,
                ),
                None => (format!("Runbook {rb} started (asked for by {by})."), None),
            },
            State::Verifying => (
                format!("Runbook {rb}: steps done; verifying the recovery."),
                None,
            ),
            State::RollingBack => (format!("Runbook {rb}: {}; rolling back.", e.reason), None),
            State::Succeeded => (
                format!("Runbook {rb}: recovery verified ({}).", e.reason),
                e.verification.holding_since_ms.or(e.finished_ms),
            ),
            State::RolledBack => (format!("Runbook {rb}: {}.", e.reason), None),
            State::Failed => (format!("Runbook {rb} failed: {}.", e.reason), None),
            State::Cancelled => (format!("Runbook {rb}: {}.", e.reason), None),
            State::Expired => (format!("Runbook {rb}: nobody approved it in time."), None),
            State::Running | State::DryRun => return None,
        })
    }

    /// A failed execution pages: a critical alert through the pipeline,
    /// routed like any other and joined to the incident by its service.
    fn escalate(&self, e: &Execution) {
        let now = self.clock.now_ms();
        let mut labels = vec![
            ("alertname", "RunbookFailed".to_string()),
            ("severity", "critical".to_string()),
            ("runbook", e.runbook.name.clone()),
            ("incident", e.subject.incident.to_string()),
        ];
        if let Some(s) = &e.subject.root_service {
            labels.push(("service", s.clone()));
        }
        let pairs: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut ev = AlertEvent::new(Labels::from_pairs(&pairs), now);
        ev.ends_at_ms = Some(now + 3_600_000);
        ev.generator_url = format!("{}/ui/incidents/{}", self.external_url, e.subject.incident);
        ev.annotations = BTreeMap::from([
            (
                "summary".to_string(),
                format!(
                    "Runbook {} did not recover incident {}",
                    e.runbook.name, e.subject.incident
                ),
            ),
            ("description".to_string(), e.reason.clone()),
        ]);
        self.alerts.send_recovery(vec![ev]);
    }
}

impl Host for ServerHost {
    fn firing<'a>(
        &'a self,
        incident: u64,
        names: &'a [String],
    ) -> BoxFuture<'a, Result<bool, String>> {
        let inc = self.incident(incident);
        Box::pin(async move {
            let inc = inc.ok_or_else(|| format!("incident {incident} is gone"))?;
            Ok(inc.alerts.iter().any(|a| {
                a.firing
                    && a.labels.get("alertname").map(String::as_str) != Some("RunbookFailed")
                    && (names.is_empty()
                        || a.labels.get("alertname").is_some_and(|n| names.contains(n)))
            }))
        })
    }

    fn holds<'a>(&'a self, expr: &'a str) -> BoxFuture<'a, Result<bool, String>> {
        let (q, expr, now) = (self.query.clone(), expr.to_string(), self.clock.now_ms());
        Box::pin(async move {
            let v = tokio::task::spawn_blocking(move || q.instant(&expr, now))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            Ok(match v {
                argus_promql::Value::Vector(v) => !v.is_empty(),
                argus_promql::Value::Matrix(m) => !m.is_empty(),
                argus_promql::Value::Scalar { v, .. } => v != 0.0 && !v.is_nan(),
                argus_promql::Value::String { .. } => true,
            })
        })
    }

    fn changed(&self, e: &Execution) {
        if e.dry_run {
            return;
        }
        {
            let mut told = self.told.lock();
            let first_step = e.state == State::Running && e.steps.is_empty();
            if told.get(&e.id) == Some(&e.state) && !first_step {
                return;
            }
            if told.get(&e.id) == Some(&State::Running) && e.state == State::Running {
                return;
            }
            told.insert(e.id, e.state);
        }
        if matches!(e.state, State::Failed | State::RolledBack) {
            self.escalate(e);
        }
        let Some((text, recovered)) = Self::line(e) else {
            return;
        };
        let (svc, id) = (self.incidents.clone(), e.subject.incident);
        tokio::spawn(async move {
            if let Err(err) = svc
                .act(move |c, now| c.runbook(id, text, recovered, now))
                .await
            {
                tracing::warn!(incident = id, error = %err, "Could not note a runbook's progress on its incident.");
            }
        });
    }
}

/// Opens the recovery service on `<data_dir>/recover`, loads the runbook
/// files (relative to `base`), and runs the executor: a tick every second,
/// and the automatic runbooks offered every open incident every 5 seconds.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &crate::config::Config,
    data_dir: &Path,
    clock: Arc<dyn Clock>,
    incidents: IncidentService,
    query: Arc<QueryService>,
    alerts: IngressSink,
    external_url: String,
    up: &mut crate::lifecycle::Components,
) -> Result<RecoverService, RecoverStartError> {
    let cfg = loaded(cfg)?;
    let svc = RecoverService::open(Some(&data_dir.join(DIR)), &cfg, clock.clone())?;
    svc.set_host(Arc::new(ServerHost {
        incidents: incidents.clone(),
        query,
        alerts,
        clock,
        external_url,
        told: Mutex::new(HashMap::new()),
    }));
    if !cfg.runbooks.is_empty() {
        tracing::info!(
            runbooks = cfg.runbooks.len(),
            paused = svc.paused().is_some(),
            "Runbooks loaded."
        );
    }
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let (s2, inc) = (svc.clone(), incidents.clone());
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            if n.is_multiple_of(5) {
                offer_auto(&s2, &inc);
            }
            n += 1;
            s2.tick().await;
        }
        // Let steps under way end (a restart would fail them cleanly).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s2.settle()).await;
    });
    up.push(
        crate::lifecycle::Part::new("runbooks")
            .routes(router(svc.clone(), incidents))
            .on_stop(async move {
                let _ = stop.send(true);
                let _ = task.await;
            }),
    );
    Ok(svc)
}

/// The `recover:` section with its runbook files (relative to the
/// configuration file) read, and everything checked.
pub fn loaded(cfg: &crate::config::Config) -> Result<RecoverConfig, LoadError> {
    let mut c = cfg.recover.clone();
    let base = cfg
        .base_dir
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    c.load_files(
        &base,
        "the configuration file",
        cfg.source_text.as_deref().unwrap_or(""),
    )?;
    Ok(c)
}

/// Why the recovery service could not start.
#[derive(Debug, thiserror::Error)]
pub enum RecoverStartError {
    /// A runbook (or a runbook file) is wrong.
    #[error(transparent)]
    Config(#[from] LoadError),
    /// The journal could not be opened or read.
    #[error(transparent)]
    Journal(#[from] argus_recover::journal::JournalError),
}

/// `/-/reload` of `recover:`: the runbooks and limits (executions under
/// way keep the runbook they started with).
pub(crate) struct RecoverSection(pub(crate) RecoverService);

impl crate::lifecycle::Reloader for RecoverSection {
    fn name(&self) -> &'static str {
        "recover"
    }

    fn prepare(
        &self,
        cfg: &crate::config::Config,
    ) -> Result<Box<dyn crate::lifecycle::Prepared>, crate::lifecycle::SectionError> {
        let c = loaded(cfg)?;
        let svc = self.0.clone();
        Ok(crate::lifecycle::reload::prepared(move || {
            svc.reconfigure(&c);
            Ok(())
        }))
    }
}

fn offer_auto(svc: &RecoverService, incidents: &IncidentService) {
    if !svc
        .config()
        .runbooks
        .iter()
        .any(|r| r.mode == argus_recover::config::Mode::Auto)
    {
        return;
    }
    let q = ListQuery {
        states: vec![IncState::Open, IncState::Acknowledged, IncState::Mitigated],
        ..ListQuery::default()
    };
    for s in incidents.list(&q) {
        if let Some(inc) = incidents.get(s.id).filter(|i| i.merged_into.is_none()) {
            for r in svc.auto(&subject(&inc)) {
                match r {
                    Ok(e) => {
                        tracing::info!(runbook = %e.runbook.name, incident = inc.id, execution = e.id, "Started an automatic runbook.")
                    }
                    Err(e) if e.is_guard() => {}
                    Err(e) => {
                        tracing::warn!(incident = inc.id, error = %e, "Could not start an automatic runbook.")
                    }
                }
            }
        }
    }
}
