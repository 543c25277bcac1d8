//! Reads over the head and the blocks: series merged by label set and
//! deduplicated by timestamp (a block's sample wins over the head's).
//!
//! ```text
//! let series = db.select(&[Matcher::eq("job", "node")], 0, i64::MAX)?;
//! let names = db.label_names(&[], 0, i64::MAX)?;
//! ```

use crate::index::{Postings, Symbols};
use crate::{Db, Querier, Series, TsdbError};
use argus_model::{Labels, MatchOp, Matcher, Sample, METRIC_NAME};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

/// True when label names and values can come from the postings indexes
/// alone: no matchers, or only `__name__="..."`.
fn index_only(matchers: &[Matcher]) -> bool {
    matchers
        .iter()
        .all(|m| m.name == METRIC_NAME && m.op == MatchOp::Eq)
}

impl Db {
    fn overlapping_blocks(&self, mint: i64, maxt: i64) -> Vec<std::sync::Arc<crate::block::Block>> {
        self.inner
            .blocks
            .read()
            .iter()
            .filter(|b| b.meta().mint <= maxt && b.meta().maxt >= mint)
            .cloned()
            .collect()
    }

    fn head_overlaps(&self, mint: i64, maxt: i64) -> bool {
        let head = &self.inner.head;
        head.min_t.load(Ordering::Acquire) <= maxt && head.max_t.load(Ordering::Acquire) >= mint
    }

    /// Label names from the postings indexes (see [`index_only`]). Like
    /// Prometheus, a block or head that overlaps `[mint, maxt]` contributes the
    /// names of all its matching series, even those without samples in range.
    fn index_label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for b in self.overlapping_blocks(mint, maxt) {
            if matchers.is_empty() {
                names.extend(b.postings.names(&b.symbols));
                continue;
            }
            let mut seen = BTreeSet::new();
            for id in b.postings.select(matchers, &b.symbols) {
                if let Some(s) = b.series.get(id as usize) {
                    seen.extend(s.labels.chunks_exact(2).map(|c| c[0]));
                }
            }
            names.extend(seen.into_iter().map(|n| b.symbols.str(n).to_string()));
        }
        if self.head_overlaps(mint, maxt) {
            let head = &self.inner.head;
            if matchers.is_empty() {
                let syms = head.symbols.read();
                names.extend(head.postings.read().names(&syms));
            } else {
                // Shard locks are taken with no index lock held (staging takes
                // a shard lock, then the symbols).
                let mut seen = BTreeSet::new();
                for id in head.select_ids(matchers) {
                    head.with_series(id, |s| seen.extend(s.labels.chunks_exact(2).map(|c| c[0])));
                }
                let syms = head.symbols.read();
                names.extend(seen.into_iter().map(|n| syms.str(n).to_string()));
            }
        }
        names
    }

    /// Label values from the postings indexes; same caveat as [`Self::index_label_names`].
    fn index_label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> BTreeSet<String> {
        let mut vals = BTreeSet::new();
        let mut from = |p: &Postings, syms: &Symbols| {
            if matchers.is_empty() {
                vals.extend(p.values(name, syms));
            } else {
                let ids = p.select(matchers, syms);
                vals.extend(p.values_among(name, &ids, syms));
            }
        };
        for b in self.overlapping_blocks(mint, maxt) {
            from(&b.postings, &b.symbols);
        }
        if self.head_overlaps(mint, maxt) {
            let head = &self.inner.head;
            let syms = head.symbols.read();
            let p = head.postings.read();
            from(&p, &syms);
        }
        vals
    }

    /// Label sets (with samples when `with_samples`) of matching series with
    /// data in `[mint, maxt]`, blocks first, head last.
    /// Matching series with data in `[mint, maxt]`, with their samples when
    /// `with_samples`. Past `max_samples` samples (0: no limit) it stops
    /// reading and fails, so a query over too much data is refused after
    /// reading at most one series past its budget, not after reading it all.
    fn gather(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        with_samples: bool,
        max_samples: usize,
    ) -> Result<BTreeMap<Labels, Vec<Sample>>, TsdbError> {
        let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
        let mut total = 0usize;
        let mut count = |n: usize| -> Result<(), TsdbError> {
            total = total.saturating_add(n);
            if max_samples > 0 && total > max_samples {
                return Err(TsdbError::Limit(format!(
                    "the query would load more than {max_samples} samples"
                )));
            }
            Ok(())
        };
        let blocks: Vec<_> = self
            .inner
            .blocks
            .read()
            .iter()
            .filter(|b| b.meta().mint <= maxt && b.meta().maxt >= mint)
            .cloned()
            .collect();
        for b in blocks {
            for idx in b.select_ids(matchers) {
                let idx = idx as usize;
                let Some(s) = b.series.get(idx) else { continue };
                if s.mint > maxt || s.maxt < mint {
                    continue;
                }
                if !with_samples {
                    out.entry(b.labels(idx)).or_default();
                    continue;
                }
                match b.read_series(idx) {
                    Ok(mut all) => {
                        let lo = all.partition_point(|x| x.t < mint);
                        let hi = all.partition_point(|x| x.t <= maxt);
                        if lo < hi {
                            count(hi - lo)?;
                            all.truncate(hi);
                            all.drain(..lo);
                            append_samples(out.entry(b.labels(idx)).or_default(), all);
                        }
                    }
                    Err(err) => {
                        tracing::error!(path = %b.dir().display(), series = %b.labels(idx), error = %err, "Skipping unreadable series data in a block.");
                    }
                }
            }
        }
        let head = &self.inner.head;
        let (hmin, hmax) = (
            head.min_t.load(Ordering::Acquire),
            head.max_t.load(Ordering::Acquire),
        );
        if hmin <= maxt && hmax >= mint {
            for id in head.select_ids(matchers) {
                let mut buf = Vec::new();
                let got = head.with_series(id, |s| {
                    let overlaps = s.min_t().is_some_and(|m| m <= maxt)
                        && s.max_t().is_some_and(|m| m >= mint);
                    if with_samples {
                        if let (Some(lo), Some(hi)) = (s.min_t(), s.max_t()) {
                            buf.reserve(overlap_estimate(s.len(), lo, hi, mint, maxt));
                        }
                        s.samples_in(mint, maxt, &mut buf);
                    }
                    let keep = if with_samples {
                        !buf.is_empty()
                    } else {
                        overlaps || s.ooo().iter().any(|o| o.t >= mint && o.t <= maxt)
                    };
                    keep.then(|| s.labels.clone())
                });
                if let Some(Some(ids)) = got {
                    count(buf.len())?;
                    let labels = head.symbols.read().labels(&ids);
                    append_samples(out.entry(labels).or_default(), buf);
                }
            }
        }
        Ok(out)
    }
}

