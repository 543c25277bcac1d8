//! Silences: matchers with a start, an end, an author and a comment. A silence is pending
//! before `starts_at`, active until `ends_at`, expired after. Semantics follow Alertmanager's
//! `silence` package, including when an update is made in place and when it replaces.
//!
//! Matching is indexed: each silence is filed under the values of one matcher that an alert
//! must carry (`name="v"`, or `name=~"a|b"` of plain alternatives), the one whose buckets were
//! the smallest when it was filed; silences without such a matcher are checked for every alert.
//! [`Silences::mutes`] returns exactly what a scan of every silence would, sorted by id.
//!
//! ```
//! use argus_alert::silence::{Silence, SilenceMatcher, Silences, SilenceState};
//! use argus_model::Labels;
//! let mut s = Silences::default();
//! let id = s.set(Silence::new(vec![SilenceMatcher::equal("job", "node")], 0, 60_000, "ops", "deploy"), 0).unwrap();
//! let l = Labels::from_pairs(&[("job", "node")]);
//! assert_eq!(s.mutes(&l, 1_000), vec![id.clone()]);
//! s.expire(&id, 2_000).unwrap();
//! assert!(s.mutes(&l, 3_000).is_empty());
//! assert_eq!(s.get(&id).unwrap().state(3_000), SilenceState::Expired);
//! ```

use argus_model::{Labels, MatchOp, Matcher};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How long an expired silence is kept before garbage collection (Alertmanager's 120h).
pub const DEFAULT_RETENTION_MS: i64 = 120 * 3_600_000;

/// A matcher in Alertmanager's API v2 form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SilenceMatcher {
    /// Label name.
    pub name: String,
    /// Value or pattern.
    pub value: String,
    /// Regex match.
    #[serde(default)]
    pub is_regex: bool,
    /// Positive match (`=`/`=~`); false for `!=`/`!~`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    /// `name="value"`.
    pub fn equal(name: &str, value: &str) -> Self {
        SilenceMatcher {
            name: name.to_string(),
            value: value.to_string(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// Compiles to a label matcher.
    pub fn compile(&self) -> Result<Matcher, SilenceError> {
        let op = match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Eq,
            (false, false) => MatchOp::Neq,
            (true, true) => MatchOp::Re,
            (true, false) => MatchOp::Nre,
        };
        Matcher::new(op, &self.name, &self.value).map_err(|e| SilenceError::Invalid(e.to_string()))
    }
}

/// A silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    /// Id; empty when creating.
    #[serde(default)]
    pub id: String,
    /// All must match for an alert to be silenced.
    pub matchers: Vec<SilenceMatcher>,
    /// Start, ms.
    pub starts_at: i64,
    /// End, ms.
    pub ends_at: i64,
    /// Last change, ms.
    #[serde(default)]
    pub updated_at: i64,
    /// Author.
    #[serde(default)]
    pub created_by: String,
    /// Why.
    #[serde(default)]
    pub comment: String,
}

impl Silence {
    /// A new silence (no id yet).
    pub fn new(
        matchers: Vec<SilenceMatcher>,
        starts_at: i64,
        ends_at: i64,
        created_by: &str,
        comment: &str,
    ) -> Self {
        Silence {
            id: String::new(),
            matchers,
            starts_at,
            ends_at,
            updated_at: 0,
            created_by: created_by.to_string(),
            comment: comment.to_string(),
        }
    }

    /// State at `now`.
    pub fn state(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }
}

/// Lifecycle state of a silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    /// Not started yet.
    Pending,
    /// In force.
    Active,
    /// Over.
    Expired,
}

/// Why a silence operation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SilenceError {
    /// Bad input.
    #[error("invalid silence: {0}")]
    Invalid(String),
    /// No silence with that id.
    #[error("silence {0} not found")]
    NotFound(String),
    /// Already expired.
    #[error("silence {0} already expired")]
    AlreadyExpired(String),
}

/// The set of silences.
#[derive(Debug, Default)]
pub struct Silences {
    by_id: BTreeMap<String, Entry>,
    /// Silences indexed by the values of one of their matchers (name → value → ids): an alert
    /// is only checked against the silences filed under one of its own label pairs, plus
    /// [`Self::unindexed`].
    by_eq: HashMap<String, HashMap<String, Vec<String>>>,
    /// Silences with no indexable matcher, checked for every alert.
    unindexed: BTreeSet<String>,
}

/// A stored silence with its compiled matchers and the index keys it is filed under (empty:
/// in `unindexed`). The keys are kept because the choice depends on the index at filing time.
#[derive(Debug)]
struct Entry {
    silence: Silence,
    matchers: Vec<Matcher>,
    keys: Vec<(String, String)>,
}

