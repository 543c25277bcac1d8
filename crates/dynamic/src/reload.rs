//! Applying a reloaded `dynamic_rules:` section (`POST /-/reload`, SIGHUP)
//! to the running service, in two steps so a bad configuration changes
//! nothing: [`prepare`] validates and compiles (it may fail), then
//! [`Shared::apply_rules`] swaps the rules in (it cannot fail).
//!
//! A rule is matched to its running self by name:
//! - same name and same `detector:` settings: *kept*; its series keep their
//!   models, online state and alert state. Its other settings (`for`,
//!   `labels`, `annotations`, `retrain_interval`, `training_window`,
//!   `selector`) take the new values; series the new selector no longer
//!   matches are dropped.
//! - same name, other `detector:` settings: *changed*; its series start over
//!   (cold start, then a first training), as a new rule's do.
//! - a name no longer configured: *removed*.
//!
//! Dropping a series resolves its firing alert and deletes its stored model,
//! so a restart comes back to the same state.
//!
//! ```
//! use argus_dynamic::config::DynamicRuleConfig;
//! use argus_dynamic::reload::prepare;
//!
//! let ok: Vec<DynamicRuleConfig> =
//!     serde_saphyr::from_str("- {name: A, selector: 'up{job=\"api\"}'}\n").unwrap();
//! assert_eq!(prepare(&ok).unwrap().len(), 1);
//! let bad: Vec<DynamicRuleConfig> =
//!     serde_saphyr::from_str("- {name: A, selector: 'up{'}\n").unwrap();
//! assert!(prepare(&bad).unwrap_err().to_string().contains("dynamic_rules[0] (A): selector"));
//! ```

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use argus_model::Labels;

use crate::alerts;
use crate::config::{compile_rules, CompiledRule, DynamicRuleConfig};
use crate::engine::{SeriesState, Shared};
use crate::error::ConfigError;

/// Validates and compiles a reloaded `dynamic_rules:` section; the error
/// names the rule and key, and nothing has changed.
pub fn prepare(rules: &[DynamicRuleConfig]) -> Result<Vec<CompiledRule>, ConfigError> {
    compile_rules(rules)
}

/// What a reload changed, by rule name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// New names.
    pub added: Vec<String>,
    /// Names no longer configured.
    pub removed: Vec<String>,
    /// Same name, other detector settings (models dropped).
    pub changed: Vec<String>,
    /// Same name and detector settings (models kept).
    pub kept: Vec<String>,
    /// Series whose state was dropped.
    pub series_dropped: usize,
    /// The generation now in force.
    pub generation: u64,
}

impl ReloadSummary {
    /// Whether the reload changed any rule.
    pub fn changed_anything(&self) -> bool {
        !(self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty())
            || self.series_dropped > 0
    }
}

impl Shared {
    /// Swaps in `new` (from [`prepare`]), keeping the series of unchanged
    /// rules and dropping the rest (see the module docs). Resolved alerts
    /// for dropped firing series go to the sink; dropped series' stored
    /// models are deleted (blocking file I/O: call it off the reactor).
    pub fn apply_rules(&self, new: Vec<CompiledRule>) -> ReloadSummary {
        let now = self.clock.now_ms();
        let mut sum = ReloadSummary::default();
        let mut resolved = Vec::new();
        let mut forget: Vec<(String, Labels)> = Vec::new();
        {
            let mut all = self.series.lock();
            let old = self.rules();
            let mut old_maps: Vec<Option<HashMap<Labels, SeriesState>>> =
                std::mem::take(&mut *all).into_iter().map(Some).collect();
            let drop_map = |rule: &CompiledRule,
                            map: HashMap<Labels, SeriesState>,
                            resolved: &mut Vec<_>,
                            forget: &mut Vec<_>| {
                for (labels, st) in map {
                    drop_series(rule, &labels, &st, now, resolved);
                    forget.push((rule.name.clone(), labels));
                }
            };
            let mut maps = Vec::with_capacity(new.len());
            let mut rules = Vec::with_capacity(new.len());
            for mut rule in new {
                let prev = old.iter().position(|o| o.name == rule.name);
                let mut map = HashMap::new();
                match prev {
                    None => sum.added.push(rule.name.clone()),
                    Some(j) if *old[j].spec != *rule.spec => {
                        sum.changed.push(rule.name.clone());
                        if let Some(m) = old_maps[j].take() {
                            drop_map(&old[j], m, &mut resolved, &mut forget);
                        }
                    }
                    Some(j) => {
                        sum.kept.push(rule.name.clone());
                        // Detectors hold the spec's Arc; keep the same one.
                        rule.spec = old[j].spec.clone();
                        for (labels, st) in old_maps[j].take().unwrap_or_default() {
                            if rule.matches(&labels) {
                                map.insert(labels, st);
                            } else {
                                drop_series(&old[j], &labels, &st, now, &mut resolved);
                                forget.push((rule.name.clone(), labels));
                            }
                        }
                    }
                }
                maps.push(map);
                rules.push(rule);
            }
            for (j, m) in old_maps.into_iter().enumerate() {
                if let Some(m) = m {
                    sum.removed.push(old[j].name.clone());
                    drop_map(&old[j], m, &mut resolved, &mut forget);
                }
            }
            let series: usize = maps.iter().map(HashMap::len).sum();
            *all = maps;
            *self.rules.write() = rules.into();
            sum.generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
            self.metrics.series.store(series as u64, Ordering::Relaxed);
        }
        sum.series_dropped = forget.len();
        for (rule, labels) in &forget {
            if let Err(e) = self.store.remove(rule, labels) {
                tracing::warn!(rule = %rule, series = ?labels, error = %e, "Could not delete a dropped series' stored model.");
            }
        }
        if !resolved.is_empty() {
            match self.alerts.get() {
                Some(sink) => sink.send(resolved),
                None => tracing::warn!("Resolved dynamic alerts of dropped series could not be sent: no alert pipeline yet."),
            }
        }
        sum
    }
}

/// Queues the resolved form of `st`'s alert if it is firing.
fn drop_series(
    rule: &CompiledRule,
    labels: &Labels,
    st: &SeriesState,
    now: i64,
    out: &mut Vec<crate::sink::DynamicAlert>,
) {
    let a = &st.alert;
    if let (Some(fired), Some(last)) = (a.fired_at, a.last.as_ref()) {
        out.push(alerts::resolved(
            rule,
            labels,
            last,
            (a.active_since.unwrap_or(fired), fired),
            a.level,
            last.ts_ms,
            now,
        ));
    }
}
