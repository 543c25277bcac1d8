//! What people do to alerts besides acknowledging (see [`Dispatcher::ack`]): resolve, unack,
//! and the history of alert state changes, notifications and actions, filtered by matchers.

use super::{fp_key, DispatchError, Dispatcher, GroupId};
use crate::alert::Alert;
use crate::config::all_match;
use crate::escalation::AckTarget;
use crate::store::{Action, Batch, Table};
use argus_model::{Labels, Matcher};
use std::collections::BTreeMap;

/// An `alert_firing`/`alert_resolved` record.
pub(crate) fn transition(fp: u64, a: &Alert, firing: bool, at: i64, who: &str) -> Action {
    Action {
        at,
        who: who.into(),
        kind: if firing {
            "alert_firing"
        } else {
            "alert_resolved"
        }
        .into(),
        target: fp_key(fp),
        comment: a.annotations.get("summary").cloned().unwrap_or_default(),
        labels: a
            .labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect(),
    }
}

/// A history query: `from <= at < to`, kinds of one category, labels matching all matchers.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Start, ms (inclusive).
    pub from: i64,
    /// End, ms (exclusive).
    pub to: i64,
    /// `alerts`, `notifications` or `actions` (see [`Action::category`]); none is all.
    pub category: Option<String>,
    /// All must match the record's labels; records without labels match only when empty.
    pub matchers: Vec<Matcher>,
    /// At most this many, oldest first.
    pub limit: usize,
}

impl Dispatcher {
    /// The labels an ack/resolve target concerns: the alert's, or the group's.
    pub(crate) fn target_labels(&self, t: &AckTarget) -> BTreeMap<String, String> {
        let labels = match t {
            AckTarget::Alert(fp) => self.alerts.get(fp).map(|r| r.alert.labels.clone()),
            AckTarget::Group(k) => self
                .groups
                .iter()
                .find(|(id, _)| id.key == *k)
                .map(|(_, g)| g.labels.clone()),
        };
        labels
            .unwrap_or_default()
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }

    pub(super) fn target_alerts(&self, t: &AckTarget) -> Vec<u64> {
        match t {
            AckTarget::Alert(fp) => self
                .alerts
                .contains_key(fp)
                .then_some(*fp)
                .into_iter()
                .collect(),
            AckTarget::Group(k) => {
                let mut v: Vec<u64> = self
                    .groups
                    .iter()
                    .filter(|(id, _)| id.key == *k)
                    .flat_map(|(_, g)| g.alerts.iter().copied())
                    .collect();
                v.sort_unstable();
                v.dedup();
                v
            }
        }
    }

    /// Marks the firing alerts of the target resolved now (a resolved notification follows at
    /// the group's next flush). If the source keeps sending the alert as firing, it fires
    /// again, as in Alertmanager. Returns how many alerts were resolved; none is
    /// [`DispatchError::NotFound`].
    pub fn resolve(
        &mut self,
        target: AckTarget,
        who: &str,
        comment: &str,
    ) -> Result<usize, DispatchError> {
        let now = self.clock.now_ms();
        let fps: Vec<u64> = self
            .target_alerts(&target)
            .into_iter()
            .filter(|fp| {
                self.alerts
                    .get(fp)
                    .is_some_and(|r| !r.alert.is_resolved(now))
            })
            .collect();
        if fps.is_empty() {
            return Err(DispatchError::NotFound(target_name(&target)));
        }
        let mut b = Batch::default();
        let mut recs = Vec::new();
        for fp in &fps {
            let Some(mut rec) = self.alerts.get(fp).cloned() else {
                continue;
            };
            rec.alert.ends_at = now;
            rec.alert.updated_at = now;
            b.put(Table::Alerts, &fp_key(*fp), &rec)?;
            b.action(transition(*fp, &rec.alert, false, now, who));
            recs.push((*fp, rec));
        }
        b.action(Action {
            at: now,
            who: who.into(),
            kind: "resolve".into(),
            target: target_name(&target),
            comment: comment.into(),
            labels: self.target_labels(&target),
        });
        self.commit(b)?;
        let cfg = self.cfg.argus.flap_damping;
        for (fp, rec) in recs {
            self.flap.entry(fp).or_default().observe(false, now, &cfg);
            self.alerts.insert(fp, rec);
            self.route_alert(fp, now);
        }
        Ok(fps.len())
    }

