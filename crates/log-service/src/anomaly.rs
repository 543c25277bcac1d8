//! Log anomalies: alerts raised from the lines themselves, per service (the
//! stream's `service_name`, `service`, `app` or `job` label).
//!
//! - **A new template** (`NewLogTemplate`): every line gets a template from
//!   the online miner as it is stored; once a service has been seen for the
//!   learning time, a template it never had fires an alert with the template
//!   and an example line (at most five per service in ten minutes; each ends
//!   by itself after thirty minutes).
//! - **An error burst** (`LogErrorBurst`): lines of level error or worse (the
//!   `level`/`severity`/`detected_level` label or metadata, or an error word
//!   in the line) are counted per minute; a minute with at least
//!   `error_burst_min` of them and four times the learned rate fires an alert
//!   with the count, the usual rate and three example lines; it resolves at
//!   the first quiet minute.

use crate::events::AlertSink;
use argus_logs::online::OnlineMiner;
use argus_logs::record::LogRecord;
use argus_model::alert::AlertEvent;
use argus_model::Labels;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

const MIN_NS: i64 = 60_000_000_000;
/// Services tracked at most; lines of others count under `other`.
const MAX_GROUPS: usize = 1_000;
/// New-template alerts per service in `NEW_WINDOW_NS` at most.
const MAX_NEW_ALERTS: usize = 5;
const NEW_WINDOW_NS: i64 = 10 * MIN_NS;
/// How long a new-template alert lasts.
const NEW_ALERT_MS: i64 = 30 * 60_000;

/// Settings of the log anomaly alerts.
#[derive(Debug, Clone, Copy)]
pub struct AnomalySettings {
    /// A service's templates are learned this long before a new one alerts.
    pub learn_ns: i64,
    /// Fewest error lines in a minute that can be a burst.
    pub error_burst_min: u64,
}

#[derive(Default)]
struct Group {
    miner: OnlineMiner,
    first_ns: i64,
    recent_new: VecDeque<i64>,
    minute: i64,
    errors: u64,
    examples: Vec<String>,
    /// The learned errors per minute (an average over about an hour).
    rate: f64,
    minutes_seen: u64,
    bursting_since_ms: Option<i64>,
}

/// The detector; feed it stored lines, tick it every few seconds.
pub struct LogAnomalies {
    settings: AnomalySettings,
    groups: Mutex<HashMap<String, Group>>,
    sink: AlertSink,
    new_templates: AtomicU64,
    bursts: AtomicU64,
}

impl std::fmt::Debug for LogAnomalies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogAnomalies").finish_non_exhaustive()
    }
}

fn group_of(labels: &Labels) -> String {
    ["service_name", "service", "app", "job"]
        .iter()
        .find_map(|k| labels.get(k))
        .unwrap_or("unknown")
        .to_string()
}

const ERROR_LEVELS: &[&str] = &[
    "error", "err", "fatal", "critical", "crit", "emerg", "alert", "panic",
];

fn is_error(r: &LogRecord) -> bool {
    let level = ["level", "severity", "detected_level"]
        .iter()
        .find_map(|k| {
            r.labels.get(k).map(str::to_string).or_else(|| {
                r.metadata
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            })
        });
    match level {
        Some(l) => ERROR_LEVELS.contains(&l.to_ascii_lowercase().as_str()),
        None => r.line.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
            w.eq_ignore_ascii_case("error")
                || w.eq_ignore_ascii_case("exception")
                || w.eq_ignore_ascii_case("fatal")
                || w.eq_ignore_ascii_case("panic")
        }),
    }
}

