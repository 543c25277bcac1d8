//! Reading the store: the chunks' blocks that match, the head being flushed, and the head,
//! merged per stream. Chunk blocks are read after the state lock is released, so a long
//! query never holds up an append.

use super::chunk::{BlockMeta, ChunkFile};
use super::{Head, LogStore};
use crate::patterns::PatternCounter;
use crate::record::{in_range, selects as matches, Entry, LogSource, SourceError};
use argus_model::{Labels, Matcher};
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::sync::Arc;

fn overlaps(min: i64, max: i64, start: i64, end: i64) -> bool {
    min < end && max >= start
}

/// Streams gathered for one read, in the order first met.
#[derive(Default)]
struct Gather {
    streams: Vec<(Labels, Vec<Entry>, bool)>,
    by_labels: FxHashMap<Labels, usize>,
    lines: usize,
}

impl Gather {
    fn add(&mut self, labels: &Labels, entries: &[Entry], limit: usize) -> Result<(), SourceError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.lines += entries.len();
        if self.lines > limit {
            return Err(SourceError::TooMany { limit });
        }
        let i = match self.by_labels.get(labels) {
            Some(&i) => i,
            None => {
                self.streams.push((labels.clone(), Vec::new(), true));
                self.by_labels
                    .insert(labels.clone(), self.streams.len() - 1);
                self.streams.len() - 1
            }
        };
        let (_, v, sorted) = &mut self.streams[i];
        if v.last().is_some_and(|l| l.ts_ns > entries[0].ts_ns) {
            *sorted = false;
        }
        v.extend_from_slice(entries);
        Ok(())
    }
}

fn heads_labels(head: &Head, start: i64, end: i64, out: &mut Vec<Labels>) {
    for s in &head.streams {
        if let (Some(f), Some(l)) = (s.entries.first(), s.entries.last()) {
            if overlaps(f.ts_ns, l.ts_ns, start, end) {
                out.push(s.labels.clone());
            }
        }
    }
}

/// The blocks of `chunks` that hold lines of matching streams in the range.
fn blocks<'a>(
    chunks: &'a [Arc<ChunkFile>],
    matchers: &'a [Matcher],
    start_ns: i64,
    end_ns: i64,
) -> impl Iterator<Item = (&'a ChunkFile, &'a BlockMeta)> + 'a {
    chunks.iter().flat_map(move |c| {
        c.blocks
            .iter()
            .filter(move |b| {
                overlaps(b.min_ts, b.max_ts, start_ns, end_ns) && matches(matchers, &b.labels)
            })
            .map(move |b| (&**c, b))
    })
}

impl LogStore {
    /// Label sets of streams with lines in the range (repeats across chunks included).
    fn stream_labels(&self, start: i64, end: i64) -> Vec<Labels> {
        let st = self.state.read();
        let mut out = Vec::new();
        for c in st
            .chunks
            .iter()
            .filter(|c| overlaps(c.min_ts, c.max_ts, start, end))
        {
            for b in &c.blocks {
                if overlaps(b.min_ts, b.max_ts, start, end) {
                    out.push(b.labels.clone());
                }
            }
        }
        if let Some(f) = &st.flushing {
            heads_labels(f, start, end, &mut out);
        }
        heads_labels(&st.head, start, end, &mut out);
        out
    }

    /// Under the lock: the chunks that overlap the range, and copies of the heads' matching
    /// lines in it.
    fn snapshot(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<(Vec<Arc<ChunkFile>>, Gather), SourceError> {
        let limit = self.opts.max_read_lines;
        let st = self.state.read();
        let chunks = st
            .chunks
            .iter()
            .filter(|c| overlaps(c.min_ts, c.max_ts, start_ns, end_ns))
            .cloned()
            .collect();
        let mut h = Gather::default();
        for head in st.flushing.iter().map(|f| &**f).chain([&st.head]) {
            for s in head.streams.iter().filter(|s| matches(matchers, &s.labels)) {
                h.add(&s.labels, in_range(&s.entries, start_ns, end_ns), limit)?;
            }
        }
        Ok((chunks, h))
    }

    fn read(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        with_lines: bool,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError> {
        let limit = self.opts.max_read_lines;
        let mut g = Gather::default();
        let (chunks, from_heads) = self.snapshot(matchers, start_ns, end_ns)?;
        for (c, b) in blocks(&chunks, matchers, start_ns, end_ns) {
            let entries = c.read_block(b, with_lines)?.entries;
            g.add(&b.labels, in_range(&entries, start_ns, end_ns), limit)?;
        }
        for (labels, entries, _) in from_heads.streams {
            g.add(&labels, &entries, limit)?;
        }
        for (labels, mut entries, sorted) in g.streams {
            if !sorted {
                entries.sort_by_key(|e| e.ts_ns);
            }
            if !visit(&labels, &entries) {
                break;
            }
        }
        Ok(())
    }
}

impl LogSource for LogStore {
    fn scan(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError> {
        self.read(matchers, start_ns, end_ns, true, visit)
    }

    /// Lines in chunks are not read (the block's times and metadata come before them); lines
    /// in memory are handed out as they are.
    fn scan_times(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
        visit: &mut dyn FnMut(&Labels, &[Entry]) -> bool,
    ) -> Result<(), SourceError> {
        self.read(matchers, start_ns, end_ns, false, visit)
    }

    /// Lines in chunks are counted under the templates kept with them, without mining them
    /// again; lines still in the head are mined per stream.
    fn patterns(
        &self,
        matchers: &[Matcher],
        counter: &mut PatternCounter,
    ) -> Result<(), SourceError> {
        let limit = self.opts.max_read_lines;
        let (start_ns, end_ns) = counter.range();
        let (chunks, from_heads) = self.snapshot(matchers, start_ns, end_ns)?;
        for (c, b) in blocks(&chunks, matchers, start_ns, end_ns) {
            let block = c.read_block(b, true)?;
            if block.templates.is_empty() {
                counter.add_mined(in_range(&block.entries, start_ns, end_ns));
            } else {
                for (e, &t) in block.entries.iter().zip(&block.template_of) {
                    counter.add(&block.templates[t as usize], e.ts_ns);
                }
            }
            if counter.lines() > limit {
                return Err(SourceError::TooMany { limit });
            }
        }
        for (_, entries, sorted) in &from_heads.streams {
            if *sorted {
                counter.add_mined(entries);
            } else {
                let mut entries = entries.clone();
                entries.sort_by_key(|e| e.ts_ns);
                counter.add_mined(&entries);
            }
        }
        Ok(())
    }

    fn label_names(&self, start_ns: i64, end_ns: i64) -> Result<Vec<String>, SourceError> {
        let names: BTreeSet<String> = self
            .stream_labels(start_ns, end_ns)
            .iter()
            .flat_map(|l| l.iter().map(|l| l.name.clone()))
            .collect();
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<String>, SourceError> {
        let values: BTreeSet<String> = self
            .stream_labels(start_ns, end_ns)
            .iter()
            .filter(|l| matches(matchers, l))
            .filter_map(|l| l.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().collect())
    }

    fn series(
        &self,
        matchers: &[Matcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, SourceError> {
        let set: BTreeSet<Labels> = self
            .stream_labels(start_ns, end_ns)
            .into_iter()
            .filter(|l| matches(matchers, l))
            .collect();
        Ok(set.into_iter().collect())
    }
}
