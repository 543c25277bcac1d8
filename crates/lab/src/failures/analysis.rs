//! Matching notifications to injected failures, and the figures of seed 004:
//! detection rate, response time and false alerts. Pure functions over
//! timestamps (milliseconds since the epoch), so they test without sleeps.
//!
//! ```text
//! failure a: injected 1000, restored 4000, window end 7000
//! alert a firing, startsAt 1500, arrived 1700  → detected, response 0.7 s
//! alert c firing (no failure on c)              → false alert
//! ```
//!
//! Rules, stated once:
//! - A failure owns the window `[inject − tolerance, window_end]` on its
//!   service, where `window_end` is the restore time plus the system's
//!   cool-down. A service is never picked again before its window ends, so
//!   the windows of one service never overlap.
//! - A firing alert (one entry of a notification) for service `s` belongs to
//!   the failure of `s` whose window holds the alert's start time (the
//!   monitor's `startsAt`; the arrival time when the monitor sends none); where
//!   the tolerance makes two windows overlap, the later failure wins.
//!   Re-sends of the same alert carry the same start, so they belong to the
//!   same failure however late they arrive.
//! - A failure is detected when at least one firing alert belongs to it; its
//!   response time is the first such arrival minus the injection time.
//! - A firing alert that belongs to no failure is a false alert (this
//!   includes alerts without a `service` label, e.g. `HeartbeatStoreDown`).

use serde::Serialize;
use std::collections::BTreeMap;

/// The kinds of failure the harness injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// SIGKILL, then a restart after the hold.
    Kill,
    /// SIGSTOP, then SIGCONT after the hold.
    Hang,
    /// The service closes its listener (connections are refused).
    PortClosed,
    /// The service stops incrementing its heartbeat counter.
    HeartbeatStopped,
    /// Every response is delayed beyond the monitor's probe timeout.
    Slow,
}

impl Kind {
    /// All kinds, in the order the RNG indexes them.
    pub const ALL: [Kind; 5] = [
        Kind::Kill,
        Kind::Hang,
        Kind::PortClosed,
        Kind::HeartbeatStopped,
        Kind::Slow,
    ];

    /// The name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::Hang => "hang",
            Kind::PortClosed => "port_closed",
            Kind::HeartbeatStopped => "heartbeat_stopped",
            Kind::Slow => "slow",
        }
    }
}

/// One injected failure, as the harness recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Injected {
    /// Group number, from 1.
    pub group: usize,
    /// The service's name (the `service` label the monitor must report).
    pub service: String,
    /// What was done to it.
    pub kind: Kind,
    /// When the failure started.
    pub inject_ms: i64,
    /// When the service was restored.
    pub restore_ms: i64,
    /// End of the failure's window (restore + cool-down).
    pub window_end_ms: i64,
}

/// One alert out of one notification received by the webhook receiver.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// When the notification arrived at the receiver.
    pub arrival_ms: i64,
    /// The alert's `service` label, if any.
    pub service: Option<String>,
    /// `alertname` (or the peer's equivalent).
    pub alertname: String,
    /// True for a firing (problem) alert, false for a resolved one.
    pub firing: bool,
    /// The monitor's start time of the alert, if it sends one.
    pub starts_ms: Option<i64>,
}

/// What happened to one failure.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The failure.
    pub failure: Injected,
    /// Injection → first firing notification, when detected.
    pub response_ms: Option<i64>,
}

/// All failures' outcomes and the false alerts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Matched {
    /// One per injected failure, in injection order.
    pub outcomes: Vec<Outcome>,
    /// Firing alerts that belong to no failure.
    pub false_alerts: Vec<Notice>,
}

/// Matches firing notices to failures (rules in the module header).
/// `tolerance_ms` widens each window backwards (clock granularity of the
/// monitor's start times, e.g. Nagios's whole seconds).
pub fn match_notices(failures: &[Injected], notices: &[Notice], tolerance_ms: i64) -> Matched {
    let mut by_service: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in failures.iter().enumerate() {
        by_service.entry(f.service.as_str()).or_default().push(i);
    }
    let mut first: Vec<Option<i64>> = vec![None; failures.len()];
    let mut false_alerts = Vec::new();
    for n in notices.iter().filter(|n| n.firing) {
        let start = n.starts_ms.unwrap_or(n.arrival_ms);
        let owner = n
            .service
            .as_deref()
            .and_then(|s| by_service.get(s))
            .and_then(|idx| {
                // The latest window first: with a tolerance, a window reaches back
                // into the previous failure's, and a start that is truncated to
                // whole seconds belongs to the later failure.
                idx.iter().rev().copied().find(|&i| {
                    let f = &failures[i];
                    start >= f.inject_ms - tolerance_ms && start <= f.window_end_ms
                })
            });
        match owner {
            Some(i) => {
                let r = n.arrival_ms - failures[i].inject_ms;
                first[i] = Some(first[i].map_or(r, |p| p.min(r)));
            }
            None => false_alerts.push(n.clone()),
        }
    }
    let outcomes = failures
        .iter()
        .zip(first)
        .map(|(f, r)| Outcome {
            failure: f.clone(),
            response_ms: r,
        })
        .collect();
    Matched {
        outcomes,
        false_alerts,
    }
}

/// Summary statistics of response times, in seconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Spread {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

/// Mean, p50, p99 (nearest rank) and max of `ms`, in seconds; zeros when empty.
pub fn spread(ms: &[i64]) -> Spread {
    if ms.is_empty() {
        return Spread::default();
    }
    let mut v: Vec<f64> = ms.iter().map(|&x| x as f64 / 1000.0).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = |p: f64| {
        let k = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[k - 1]
    };
    Spread {
        n: v.len(),
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: rank(0.50),
        p99: rank(0.99),
        max: v[v.len() - 1],
    }
}