fn short(s: &str) -> String {
    if s.len() <= 300 {
        return s.to_string();
    }
    let mut end = 300;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl LogAnomalies {
    pub(super) fn new(settings: AnomalySettings, sink: AlertSink) -> LogAnomalies {
        LogAnomalies {
            settings,
            groups: Mutex::new(HashMap::new()),
            sink,
            new_templates: AtomicU64::new(0),
            bursts: AtomicU64::new(0),
        }
    }

    /// Takes lines being stored, at `now_ns`.
    pub(super) fn observe<'a>(
        &self,
        records: impl IntoIterator<Item = &'a LogRecord>,
        now_ns: i64,
    ) {
        let mut alerts = Vec::new();
        let mut groups = self.groups.lock();
        for r in records {
            let mut key = group_of(&r.labels);
            if !groups.contains_key(&key) && groups.len() >= MAX_GROUPS {
                key = "other".into();
            }
            let g = groups.entry(key.clone()).or_insert_with(|| Group {
                first_ns: now_ns,
                minute: now_ns.div_euclid(MIN_NS),
                ..Group::default()
            });
            let a = g.miner.assign(&r.line);
            let err = is_error(r);
            let this_minute =
                r.ts_ns.div_euclid(MIN_NS) == g.minute || now_ns.div_euclid(MIN_NS) == g.minute;
            if err && this_minute {
                g.errors += 1;
                if g.examples.len() < 3 {
                    g.examples.push(short(&r.line));
                }
            }
            if a.new && now_ns - g.first_ns >= self.settings.learn_ns {
                while g
                    .recent_new
                    .front()
                    .is_some_and(|&t| t < now_ns - NEW_WINDOW_NS)
                {
                    g.recent_new.pop_front();
                }
                if g.recent_new.len() < MAX_NEW_ALERTS {
                    g.recent_new.push_back(now_ns);
                    self.new_templates.fetch_add(1, Ordering::Relaxed);
                    let template = g.miner.template(a.id).unwrap_or_default();
                    alerts.push(new_template_alert(
                        &key,
                        a.id,
                        template,
                        &r.line,
                        err,
                        now_ns / 1_000_000,
                    ));
                }
            }
        }
        drop(groups);
        if !alerts.is_empty() {
            (self.sink)(alerts);
        }
    }

    /// Closes the minutes that ended before `now_ns`: judges each service's
    /// error count and sends burst alerts and their resolutions.
    pub(super) fn tick(&self, now_ns: i64) {
        let minute = now_ns.div_euclid(MIN_NS);
        let mut alerts = Vec::new();
        let mut groups = self.groups.lock();
        for (key, g) in groups.iter_mut() {
            if g.minute >= minute {
                continue;
            }
            let n = g.errors;
            let expected = g.rate;
            let learned = g.minutes_seen >= 10;
            let burst =
                learned && n >= self.settings.error_burst_min && n as f64 >= 4.0 * (expected + 1.0);
            let end_ms = (g.minute + 1) * 60_000;
            if burst {
                self.bursts.fetch_add(1, Ordering::Relaxed);
                let since = *g.bursting_since_ms.get_or_insert(g.minute * 60_000);
                alerts.push(burst_alert(
                    key,
                    n,
                    expected,
                    &g.examples,
                    since,
                    Some(now_ns / 1_000_000 + 5 * 60_000),
                ));
            } else if let Some(since) = g.bursting_since_ms.take() {
                alerts.push(burst_alert(key, n, expected, &[], since, Some(end_ms)));
            }
            // A burst does not teach the rate what is normal.
            if !burst {
                let w = if g.minutes_seen < 60 {
                    1.0 / (g.minutes_seen + 1) as f64
                } else {
                    1.0 / 60.0
                };
                g.rate += w * (n as f64 - g.rate);
            }
            g.minutes_seen += 1;
            // Minutes with no line at all count as quiet ones.
            let skipped = (minute - g.minute - 1).clamp(0, 60) as u64;
            for _ in 0..skipped {
                g.rate -= g.rate / 60.0;
            }
            g.minutes_seen += skipped;
            g.minute = minute;
            g.errors = 0;
            g.examples.clear();
        }
        drop(groups);
        if !alerts.is_empty() {
            (self.sink)(alerts);
        }
    }

    /// `argus_log_anomaly_*` self-metrics.
    pub(super) fn metrics_text(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP argus_log_new_template_alerts_total Alerts sent for a template a service never logged before.\n# TYPE argus_log_new_template_alerts_total counter\nargus_log_new_template_alerts_total {}", self.new_templates.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP argus_log_error_burst_minutes_total Minutes in which a service's error lines burst.\n# TYPE argus_log_error_burst_minutes_total counter\nargus_log_error_burst_minutes_total {}", self.bursts.load(Ordering::Relaxed));
        let n = self.groups.lock().len();
        let _ = writeln!(out, "# HELP argus_log_anomaly_services Services whose lines are learned for log anomalies.\n# TYPE argus_log_anomaly_services gauge\nargus_log_anomaly_services {n}");
    }
}

/// The alert of a message a service never logged before.
pub const NEW_TEMPLATE_ALERT: &str = "NewLogTemplate";
/// The alert of a burst of a service's error lines.
pub const ERROR_BURST_ALERT: &str = "LogErrorBurst";

