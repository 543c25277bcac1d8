//! What the monitor shows: the five-tuples of the API and the series written
//! to the store.

use super::{CheckStatus, FiveTuple, Monitor, Svc, STATUSES};
use crate::heartbeat::Verdict;
use argus_model::Labels;

/// The five-tuple's content: the service name and what is checked, e.g.
/// `svc-01: heartbeat redis argus:hb:svc-01, http http://127.0.0.1:18001/health`.
pub fn service_content(name: &str, checks: &[CheckStatus]) -> String {
    let parts: Vec<String> = checks
        .iter()
        .map(|c| format!("{} {}", c.check, c.target))
        .collect();
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {}", parts.join(", "))
    }
}

impl Svc {
    fn checks(&self, now: i64) -> Vec<CheckStatus> {
        let mut v = Vec::new();
        if let Some(h) = &self.hb {
            let src = match h.source {
                crate::HeartbeatSource::Redis => "redis",
                crate::HeartbeatSource::Http => "http",
            };
            v.push(CheckStatus {
                check: "heartbeat".into(),
                target: format!("{src} {}", h.key),
                status: h.state.verdict().as_str().into(),
                value: h.state.value(),
                error: (h.state.verdict() == Verdict::Down).then(|| {
                    format!(
                        "the counter has not moved for {:.1} s",
                        h.state.age_seconds(now)
                    )
                }),
            });
        }
        for p in &self.probes {
            v.push(CheckStatus {
                check: p.cfg.kind.as_str().into(),
                target: p.cfg.target(),
                status: p.verdict.as_str().into(),
                value: p.last.as_ref().map(|o| o.duration_s),
                error: p.last.as_ref().and_then(|o| o.error.clone()),
            });
        }
        if let Some(s) = &self.sat {
            v.push(CheckStatus {
                check: "saturation".into(),
                target: s.cfg.load_query.clone(),
                status: s.class.map_or("unknown", |c| c.as_str()).into(),
                value: s.value,
                error: s.error.clone(),
            });
        }
        v
    }

    /// The service's status and value: down when any liveness check fails;
    /// otherwise, when one passes, the saturation class if known, else up;
    /// unknown when no liveness check has a verdict.
    fn status(&self) -> (&'static str, Option<f64>) {
        let mut verdicts: Vec<Verdict> = self.probes.iter().map(|p| p.verdict).collect();
        if let Some(h) = &self.hb {
            verdicts.push(h.state.verdict());
        }
        if verdicts.contains(&Verdict::Down) {
            return ("down", Some(0.0));
        }
        let live = verdicts.contains(&Verdict::Up) || verdicts.is_empty();
        match (&self.sat, live) {
            (Some(s), true) => match (s.class, s.value) {
                (Some(c), Some(v)) => (c.as_str(), Some(v)),
                _ if verdicts.is_empty() => ("unknown", None),
                _ => ("up", Some(1.0)),
            },
            (None, true) if !verdicts.is_empty() => ("up", Some(1.0)),
            _ => ("unknown", None),
        }
    }
}

impl Monitor {
    /// One five-tuple per service, in configuration order.
    pub fn five_tuples(&self) -> Vec<FiveTuple> {
        let now = self.clock.now_ms();
        self.services
            .iter()
            .map(|s| {
                let checks = s.checks(now);
                let (status, value) = s.status();
                FiveTuple {
                    node: s.node.clone(),
                    source: s.source.as_str().into(),
                    content: service_content(&s.name, &checks),
                    status: status.into(),
                    value,
                    service: s.name.clone(),
                    checks,
                }
            })
            .collect()
    }

    /// The series at the current time: `argus_service_up`,
    /// `argus_service_status`, `argus_service_saturation`,
    /// `argus_probe_success`, `argus_probe_duration_seconds`,
    /// `argus_heartbeat_age_seconds` and `argus_heartbeat_store_up`.
    pub fn samples(&self) -> Vec<(Labels, i64, f64)> {
        let t = self.clock.now_ms();
        let mut out = Vec::new();
        for s in &self.services {
            let (name, node, source) = (s.name.as_str(), s.node.as_str(), s.source.as_str());
            let (status, _) = s.status();
            match status {
                "unknown" => {}
                "down" => out.push((
                    l(&[
                        ("__name__", "argus_service_up"),
                        ("service", name),
                        ("node", node),
                        ("source", source),
                    ]),
                    t,
                    0.0,
                )),
                _ => out.push((
                    l(&[
                        ("__name__", "argus_service_up"),
                        ("service", name),
                        ("node", node),
                        ("source", source),
                    ]),
                    t,
                    1.0,
                )),
            }
            for st in STATUSES {
                let labels = l(&[
                    ("__name__", "argus_service_status"),
                    ("service", name),
                    ("node", node),
                    ("source", source),
                    ("status", st),
                ]);
                out.push((labels, t, if st == status { 1.0 } else { 0.0 }));
            }
            if let Some(v) = s.sat.as_ref().and_then(|x| x.value) {
                out.push((
                    l(&[
                        ("__name__", "argus_service_saturation"),
                        ("service", name),
                        ("node", node),
                    ]),
                    t,
                    v,
                ));
            }
            for p in &s.probes {
                let Some(o) = &p.last else { continue };
                let target = p.cfg.target();
                let kind = p.cfg.kind.as_str();
                out.push((
                    l(&[
                        ("__name__", "argus_probe_success"),
                        ("service", name),
                        ("type", kind),
                        ("target", target.as_str()),
                    ]),
                    t,
                    if o.success { 1.0 } else { 0.0 },
                ));
                out.push((
                    l(&[
                        ("__name__", "argus_probe_duration_seconds"),
                        ("service", name),
                        ("type", kind),
                        ("target", target.as_str()),
                    ]),
                    t,
                    o.duration_s,
                ));
            }
            if let Some(h) = s.hb.as_ref().filter(|h| h.state.has_baseline()) {
                out.push((
                    l(&[
                        ("__name__", "argus_heartbeat_age_seconds"),
                        ("service", name),
                    ]),
                    t,
                    h.state.age_seconds(t),
                ));
            }
        }
        if !self.redis_keys().is_empty() {
            out.push((
                l(&[
                    ("__name__", "argus_heartbeat_store_up"),
                    ("store", self.redis_url.as_str()),
                ]),
                t,
                if self.store_down.is_some() { 0.0 } else { 1.0 },
            ));
        }
        out
    }
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs)
}
