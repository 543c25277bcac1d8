//! The queue's read side: a position in the WAL, the labels of the series
//! ids seen so far (external labels added, `write_relabel_configs`
//! applied), and reading the next samples after the position.
//!
//! A position is `segment offset index`: the record at byte `offset` of
//! segment `segment`, of which the first `index` samples were sent.

use super::Labels as SentLabels;
use crate::relabel::{relabel, RelabelConfig};
use argus_model::Labels;
use argus_tsdb::wal_read::{self, Next, SegmentReader, WalRecord};
use argus_tsdb::TsdbError;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `(series id, t, v)` of one samples record.
type WalSamples = Vec<(u64, i64, f64)>;

/// Where the queue is in the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// The segment number.
    pub segment: u64,
    /// The byte offset of a record in it (0: its first record).
    pub offset: u64,
    /// Samples of that record already sent.
    pub index: u64,
}

impl Position {
    /// Reads a position file; `None` when there is none or it is damaged
    /// (logged).
    pub fn load(path: &Path) -> Option<Position> {
        let text = fs::read_to_string(path).ok()?;
        let mut it = text.split_whitespace().map(|w| w.parse::<u64>());
        match (it.next(), it.next(), it.next()) {
            (Some(Ok(segment)), Some(Ok(offset)), Some(Ok(index))) => Some(Position {
                segment,
                offset,
                index,
            }),
            _ => {
                tracing::error!(path = %path.display(), "The remote_write position file is damaged; the queue starts at the end of the WAL.");
                None
            }
        }
    }

    /// Writes the position file atomically (temporary file and rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{} {} {}", self.segment, self.offset, self.index)?;
        f.sync_data()?;
        drop(f);
        fs::rename(&tmp, path)
    }
}

/// One sample read for sending.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub(crate) series: u64,
    pub(crate) labels: SentLabels,
    pub(crate) t: i64,
    pub(crate) v: f64,
}

/// What one read found besides samples.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadStats {
    /// Samples not sent: dropped by relabeling or the age limit, or of a
    /// series whose labels were not found.
    pub(crate) dropped: u64,
    /// True when the read stopped at the end of what is written.
    pub(crate) at_end: bool,
}

/// Reads samples after a position.
pub(crate) struct Cursor {
    wal_dir: PathBuf,
    external: BTreeMap<String, String>,
    relabel: Vec<RelabelConfig>,
    /// Label sets by series id; `None`: dropped by relabeling.
    series: HashMap<u64, Option<SentLabels>>,
    reader: Option<SegmentReader>,
    pos: Position,
    /// The samples record at `pos.offset`, and where the next record starts.
    current: Option<(WalSamples, u64)>,
    missing_logged: bool,
}

