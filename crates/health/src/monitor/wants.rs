//! What each condition wants of its alert: the alert rules of service health.

use super::{HeartbeatSource, Monitor, ProbeSlot, SaturationClass, Verdict, Want};
use std::collections::BTreeMap;

impl Monitor {
    /// Every condition's key and wish, in a stable order.
    pub(super) fn wants(&self) -> Vec<(String, Want)> {
        let mut v = Vec::new();
        for s in &self.services {
            let base = |alertname: &str, severity: &str| {
                let mut l = BTreeMap::new();
                l.insert("alertname".to_string(), alertname.to_string());
                l.insert("service".to_string(), s.name.clone());
                l.insert("node".to_string(), s.node.clone());
                l.insert("source".to_string(), s.source.as_str().to_string());
                l.insert("severity".to_string(), severity.to_string());
                l
            };
            let annotate = |summary: String, description: String| {
                BTreeMap::from([
                    ("summary".to_string(), summary),
                    ("description".to_string(), description),
                ])
            };
            if let Some(h) = &s.hb {
                let key = format!("ServiceDown/{}/heartbeat", s.name);
                let want = match h.state.verdict() {
                    Verdict::Unknown => Want::Keep,
                    Verdict::Up => Want::Clear,
                    Verdict::Down => {
                        let mut l = base("ServiceDown", "critical");
                        l.insert("reason".into(), "heartbeat".into());
                        let a = annotate(
                            format!("Service {} stopped heartbeating.", s.name),
                            format!(
                                "The heartbeat counter {} has not moved for {} ms (the promise).",
                                h.key,
                                h.state.interval_ms()
                            ),
                        );
                        Want::Firing(l, a)
                    }
                };
                v.push((key, want));
            }
            for kind in ["http", "tcp", "process"] {
                let of_kind: Vec<&ProbeSlot> = s
                    .probes
                    .iter()
                    .filter(|p| p.cfg.kind.as_str() == kind)
                    .collect();
                if of_kind.is_empty() {
                    continue;
                }
                let key = format!("ServiceDown/{}/{kind}", s.name);
                let down: Vec<&&ProbeSlot> = of_kind
                    .iter()
                    .filter(|p| p.verdict == Verdict::Down)
                    .collect();
                let want = if !down.is_empty() {
                    let mut l = base("ServiceDown", "critical");
                    l.insert("reason".into(), kind.into());
                    let why: Vec<String> = down
                        .iter()
                        .map(|p| {
                            let e = p.last.as_ref().and_then(|o| o.error.clone());
                            format!("{}: {}", p.cfg.target(), e.unwrap_or_default())
                        })
                        .collect();
                    Want::Firing(
                        l,
                        annotate(
                            format!("Service {} fails its {kind} probe.", s.name),
                            why.join("; "),
                        ),
                    )
                } else if of_kind.iter().all(|p| p.verdict == Verdict::Up) {
                    Want::Clear
                } else {
                    Want::Keep
                };
                v.push((key, want));
            }
            if let Some(sat) = &s.sat {
                for (class, name) in [
                    (SaturationClass::Overloaded, "ServiceOverloaded"),
                    (SaturationClass::Starved, "ServiceStarved"),
                ] {
                    let want = match sat.class {
                        None => Want::Keep,
                        Some(c) if c == class => Want::Firing(
                            base(name, "warning"),
                            annotate(
                                format!("Service {} is {}.", s.name, class.as_str()),
                                format!(
                                    "Saturation {:.3} (bounds {} and {}).",
                                    sat.value.unwrap_or(f64::NAN),
                                    sat.cfg.starved_below,
                                    sat.cfg.overloaded_above
                                ),
                            ),
                        ),
                        Some(_) => Want::Clear,
                    };
                    v.push((format!("{name}/{}", s.name), want));
                }
            }
        }
        if self.services.iter().any(|s| {
            s.hb.as_ref()
                .is_some_and(|h| h.source == HeartbeatSource::Redis)
        }) {
            let want = match &self.store_down {
                Some(e) => Want::Firing(
                    BTreeMap::from([
                        ("alertname".to_string(), "HeartbeatStoreDown".to_string()),
                        ("service".to_string(), "heartbeat-store".to_string()),
                        ("node".to_string(), self.host.clone()),
                        ("source".to_string(), "software".to_string()),
                        ("severity".to_string(), "critical".to_string()),
                        ("store".to_string(), self.redis_url.clone()),
                    ]),
                    BTreeMap::from([
                        (
                            "summary".to_string(),
                            "The Redis holding heartbeat counters is unreachable.".to_string(),
                        ),
                        (
                            "description".to_string(),
                            format!("{e}. Heartbeat verdicts are frozen until it returns."),
                        ),
                    ]),
                ),
                None => Want::Clear,
            };
            v.push(("HeartbeatStoreDown".to_string(), want));
        }
        v
    }
}
