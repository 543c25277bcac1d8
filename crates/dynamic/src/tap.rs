//! The ingest tap: a [`CommitObserver`] registered on the store's write
//! path ([`argus_tsdb::Storage`]); after every successful commit, the samples
//! of series that match a dynamic rule go to the detector task over a
//! bounded channel. Samples the store refused, rolled back appenders and
//! failed commits are never seen.
//!
//! Cost for other series: with every rule pinning its metric name
//! (`name{…}`), one name comparison per sample; otherwise one label hash and
//! one read-locked map lookup (the series → rules decision is cached per
//! series). A full queue drops the batch and counts it
//! (`argus_detect_dropped_samples_total`); ingest never waits on detection.
//! The detector's own outputs (`argus_baseline_*`, `argus_anomaly_*`) are
//! never tapped. A reload swaps the rules ([`Tap::set_rules`]): the cache
//! is cleared and entries carry the rule list's generation, so the detector
//! task re-matches a sample tapped before the swap.
//!
//! ```
//! use argus_dynamic::tap::Tap;
//! use argus_model::ManualClock;
//! use argus_tsdb::{Appender, Db, Options, Storage};
//! use std::sync::Arc;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), Options::default(), Arc::new(ManualClock::new(2_000))).unwrap();
//! let storage = Storage::new(db);
//! // A disabled tap (no dynamic rules) sees nothing.
//! storage.add_observer(Arc::new(Tap::default()));
//! let mut app = storage.appender();
//! app.append_pairs(&[("__name__", "x")], 1_000, 1.0).unwrap();
//! app.commit().unwrap();
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use argus_model::Labels;
use argus_tsdb::{AppendStats, CommitObserver, ObservedBatch};
use parking_lot::RwLock;
use tokio::sync::mpsc;

use crate::config::{matches_pairs, CompiledRule};
use crate::metrics::DetectMetrics;

/// Series kept in the match cache before it is cleared (bounds its memory
/// under series churn; it refills on demand).
const CACHE_MAX: usize = 1 << 20;

/// A tapped series: its labels and the indexes of the rules it matches.
#[derive(Debug)]
pub struct TappedSeries {
    /// The full label set, `__name__` included.
    pub labels: Labels,
    /// Indexes into the rule list of generation `generation`.
    pub rules: Vec<u16>,
    /// The rule list's generation (bumped by every reload).
    pub generation: u64,
}

/// One tapped sample.
#[derive(Debug, Clone)]
pub struct TapSample {
    /// The series.
    pub series: Arc<TappedSeries>,
    /// Timestamp, ms.
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// The samples of one commit.
#[derive(Debug)]
pub struct TapBatch {
    /// The samples, in append order.
    pub samples: Vec<TapSample>,
    /// When the first of them was appended (start of the latency measure).
    pub appended_at: Instant,
}

struct Matching {
    rules: Arc<[CompiledRule]>,
    names: Option<HashSet<String>>,
    generation: u64,
    cache: HashMap<u64, Option<Arc<TappedSeries>>>,
}

struct Inner {
    /// Whether any rule is configured (the append path's fast check).
    active: AtomicBool,
    matching: RwLock<Matching>,
    tx: mpsc::Sender<TapBatch>,
    metrics: Arc<DetectMetrics>,
}

fn names_of(rules: &[CompiledRule]) -> Option<HashSet<String>> {
    rules
        .iter()
        .map(|r| r.names.clone())
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// The handle append paths hold; cheap to clone. `Tap::default()` is off.
#[derive(Clone, Default)]
pub struct Tap(Option<Arc<Inner>>);

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("enabled", &self.0.is_some())
            .finish()
    }
}

fn is_output(name: &str) -> bool {
    name.starts_with("argus_baseline_") || name.starts_with("argus_anomaly_")
}

impl Tap {
    /// A tap for `rules` (generation 0) sending to `tx`; it only forwards
    /// while there are no rules, until [`Tap::set_rules`] brings some.
    pub fn new(
        rules: Arc<[CompiledRule]>,
        tx: mpsc::Sender<TapBatch>,
        metrics: Arc<DetectMetrics>,
    ) -> Tap {
        Tap(Some(Arc::new(Inner {
            active: AtomicBool::new(!rules.is_empty()),
            matching: RwLock::new(Matching {
                names: names_of(&rules),
                rules,
                generation: 0,
                cache: HashMap::new(),
            }),
            tx,
            metrics,
        })))
    }