/// The label values a matcher requires, one of which an alert must carry for it to match:
/// `name="v"` (v non-empty) gives `[v]`, `name=~"a|b"` (plain alternatives, none empty)
/// gives `[a, b]`. `None` when the matcher can match an absent label or a value it cannot
/// list.
fn required_values(m: &Matcher) -> Option<Vec<String>> {
    let mut vals = match m.op {
        MatchOp::Eq => vec![m.value.clone()],
        MatchOp::Re => m.set_matches()?,
        MatchOp::Neq | MatchOp::Nre => return None,
    };
    vals.sort_unstable();
    vals.dedup();
    (!vals.iter().any(String::is_empty)).then_some(vals)
}

impl Silences {
    /// The index keys for a silence's matchers: those of the indexable matcher whose buckets
    /// hold the fewest silences now (the rarest), the first one on a tie; none if no matcher is
    /// indexable.
    fn choose_keys(&self, ms: &[Matcher]) -> Vec<(String, String)> {
        let bucket = |n: &str, v: &str| {
            self.by_eq
                .get(n)
                .and_then(|vals| vals.get(v))
                .map_or(0, Vec::len)
        };
        ms.iter()
            .filter_map(|m| required_values(m).map(|vals| (m, vals)))
            .min_by_key(|(m, vals)| vals.iter().map(|v| bucket(&m.name, v) + 1).sum::<usize>())
            .map(|(m, vals)| vals.into_iter().map(|v| (m.name.clone(), v)).collect())
            .unwrap_or_default()
    }

    /// Creates or updates a silence and returns its id. An update keeps the id when Alertmanager
    /// would (same matchers, not expired, start unchanged once active); otherwise the old one
    /// is expired and a new id is returned.
    pub fn set(&mut self, mut s: Silence, now: i64) -> Result<String, SilenceError> {
        let compiled = validate(&s)?;
        s.updated_at = now;
        if let Some(old) = self.by_id.get(&s.id).map(|e| e.silence.clone()) {
            if can_update(&old, &s, now) {
                self.put(s.clone(), compiled);
                return Ok(s.id);
            }
            if old.state(now) != SilenceState::Expired {
                self.expire(&old.id, now)?;
            }
        } else if !s.id.is_empty() {
            return Err(SilenceError::NotFound(s.id));
        }
        if s.ends_at <= now {
            return Err(SilenceError::Invalid(
                "end time can't be in the past".into(),
            ));
        }
        if s.starts_at < now {
            s.starts_at = now;
        }
        s.id = uuid::Uuid::new_v4().to_string();
        self.put(s.clone(), compiled);
        Ok(s.id)
    }

    /// Stores a silence and files it in the matcher index.
    fn put(&mut self, s: Silence, compiled: Vec<Matcher>) {
        self.unfile(&s.id);
        let keys = self.choose_keys(&compiled);
        if keys.is_empty() {
            self.unindexed.insert(s.id.clone());
        }
        for (n, v) in &keys {
            self.by_eq
                .entry(n.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .push(s.id.clone());
        }
        let entry = Entry {
            silence: s,
            matchers: compiled,
            keys,
        };
        self.by_id.insert(entry.silence.id.clone(), entry);
    }

    /// Removes a silence from the matcher index (not from `by_id`).
    fn unfile(&mut self, id: &str) {
        let Some(e) = self.by_id.get(id) else {
            return;
        };
        if e.keys.is_empty() {
            self.unindexed.remove(id);
        }
        for (n, v) in &e.keys {
            if let Some(vals) = self.by_eq.get_mut(n) {
                if let Some(ids) = vals.get_mut(v) {
                    ids.retain(|x| x != id);
                    if ids.is_empty() {
                        vals.remove(v);
                    }
                }
                if vals.is_empty() {
                    self.by_eq.remove(n);
                }
            }
        }
    }

    /// The silences that could match `labels`: those filed under one of its
    /// label pairs and the unindexed ones. An id can repeat only if it is filed under two
    /// pairs of `labels`, which cannot happen (all its keys share one label name).
    fn candidates<'a>(&'a self, labels: &'a Labels) -> impl Iterator<Item = &'a String> + 'a {
        labels
            .iter()
            .filter_map(move |l| self.by_eq.get(l.name.as_str())?.get(l.value.as_str()))
            .flatten()
            .chain(self.unindexed.iter())
    }

