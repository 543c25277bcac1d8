//! Localisation of a dynamic rule's alert over the KPI's dimensions: when
//! an alert of a rule with a `localize:` key fires, its `actual` and
//! `expected` expressions are evaluated at the alert's time, joined on the
//! `by` labels into leaves, and handed to [`argus_rca::md::localize`]. The
//! answer goes into the alert's annotations, and from there into its
//! incident:
//!
//! - `root_cause`: the elements, `; `-separated, each a `&`-joined set of
//!   `label=value` parts (`center=c3; process=p7&ip=10.0.0.4`), or `all
//!   leaves alike` when every leaf moved by about the same amount;
//! - `root_cause_detail`: each element's actual and expected sums, its
//!   change and its share of the deviation, or why nothing was named.
//!
//! The answer is computed once per firing episode and kept for the
//! episode's later sends (so the annotations do not change under the
//! pipeline), and dropped when the alert resolves.

use crate::api::exec::QueryService;
use argus_dynamic::{AlertState, DynamicAlert, LocalizeConfig};
use argus_model::Labels;
use argus_rca::md::{localize, Found, Leaf, Settings};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The most leaves one localisation reads.
pub const MAX_LEAVES: usize = 200_000;
/// The most episodes whose answers are kept.
const MAX_KEPT: usize = 10_000;

/// Why a localisation gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LocalizeError {
    /// An expression failed.
    #[error("the {which} expression failed: {message}")]
    Query {
        /// `actual` or `expected`.
        which: &'static str,
        /// The engine's error.
        message: String,
    },
    /// An expression did not give an instant vector.
    #[error("the {which} expression gives a {got}, not one series per leaf")]
    NotVector {
        /// `actual` or `expected`.
        which: &'static str,
        /// What it gave.
        got: &'static str,
    },
    /// Too many leaves.
    #[error("{got} leaves, more than the {MAX_LEAVES} a localisation reads")]
    TooMany {
        /// How many there were.
        got: usize,
    },
    /// The search refused the leaves.
    #[error(transparent)]
    Search(#[from] argus_rca::md::MdError),
}

/// A firing episode: its rule, its labels and since when it is active.
type Episode = (String, Labels, i64);

/// Localises the alerts of the rules with a `localize:` key.
pub struct Localizer {
    query: Arc<QueryService>,
    rules: Mutex<HashMap<String, LocalizeConfig>>,
    /// Annotations per firing episode: (rule, labels, active since).
    kept: Mutex<HashMap<Episode, Vec<(String, String)>>>,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer")
            .field("rules", &self.rules.lock().len())
            .finish()
    }
}

