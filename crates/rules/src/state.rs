//! Alert state persistence: one JSON snapshot per group, written atomically
//! after every evaluation and read back at the group's first evaluation.
//!
//! # Format (version 1)
//! `<state_dir>/group-<16 hex digits of the group hash>.json`:
//! ```json
//! {"version": 1, "file": "rules/node.yml", "group": "node", "saved_at_ms": 1700000000000,
//!  "rules": [{"alert": "HostDown", "for_ms": 300000, "alerts": [<Alert>...]}]}
//! ```
//! where `<Alert>` is [`Alert`] serialized (labels and
//! annotations as maps, `value` as Go's `%v` string, times in ms). The file is
//! written to `<name>.tmp`, fsynced, renamed over the old one and the
//! directory fsynced, so a crash leaves the old or the new snapshot.
//!
//! # Restore rules
//! At a group's first evaluation at time `ts`, a snapshot saved at `down` is used when
//! `ts - down <= outage_tolerance` (default 1h; older snapshots are ignored, as
//! Prometheus ignores `ALERTS_FOR_STATE` beyond `--rules.alert.for-outage-tolerance`).
//! Alerting rules are matched by name, in order. Then, before evaluating:
//! - **firing** alerts come back firing with their `active_at` and `fired_at`
//!   (so Alertmanager's `startsAt` is unchanged). If the expression no longer
//!   returns them, this evaluation resolves them and the resolution is sent;
//!   Prometheus would silently forget them.
//! - **resolved** alerts inside the 15-minute retention come back and are resent.
//! - **pending** alerts get Prometheus's `for` restoration: when `for` is at
//!   least the grace period (default 10m), with `spent = down - active_at` and
//!   `remaining = for - spent`: `remaining <= 0` keeps `active_at`; `remaining <
//!   grace` sets `active_at = ts + grace - for` (fires no sooner than `grace`
//!   after the restart); otherwise `active_at` moves forward by the outage `ts - down`.
//!   When `for` is shorter than the grace period `active_at` is kept as is
//!   (Prometheus restarts such alerts from zero instead). A pending alert the
//!   expression no longer returns is dropped at this evaluation, as always.
//!
//! Last-sent times are not restored: every restored firing or resolved alert
//! is sent once more after a restart (the alert pipeline deduplicates).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::alert::{Alert, AlertState};
use crate::group::Group;
use argus_model::alert::Lifecycle;

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file system failed.
    #[error("alert state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The snapshot is not valid JSON of the expected shape.
    #[error("alert state file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

impl StateError {
    /// Disk errors may go away; a corrupt file will not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StateError::Io { .. })
    }
}

/// The on-disk snapshot of one group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// Format version (1).
    pub version: u32,
    /// The group's file.
    pub file: String,
    /// The group's name.
    pub group: String,
    /// The evaluation time this snapshot was taken at (ms).
    pub saved_at_ms: i64,
    /// Alerting rules in group order.
    pub rules: Vec<RuleSnapshot>,
}

/// One alerting rule's alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleSnapshot {
    /// The alert name.
    pub alert: String,
    /// The rule's `for` when saved (ms).
    pub for_ms: i64,
    /// Its alerts.
    pub alerts: Vec<Alert>,
}

/// The snapshot path of a group.
pub fn snapshot_path(dir: &Path, group: &Group) -> PathBuf {
    dir.join(format!("group-{:016x}.json", group.hash()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the group's alert state atomically (temp file, fsync, rename, fsync dir).
pub fn save(dir: &Path, group: &Group, ts_ms: i64) -> Result<(), StateError> {
    let snap = GroupSnapshot {
        version: 1,
        file: group.file.clone(),
        group: group.name.clone(),
        saved_at_ms: ts_ms,
        rules: group
            .rules
            .iter()
            .filter(|r| r.is_alerting())
            .map(|r| RuleSnapshot {
                alert: r.name().to_string(),
                for_ms: r.spec.for_ms,
                alerts: r.alerts(),
            })
            .collect(),
    };
    if snap.rules.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = snapshot_path(dir, group);
    let tmp = path.with_extension("json.tmp");
    let body = serde_json::to_vec(&snap).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&body).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        // Directory fsync makes the rename durable; not all platforms allow it.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads a group's snapshot, if there is one.
pub fn load(dir: &Path, group: &Group) -> Result<Option<GroupSnapshot>, StateError> {
    let path = snapshot_path(dir, group);
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| StateError::Corrupt {
            path,
            reason: e.to_string(),
        })
}

/// Applies the group's snapshot before its first evaluation at `ts` (see the module docs).
pub(crate) fn restore(dir: &Path, group: &mut Group, ts: i64) {
    let snap = match load(dir, group) {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(group = %group.name, error = %e, "Ignoring the saved alert state.");
            return;
        }
    };
    let opts = group.opts().clone();
    let down = snap.saved_at_ms;
    if snap.group != group.name || ts - down > opts.outage_tolerance_ms {
        tracing::info!(group = %group.name, saved_at_ms = down, "The saved alert state is too old; starting afresh.");
        return;
    }
    let mut used = vec![false; snap.rules.len()];
    let mut restored = 0usize;
    for rule in group.rules.iter_mut().filter(|r| r.is_alerting()) {
        let Some(i) = snap
            .rules
            .iter()
            .enumerate()
            .position(|(i, s)| !used[i] && s.alert == rule.name())
        else {
            continue;
        };
        used[i] = true;
        let hold = rule.spec.for_ms;
        for mut a in snap.rules[i].alerts.clone() {
            a.last_sent_at_ms = None;
            a.valid_until_ms = None;
            match a.state {
                AlertState::Firing => {}
                AlertState::Inactive => {
                    if a.resolved_at_ms
                        .is_none_or(|r| !Lifecycle::retains_resolved(r, ts))
                    {
                        continue;
                    }
                }
                AlertState::Pending => {
                    let grace = opts.for_grace_period_ms;
                    if hold >= grace {
                        let remaining = hold - (down - a.active_at_ms);
                        if remaining <= 0 {
                        } else if remaining < grace {
                            a.active_at_ms = ts + grace - hold;
                        } else {
                            a.active_at_ms += ts - down;
                        }
                    }
                }
            }
            restored += 1;
            rule.active.insert(a.labels.clone(), a);
        }
    }
    tracing::info!(group = %group.name, restored, "Restored the alert state.");
}