    /// Inserts a silence as stored, without validation (used when loading).
    pub fn restore(&mut self, s: Silence) -> Result<(), SilenceError> {
        let compiled = validate(&s)?;
        self.put(s, compiled);
        Ok(())
    }

    /// Expires a silence now. A pending one gets `starts_at = ends_at = now`.
    pub fn expire(&mut self, id: &str, now: i64) -> Result<&Silence, SilenceError> {
        let s = &mut self
            .by_id
            .get_mut(id)
            .ok_or_else(|| SilenceError::NotFound(id.to_string()))?
            .silence;
        match s.state(now) {
            SilenceState::Expired => return Err(SilenceError::AlreadyExpired(id.to_string())),
            SilenceState::Pending => {
                s.starts_at = now;
                s.ends_at = now;
            }
            SilenceState::Active => s.ends_at = now,
        }
        s.updated_at = now;
        Ok(s)
    }

    /// One silence.
    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.by_id.get(id).map(|e| &e.silence)
    }

    /// All silences, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.by_id.values().map(|e| &e.silence)
    }

    /// Number of silences kept.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when none are kept.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Ids of the active silences that match `labels` at `now`.
    pub fn mutes(&self, labels: &Labels, now: i64) -> Vec<String> {
        let mut ids: Vec<String> = self
            .candidates(labels)
            .filter(|id| self.active_match(id, labels, now))
            .cloned()
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// True when an active silence matches `labels` at `now`; stops at the first.
    pub fn is_muted(&self, labels: &Labels, now: i64) -> bool {
        self.candidates(labels)
            .any(|id| self.active_match(id, labels, now))
    }

    fn active_match(&self, id: &str, labels: &Labels, now: i64) -> bool {
        self.by_id.get(id).is_some_and(|e| {
            e.silence.state(now) == SilenceState::Active
                && crate::config::all_match(&e.matchers, labels)
        })
    }

    /// Drops silences expired for longer than `retention_ms`; returns their ids.
    pub fn gc(&mut self, now: i64, retention_ms: i64) -> Vec<String> {
        let old: Vec<String> = self
            .by_id
            .values()
            .filter(|e| e.silence.ends_at + retention_ms <= now)
            .map(|e| e.silence.id.clone())
            .collect();
        for id in &old {
            self.unfile(id);
            self.by_id.remove(id);
        }
        old
    }
}

fn validate(s: &Silence) -> Result<Vec<Matcher>, SilenceError> {
    if s.matchers.is_empty() {
        return Err(SilenceError::Invalid(
            "at least one matcher required".into(),
        ));
    }
    let compiled = s
        .matchers
        .iter()
        .map(SilenceMatcher::compile)
        .collect::<Result<Vec<_>, _>>()?;
    if compiled.iter().all(|m| m.matches_empty()) {
        return Err(SilenceError::Invalid(
            "at least one matcher must not match the empty string".into(),
        ));
    }
    if s.ends_at < s.starts_at {
        return Err(SilenceError::Invalid(
            "start time must be before end time".into(),
        ));
    }
    Ok(compiled)
}

