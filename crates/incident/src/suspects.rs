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
//! let input = RankInput { series: &[s], start_ms: 0, entry: None, edges: &[] };
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