fn new_template_alert(
    service: &str,
    id: u32,
    template: &str,
    line: &str,
    err: bool,
    now_ms: i64,
) -> AlertEvent {
    let mut ev = AlertEvent::new(
        Labels::from_pairs(&[
            ("alertname", NEW_TEMPLATE_ALERT),
            ("service", service),
            ("template_id", &id.to_string()),
            ("severity", if err { "warning" } else { "info" }),
        ]),
        now_ms,
    );
    ev.ends_at_ms = Some(now_ms + NEW_ALERT_MS);
    ev.annotations.insert(
        "summary".into(),
        format!(
            "{service} logs a message it never logged before: {}",
            short(template)
        ),
    );
    ev.annotations.insert("template".into(), short(template));
    ev.annotations.insert("example".into(), short(line));
    ev
}

fn burst_alert(
    service: &str,
    n: u64,
    expected: f64,
    examples: &[String],
    since_ms: i64,
    ends_ms: Option<i64>,
) -> AlertEvent {
    let mut ev = AlertEvent::new(
        Labels::from_pairs(&[
            ("alertname", ERROR_BURST_ALERT),
            ("service", service),
            ("severity", "warning"),
        ]),
        since_ms,
    );
    ev.ends_at_ms = ends_ms;
    ev.annotations.insert(
        "summary".into(),
        format!(
            "{service} logged {n} error lines in a minute; about {expected:.1} a minute is usual."
        ),
    );
    for (i, e) in examples.iter().enumerate() {
        ev.annotations
            .insert(format!("example_{}", i + 1), e.clone());
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rec(svc: &str, level: &str, ts: i64, line: &str) -> LogRecord {
        LogRecord::new(
            Labels::from_pairs(&[("service", svc), ("level", level)]),
            ts,
            line,
        )
    }

    fn detector() -> (LogAnomalies, Arc<Mutex<Vec<AlertEvent>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let sink: AlertSink = Arc::new(move |evs| g.lock().extend(evs));
        let s = AnomalySettings {
            learn_ns: 10 * MIN_NS,
            error_burst_min: 20,
        };
        (LogAnomalies::new(s, sink), got)
    }

    #[test]
    fn a_new_template_alerts_only_after_learning() {
        let (d, got) = detector();
        let t0 = 1_000 * MIN_NS;
        d.observe(&[rec("api", "info", t0, "GET /items/17 took 5 ms")], t0);
        d.observe(
            &[rec("api", "info", t0, "cache warmed in 3 s")],
            t0 + MIN_NS,
        );
        assert!(got.lock().is_empty(), "still learning");
        let later = t0 + 11 * MIN_NS;
        d.observe(
            &[rec("api", "info", later, "GET /items/23 took 9 ms")],
            later,
        );
        assert!(got.lock().is_empty(), "a known template");
        d.observe(
            &[rec(
                "api",
                "error",
                later,
                "disk quota exceeded for volume 7",
            )],
            later,
        );
        let a = got.lock().clone();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].labels.get("alertname"), Some("NewLogTemplate"));
        assert_eq!(a[0].labels.get("severity"), Some("warning"));
        assert_eq!(
            a[0].annotations["template"],
            "disk quota exceeded for volume <*>"
        );
        // At most five in ten minutes.
        for i in 0..10 {
            let line = format!("novel message number {} kind {}", "x".repeat(i + 1), i);
            d.observe(&[rec("api", "info", later, &line)], later);
        }
        assert_eq!(got.lock().len(), MAX_NEW_ALERTS);
    }

    #[test]
    fn an_error_burst_fires_and_resolves() {
        let (d, got) = detector();
        let t0 = 2_000 * MIN_NS;
        // Twenty quiet minutes with one error each.
        for m in 0..20 {
            let t = t0 + m * MIN_NS;
            d.observe(
                &[
                    rec("pay", "error", t, "card declined"),
                    rec("pay", "info", t, "ok"),
                ],
                t,
            );
            d.tick(t + MIN_NS);
        }
        assert!(got.lock().is_empty());
        let t = t0 + 20 * MIN_NS;
        let burst: Vec<LogRecord> = (0..40)
            .map(|i| rec("pay", "error", t, &format!("bank timeout {i}")))
            .collect();
        d.observe(&burst, t);
        d.tick(t + MIN_NS);
        let a = got.lock().clone();
        let b = a
            .iter()
            .find(|e| e.labels.get("alertname") == Some("LogErrorBurst"))
            .expect("a burst alert");
        assert!(
            b.annotations["summary"].contains("40 error lines"),
            "{:?}",
            b.annotations
        );
        assert_eq!(b.annotations["example_1"], "bank timeout 0");
        got.lock().clear();
        d.observe(
            &[rec("pay", "error", t + MIN_NS, "card declined")],
            t + MIN_NS,
        );
        d.tick(t + 2 * MIN_NS);
        let a = got.lock().clone();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].ends_at_ms, Some((t + 2 * MIN_NS) / 1_000_000));
    }
}