    /// Withdraws acknowledgements: of the alert (and the escalations of its groups), or of
    /// the group (and its alerts). Escalation resumes where it stopped, so a step already due
    /// is taken at the next tick. Nothing acknowledged is [`DispatchError::NotFound`].
    pub fn unack(
        &mut self,
        target: AckTarget,
        who: &str,
        comment: &str,
    ) -> Result<(), DispatchError> {
        let now = self.clock.now_ms();
        let fps = self.target_alerts(&target);
        let mut b = Batch::default();
        let mut hit = false;
        let mut undo = super::Undo::default();
        for fp in &fps {
            if let Some(rec) = self.alerts.get_mut(fp).filter(|r| r.ack.is_some()) {
                undo.alerts.push((*fp, rec.clone()));
                rec.ack = None;
                b.put(Table::Alerts, &fp_key(*fp), &*rec)?;
                hit = true;
            }
        }
        let ids: Vec<GroupId> = self
            .escalations
            .keys()
            .filter(|id| match &target {
                AckTarget::Group(k) => id.key == *k,
                AckTarget::Alert(fp) => self.groups.get(id).is_some_and(|g| g.alerts.contains(fp)),
            })
            .cloned()
            .collect();
        for id in ids {
            if let Some(e) = self.escalations.get_mut(&id).filter(|e| e.acked.is_some()) {
                undo.escalations.push((id.clone(), e.clone()));
                e.acked = None;
                b.put(Table::Escalations, &e.store_key(), &*e)?;
                hit = true;
            }
        }
        if !hit {
            return Err(DispatchError::NotFound(target_name(&target)));
        }
        b.action(Action {
            at: now,
            who: who.into(),
            kind: "unack".into(),
            target: target_name(&target),
            comment: comment.into(),
            labels: self.target_labels(&target),
        });
        if let Err(e) = self.commit(b) {
            self.undo(undo);
            return Err(e.into());
        }
        Ok(())
    }

    /// The acknowledgement in force for a target, if any: the alert's, or the first acked
    /// escalation of the group.
    pub fn ack_of(&self, target: &AckTarget) -> Option<crate::escalation::Ack> {
        match target {
            AckTarget::Alert(fp) => self.alerts.get(fp).and_then(|r| r.ack.clone()),
            AckTarget::Group(k) => self
                .escalations
                .iter()
                .find(|(id, e)| id.key == *k && e.acked.is_some())
                .and_then(|(_, e)| e.acked.clone())
                .or_else(|| {
                    // Without an escalation: acknowledged when every active alert is.
                    let now = self.clock.now_ms();
                    let active: Vec<&super::AlertRecord> = self
                        .target_alerts(target)
                        .into_iter()
                        .filter_map(|fp| self.alerts.get(&fp))
                        .filter(|r| !r.alert.is_resolved(now))
                        .collect();
                    let all_acked = !active.is_empty() && active.iter().all(|r| r.ack.is_some());
                    all_acked.then(|| active[0].ack.clone()).flatten()
                }),
        }
    }

    /// The recorded history matching `q` (empty without a store).
    pub fn history_query(&self, q: &HistoryQuery) -> Result<Vec<Action>, DispatchError> {
        let Some(st) = &self.store else {
            return Ok(Vec::new());
        };
        let keep = |a: &Action| {
            if q.category.as_deref().is_some_and(|c| c != a.category()) {
                return false;
            }
            if q.matchers.is_empty() {
                return true;
            }
            let labels = Labels::from_pairs(
                &a.labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<Vec<_>>(),
            );
            all_match(&q.matchers, &labels)
        };
        Ok(st.actions_where(q.from, q.to, q.limit, keep)?)
    }
}

fn target_name(t: &AckTarget) -> String {
    match t {
        AckTarget::Alert(fp) => fp_key(*fp),
        AckTarget::Group(k) => k.clone(),
    }
}