/// Samples of a series of `len` samples over `[lo, hi]` expected in
/// `[mint, maxt]`, assuming even spacing, so the vector is not regrown (and
/// copied) while decoding. Computed in `i128` and capped at `len`: extreme
/// timestamps never overflow or ask for more than the series holds.
fn overlap_estimate(len: usize, lo: i64, hi: i64, mint: i64, maxt: i64) -> usize {
    let span = (i128::from(hi) - i128::from(lo)).max(1);
    let part = (i128::from(maxt.min(hi)) - i128::from(mint.max(lo))).clamp(0, span);
    let est = (len as i128).saturating_mul(part) / span;
    usize::try_from(est)
        .unwrap_or(len)
        .min(len)
        .saturating_add(2)
}

/// Appends `more` to `into`, moving it (no copy) when `into` is empty.
fn append_samples(into: &mut Vec<Sample>, mut more: Vec<Sample>) {
    if into.is_empty() {
        *into = more;
    } else {
        into.append(&mut more);
    }
}

impl Querier for Db {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, TsdbError> {
        self.select_limited(matchers, mint, maxt, 0)
    }

    fn select_limited(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        max_samples: usize,
    ) -> Result<Vec<Series>, TsdbError> {
        Ok(self
            .gather(matchers, mint, maxt, true, max_samples)?
            .into_iter()
            .filter_map(|(labels, mut samples)| {
                // Most series come from one source and are already in order.
                if !samples.windows(2).all(|w| w[0].t < w[1].t) {
                    // Stable: for equal timestamps the block's sample (added first) is kept.
                    samples.sort_by_key(|s| s.t);
                    samples.dedup_by_key(|s| s.t);
                }
                (!samples.is_empty()).then_some(Series { labels, samples })
            })
            .collect())
    }

    fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, TsdbError> {
        Ok(self
            .gather(matchers, mint, maxt, false, 0)?
            .into_keys()
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, TsdbError> {
        if index_only(matchers) {
            let names = self.index_label_names(matchers, mint, maxt);
            return Ok(names.into_iter().collect());
        }
        let mut names = BTreeSet::new();
        for l in self.gather(matchers, mint, maxt, false, 0)?.keys() {
            for p in l.iter() {
                if !names.contains(&p.name) {
                    names.insert(p.name.clone());
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, TsdbError> {
        if index_only(matchers) {
            let vals = self.index_label_values(name, matchers, mint, maxt);
            return Ok(vals.into_iter().collect());
        }
        let mut vals = BTreeSet::new();
        for l in self.gather(matchers, mint, maxt, false, 0)?.keys() {
            if let Some(v) = l.get(name) {
                if !vals.contains(v) {
                    vals.insert(v.to_string());
                }
            }
        }
        Ok(vals.into_iter().collect())
    }
}