impl Localizer {
    /// A localizer evaluating its expressions with `query`.
    pub fn new(query: Arc<QueryService>) -> Localizer {
        Localizer {
            query,
            rules: Mutex::new(HashMap::new()),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the `localize:` keys of `rules` (at start and on reload).
    pub fn configure(&self, rules: &[argus_dynamic::DynamicRuleConfig]) {
        *self.rules.lock() = rules
            .iter()
            .filter_map(|r| r.localize.clone().map(|l| (r.name.clone(), l)))
            .collect();
    }

    /// Reads the leaves of `cfg` at `t_ms`: one per distinct set of `by`
    /// values in either expression; a leaf missing from one side counts 0
    /// there (a leaf that stopped reporting dropped to nothing).
    pub fn leaves(&self, cfg: &LocalizeConfig, t_ms: i64) -> Result<Vec<Leaf>, LocalizeError> {
        let read = |which: &'static str, expr: &str| match self.query.rule_query(expr, t_ms) {
            Ok(argus_promql::Value::Vector(v)) => Ok(v),
            Ok(other) => Err(LocalizeError::NotVector {
                which,
                got: other.type_name(),
            }),
            Err(e) => Err(LocalizeError::Query {
                which,
                message: e.to_string(),
            }),
        };
        let actual = read("actual", &cfg.actual)?;
        let expected = read("expected", &cfg.expected)?;
        let mut by_key: BTreeMap<Vec<String>, (f64, f64)> = BTreeMap::new();
        let key = |l: &Labels| -> Vec<String> {
            cfg.by
                .iter()
                .map(|b| l.get(b).unwrap_or_default().to_string())
                .collect()
        };
        for s in &actual {
            if s.v.is_finite() {
                by_key.entry(key(&s.labels)).or_default().0 += s.v;
            }
        }
        for s in &expected {
            if s.v.is_finite() {
                by_key.entry(key(&s.labels)).or_default().1 += s.v;
            }
        }
        if by_key.len() > MAX_LEAVES {
            return Err(LocalizeError::TooMany { got: by_key.len() });
        }
        Ok(by_key
            .into_iter()
            .map(|(values, (a, e))| Leaf::new(values, a, e))
            .collect())
    }

    /// Localises `cfg`'s deviation at `t_ms`.
    pub fn run(&self, cfg: &LocalizeConfig, t_ms: i64) -> Result<(Found, usize), LocalizeError> {
        let leaves = self.leaves(cfg, t_ms)?;
        let found = localize(&cfg.by, &leaves, &Settings::default())?;
        Ok((found, leaves.len()))
    }

    /// Adds the localisation to `a` when its rule has a `localize:` key:
    /// computed at its first firing send, kept for the episode, dropped
    /// when it resolves.
    pub fn annotate(&self, a: &mut DynamicAlert) {
        let Some(rule) = a.labels.get("alertname").map(str::to_string) else {
            return;
        };
        let Some(cfg) = self.rules.lock().get(&rule).cloned() else {
            return;
        };
        let key = (rule.clone(), a.labels.clone(), a.active_at_ms);
        let kept = if a.state == AlertState::Resolved {
            self.kept.lock().remove(&key)
        } else {
            self.kept.lock().get(&key).cloned()
        };
        let notes = match kept {
            Some(n) => n,
            None if a.state == AlertState::Resolved => return,
            None => {
                let notes = match self.run(&cfg, a.fired_at_ms) {
                    Ok((found, leaves)) => annotations(&found, leaves),
                    Err(e) => {
                        tracing::warn!(rule = %rule, error = %e, "Could not localise the alert over its dimensions.");
                        vec![(
                            "root_cause_detail".to_string(),
                            format!("Could not localise: {e}."),
                        )]
                    }
                };
                let mut kept = self.kept.lock();
                if kept.len() >= MAX_KEPT {
                    kept.clear();
                }
                kept.insert(key, notes.clone());
                notes
            }
        };
        let mut b = a.annotations.clone();
        for (k, v) in notes {
            b.set(&k, &v);
        }
        a.annotations = b;
    }
}

fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The annotations for an answer over `leaves` leaves.
pub fn annotations(found: &Found, leaves: usize) -> Vec<(String, String)> {
    if found.causes.is_empty() {
        return vec![(
            "root_cause_detail".to_string(),
            format!(
                "No dimension value stands out: the deviation ({} against {} expected) is spread over the {leaves} leaves.",
                number(found.total_actual),
                number(found.total_expected)
            ),
        )];
    }
    let name = |e: &argus_rca::md::Element| {
        if e.parts.is_empty() {
            "all leaves alike".to_string()
        } else {
            e.to_string()
        }
    };
    let names: Vec<String> = found.causes.iter().map(|c| name(&c.element)).collect();
    let detail: Vec<String> = found
        .causes
        .iter()
        .map(|c| {
            format!(
                "{}: {} against {} expected ({:+.0} %), {:.0} % of the deviation",
                name(&c.element),
                number(c.actual),
                number(c.expected),
                c.change * 100.0,
                c.share * 100.0
            )
        })
        .collect();
    vec![
        ("root_cause".to_string(), names.join("; ")),
        ("root_cause_detail".to_string(), detail.join("; ")),
    ]
}