impl Cursor {
    /// A cursor at `start`, or at the end of the WAL when `None`. Learns the
    /// series written before the position from the newest checkpoint and
    /// the segments up to it.
    pub(crate) fn open(
        wal_dir: &Path,
        start: Option<Position>,
        external: BTreeMap<String, String>,
        relabel: Vec<RelabelConfig>,
    ) -> Result<Cursor, TsdbError> {
        let mut c = Cursor {
            wal_dir: wal_dir.to_path_buf(),
            external,
            relabel,
            series: HashMap::new(),
            reader: None,
            pos: Position {
                segment: 0,
                offset: 0,
                index: 0,
            },
            current: None,
            missing_logged: false,
        };
        let files = wal_read::list(wal_dir)?;
        let last = files.segments.last().copied().unwrap_or(0);
        let target = match start {
            Some(p) if files.segments.contains(&p.segment) => p,
            Some(p) => {
                let next = files.segments.iter().copied().find(|&s| s > p.segment);
                tracing::error!(segment = p.segment, resumed_at = ?next, "The WAL segment the remote_write queue stopped in was deleted (the unsent WAL exceeded its bound); samples in between are lost for this remote.");
                Position {
                    segment: next.unwrap_or(last),
                    offset: 0,
                    index: 0,
                }
            }
            None => Position {
                segment: last,
                offset: u64::MAX,
                index: 0,
            },
        };
        if let Some(cp) = files.checkpoint {
            let mut add = |id, pairs: Vec<(String, String)>| c.learn(id, pairs);
            wal_read::checkpoint_series(wal_dir, cp, &mut add)?;
        }
        let from = match files.checkpoint {
            Some(cp) if cp <= target.segment => cp,
            _ => 0,
        };
        for &s in files
            .segments
            .iter()
            .filter(|&&s| s >= from && s <= target.segment)
        {
            let stop = if s == target.segment {
                target.offset
            } else {
                u64::MAX
            };
            let mut r = match SegmentReader::open(wal_dir, s, 0) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(segment = s, error = %e, "Skipping a WAL segment the remote_write queue cannot read while learning series.");
                    continue;
                }
            };
            while r.offset() < stop {
                match r.next_record()? {
                    Next::Record { record, .. } => {
                        if let WalRecord::Series(list) = record {
                            for (id, pairs) in list {
                                c.learn(id, pairs);
                            }
                        }
                    }
                    Next::End | Next::Corrupt { .. } => break,
                }
            }
            if s == target.segment {
                c.pos = Position {
                    segment: s,
                    offset: r.offset(),
                    index: if r.offset() == target.offset {
                        target.index
                    } else {
                        0
                    },
                };
                c.reader = Some(r);
            }
        }
        if c.reader.is_none() {
            c.pos = Position {
                segment: target.segment.max(1),
                offset: 0,
                index: 0,
            };
        }
        Ok(c)
    }

    /// The position after everything returned so far.
    pub(crate) fn position(&self) -> Position {
        self.pos
    }

    /// Series ids known.
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    fn learn(&mut self, id: u64, pairs: Vec<(String, String)>) {
        let mut l = Labels::from_pairs(&pairs);
        for (k, v) in &self.external {
            if l.get(k).is_none() {
                l.set(k, v);
            }
        }
        let kept = relabel(&mut l, &self.relabel) && !l.is_empty();
        let out = kept.then(|| {
            let v: Vec<(String, String)> = l
                .iter()
                .map(|x| (x.name.to_string(), x.value.to_string()))
                .collect();
            Arc::new(v)
        });
        self.series.insert(id, out);
    }

    /// Appends up to `max` samples to `out`. Samples older than `min_t` are
    /// dropped.
    pub(crate) fn read(
        &mut self,
        max: usize,
        min_t: i64,
        out: &mut Vec<Item>,
    ) -> Result<ReadStats, TsdbError> {
        let mut st = ReadStats::default();
        let goal = out.len() + max;
        while out.len() < goal {
            if let Some((samples, end)) = &self.current {
                let i = self.pos.index as usize;
                if i < samples.len() {
                    let take = (goal - out.len()).min(samples.len() - i);
                    for &(id, t, v) in &samples[i..i + take] {
                        match self.series.get(&id) {
                            Some(Some(labels)) if t >= min_t => out.push(Item {
                                series: id,
                                labels: labels.clone(),
                                t,
                                v,
                            }),
                            Some(_) => st.dropped += 1,
                            None => {
                                st.dropped += 1;
                                if !self.missing_logged {
                                    self.missing_logged = true;
                                    tracing::error!(series_id = id, segment = self.pos.segment, "A WAL sample names a series whose labels the remote_write queue never read; it is not sent (counted as dropped).");
                                }
                            }
                        }
                    }
                    self.pos.index += take as u64;
                    continue;
                }
                self.pos = Position {
                    segment: self.pos.segment,
                    offset: *end,
                    index: 0,
                };
                self.current = None;
            }
            if self.reader.is_none() {
                match SegmentReader::open(&self.wal_dir, self.pos.segment, self.pos.offset) {
                    Ok(r) => self.reader = Some(r),
                    Err(e) => {
                        if !self.skip_missing_segment()? {
                            tracing::debug!(error = %e, "The next WAL segment is not there yet.");
                            st.at_end = true;
                            return Ok(st);
                        }
                        continue;
                    }
                }
            }
            let Some(r) = self.reader.as_mut() else {
                continue;
            };
            let next = r.next_record()?;
            match next {
                Next::Record { record, end, .. } => match record {
                    WalRecord::Series(list) => {
                        for (id, pairs) in list {
                            self.learn(id, pairs);
                        }
                        self.pos.offset = end;
                    }
                    WalRecord::Samples(s) => self.current = Some((s, end)),
                    WalRecord::Other => self.pos.offset = end,
                },
                Next::End => {
                    if !self.newer_segment_exists()? {
                        st.at_end = true;
                        return Ok(st);
                    }
                    // The writer moved on: read once more (bytes written just
                    // before the cut), then go to the next segment.
                    let again = match self.reader.as_mut() {
                        Some(r) => r.next_record()?,
                        None => Next::End,
                    };
                    match again {
                        Next::Record { record, end, .. } => match record {
                            WalRecord::Series(list) => {
                                for (id, pairs) in list {
                                    self.learn(id, pairs);
                                }
                                self.pos.offset = end;
                            }
                            WalRecord::Samples(s) => self.current = Some((s, end)),
                            WalRecord::Other => self.pos.offset = end,
                        },
                        _ => self.next_segment()?,
                    }
                }
                Next::Corrupt { offset, reason } => {
                    if !self.newer_segment_exists()? {
                        st.at_end = true;
                        return Ok(st);
                    }
                    tracing::error!(segment = self.pos.segment, offset, reason, "The remote_write queue found a damaged WAL record; the rest of the segment is skipped.");
                    self.next_segment()?;
                }
            }
        }
        Ok(st)
    }

    fn newer_segment_exists(&self) -> Result<bool, TsdbError> {
        Ok(wal_read::list(&self.wal_dir)?
            .segments
            .iter()
            .any(|&s| s > self.pos.segment))
    }

    fn next_segment(&mut self) -> Result<(), TsdbError> {
        let files = wal_read::list(&self.wal_dir)?;
        let next = files
            .segments
            .iter()
            .copied()
            .find(|&s| s > self.pos.segment)
            .unwrap_or(self.pos.segment + 1);
        self.pos = Position {
            segment: next,
            offset: 0,
            index: 0,
        };
        self.reader = None;
        self.current = None;
        Ok(())
    }

    /// When the position's segment is gone but later ones exist (deleted by
    /// the WAL hold's bound), moves to the first later one. Returns whether
    /// it moved.
    fn skip_missing_segment(&mut self) -> Result<bool, TsdbError> {
        let files = wal_read::list(&self.wal_dir)?;
        if files.segments.contains(&self.pos.segment) {
            return Ok(false);
        }
        match files
            .segments
            .iter()
            .copied()
            .find(|&s| s > self.pos.segment)
        {
            Some(next) => {
                tracing::error!(segment = self.pos.segment, resumed_at = next, "A WAL segment the remote_write queue had not sent was deleted (the unsent WAL exceeded its bound); its samples are lost for this remote.");
                self.pos = Position {
                    segment: next,
                    offset: 0,
                    index: 0,
                };
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[cfg(test)]
#[path = "cursor_tests.rs"]
mod tests;
