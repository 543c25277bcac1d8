//! `argus eval csv`: parsing `timestamp,value[,label]` rows, streaming a
//! detector over them with training as the live path would do it, and
//! point-wise and per-event precision / recall / F1; [`run`] does it for
//! one file.
//!
//! ```
//! use argus_eval::csv::{parse_timestamp, prf, Header};
//!
//! assert_eq!(parse_timestamp("1700000000").unwrap(), 1_700_000_000_000);
//! assert_eq!(parse_timestamp("1700000000000").unwrap(), 1_700_000_000_000);
//! assert_eq!(parse_timestamp("2024-01-01 00:00:00").unwrap(), 1_704_067_200_000);
//! let h = Header::parse("timestamp,value,label", 1).unwrap();
//! assert!(h.has_label);
//! let m = prf(&[true, true, false, false], &[true, false, false, true]);
//! assert_eq!((m.point.precision, m.point.recall), (0.5, 0.5));
//! ```

use std::sync::Arc;

use serde::Serialize;

use argus_detect::baseline::calendar::{days_from_civil, parse_date, DAY_MS};
use argus_detect::detector::{SeriesDetector, Verdict};
use argus_detect::spec::RuleSpec;
use argus_detect::train::{train, TrainInput};
use argus_detect::DetectError;

mod run;

pub use run::{run, CsvOptions};

/// Which columns a CSV has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Whether a third `label` column is present.
    pub has_label: bool,
}

impl Header {
    /// Parses the header line (`line_no` is for the error).
    pub fn parse(line: &str, line_no: usize) -> Result<Header, DetectError> {
        let cols: Vec<String> = line
            .trim_start_matches('\u{feff}')
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
            .collect();
        match cols
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["timestamp", "value"] => Ok(Header { has_label: false }),
            ["timestamp", "value", "label"] => Ok(Header { has_label: true }),
            _ => Err(DetectError::Input(format!(
                "line {line_no}: header must be timestamp,value[,label], got {line:?}"
            ))),
        }
    }
}

/// One parsed row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Timestamp, ms.
    pub ts_ms: i64,
    /// The value.
    pub value: f64,
    /// The label, when the CSV has one (non-zero = anomalous).
    pub label: Option<bool>,
}

/// Parses a data row (`line_no` is for the error).
pub fn parse_row(line: &str, line_no: usize, header: Header) -> Result<Row, DetectError> {
    let err = |what: String| DetectError::Input(format!("line {line_no}: {what}"));
    let cols: Vec<&str> = line
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let want = if header.has_label { 3 } else { 2 };
    if cols.len() != want {
        return Err(err(format!("expected {want} columns, got {}", cols.len())));
    }
    let ts_ms = parse_timestamp(cols[0]).map_err(|e| err(e.to_string()))?;
    let value: f64 = cols[1]
        .parse()
        .map_err(|_| err(format!("value {:?} is not a number", cols[1])))?;
    if !value.is_finite() {
        return Err(err(format!("value {:?} is not finite", cols[1])));
    }
    let label = if header.has_label {
        let l: f64 = cols[2]
            .parse()
            .map_err(|_| err(format!("label {:?} is not 0/1", cols[2])))?;
        Some(l != 0.0)
    } else {
        None
    };
    Ok(Row {
        ts_ms,
        value,
        label,
    })
}

/// Parses unix seconds, unix milliseconds (integers ≥ 10¹¹ are taken as ms),
/// fractional seconds, or `YYYY-MM-DD HH:MM:SS` (or `T`-separated; UTC).
pub fn parse_timestamp(s: &str) -> Result<i64, DetectError> {
    let s = s.trim();
    let bad = || DetectError::Input(format!("bad timestamp {s:?}"));
    if let Ok(n) = s.parse::<i64>() {
        return Ok(if n.abs() >= 100_000_000_000 {
            n
        } else {
            n.saturating_mul(1000)
        });
    }
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && f.abs() < 1e14 {
            return Ok((f * 1000.0).round() as i64);
        }
        return Err(bad());
    }
    let (date, time) = s.split_once([' ', 'T']).ok_or_else(bad)?;
    let (y, m, d) = parse_date(date).map_err(|_| bad())?;
    let time = time.trim_end_matches('Z');
    let mut it = time.split(':');
    let h: i64 = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let mi: i64 = it.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let sec: f64 = match it.next() {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => 0.0,
    };
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&sec) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * DAY_MS
        + h * 3_600_000
        + mi * 60_000
        + (sec * 1000.0).round() as i64)
}

/// Streams a detector over rows, training the way the server does: once
/// `min_points` have been seen, then retraining every `min_points` new points
/// on all history so far (the previous model's flags down-weight incidents).
#[derive(Debug)]
pub struct StreamEval {
    det: SeriesDetector,
    ts: Vec<i64>,
    values: Vec<f64>,
    since_train: usize,
    /// Trainings run.
    pub trainings: u32,
    /// Trainings whose candidate replaced the active model.
    pub replacements: u32,
}

impl StreamEval {
    /// A fresh evaluator for a rule.
    pub fn new(spec: RuleSpec) -> Result<Self, DetectError> {
        Ok(Self {
            det: SeriesDetector::new(Arc::new(spec))?,
            ts: Vec::new(),
            values: Vec::new(),
            since_train: 0,
            trainings: 0,
            replacements: 0,
        })
    }

