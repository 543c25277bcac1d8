//! A recorded storm: the notifications a real run of `argus-lab failures`
//! received (`notices.json` in its work directory) and the failures it
//! injected (`failures.json`), turned into an alert file and its truth, so
//! the grouping can be scored on alerts Argus itself sent.
//!
//! Each notice becomes one line (`firing` or `resolved`, labels `alertname`
//! and `service`, at its arrival). A notice belongs to the failure of its
//! service whose window (`inject_ms − tolerance` to `window_end_ms`) holds its
//! start; one that fits none is noise of its own (a false alert).
//!
//! ```
//! use argus_eval::incidents::lab::{record, LabFailure, LabNotice};
//! let failures = vec![LabFailure { service: "svc-1".into(), inject_ms: 10_000, window_end_ms: 20_000 }];
//! let notices = vec![
//!     LabNotice { arrival_ms: 12_000, service: Some("svc-1".into()), alertname: "ServiceDown".into(), firing: true, starts_ms: Some(11_000) },
//!     LabNotice { arrival_ms: 30_000, service: Some("svc-2".into()), alertname: "ServiceDown".into(), firing: true, starts_ms: None },
//! ];
//! let r = record(&failures, &notices, 1_000);
//! assert_eq!(r.truth[0].group, "failure-1");
//! assert_eq!(r.truth[1].group, "noise-2");
//! ```

use super::{TruthKind, TruthLine, TruthRoot};
use crate::EvalError;
use serde::Deserialize;
use std::path::Path;

/// One injected failure, as `failures.json` holds it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LabFailure {
    /// The service that failed.
    pub service: String,
    /// When.
    pub inject_ms: i64,
    /// The end of its window (restore plus cool-down).
    pub window_end_ms: i64,
}

/// One alert of one notification, as `notices.json` holds it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LabNotice {
    /// When it arrived.
    pub arrival_ms: i64,
    /// Its `service` label.
    pub service: Option<String>,
    /// Its `alertname`.
    pub alertname: String,
    /// Firing or resolved.
    pub firing: bool,
    /// Its `startsAt`.
    pub starts_ms: Option<i64>,
}

/// An alert file and its truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// ALERTS.jsonl.
    pub alerts: String,
    /// The truth, a line per alert line.
    pub truth: Vec<TruthLine>,
}

/// Builds the alert file and truth; `tolerance_ms` widens windows backwards.
pub fn record(failures: &[LabFailure], notices: &[LabNotice], tolerance_ms: i64) -> Recorded {
    let mut order: Vec<&LabNotice> = notices.iter().collect();
    order.sort_by_key(|n| n.arrival_ms);
    let mut alerts = String::new();
    let mut truth = Vec::new();
    for (line, n) in order.iter().enumerate() {
        let svc = n.service.clone().unwrap_or_default();
        let start = n.starts_ms.unwrap_or(n.arrival_ms);
        let owner = failures.iter().position(|f| {
            f.service == svc && start >= f.inject_ms - tolerance_ms && start <= f.window_end_ms
        });
        let mut labels = serde_json::Map::new();
        labels.insert("alertname".into(), n.alertname.clone().into());
        if !svc.is_empty() {
            labels.insert("service".into(), svc.clone().into());
        }
        let at = argus_incident::replay::format_time(n.arrival_ms);
        let status = if n.firing { "firing" } else { "resolved" };
        let v = serde_json::json!({"at": at, "status": status, "labels": labels});
        alerts.push_str(&v.to_string());
        alerts.push('\n');
        truth.push(TruthLine {
            line,
            group: match owner {
                Some(i) => format!("failure-{}", i + 1),
                None => format!("noise-{}", line + 1),
            },
            root: TruthRoot {
                service: n.service.clone(),
                node: None,
            },
            kind: if owner.is_some() {
                TruthKind::ServiceFault
            } else {
                TruthKind::Noise
            },
        });
    }
    Recorded { alerts, truth }
}

impl Recorded {
    /// Writes `ALERTS.jsonl`, an empty `GRAPH.csv` (the lab's services do
    /// not call each other) and `TRUTH.jsonl` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), EvalError> {
        std::fs::create_dir_all(dir)
            .map_err(EvalError::io(format!("cannot create {}", dir.display())))?;
        let mut truth = String::new();
        for t in &self.truth {
            truth.push_str(&serde_json::to_string(t).map_err(EvalError::Encode)?);
            truth.push('\n');
        }
        for (name, text) in [
            ("ALERTS.jsonl", self.alerts.as_str()),
            ("GRAPH.csv", "caller,callee\n"),
            ("TRUTH.jsonl", truth.as_str()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text)
                .map_err(EvalError::io(format!("cannot write {}", p.display())))?;
        }
        Ok(())
    }
}

/// Reads `failures.json` and `notices.json` from a lab work directory.
pub fn read_dir(dir: &Path) -> Result<(Vec<LabFailure>, Vec<LabNotice>), EvalError> {
    let read = |name: &str| -> Result<String, EvalError> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(EvalError::io(format!("cannot read {}", p.display())))
    };
    let failures: Vec<LabFailure> = serde_json::from_str(&read("failures.json")?)
        .map_err(|e| EvalError::Input(format!("{}: {e}", dir.join("failures.json").display())))?;
    let notices: Vec<LabNotice> = serde_json::from_str(&read("notices.json")?)
        .map_err(|e| EvalError::Input(format!("{}: {e}", dir.join("notices.json").display())))?;
    Ok((failures, notices))
}
