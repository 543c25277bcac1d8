//! [`MemStorage`]: a tiny in-memory [`Querier`] for tests and the script runner.

use argus_model::{Labels, Matcher, Sample};
use argus_tsdb::{Querier, Series, TsdbError};

/// A `Vec<Series>` with matcher filtering. Not indexed: for tests only.
#[derive(Debug, Default, Clone)]
pub struct MemStorage {
    series: Vec<Series>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one sample; samples of a series are kept sorted by time (a later
    /// sample with the same timestamp replaces the earlier one).
    pub fn add(&mut self, labels: &Labels, t: i64, v: f64) {
        let idx = match self.series.iter().position(|s| &s.labels == labels) {
            Some(i) => i,
            None => {
                self.series.push(Series {
                    labels: labels.clone(),
                    samples: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        let samples = &mut self.series[idx].samples;
        match samples.last() {
            Some(last) if last.t < t => samples.push(Sample::new(t, v)),
            None => samples.push(Sample::new(t, v)),
            _ => match samples.binary_search_by(|s| s.t.cmp(&t)) {
                Ok(i) => samples[i].v = v,
                Err(i) => samples.insert(i, Sample::new(t, v)),
            },
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// All series, in insertion order.
    pub fn all(&self) -> &[Series] {
        &self.series
    }

    fn matching<'a>(&'a self, matchers: &'a [Matcher]) -> impl Iterator<Item = &'a Series> + 'a {
        self.series.iter().filter(move |s| {
            matchers
                .iter()
                .all(|m| m.matches(s.labels.get(&m.name).unwrap_or("")))
        })
    }
}

impl Querier for MemStorage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, TsdbError> {
        let mut out: Vec<Series> = self
            .matching(matchers)
            .filter_map(|s| {
                let samples: Vec<Sample> = s
                    .samples
                    .iter()
                    .filter(|x| x.t >= mint && x.t <= maxt)
                    .copied()
                    .collect();
                (!samples.is_empty()).then(|| Series {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, TsdbError> {
        Ok(self
            .select(matchers, mint, maxt)?
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[Matcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let mut names: Vec<String> = self
            .matching(matchers)
            .flat_map(|s| s.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<String>, TsdbError> {
        let mut vals: Vec<String> = self
            .matching(matchers)
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        vals.sort();
        vals.dedup();
        Ok(vals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_filters_by_matchers_and_time() {
        let mut m = MemStorage::new();
        let a = Labels::from_pairs(&[("__name__", "a"), ("job", "x")]);
        let b = Labels::from_pairs(&[("__name__", "b")]);
        m.add(&a, 10, 1.0);
        m.add(&a, 5, 0.5);
        m.add(&b, 10, 2.0);
        let r = m.select(&[Matcher::eq("__name__", "a")], 0, 7).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].samples, vec![Sample::new(5, 0.5)]);
        assert!(m.select(&[Matcher::eq("job", "")], 0, 100).unwrap().len() == 1);
    }
}
