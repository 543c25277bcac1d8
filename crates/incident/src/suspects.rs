//! Likely causes: the services (and their metrics) most likely to have
//! caused an incident, ranked from the metrics of every service around its
//! start and the call graph. The ranking itself is not done here: the
//! server hands the incident service a [`SuspectRanker`] (its localisation
//! engine), which gets the series and the graph and answers with
//! [`Suspect`]s; the incident keeps them and shows them.
//!
//! ```
//! use argus_incident::suspects::{RankInput, Suspect, SuspectRanker};
//!
//! #[derive(Debug)]
//! struct Loudest;
//! impl SuspectRanker for Loudest {
//!     fn rank(&self, input: &RankInput<'_>) -> Vec<Suspect> {
//!         input.series.iter().take(1).map(|s| Suspect {
//!             service: s.labels.get("service").unwrap_or_default().to_string(),
//!             score: 1.0,
//!             metric: s.labels.metric_name().unwrap_or_default().to_string(),
//!             kind: "cpu".into(),
//!             evidence: "rose".into(),
//!         }).collect()
//!     }
//! }
//! let s = argus_incident::evidence::SeriesData {
//!     labels: argus_model::Labels::from_pairs(&[("__name__", "cpu"), ("service", "db")]),
//!     samples: vec![(0, 1.0)],
//! };
//! let input = RankInput { series: &[s], start_ms: 0, entry: None, entry_metric: None, edges: &[] };
//! assert_eq!(Loudest.rank(&input)[0].service, "db");
//! ```

use crate::evidence::SeriesData;
use serde::{Deserialize, Serialize};

/// The most suspects kept with an incident.
pub const MAX_SUSPECTS: usize = 10;
/// How long before the fault's start the ranking reads series.
pub const HISTORY_MS: i64 = 60 * 60_000;
/// How long after the fault's start the ranking reads series.
pub const AFTER_MS: i64 = 5 * 60_000;

/// One likely cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    /// The service.
    pub service: String,
    /// How strongly it is suspected (higher first; comparable within one
    /// ranking only).
    pub score: f64,
    /// Its metric that moved most.
    pub metric: String,
    /// What kind of fault it looks like: cpu, memory, network or code.
    pub kind: String,
    /// A sentence saying what was seen.
    pub evidence: String,
}

/// What a ranking reads.
#[derive(Debug, Clone, Copy)]
pub struct RankInput<'a> {
    /// The series of every service from an hour before the fault's start to
    /// five minutes after it.
    pub series: &'a [SeriesData],
    /// When the fault started, ms.
    pub start_ms: i64,
    /// The service whose alert came first, if its labels name one.
    pub entry: Option<&'a str>,
    /// The name of that first alert (`HighErrorRate`), if any: the kind of
    /// symptom the incident was seen by.
    pub entry_metric: Option<&'a str>,
    /// The call graph, `(caller, callee)`.
    pub edges: &'a [(String, String)],
}

