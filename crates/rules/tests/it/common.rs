//! Helpers: a scripted query function and recording sinks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use argus_model::Labels;
use argus_promql::VectorSample;
use argus_rules::{parse_rule_file, Alert, EvalDeps, Group, GroupOptions};

pub const MIN: i64 = 60_000;

/// A query function whose answer per expression is set by the test.
#[derive(Default)]
pub struct Script {
    pub answers: Mutex<BTreeMap<String, Vec<(Labels, f64)>>>,
    pub samples: Mutex<Vec<(Labels, i64, f64)>>,
    pub sent: Mutex<Vec<Alert>>,
}

impl Script {
    pub fn set(&self, expr: &str, series: &[(&[(&str, &str)], f64)]) {
        let v = series
            .iter()
            .map(|(l, x)| (Labels::from_pairs(l), *x))
            .collect();
        self.answers.lock().unwrap().insert(expr.to_string(), v);
    }

    pub fn take_sent(&self) -> Vec<Alert> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    pub fn take_samples(&self) -> Vec<(Labels, i64, f64)> {
        std::mem::take(&mut *self.samples.lock().unwrap())
    }

    pub fn eval(&self, g: &mut Group, t: i64) -> usize {
        let query = |e: &str, t: i64| -> Result<Vec<VectorSample>, String> {
            let a = self.answers.lock().unwrap();
            let v = a.get(e).ok_or_else(|| format!("no answer for {e}"))?;
            Ok(v.iter()
                .map(|(l, x)| VectorSample {
                    labels: l.clone(),
                    t,
                    v: *x,
                })
                .collect())
        };
        let samples = |v: Vec<(Labels, i64, f64)>| -> Result<(), String> {
            self.samples.lock().unwrap().extend(v);
            Ok(())
        };
        let alerts = |v: Vec<Alert>| self.sent.lock().unwrap().extend(v);
        g.eval(
            t,
            EvalDeps {
                query: &query,
                samples: &samples,
                alerts: &alerts,
            },
        )
    }
}

pub fn group(yaml: &str, opts: GroupOptions) -> Group {
    let f = parse_rule_file("test.yml", yaml).unwrap_or_else(|e| panic!("{e}"));
    Group::new(f.groups[0].clone(), opts)
}
