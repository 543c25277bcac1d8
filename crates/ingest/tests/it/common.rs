use argus_ingest::AppenderFactory;
use argus_tsdb::{AppendStats, Appender, SampleError, TsdbError};
use parking_lot::Mutex;
use std::sync::Arc;

/// One recorded sample: labels as `name=value` pairs, timestamp, value.
pub type Rec = (Vec<(String, String)>, i64, f64);

/// A Vec recorder appender; checks the sorted/unique contract.
#[derive(Default)]
pub struct VecApp {
    pub staged: Vec<Rec>,
    pub sink: Option<Arc<Mutex<Vec<Rec>>>>,
}

impl Appender for VecApp {
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), SampleError> {
        assert!(
            pairs.windows(2).all(|w| w[0].0 < w[1].0),
            "pairs not sorted/unique: {pairs:?}"
        );
        self.staged.push((
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            t,
            v,
        ));
        Ok(())
    }
    fn commit(self) -> Result<AppendStats, TsdbError> {
        let n = self.staged.len() as u64;
        if let Some(s) = self.sink {
            s.lock().extend(self.staged);
        }
        Ok(AppendStats {
            samples: n,
            new_series: 0,
            rejected: 0,
        })
    }
    fn rollback(self) {}
}

/// A factory whose appenders commit into a shared Vec.
#[derive(Default, Clone)]
pub struct VecFactory(pub Arc<Mutex<Vec<Rec>>>);

impl AppenderFactory for VecFactory {
    type App = VecApp;
    fn appender(&self) -> VecApp {
        VecApp {
            staged: Vec::new(),
            sink: Some(self.0.clone()),
        }
    }
}

pub fn get<'a>(r: &'a Rec, name: &str) -> Option<&'a str> {
    r.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}