/// Ranks the likely causes of an incident; the server implements it.
pub trait SuspectRanker: Send + Sync + std::fmt::Debug {
    /// The likely causes, best first.
    fn rank(&self, input: &RankInput<'_>) -> Vec<Suspect>;
}

/// A suspect changed (deployed, reconfigured) from this long before the
/// fault's start on weighs more.
pub const CHANGE_BEFORE_MS: i64 = 30 * 60_000;
/// How much more.
pub const CHANGE_WEIGHT: f64 = 2.0;

/// Weighs the suspects that changed shortly before the fault's start (a
/// deploy or a configuration change is the most common cause of a fault):
/// their score is multiplied by [`CHANGE_WEIGHT`] and the change named in
/// their evidence; the list is sorted again, best first.
///
/// ```
/// use argus_incident::changes::Change;
/// use argus_incident::suspects::{weigh_changes, Suspect};
/// let s = |svc: &str, score| Suspect { service: svc.into(), score, metric: "m".into(), kind: "code".into(), evidence: "moved".into() };
/// let mut v = vec![s("web", 3.0), s("api", 2.0)];
/// let deploy = Change { at_ms: 50_000, kind: "deploy".into(), service: "api".into(), summary: "api v42 rolled out".into() };
/// weigh_changes(&mut v, &[deploy], 60_000);
/// assert_eq!(v[0].service, "api");
/// assert!(v[0].evidence.ends_with("; changed before: api v42 rolled out"));
/// ```
pub fn weigh_changes(suspects: &mut [Suspect], changes: &[crate::changes::Change], start_ms: i64) {
    for s in suspects.iter_mut() {
        let last = changes
            .iter()
            .filter(|c| {
                c.service == s.service
                    && c.at_ms >= start_ms - CHANGE_BEFORE_MS
                    && c.at_ms <= start_ms + AFTER_MS
            })
            .max_by_key(|c| c.at_ms);
        if let Some(c) = last {
            s.score *= CHANGE_WEIGHT;
            s.evidence = format!("{}; changed before: {}", s.evidence, c.summary);
        }
    }
    suspects.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// The alerts of the log service that point at a service's own code: an
/// error burst, and a message it never logged before.
pub const LOG_ALERTS: [&str; 2] = ["LogErrorBurst", "NewLogTemplate"];
/// A suspect whose logs burst or showed a new message from this long before
/// the fault's start on weighs more.
pub const LOG_BEFORE_MS: i64 = 5 * 60_000;
/// How much more (less than a deploy: a burst can be a symptom too).
pub const LOG_WEIGHT: f64 = 1.5;

/// A log anomaly of one service, as the incident holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAnomaly {
    /// The service whose logs it is about.
    pub service: String,
    /// When it began, ms.
    pub at_ms: i64,
    /// What it says (the alert's summary).
    pub summary: String,
}

/// Weighs the suspects whose logs burst with errors or showed a new message
/// around the fault's start (from [`LOG_BEFORE_MS`] before it to
/// [`AFTER_MS`] after): their score is multiplied by [`LOG_WEIGHT`] and the
/// first such anomaly named in their evidence; the list is sorted again.
///
/// ```
/// use argus_incident::suspects::{weigh_log_anomalies, LogAnomaly, Suspect};
/// let s = |svc: &str, score| Suspect { service: svc.into(), score, metric: "m".into(), kind: "latency".into(), evidence: "moved".into() };
/// let mut v = vec![s("web", 3.0), s("api", 2.5)];
/// let burst = LogAnomaly { service: "api".into(), at_ms: 58_000, summary: "api logs 40 errors a minute".into() };
/// weigh_log_anomalies(&mut v, &[burst], 60_000);
/// assert_eq!(v[0].service, "api");
/// assert!(v[0].evidence.ends_with("; logs: api logs 40 errors a minute"));
/// ```
pub fn weigh_log_anomalies(suspects: &mut [Suspect], anomalies: &[LogAnomaly], start_ms: i64) {
    for s in suspects.iter_mut() {
        let first = anomalies
            .iter()
            .filter(|a| {
                a.service == s.service
                    && a.at_ms >= start_ms - LOG_BEFORE_MS
                    && a.at_ms <= start_ms + AFTER_MS
            })
            .min_by_key(|a| a.at_ms);
        if let Some(a) = first {
            s.score *= LOG_WEIGHT;
            s.evidence = format!("{}; logs: {}", s.evidence, a.summary);
        }
    }
    suspects.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// The log anomalies among an incident's alerts (see [`LOG_ALERTS`]).
pub fn log_anomalies(alerts: &[crate::model::IncidentAlert]) -> Vec<LogAnomaly> {
    alerts
        .iter()
        .filter(|a| {
            a.labels
                .get("alertname")
                .is_some_and(|n| LOG_ALERTS.contains(&n.as_str()))
        })
        .filter_map(|a| {
            let service = a.labels.get("service")?.clone();
            let summary = a
                .annotations
                .get("summary")
                .cloned()
                .unwrap_or_else(|| a.labels.get("alertname").cloned().unwrap_or_default());
            Some(LogAnomaly {
                service,
                at_ms: a.starts_at_ms,
                summary,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::IncidentAlert;

    fn alert(name: &str, service: &str, at_ms: i64, summary: Option<&str>) -> IncidentAlert {
        IncidentAlert {
            key: 0,
            labels: [("alertname", name), ("service", service)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: summary
                .map(|s| {
                    [("summary".to_string(), s.to_string())]
                        .into_iter()
                        .collect()
                })
                .unwrap_or_default(),
            entities: Default::default(),
            severity: crate::model::Severity::Warning,
            starts_at_ms: at_ms,
            joined_ms: at_ms,
            changed_ms: at_ms,
            firing: true,
            firings: 1,
            expires_ms: None,
        }
    }

    #[test]
    fn only_the_log_service_alerts_count_and_only_near_the_start() {
        let alerts = [
            alert(
                "LogErrorBurst",
                "api",
                100_000,
                Some("api logs 40 errors a minute"),
            ),
            alert("NewLogTemplate", "db", 100_000, None),
            alert("HighLatency", "web", 100_000, Some("slow")),
        ];
        let found = log_anomalies(&alerts);
        assert_eq!(
            found.iter().map(|a| a.service.as_str()).collect::<Vec<_>>(),
            ["api", "db"]
        );
        assert_eq!(found[1].summary, "NewLogTemplate");
        let s = |svc: &str, score| Suspect {
            service: svc.into(),
            score,
            metric: "m".into(),
            kind: "code".into(),
            evidence: "moved".into(),
        };
        // Start 10 minutes after the anomalies: too early to count.
        let mut v = vec![s("web", 3.0), s("api", 2.5)];
        weigh_log_anomalies(&mut v, &found, 100_000 + 10 * 60_000);
        assert_eq!((v[0].service.as_str(), v[1].score), ("web", 2.5));
        // Start a minute after: api's burst weighs.
        weigh_log_anomalies(&mut v, &found, 160_000);
        assert_eq!(v[0].service, "api");
        assert!((v[0].score - 3.75).abs() < 1e-12);
    }
}
