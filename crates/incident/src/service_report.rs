//! The service's reports: the 1-5-10 times of recent incidents
//! ([`IncidentService::times_report`]) and its self-metrics
//! ([`IncidentService::metrics_text`]).

use super::IncidentService;
use crate::model::{Incident, State};
use serde::Serialize;
use std::sync::atomic::Ordering;

/// Median and 90th percentile of one of the 1-5-10 times, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Quantiles {
    /// How many incidents have this time.
    pub count: usize,
    /// The median, seconds.
    pub p50: Option<f64>,
    /// The 90th percentile, seconds.
    pub p90: Option<f64>,
}

/// The 1-5-10 times of incidents detected in a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimesReport {
    /// How many incidents were detected in the period.
    pub incidents: usize,
    /// Fault start to detection.
    pub detect: Quantiles,
    /// Fault start to the first delivered notification.
    pub notify: Quantiles,
    /// Fault start to acknowledgement.
    pub acknowledge: Quantiles,
    /// Fault start to a named root.
    pub locate: Quantiles,
    /// Fault start to recovery.
    pub recover: Quantiles,
    /// How many of the period's incidents missed each goal: detected
    /// within 1 minute, located within 5, recovered within 10.
    pub missed: MissedGoals,
}

/// Incidents that missed each 1-5-10 goal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MissedGoals {
    /// Detected later than a minute after the fault.
    pub detect: usize,
    /// Located later than five minutes after it (or not yet, past that).
    pub locate: usize,
    /// Recovered later than ten minutes after it (or not yet, past that).
    pub recover: usize,
}

fn quantiles(mut v: Vec<i64>) -> Quantiles {
    v.sort_unstable();
    let q = |p: f64| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        Some(v[i.min(v.len() - 1)] as f64 / 1000.0)
    };
    Quantiles {
        count: v.len(),
        p50: q(0.5),
        p90: q(0.9),
    }
}

impl IncidentService {
    /// The 1-5-10 times of incidents detected in the last `period_ms`.
    pub fn times_report(&self, period_ms: i64) -> TimesReport {
        let since = self.shared.clock.now_ms() - period_ms;
        let c = self.shared.corr.lock();
        let incs: Vec<&Incident> = c
            .incidents()
            .filter(|i| i.merged_into.is_none() && i.times.detected_ms >= since)
            .collect();
        let pick = |f: &dyn Fn(&Incident) -> Option<i64>| -> Quantiles {
            quantiles(incs.iter().filter_map(|i| f(i)).collect())
        };
        TimesReport {
            incidents: incs.len(),
            detect: pick(&|i| Some(i.times.time_to_detect_ms())),
            notify: pick(&|i| i.times.time_to_notify_ms()),
            acknowledge: pick(&|i| i.times.time_to_acknowledge_ms()),
            locate: pick(&|i| i.times.time_to_locate_ms()),
            recover: pick(&|i| i.times.time_to_recover_ms()),
            missed: {
                let now = self.shared.clock.now_ms();
                let gs: Vec<_> = incs.iter().map(|i| i.times.goals(now)).collect();
                MissedGoals {
                    detect: gs.iter().filter(|g| g.detect == Some(false)).count(),
                    locate: gs.iter().filter(|g| g.locate == Some(false)).count(),
                    recover: gs.iter().filter(|g| g.recover == Some(false)).count(),
                }
            },
        }
    }

    /// Self-metrics in the exposition format: incidents by state, the
    /// 1-5-10 times over seven days as summaries, and save failures.
    pub fn metrics_text(&self, out: &mut String) {
        use argus_model::exposition::{write_header, write_sample};
        let counts = {
            let c = self.shared.corr.lock();
            let mut n = [0usize; 4];
            for i in c.incidents().filter(|i| i.merged_into.is_none()) {
                n[i.state as usize] += 1;
            }
            n
        };
        write_header("argus_incidents", "Incidents kept, by state.", "gauge", out);
        for (s, n) in [
            State::Open,
            State::Acknowledged,
            State::Mitigated,
            State::Resolved,
        ]
        .iter()
        .zip(counts)
        {
            write_sample("argus_incidents", &[("state", s.as_str())], n as f64, out);
        }
        let r = self.times_report(7 * 86_400_000);
        for (name, help, q) in [
            (
                "argus_incident_time_to_detect_seconds",
                "Fault start to the first alert, over incidents detected in the last 7 days.",
                r.detect,
            ),
            (
                "argus_incident_time_to_notify_seconds",
                "Fault start to the first delivered notification, last 7 days.",
                r.notify,
            ),
            (
                "argus_incident_time_to_acknowledge_seconds",
                "Fault start to the first acknowledgement, last 7 days.",
                r.acknowledge,
            ),
            (
                "argus_incident_time_to_locate_seconds",
                "Fault start to a root named with enough confidence, last 7 days.",
                r.locate,
            ),
            (
                "argus_incident_time_to_recover_seconds",
                "Fault start to recovery, last 7 days.",
                r.recover,
            ),
        ] {
            write_header(name, help, "summary", out);
            for (quant, v) in [("0.5", q.p50), ("0.9", q.p90)] {
                write_sample(name, &[("quantile", quant)], v.unwrap_or(f64::NAN), out);
            }
            write_sample(&format!("{name}_count"), &[], q.count as f64, out);
        }
        write_header(
            "argus_incident_goal_missed",
            "Incidents of the last 7 days that missed a 1-5-10 goal (detect within 1 minute, locate within 5, recover within 10).",
            "gauge",
            out,
        );
        for (goal, n) in [
            ("detect", r.missed.detect),
            ("locate", r.missed.locate),
            ("recover", r.missed.recover),
        ] {
            write_sample(
                "argus_incident_goal_missed",
                &[("goal", goal)],
                n as f64,
                out,
            );
        }
        write_header(
            "argus_incident_store_failures_total",
            "Failed saves of the incident store (changes are kept and saved again).",
            "counter",
            out,
        );
        write_sample(
            "argus_incident_store_failures_total",
            &[],
            self.shared.save_failures.load(Ordering::Relaxed) as f64,
            out,
        );
    }
}
