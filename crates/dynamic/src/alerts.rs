//! Dynamic alert state of one series under one rule, and the alerts it
//! sends into the pipeline.
//!
//! - Level ≥ 1 starts a pending episode at the sample's time; it fires once
//!   it has lasted `for` in sample time (at once when `for` is 0).
//! - The `level` label is the highest level of the episode: a rise to a
//!   higher level resolves the lower-level alert and fires the higher one;
//!   a fall that stays ≥ 1 keeps the alert as it is.
//! - A sample at level 0 ends the episode; a fired alert is sent resolved
//!   (`endsAt` = that sample's time).
//! - Firing alerts are re-sent every `resend_delay` by the server's clock
//!   (due once the delay has passed), each valid for four resend delays, as
//!   Prometheus does. A resolved alert is sent once.
//!
//! The timing (`for`, resend, validity) is the shared
//! [`argus_model::alert::Lifecycle`] (see
//! [`CompiledRule::lifecycle`]).
//!
//! ```
//! use argus_dynamic::alerts::{AlertTrack, Transition};
//! use argus_model::alert::Lifecycle;
//! let life = Lifecycle::new(60_000).with_for(60_000);
//! let mut t = AlertTrack::default();
//! assert_eq!(t.step(0, 2, &life), Transition::None); // pending
//! assert_eq!(t.step(60_000, 2, &life), Transition::Fire { level: 2 });
//! assert_eq!(t.step(120_000, 3, &life), Transition::Escalate { from: 2, to: 3 });
//! assert_eq!(t.step(180_000, 0, &life), Transition::Resolve { level: 3 });
//! ```

use crate::config::CompiledRule;
use crate::sink::{AlertState, DynamicAlert};
use argus_detect::detector::Verdict;
use argus_model::alert::Lifecycle;
use argus_model::Labels;

/// What a sample did to the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to send.
    None,
    /// The alert fires at `level`.
    Fire {
        /// The level label.
        level: u8,
    },
    /// The firing alert at `from` is resolved and one at `to` fires.
    Escalate {
        /// The old level.
        from: u8,
        /// The new level.
        to: u8,
    },
    /// The firing alert at `level` is resolved.
    Resolve {
        /// Its level.
        level: u8,
    },
}

/// The alert state machine of one series.
#[derive(Debug, Clone, Default)]
pub struct AlertTrack {
    /// Start of the current episode (sample time), if any.
    pub active_since: Option<i64>,
    /// When it fired (sample time), if it has.
    pub fired_at: Option<i64>,
    /// The level label of the firing alert (the episode's highest level).
    pub level: u8,
    /// The latest verdict at level ≥ 1 (the explanation sent).
    pub last: Option<Verdict>,
    /// When the alert was last handed to the pipeline (server clock).
    pub last_sent_ms: Option<i64>,
}

impl AlertTrack {
    /// Feeds one sample's time and level; `life` gives `for`.
    pub fn step(&mut self, ts: i64, level: u8, life: &Lifecycle) -> Transition {
        if level == 0 {
            let was = self.fired_at.map(|_| self.level);
            *self = AlertTrack::default();
            return was.map_or(Transition::None, |level| Transition::Resolve { level });
        }
        let since = *self.active_since.get_or_insert(ts);
        match self.fired_at {
            None => {
                self.level = self.level.max(level);
                if life.fires(since, ts) {
                    self.fired_at = Some(ts);
                    Transition::Fire { level: self.level }
                } else {
                    Transition::None
                }
            }
            Some(_) if level > self.level => {
                let from = self.level;
                self.level = level;
                self.fired_at = Some(ts);
                Transition::Escalate { from, to: level }
            }
            Some(_) => Transition::None,
        }
    }

    /// Whether a firing alert is due for re-sending at `now_ms`.
    pub fn resend_due(&self, now_ms: i64, life: &Lifecycle) -> bool {
        life.needs_sending(self.fired_at.is_some(), None, self.last_sent_ms, now_ms)
    }
}