/// The figures of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupFigures {
    /// Group number, from 1.
    pub group: usize,
    /// Failures injected.
    pub injected: usize,
    /// Failures detected.
    pub detected: usize,
    /// detected ÷ injected (1.0 when nothing was injected).
    pub detection_rate: f64,
    /// False alerts whose arrival lies in this group's span.
    pub false_alerts: usize,
    /// Response times of the detected failures, seconds.
    pub response_s: Spread,
    /// Per kind: (injected, detected).
    pub by_kind: BTreeMap<&'static str, (usize, usize)>,
    /// First injection to last window end.
    pub span_ms: (i64, i64),
}

/// Figures of group `group` out of a match. False alerts are attributed to
/// the group whose span `[first inject, last window end]` holds their arrival.
pub fn group_figures(m: &Matched, group: usize) -> GroupFigures {
    let outs: Vec<&Outcome> = m
        .outcomes
        .iter()
        .filter(|o| o.failure.group == group)
        .collect();
    let lo = outs.iter().map(|o| o.failure.inject_ms).min().unwrap_or(0);
    let hi = outs
        .iter()
        .map(|o| o.failure.window_end_ms)
        .max()
        .unwrap_or(0);
    let mut by_kind: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut resp = Vec::new();
    for o in &outs {
        let e = by_kind.entry(o.failure.kind.name()).or_default();
        e.0 += 1;
        if let Some(r) = o.response_ms {
            e.1 += 1;
            resp.push(r);
        }
    }
    let injected = outs.len();
    let detected = resp.len();
    GroupFigures {
        group,
        injected,
        detected,
        detection_rate: if injected == 0 {
            1.0
        } else {
            detected as f64 / injected as f64
        },
        false_alerts: m
            .false_alerts
            .iter()
            .filter(|n| n.arrival_ms >= lo && n.arrival_ms <= hi)
            .count(),
        response_s: spread(&resp),
        by_kind,
        span_ms: (lo, hi),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(group: usize, svc: &str, inject: i64, restore: i64, end: i64) -> Injected {
        Injected {
            group,
            service: svc.into(),
            kind: Kind::Kill,
            inject_ms: inject,
            restore_ms: restore,
            window_end_ms: end,
        }
    }

    fn n(arrival: i64, svc: Option<&str>, firing: bool, starts: Option<i64>) -> Notice {
        Notice {
            arrival_ms: arrival,
            service: svc.map(Into::into),
            alertname: "ServiceDown".into(),
            firing,
            starts_ms: starts,
        }
    }

    #[test]
    fn first_firing_arrival_is_the_response_and_strays_are_false() {
        let fs = vec![f(1, "a", 1000, 4000, 7000), f(1, "b", 2000, 5000, 8000)];
        let ns = vec![
            n(1800, Some("a"), true, Some(1500)),
            n(1700, Some("a"), true, None), // earlier arrival wins
            n(9000, Some("a"), true, Some(1500)), // late re-send: same failure
            n(5500, Some("a"), false, Some(1500)), // resolved: ignored
            n(3000, Some("c"), true, None), // unknown service: false
            n(3000, None, true, None),      // no service label: false
            n(9500, Some("b"), true, Some(9400)), // after b's window: false
        ];
        let m = match_notices(&fs, &ns, 0);
        assert_eq!(m.outcomes[0].response_ms, Some(700));
        assert_eq!(m.outcomes[1].response_ms, None);
        assert_eq!(m.false_alerts.len(), 3);
        let g = group_figures(&m, 1);
        assert_eq!((g.injected, g.detected), (2, 1));
        assert!((g.detection_rate - 0.5).abs() < 1e-9);
        // Only the two false alerts arriving inside [1000, 8000] count here.
        assert_eq!(g.false_alerts, 2);
        assert_eq!(g.by_kind["kill"], (2, 1));
    }

    #[test]
    fn tolerance_admits_starts_just_before_injection() {
        let fs = vec![f(1, "a", 10_000, 12_000, 15_000)];
        let ns = vec![n(11_000, Some("a"), true, Some(9_600))];
        assert_eq!(match_notices(&fs, &ns, 0).false_alerts.len(), 1);
        assert_eq!(
            match_notices(&fs, &ns, 1000).outcomes[0].response_ms,
            Some(1000)
        );
    }

    #[test]
    fn a_truncated_start_goes_to_the_later_failure() {
        // Back to back on one service; Nagios reports the second start as 31 000.
        let fs = vec![
            f(1, "a", 24_724, 27_728, 31_729),
            f(1, "a", 31_729, 34_798, 38_803),
        ];
        let ns = vec![n(31_808, Some("a"), true, Some(31_000))];
        let m = match_notices(&fs, &ns, 1000);
        assert_eq!(m.outcomes[0].response_ms, None);
        assert_eq!(m.outcomes[1].response_ms, Some(79));
    }

    #[test]
    fn spread_uses_nearest_rank() {
        let v: Vec<i64> = (1..=100).map(|x| x * 10).collect();
        let s = spread(&v);
        assert_eq!(s.n, 100);
        assert!((s.p50 - 0.5).abs() < 1e-9);
        assert!((s.p99 - 0.99).abs() < 1e-9);
        assert!((s.max - 1.0).abs() < 1e-9);
        assert!((s.mean - 0.505).abs() < 1e-9);
        assert_eq!(spread(&[]), Spread::default());
    }
}