    /// Swaps in a reloaded rule list of `generation` and clears the cache.
    /// No effect on `Tap::default()`.
    pub fn set_rules(&self, rules: Arc<[CompiledRule]>, generation: u64) {
        let Some(inner) = &self.0 else { return };
        let mut m = inner.matching.write();
        inner.active.store(!rules.is_empty(), Ordering::Release);
        m.names = names_of(&rules);
        m.rules = rules;
        m.generation = generation;
        m.cache.clear();
    }

    /// The `argus_detect_*` self-metrics (empty when off).
    pub fn metrics_text(&self) -> String {
        self.0
            .as_ref()
            .map(|i| i.metrics.render())
            .unwrap_or_default()
    }

    /// Whether any rule is configured.
    pub fn enabled(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|i| i.active.load(Ordering::Acquire))
    }

    /// The series entry when `pairs` match some rule (cached per series).
    pub fn lookup(&self, pairs: &[(&str, &str)]) -> Option<Arc<TappedSeries>> {
        let inner = self.0.as_ref()?;
        let name = pairs
            .iter()
            .find(|(n, _)| *n == "__name__")
            .map_or("", |(_, v)| v);
        if is_output(name) {
            return None;
        }
        let key = argus_model::hash_pairs(pairs.iter().copied());
        let (all, generation) = {
            let m = inner.matching.read();
            if let Some(names) = &m.names {
                if !names.contains(name) {
                    return None;
                }
            }
            if let Some(hit) = m.cache.get(&key) {
                return hit.clone();
            }
            (m.rules.clone(), m.generation)
        };
        let rules: Vec<u16> = all
            .iter()
            .enumerate()
            .filter(|(_, r)| matches_pairs(&r.sets, pairs))
            // The rule count is capped at u16::MAX by `compile_rules`.
            .map(|(i, _)| i as u16)
            .collect();
        let entry = (!rules.is_empty()).then(|| {
            Arc::new(TappedSeries {
                labels: Labels::from_pairs(pairs),
                rules,
                generation,
            })
        });
        let mut m = inner.matching.write();
        // A reload in between: the entry is still right for its generation
        // (the detector task re-matches it), but it is not cached.
        if m.generation == generation {
            if m.cache.len() >= CACHE_MAX {
                m.cache.clear();
            }
            m.cache.insert(key, entry.clone());
        }
        entry
    }

    /// Hands a committed batch to the detector task without waiting.
    pub fn send(&self, batch: TapBatch) {
        let Some(inner) = &self.0 else { return };
        let n = batch.samples.len() as u64;
        if n == 0 {
            return;
        }
        match inner.tx.try_send(batch) {
            Ok(()) => {
                inner.metrics.tapped.fetch_add(n, Ordering::Relaxed);
            }
            Err(_) => {
                inner.metrics.dropped.fetch_add(n, Ordering::Relaxed);
            }
        }
    }
}

impl CommitObserver for Tap {
    /// A batch for every appender while the tap exists (`Tap::default()`
    /// wants nothing); whether any rule is configured is checked per sample,
    /// so a reload takes effect at once.
    fn begin(&self) -> Option<Box<dyn ObservedBatch>> {
        self.0.as_ref()?;
        Some(Box::new(TapStage {
            tap: self.clone(),
            staged: Vec::new(),
            first: None,
        }))
    }
}

/// One appender's tapped samples, sent after its successful commit.
struct TapStage {
    tap: Tap,
    staged: Vec<TapSample>,
    first: Option<Instant>,
}

impl ObservedBatch for TapStage {
    fn accepted(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) {
        if !self.tap.enabled() {
            return;
        }
        // Stale markers and other non-finite values are not scored.
        if v.is_finite() {
            if let Some(series) = self.tap.lookup(pairs) {
                self.first.get_or_insert_with(Instant::now);
                self.staged.push(TapSample { series, t, v });
            }
        }
    }

    fn committed(self: Box<Self>, _: &AppendStats) {
        let TapStage { tap, staged, first } = *self;
        if let Some(appended_at) = first {
            tap.send(TapBatch {
                samples: staged,
                appended_at,
            });
        }
    }
}

#[cfg(test)]
#[path = "tap_tests.rs"]
mod tests;