    /// Scores one sample (then trains if due).
    pub fn push(&mut self, ts_ms: i64, value: f64) -> Result<Verdict, DetectError> {
        let v = self.det.observe(ts_ms, value)?;
        self.ts.push(ts_ms);
        self.values.push(value);
        self.since_train += 1;
        let min = self.det.spec().min_points;
        if self.det.needs_training() || (self.det.model().is_some() && self.since_train >= min) {
            let prev = self.det.model().map(|m| (**m).clone());
            let out = train(
                self.det.spec(),
                &TrainInput {
                    ts: &self.ts,
                    values: &self.values,
                    flagged: None,
                },
                prev.as_ref(),
                ts_ms,
                &mut |_| {},
            )?;
            self.trainings += 1;
            if out.replaced {
                self.replacements += 1;
                self.det.install(Arc::new(out.active().clone()));
            }
            self.since_train = 0;
        }
        Ok(v)
    }
}

/// Precision, recall and F1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

impl Prf {
    fn new(precision: f64, recall: f64) -> Self {
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Self {
            precision,
            recall,
            f1,
        }
    }
}

/// Point-wise and per-event scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    /// Each point counted.
    pub point: Prf,
    /// Events: recall = labelled runs with at least one alert inside;
    /// precision = alert runs overlapping a labelled run.
    pub event: Prf,
}

fn runs(v: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &x) in v.iter().enumerate() {
        match (x, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, v.len() - 1));
    }
    out
}

/// Scores predictions against labels (equal lengths; the shorter wins).
/// With nothing predicted precision is 0; with nothing labelled recall is 0.
pub fn prf(labels: &[bool], predicted: &[bool]) -> Scores {
    let n = labels.len().min(predicted.len());
    let (labels, predicted) = (&labels[..n], &predicted[..n]);
    let tp = labels
        .iter()
        .zip(predicted)
        .filter(|(l, p)| **l && **p)
        .count() as f64;
    let np = predicted.iter().filter(|p| **p).count() as f64;
    let nl = labels.iter().filter(|l| **l).count() as f64;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let point = Prf::new(ratio(tp, np), ratio(tp, nl));
    let lr = runs(labels);
    let pr = runs(predicted);
    let hit =
        |a: &(usize, usize), set: &[(usize, usize)]| set.iter().any(|b| a.0 <= b.1 && b.0 <= a.1);
    let caught = lr.iter().filter(|r| hit(r, &pr)).count() as f64;
    let true_alerts = pr.iter().filter(|r| hit(r, &lr)).count() as f64;
    let event = Prf::new(
        ratio(true_alerts, pr.len() as f64),
        ratio(caught, lr.len() as f64),
    );
    Scores { point, event }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1.5").unwrap(), 1500);
        assert_eq!(
            parse_timestamp("2024-02-29T12:30:15Z").unwrap(),
            1_709_209_815_000
        );
        assert_eq!(
            parse_timestamp("2024-02-29 12:30").unwrap(),
            1_709_209_800_000
        );
        for bad in [
            "",
            "2024-02-30 00:00:00",
            "2024-01-01 25:00:00",
            "soon",
            "NaN",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rows_and_headers() {
        let h = Header::parse("timestamp,value", 1).unwrap();
        assert!(!h.has_label);
        assert!(Header::parse("time,value", 1)
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        let r = parse_row("1700000000,3.5", 7, h).unwrap();
        assert_eq!(
            r,
            Row {
                ts_ms: 1_700_000_000_000,
                value: 3.5,
                label: None
            }
        );
        let e = parse_row("1700000000,abc", 7, h).unwrap_err().to_string();
        assert!(e.contains("line 7") && e.contains("abc"), "{e}");
        assert!(parse_row("1,2,3", 3, h).is_err());
        let hl = Header { has_label: true };
        assert_eq!(parse_row("1,2,1", 2, hl).unwrap().label, Some(true));
    }

    #[test]
    fn scores() {
        let l = [false, true, true, true, false, false, true, false];
        let p = [false, false, true, false, false, true, false, false];
        let s = prf(&l, &p);
        assert_eq!(s.point.precision, 0.5);
        assert_eq!(s.point.recall, 0.25);
        assert_eq!(s.event.recall, 0.5, "one of two labelled events caught");
        assert_eq!(s.event.precision, 0.5, "one of two alert runs true");
        let none = prf(&l, &[false; 8]);
        assert_eq!(none.point.f1, 0.0);
    }

    #[test]
    fn stream_eval_trains_and_retrains() {
        let spec = RuleSpec {
            min_points: 200,
            period: argus_detect::period::PeriodSpec::None,
            ..Default::default()
        };
        let mut e = StreamEval::new(spec).unwrap();
        let mut cold = 0;
        for i in 0..700i64 {
            let v = e.push(i * 60_000, 10.0 + (i % 3) as f64).unwrap();
            cold += usize::from(v.cold_start);
        }
        assert_eq!(cold, 200, "cold start until the first training");
        assert_eq!(e.trainings, 3);
        assert!(e.replacements >= 1);
    }
}