fn can_update(old: &Silence, new: &Silence, now: i64) -> bool {
    if old.matchers != new.matchers {
        return false;
    }
    match old.state(now) {
        SilenceState::Active => new.starts_at == old.starts_at && new.ends_at >= now,
        SilenceState::Pending => new.starts_at >= now,
        SilenceState::Expired => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_in_place_or_replace() {
        let mut s = Silences::default();
        let m = vec![SilenceMatcher::equal("a", "1")];
        let id = s
            .set(Silence::new(m.clone(), 0, 100, "me", "c"), 0)
            .unwrap();
        let mut upd = s.get(&id).unwrap().clone();
        upd.ends_at = 200;
        assert_eq!(s.set(upd.clone(), 10).unwrap(), id);
        upd.matchers = vec![SilenceMatcher::equal("a", "2")];
        let id2 = s.set(upd, 20).unwrap();
        assert_ne!(id, id2);
        assert_eq!(s.get(&id).unwrap().state(20), SilenceState::Expired);
        assert_eq!(
            s.gc(20 + DEFAULT_RETENTION_MS, DEFAULT_RETENTION_MS),
            vec![id]
        );
    }

    #[test]
    fn index_agrees_with_a_linear_scan() {
        let mut s = Silences::default();
        let re = SilenceMatcher {
            name: "job".into(),
            value: "ap.*".into(),
            is_regex: true,
            is_equal: true,
        };
        let a = s
            .set(
                Silence::new(
                    vec![SilenceMatcher::equal("alertname", "X")],
                    0,
                    100,
                    "me",
                    "c",
                ),
                0,
            )
            .unwrap();
        let b = s.set(Silence::new(vec![re], 0, 100, "me", "c"), 0).unwrap();
        let c = s
            .set(
                Silence::new(
                    vec![
                        SilenceMatcher::equal("alertname", "X"),
                        SilenceMatcher::equal("job", "db"),
                    ],
                    0,
                    100,
                    "me",
                    "c",
                ),
                0,
            )
            .unwrap();
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs);
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!(s.mutes(&l(&[("alertname", "X"), ("job", "api")]), 1), both);
        assert_eq!(
            s.mutes(&l(&[("alertname", "X"), ("job", "db")]), 1).len(),
            2
        );
        assert!(s
            .mutes(&l(&[("alertname", "X"), ("job", "db")]), 1)
            .contains(&c));
        assert!(!s.is_muted(&l(&[("alertname", "Y"), ("job", "db")]), 1));
        assert!(s.is_muted(&l(&[("alertname", "Y"), ("job", "api")]), 1));
        // Expired silences stay indexed until gc, but no longer mute; gc unfiles them.
        s.expire(&b, 5).unwrap();
        assert!(!s.is_muted(&l(&[("alertname", "Y"), ("job", "api")]), 6));
        assert_eq!(s.mutes(&l(&[("alertname", "X")]), 6), vec![a.clone()]);
        s.expire(&a, 6).unwrap();
        s.expire(&c, 6).unwrap();
        s.gc(6 + DEFAULT_RETENTION_MS, DEFAULT_RETENTION_MS);
        assert!(s.is_empty() && s.by_eq.is_empty() && s.unindexed.is_empty());
    }

    #[test]
    fn files_under_the_rarest_matcher_and_regex_alternatives() {
        let mut s = Silences::default();
        let mk = |ms: Vec<SilenceMatcher>| Silence::new(ms, 0, 100, "me", "c");
        let alt = SilenceMatcher {
            name: "instance".into(),
            value: "h1|h2".into(),
            is_regex: true,
            is_equal: true,
        };
        let a = s
            .set(mk(vec![SilenceMatcher::equal("cluster", "c1")]), 0)
            .unwrap();
        // A tie (1 silence + 1 vs 2 alternatives × (0 + 1)) keeps the first matcher.
        let a2 = s
            .set(
                mk(vec![SilenceMatcher::equal("cluster", "c1"), alt.clone()]),
                0,
            )
            .unwrap();
        // `cluster="c1"` now holds two silences, so this one goes under both alternatives.
        let b = s
            .set(mk(vec![SilenceMatcher::equal("cluster", "c1"), alt]), 0)
            .unwrap();
        let keys = |id: &str| s.by_id[id].keys.clone();
        let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
        assert_eq!(keys(&a), vec![pair("cluster", "c1")]);
        assert_eq!(keys(&a2), vec![pair("cluster", "c1")]);
        assert_eq!(
            keys(&b),
            vec![pair("instance", "h1"), pair("instance", "h2")]
        );
        let l = Labels::from_pairs(&[("cluster", "c1"), ("instance", "h2")]);
        let mut all = vec![a.clone(), a2.clone(), b.clone()];
        all.sort();
        assert_eq!(s.mutes(&l, 1), all);
        // `a2` is filed under `cluster` but its `instance` matcher still applies.
        let h3 = Labels::from_pairs(&[("cluster", "c1"), ("instance", "h3")]);
        assert_eq!(s.mutes(&h3, 1), vec![a]);
        // An alternative that is empty matches an absent label: not indexable.
        let empty_alt = SilenceMatcher {
            name: "x".into(),
            value: "h1|".into(),
            is_regex: true,
            is_equal: true,
        };
        let c = s
            .set(mk(vec![empty_alt, SilenceMatcher::equal("y", "1")]), 0)
            .unwrap();
        assert_eq!(s.by_id[&c].keys, vec![pair("y", "1")]);
    }

    #[test]
    fn rejects_bad_silences() {
        let mut s = Silences::default();
        let empty = SilenceMatcher {
            name: "a".into(),
            value: ".*".into(),
            is_regex: true,
            is_equal: true,
        };
        assert!(s.set(Silence::new(vec![empty], 0, 10, "", ""), 0).is_err());
        assert!(s.set(Silence::new(vec![], 0, 10, "", ""), 0).is_err());
        let m = vec![SilenceMatcher::equal("a", "1")];
        assert!(s.set(Silence::new(m.clone(), 10, 5, "", ""), 0).is_err());
        assert!(s.set(Silence::new(m, 0, 5, "", ""), 10).is_err());
    }
}
