//! Inhibition: a firing alert that matches a rule's source matchers mutes alerts that match
//! its target matchers and have the same values for the `equal` labels. As in Alertmanager, an
//! alert that matches both sides cannot be inhibited by another alert that does too, so an alert
//! never inhibits itself.
//!
//! ```
//! use argus_alert::config::Config;
//! use argus_alert::inhibit::Inhibitor;
//! use argus_model::Labels;
//! let cfg = Config::parse(r#"
//! route: {receiver: r}
//! receivers: [{name: r}]
//! inhibit_rules:
//!   - source_matchers: ['alertname="HostDown"']
//!     target_matchers: ['severity="warning"']
//!     equal: [host]
//! "#, "am.yml").unwrap();
//! let inh = Inhibitor::build(&cfg.inhibit_rules).unwrap();
//! let src = Labels::from_pairs(&[("alertname", "HostDown"), ("host", "a")]);
//! let cache = inh.sources(std::iter::once((1u64, &src)));
//! let tgt = Labels::from_pairs(&[("alertname", "DiskSlow"), ("severity", "warning"), ("host", "a")]);
//! assert_eq!(inh.mutes(&cache, &tgt), Some(1));
//! ```

use crate::config::{all_match, combine, InhibitRuleConfig};
use argus_model::{Labels, Matcher};
use std::collections::HashMap;

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Source matchers.
    pub source: Vec<Matcher>,
    /// Target matchers.
    pub target: Vec<Matcher>,
    /// Labels that must be equal.
    pub equal: Vec<String>,
}

/// The compiled rules.
#[derive(Debug, Clone, Default)]
pub struct Inhibitor {
    rules: Vec<InhibitRule>,
}

/// Sources of one rule, keyed by their `equal` label values.
type RuleSources = HashMap<Vec<String>, Vec<(u64, Labels)>>;

/// The firing source alerts of each rule, indexed by their `equal` label values. Build it once
/// per evaluation with [`Inhibitor::sources`].
#[derive(Debug, Default)]
pub struct SourceCache {
    per_rule: Vec<RuleSources>,
}

impl Inhibitor {
    /// Compiles the rules.
    pub fn build(cfg: &[InhibitRuleConfig]) -> Result<Inhibitor, String> {
        let rules = cfg
            .iter()
            .map(|r| {
                Ok(InhibitRule {
                    source: combine(&r.source_matchers, &r.source_match, &r.source_match_re)?,
                    target: combine(&r.target_matchers, &r.target_match, &r.target_match_re)?,
                    equal: r.equal.clone(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Inhibitor { rules })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Indexes the firing alerts `(fingerprint, labels)` that can act as sources.
    pub fn sources<'a>(&self, firing: impl Iterator<Item = (u64, &'a Labels)>) -> SourceCache {
        let mut per_rule: Vec<RuleSources> = vec![HashMap::new(); self.rules.len()];
        if self.rules.is_empty() {
            return SourceCache { per_rule };
        }
        for (fp, l) in firing {
            for (i, r) in self.rules.iter().enumerate() {
                if all_match(&r.source, l) {
                    per_rule[i]
                        .entry(equal_key(&r.equal, l))
                        .or_default()
                        .push((fp, l.clone()));
                }
            }
        }
        SourceCache { per_rule }
    }

    /// The fingerprint of an alert that inhibits `target`, if any.
    pub fn mutes(&self, cache: &SourceCache, target: &Labels) -> Option<u64> {
        for (i, r) in self.rules.iter().enumerate() {
            if !all_match(&r.target, target) {
                continue;
            }
            let both_sides = all_match(&r.source, target);
            let Some(cands) = cache.per_rule.get(i)?.get(&equal_key(&r.equal, target)) else {
                continue;
            };
            for (fp, l) in cands {
                if both_sides && all_match(&r.target, l) {
                    continue;
                }
                return Some(*fp);
            }
        }
        None
    }
}

fn equal_key(equal: &[String], l: &Labels) -> Vec<String> {
    equal
        .iter()
        .map(|n| l.get(n).unwrap_or("").to_string())
        .collect()
}