/// A number for people: 3 significant digits (integers from 1000 up are
/// rounded to units, tiny magnitudes use an exponent), without trailing zeros.
fn short(v: f64) -> String {
    if !v.is_finite() {
        return num(v);
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a >= 1000.0 {
        return format!("{}", v.round());
    }
    if a < 0.001 {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        "none".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

fn rfc3339(ms: i64) -> String {
    argus_model::time::format_rfc3339_ms(ms, argus_model::time::Fraction::Omit)
        .unwrap_or_else(|| ms.to_string())
}

/// The alert's identity: the series' labels without `__name__`, then
/// `metric`, the rule's labels, `alertname`, `level` and `kind`.
pub fn alert_labels(rule: &CompiledRule, series: &Labels, level: u8) -> Labels {
    let mut l = series.without_metric_name();
    l.set("metric", series.metric_name().unwrap_or(""));
    for x in rule.labels.iter() {
        l.set(&x.name, &x.value);
    }
    l.set("alertname", &rule.name);
    l.set("level", &level.to_string());
    l.set("kind", rule.spec.kind.as_str());
    l
}

/// The explanation annotations, after the rule's own.
pub fn annotations(rule: &CompiledRule, series: &Labels, v: &Verdict) -> Labels {
    let mut a = rule.annotations.clone();
    let window = v
        .training_window
        .map_or("none (cold start)".to_string(), |(s, e)| {
            format!("{}/{}", rfc3339(s), rfc3339(e))
        });
    let side = match v.side {
        argus_detect::kind::Side::Below => "below the lower bound",
        argus_detect::kind::Side::Above => "above the upper bound",
        argus_detect::kind::Side::Inside => "inside the band",
    };
    let pairs = [
        ("value", num(v.value)),
        ("expected", num(v.expected)),
        ("lower", num(v.lower)),
        ("upper", num(v.upper)),
        ("n", num(v.n)),
        ("level", v.level.to_string()),
        ("kind", v.kind.as_str().to_string()),
        ("algorithm", v.algorithm.as_str().to_string()),
        ("model_version", v.model_version.to_string()),
        ("training_window", window),
        ("sample_time", rfc3339(v.ts_ms)),
        ("series", series.to_string()),
    ];
    for (k, val) in &pairs {
        a.set(k, val);
    }
    if let Some(score) = v.anomaly {
        a.set("anomaly_score", &num(score));
        a.set("anomaly_active", &v.anomaly_active.to_string());
    }
    if a.get("summary").is_none() {
        a.set(
            "summary",
            &format!(
                "{} {} is {} ({} expected, band {}–{}): level {} of {}, N = {}. N is how far \
                 the value lies beyond the bound, as a fraction of the bound; level 1 starts \
                 above N = {} and each further {} adds a level. Model: {} v{}.",
                series.metric_name().unwrap_or("series"),
                short(v.value),
                side,
                short(v.expected),
                short(v.lower),
                short(v.upper),
                v.level,
                rule.spec.max_level,
                short(v.n),
                short(rule.spec.t2),
                short(rule.spec.step),
                v.algorithm.as_str(),
                v.model_version
            ),
        );
        if v.anomaly_active {
            let s = a.get("summary").unwrap_or_default().to_string();
            a.set(
                "summary",
                &format!(
                    "{s} The anomaly scorer reported it (score {}).",
                    short(v.anomaly.unwrap_or(0.0))
                ),
            );
        }
    }
    a
}

/// A firing alert at `level`, sent at `now_ms` and valid for four resends.
pub fn firing(
    rule: &CompiledRule,
    series: &Labels,
    track: &AlertTrack,
    level: u8,
    now_ms: i64,
    life: &Lifecycle,
) -> Option<DynamicAlert> {
    let v = track.last.as_ref()?;
    Some(DynamicAlert {
        labels: alert_labels(rule, series, level),
        annotations: annotations(rule, series, v),
        state: AlertState::Firing,
        value: v.value,
        active_at_ms: track.active_since.unwrap_or(v.ts_ms),
        fired_at_ms: track.fired_at.unwrap_or(v.ts_ms),
        resolved_at_ms: None,
        sent_at_ms: now_ms,
        valid_until_ms: Some(life.valid_until(now_ms)),
    })
}

/// The resolved form of the alert at `level`, ending at `end_ms`.
pub fn resolved(
    rule: &CompiledRule,
    series: &Labels,
    last: &Verdict,
    started: (i64, i64),
    level: u8,
    end_ms: i64,
    now_ms: i64,
) -> DynamicAlert {
    DynamicAlert {
        labels: alert_labels(rule, series, level),
        annotations: annotations(rule, series, last),
        state: AlertState::Resolved,
        value: last.value,
        active_at_ms: started.0,
        fired_at_ms: started.1,
        resolved_at_ms: Some(end_ms),
        sent_at_ms: now_ms,
        valid_until_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(short(122.27914428710938), "122");
        assert_eq!(short(80.18234), "80.2");
        assert_eq!(short(164.3712), "164");
        assert_eq!(short(84.5), "84.5");
        assert_eq!(short(7.517), "7.52");
        assert_eq!(short(0.1), "0.1");
        assert_eq!(short(1400.0), "1400");
        assert_eq!(short(123456.7), "123457");
        assert_eq!(short(-0.012345), "-0.0123");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(0.00001234), "1.23e-5");
        assert_eq!(short(99.96), "100");
        assert_eq!(short(f64::NAN), "none");
    }

    #[test]
    fn for_and_levels() {
        let life = Lifecycle::new(60_000).with_for(120_000);
        let mut t = AlertTrack::default();
        assert_eq!(t.step(0, 1, &life), Transition::None);
        assert_eq!(t.step(60_000, 3, &life), Transition::None);
        // Fires at the episode's highest level once `for` has passed.
        assert_eq!(t.step(120_000, 1, &life), Transition::Fire { level: 3 });
        assert_eq!(t.step(180_000, 2, &life), Transition::None);
        assert!(t.resend_due(0, &life));
        t.last_sent_ms = Some(0);
        assert!(!t.resend_due(59_999, &life) && t.resend_due(60_000, &life));
        assert_eq!(t.step(240_000, 0, &life), Transition::Resolve { level: 3 });
        assert!(!t.resend_due(1_000_000, &life));
        // A pending episode that ends sends nothing.
        assert_eq!(t.step(300_000, 2, &life), Transition::None);
        assert_eq!(t.step(360_000, 0, &life), Transition::None);
    }
}
