//! Recording delivery outcomes: the notification log, the history and escalation starts for
//! any number of delivered notifications, in one store transaction (one fsync).
//!
//! [`Dispatcher::complete_many`] is what keeps the crash window short under a burst: the
//! runner's committer drains every outcome reported since its last commit and records them all
//! at once, so completions do not queue behind one fsync each.
//!
//! ```
//! use argus_alert::{config::Config, Alert, Dispatcher};
//! use argus_model::{Labels, ManualClock};
//! use std::sync::Arc;
//! let cfg = Config::parse("route: {receiver: r, group_by: [alertname], group_wait: 0s}\nreceivers: [{name: r, webhook_configs: [{url: 'http://x/'}]}]\n", "am.yml").unwrap();
//! let clock = Arc::new(ManualClock::new(0));
//! let dir = tempfile::tempdir().unwrap();
//! let store = argus_alert::store::Store::open(dir.path()).unwrap();
//! let mut d = Dispatcher::new(cfg, clock.clone(), Some(store)).unwrap();
//! d.put_alerts(vec![
//!     Alert::firing(Labels::from_pairs(&[("alertname", "A")]), 0),
//!     Alert::firing(Labels::from_pairs(&[("alertname", "B")]), 0),
//! ]).unwrap();
//! let out = d.tick(0);
//! assert_eq!(out.len(), 2);
//! let done: Vec<_> = out.into_iter().map(|n| (n, true)).collect();
//! d.complete_many(&done).unwrap(); // one transaction for both
//! assert!(d.tick(1_000).is_empty());
//! ```

use super::flush::notification_labels;
use super::{DispatchError, Dispatcher, GroupId};
use crate::alert::AlertStatus;
use crate::escalation::{policy_for, EscalationState};
use crate::nflog::{NflogEntry, NotificationLog};
use crate::notification::Notification;
use crate::store::{Action, Batch, Table};

impl Dispatcher {
    /// Records the outcome of delivering `n`; the same as [`Dispatcher::complete_many`] with
    /// one outcome.
    pub fn complete(&mut self, n: &Notification, ok: bool) -> Result<(), DispatchError> {
        self.complete_many(std::slice::from_ref(&(n.clone(), ok)))
    }

    /// Records the outcomes of delivered notifications, `(notification, delivered)`, in one
    /// store commit. For each success the notification log is written, and the commit happens
    /// before anything else changes; when every notification of a flush succeeded, resolved
    /// alerts that did not change since are dropped from the group. A failure keeps them, and
    /// leaves the log as it was, so the group is notified again at its next flush.
    ///
    /// If the commit fails, no success is entered in the in-memory log either (the groups are
    /// notified again, never lost) and the error is returned; the flushes are still finished,
    /// as failed ones, so their groups are not stuck in flight.
    pub fn complete_many(&mut self, done: &[(Notification, bool)]) -> Result<(), DispatchError> {
        if done.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut b = Batch::default();
        let mut logged: Vec<(String, NflogEntry)> = Vec::new();
        let mut record_err = None;
        for (n, ok) in done {
            if let Err(e) = self.record(&mut b, &mut logged, n, *ok, now) {
                record_err.get_or_insert(e);
            }
        }
        let committed = match record_err {
            Some(e) => Err(e),
            None => self.commit_deferred(b).map_err(DispatchError::from),
        };
        if committed.is_ok() {
            for (key, e) in logged {
                self.nflog.log(&key, e);
            }
            if let Some(o) = &self.observer {
                for (n, _) in done.iter().filter(|(_, ok)| *ok) {
                    let fps: Vec<u64> = n.alerts.iter().map(|a| a.fingerprint).collect();
                    o.delivered(&fps, &n.receiver, now);
                }
            }
        }
        for (n, ok) in done {
            if n.escalation.is_none() {
                self.finish_flush(n, *ok && committed.is_ok());
            }
        }
        committed
    }

    /// Adds what one outcome writes to `b`; the nflog entries to enter after the commit go to
    /// `logged`.
    fn record(
        &mut self,
        b: &mut Batch,
        logged: &mut Vec<(String, NflogEntry)>,
        n: &Notification,
        ok: bool,
        now: i64,
    ) -> Result<(), DispatchError> {
        if let Some(step) = &n.escalation {
            b.action(Action {
                at: now,
                who: "argus".into(),
                kind: if ok { "escalate" } else { "escalate_failed" }.into(),
                target: n.group_key.clone(),
                comment: format!(
                    "policy {} level {} round {} to {}",
                    step.policy, step.level, step.round, n.receiver
                ),
                labels: notification_labels(n),
            });
            return Ok(());
        }
        if !ok {
            b.action(Action {
                at: now,
                who: "argus".into(),
                kind: "notify_failed".into(),
                target: n.group_key.clone(),
                comment: format!("{} to {} failed", n.kind.as_str(), n.receiver),
                labels: notification_labels(n),
            });
            return Ok(());
        }
        let repeat = self
            .tree
            .get(n.route.min(self.tree.len() - 1))
            .repeat_interval;
        let key = NotificationLog::key(&n.receiver, n.integration, &n.group_key);
        let e = NflogEntry::new(n.firing.clone(), n.resolved.clone(), now, repeat);
        b.put(Table::Nflog, &key, &e)?;
        b.action(Action {
            at: now,
            who: "argus".into(),
            kind: "notify".into(),
            target: n.group_key.clone(),
            comment: format!(
                "{} {} to {} ({} firing, {} resolved)",
                n.kind.as_str(),
                n.status().as_str(),
                n.receiver,
                n.firing.len(),
                n.resolved.len()
            ),
            labels: notification_labels(n),
        });
        let id = GroupId {
            route: n.route,
            key: n.group_key.clone(),
        };
        if !n.firing.is_empty() && !self.escalations.contains_key(&id) {
            let labels: Vec<_> = n
                .alerts
                .iter()
                .filter(|a| a.status == AlertStatus::Firing)
                .map(|a| &a.alert.labels)
                .collect();
            if let Some(p) = policy_for(&self.policies, labels.into_iter()) {
                let st = EscalationState::new(n.route, &n.group_key, &p.name, now);
                b.put(Table::Escalations, &st.store_key(), &st)?;
                self.escalations.insert(id, st);
            }
        }
        logged.push((key, e));
        Ok(())
    }

    /// Counts `n` off its group's flush in flight; the last one ends the flush.
    fn finish_flush(&mut self, n: &Notification, ok: bool) {
        let id = GroupId {
            route: n.route,
            key: n.group_key.clone(),
        };
        let mut done = None;
        if let Some(f) = self
            .groups
            .get_mut(&id)
            .and_then(|g| g.inflight.as_mut())
            .filter(|f| f.id == n.flush)
        {
            f.failed |= !ok;
            f.remaining = f.remaining.saturating_sub(1);
            if f.remaining == 0 {
                done = Some((f.failed, std::mem::take(&mut f.resolved)));
            }
        }
        if let Some((failed, marks)) = done {
            if let Some(g) = self.groups.get_mut(&id) {
                g.inflight = None;
            }
            if !failed {
                self.delete_resolved(&id, &marks);
            }
        }
    }
}
