//! The changes around an incident, read from the events kept in the log
//! store: deploys, configuration changes and Kubernetes events whose
//! service, application, subject or object name is one of the incident's
//! services or instances.

use argus_incident::changes::{Change, ChangeSource};
use argus_incident::service::SourceError;
use argus_logs::record::LogSource;
use argus_logs::store::LogStore;
use argus_model::{MatchOp, Matcher};
use std::sync::Arc;

/// The log store as a [`ChangeSource`].
#[derive(Clone)]
pub struct LogChanges(pub Arc<LogStore>);

impl std::fmt::Debug for LogChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogChanges")
    }
}

/// Metadata keys that name what an event changed.
const NAME_KEYS: &[&str] = &[
    "service",
    "app",
    "subject",
    "name",
    "deployment",
    "workload",
];

fn summary(line: &str, kind: &str, ty: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let data = &v["data"];
    let detail = ["message", "description", "summary", "version", "image"]
        .iter()
        .find_map(|k| data[*k].as_str().map(|s| format!("{k} {s}")))
        .unwrap_or_default();
    let subject = v["subject"].as_str().unwrap_or_default();
    let mut s = format!("{kind}: {ty}");
    if !subject.is_empty() {
        s.push_str(&format!(" ({subject})"));
    }
    if !detail.is_empty() {
        s.push_str(&format!(": {detail}"));
    }
    s.chars().take(300).collect()
}

impl ChangeSource for LogChanges {
    fn changes(
        &self,
        names: &[String],
        from_ms: i64,
        to_ms: i64,
        max: usize,
    ) -> Result<Vec<Change>, SourceError> {
        let kinds = Matcher::new(MatchOp::Re, "kind", "deploy|config_change|kubernetes")
            .map_err(|e| SourceError(e.to_string()))?;
        let mut out = Vec::new();
        let from = from_ms.saturating_mul(1_000_000);
        let to = to_ms.saturating_mul(1_000_000).saturating_add(1);
        self.0
            .scan(&[kinds], from, to, &mut |labels, entries| {
                let kind = labels.get("kind").unwrap_or_default();
                let ty = labels.get("type").unwrap_or_default();
                for e in entries {
                    let hit = e.metadata.iter().find(|(k, v)| {
                        NAME_KEYS.contains(&k.as_str()) && names.iter().any(|n| n == v)
                    });
                    if let Some((_, name)) = hit {
                        out.push(Change {
                            at_ms: e.ts_ns.div_euclid(1_000_000),
                            kind: kind.to_string(),
                            service: name.clone(),
                            summary: summary(&e.line, kind, ty),
                        });
                    }
                }
                true
            })
            .map_err(|e| SourceError(e.to_string()))?;
        out.sort_by_key(|c| c.at_ms);
        out.truncate(max);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_logs::events::Event;
    use argus_logs::store::StoreOptions;
    use argus_model::Labels;

    #[test]
    fn deploys_of_the_named_services_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = LogStore::open(dir.path(), StoreOptions::default()).unwrap();
        let now = 1_800_000_000_000_000_000;
        let mut deploy = Event::new("1", "/ci", "com.ci.deploy.finished", now - 60_000_000_000);
        deploy.labels = Labels::from_pairs(&[("service", "checkout")]);
        deploy.data = serde_json::json!({"version": "v42"});
        let mut other = Event::new("2", "/ci", "com.ci.deploy.finished", now - 30_000_000_000);
        other.labels = Labels::from_pairs(&[("service", "search")]);
        let business = Event::new("3", "/shop", "com.shop.order.created", now);
        let recs = [deploy, other, business]
            .iter()
            .map(Event::to_log_record)
            .collect();
        store.append(recs, now).unwrap();
        let c = LogChanges(Arc::new(store));
        let now_ms = now / 1_000_000;
        let got = c
            .changes(
                &["checkout".into(), "10.0.0.7:80".into()],
                now_ms - 600_000,
                now_ms,
                10,
            )
            .unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].service, "checkout");
        assert_eq!(got[0].kind, "deploy");
        assert_eq!(
            got[0].summary,
            "deploy: com.ci.deploy.finished: version v42"
        );
        assert!(c
            .changes(&["checkout".into()], now_ms - 10, now_ms, 10)
            .unwrap()
            .is_empty());
    }
}
