//! The batch appender: stages samples against the head, then writes one WAL
//! write per commit and applies the batch. Samples older than the head go
//! to blocks at commit instead (see the `backfill` module).
//!
//! ```text
//! let mut app = db.appender();
//! app.append_pairs(&[("__name__", "up"), ("job", "a")], 1_000, 1.0)?;
//! let stats = app.commit()?; // durable against kill -9 once Ok
//! ```

use crate::wal;
use crate::window::Window;
use crate::{AppendStats, Appender, Db, SampleError, TsdbError};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// The [`Appender`] of a [`Db`]. Owned and `Send`; staged samples are
/// invisible until [`Appender::commit`]. The window of accepted timestamps
/// is taken from the clock when the appender is created.
pub struct DbAppender {
    db: Db,
    window: Window,
    samples: Vec<(u64, i64, f64)>,
    unlogged: Vec<u32>,
    unlogged_set: HashSet<u32>,
    created: u64,
    /// Samples older than the head, written to blocks at commit.
    history: Vec<(crate::backfill::Pairs, i64, f64)>,
    /// WAL records of the commit; also the series key's scratch space.
    buf: Vec<u8>,
}

impl std::fmt::Debug for DbAppender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbAppender")
            .field("staged", &self.samples.len())
            .finish()
    }
}

impl DbAppender {
    pub(crate) fn new(db: Db) -> Self {
        DbAppender {
            window: db.append_window(),
            db,
            samples: Vec::new(),
            unlogged: Vec::new(),
            unlogged_set: HashSet::new(),
            created: 0,
            history: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Number of staged samples.
    pub fn len(&self) -> usize {
        self.samples.len() + self.history.len()
    }

    /// True when nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.history.is_empty()
    }

    fn encode(&mut self) {
        let head = &self.db.inner.head;
        self.buf.clear();
        if !self.unlogged.is_empty() {
            let labels: Vec<(u64, Box<[u32]>)> = self
                .unlogged
                .iter()
                .filter_map(|&id| head.with_series(id, |s| (u64::from(id), s.labels.clone())))
                .collect();
            let syms = head.symbols.read();
            wal::encode_series(
                &mut self.buf,
                labels.iter().map(|(id, l)| {
                    (
                        *id,
                        l.chunks_exact(2).map(|c| (syms.str(c[0]), syms.str(c[1]))),
                    )
                }),
            );
        }
        wal::encode_samples(&mut self.buf, &self.samples);
    }
}

impl Appender for DbAppender {
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
        if !self.window.contains(t) {
            let c = &self.db.inner.counters;
            c.rejected_window.fetch_add(1, Ordering::Relaxed);
            return Err(SampleError::OutOfWindow {
                series: crate::head::pairs_text(pairs),
                t,
                min: self.window.min,
                max: self.window.max,
            });
        }
        let key = crate::head::series_key(pairs, &mut self.buf);
        let res = self.db.inner.head.stage(pairs, key, t, v);
        let c = &self.db.inner.counters;
        match res {
            Ok((id, needs_log, created)) => {
                if needs_log && self.unlogged_set.insert(id) {
                    self.unlogged.push(id);
                }
                self.created += u64::from(created);
                self.samples.push((u64::from(id), t, v));
                Ok(())
            }
            // History: before the head's lower bound, or older than anything
            // the head holds for this series. It goes to a block at commit.
            Err(SampleError::OutOfBounds { .. }) => {
                self.stage_history(pairs, t, v);
                Ok(())
            }
            Err(SampleError::OutOfOrder { .. })
                if self.db.inner.head.series_min_t(key).is_some_and(|m| t < m) =>
            {
                self.stage_history(pairs, t, v);
                Ok(())
            }
            Err(e) => {
                match e {
                    SampleError::OutOfOrder { .. } => {
                        c.rejected_ooo.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => c.rejected_other.fetch_add(1, Ordering::Relaxed),
                };
                Err(e)
            }
        }
    }

    fn commit(mut self) -> Result<AppendStats, TsdbError> {
        if self.samples.is_empty() && self.unlogged.is_empty() && self.history.is_empty() {
            return Ok(AppendStats::default());
        }
        let inner = &self.db.inner;
        let now = inner.clock.now_ms();
        if let Some(reason) = inner.space.check(now) {
            return Err(TsdbError::ReadOnly(reason));
        }
        // History first: a failure here leaves the head untouched, so the
        // sender's retry is not half applied.
        let backfilled = if self.history.is_empty() {
            0
        } else {
            match self.db.write_backfill(std::mem::take(&mut self.history)) {
                Ok(n) => n,
                Err(TsdbError::Io { path, source }) if crate::space::is_no_space(&source) => {
                    let reason = inner.space.mark_full(now, &path, &source);
                    return Err(TsdbError::ReadOnly(reason));
                }
                Err(e) => return Err(e),
            }
        };
        if self.samples.is_empty() && self.unlogged.is_empty() {
            inner
                .counters
                .appended
                .fetch_add(backfilled, Ordering::Relaxed);
            return Ok(AppendStats {
                samples: backfilled,
                new_series: 0,
                rejected: 0,
            });
        }
        self.encode();
        let inner = &self.db.inner;
        let applied = {
            let _gate = inner.gate.read();
            match inner.wal.lock().write(&self.buf) {
                Ok(()) => {}
                Err(TsdbError::Io { path, source }) if crate::space::is_no_space(&source) => {
                    let reason = inner.space.mark_full(now, &path, &source);
                    return Err(TsdbError::ReadOnly(reason));
                }
                Err(e) => return Err(e),
            }
            // Marks every series it touches logged: this write holds their records.
            inner.head.apply(&self.samples)
        };
        let c = &inner.counters;
        c.appended
            .fetch_add(applied.added + backfilled, Ordering::Relaxed);
        c.rejected_ooo
            .fetch_add(applied.out_of_order, Ordering::Relaxed);
        c.rejected_other.fetch_add(applied.other, Ordering::Relaxed);
        let rejected = applied.out_of_order + applied.other;
        if rejected > 0 {
            tracing::warn!(
                rejected,
                staged = self.samples.len(),
                "The store refused staged samples when applying a commit (a concurrent commit or a compaction got there first); the commit reports them as rejected."
            );
        }
        Ok(AppendStats {
            samples: applied.added + backfilled,
            new_series: self.created,
            rejected,
        })
    }

    fn rollback(self) {}
}

impl DbAppender {
    /// Staged samples older than the head (written to blocks at commit).
    pub(crate) fn history_len(&self) -> usize {
        self.history.len()
    }

    fn stage_history(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) {
        let owned = pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.history.push((owned, t, v));
    }
}
