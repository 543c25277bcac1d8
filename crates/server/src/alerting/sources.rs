//! How the alert sources inside Argus reach the pipeline: one [`Ingress`],
//! and one conversion per source into [`argus_model::alert::AlertEvent`].
//!
//! | source | its alert | conversion |
//! |---|---|---|
//! | rule groups (`argus-rules`) | [`argus_rules::Alert`] | [`argus_rules::Alert::event`] (never-fired alerts are skipped) |
//! | health checks (`argus-health`) | [`argus_health::HealthAlert`] | [`argus_health::HealthAlert::event`] |
//! | dynamic rules (`argus-dynamic`) | [`argus_dynamic::DynamicAlert`] | [`argus_dynamic::DynamicAlert::event`] |
//! | exhaustion and composite health rules (`argus-predict`) | [`AlertEvent`] already | [`IngressSink::send_predictions`] adds the link |
//!
//! On the way in, every alert gets the configuration's
//! `global.external_labels` (an alert's own label wins on a clash), as
//! Prometheus adds them to the alerts it sends to Alertmanager.
//!
//! [`IngressSink`] implements the rules engine's and the dynamic engine's
//! `AlertSink` traits; the health sink (`server::health`) calls
//! [`IngressSink::send_health`]. None of the three crates imports the
//! pipeline, nor the pipeline them.
//!
//! ```
//! use argus_rules::AlertSink;
//! use argus_server::alerting::sources::{ingress, IngressSink};
//! let (sink, queue) = ingress(None);
//! let mut queue = queue.expect("the server's own queue");
//! AlertSink::send(&sink, Vec::new()); // nothing due: nothing queued
//! assert!(queue.try_recv().is_none());
//! ```

use argus_alert::{Ingress, IngressQueue};
use argus_model::alert::AlertEvent;
use argus_model::Labels;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The ingress for the sources: `hook` when one is given (a test reads the
/// alerts from its own queue), else a new one with the queue the pipeline
/// feeds from ([`super::AlertingService::spawn_feed`]).
pub fn ingress(hook: Option<Ingress>) -> (IngressSink, Option<IngressQueue>) {
    match hook {
        Some(i) => (IngressSink::new(i), None),
        None => {
            let (i, q) = Ingress::channel();
            (IngressSink::new(i), Some(q))
        }
    }
}

/// Hands the alerts of the rules engine, the health checks and dynamic rules
/// to the pipeline's [`Ingress`]. Never blocks.
#[derive(Debug, Clone)]
pub struct IngressSink {
    ingress: Ingress,
    /// External Alertmanagers that get every alert too.
    forwarder: Option<argus_forward::Forwarder>,
    /// What the configuration adds to alerts; shared by the clones,
    /// replaced on reload.
    stamp: Arc<RwLock<Stamp>>,
    /// Localises the alerts of dynamic rules with a `localize:` key.
    localizer: Option<Arc<super::localize::Localizer>>,
}

/// What the configuration adds to every alert.
#[derive(Debug, Default)]
struct Stamp {
    /// `global.external_labels`.
    external_labels: Labels,
    /// Where links point: `rules.external_url`, else `http://<listen>`.
    external_url: String,
}

impl IngressSink {
    /// A sink sending into `ingress`.
    pub fn new(ingress: Ingress) -> Self {
        IngressSink {
            ingress,
            forwarder: None,
            stamp: Arc::new(RwLock::new(Stamp::default())),
            localizer: None,
        }
    }

    /// Localises the alerts of dynamic rules with a `localize:` key
    /// ([`super::localize`]) before they go on.
    pub fn with_localizer(mut self, localizer: Arc<super::localize::Localizer>) -> Self {
        self.localizer = Some(localizer);
        self
    }

    /// Sends every alert, stamped, to `forwarder`'s Alertmanagers too.
    pub fn with_forwarder(mut self, forwarder: argus_forward::Forwarder) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// Takes the external labels and URL of `cfg` for the alerts from now on
    /// (all clones of this sink); `listen` is the URL's host when
    /// `rules.external_url` is unset.
    pub fn configure(&self, cfg: &crate::config::Config, listen: std::net::SocketAddr) {
        self.set_external_labels(&cfg.global.external_labels);
        let url = cfg
            .rules
            .external_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}"));
        self.set_external_url(&url);
        if let Some(l) = &self.localizer {
            l.configure(&cfg.dynamic_rules);
        }
    }

    /// Sets the base of the links given to health and dynamic-rule alerts.
    pub fn set_external_url(&self, url: &str) {
        self.stamp
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .external_url = url.trim_end_matches('/').to_string();
    }

    /// Sets the labels added to every alert from now on (all clones of this
    /// sink): the configuration's `global.external_labels`.
    pub fn set_external_labels(&self, labels: &BTreeMap<String, String>) {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.stamp
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .external_labels = Labels::from_pairs(&pairs);
    }

    /// The health checks' alerts.
    pub fn send_health(&self, alerts: &[argus_health::HealthAlert]) {
        let base = self.external_url();
        self.forward(
            "health checks",
            alerts
                .iter()
                .map(|a| {
                    let mut ev = a.event();
                    if ev.generator_url.is_empty() {
                        // The overview lists the services and their state.
                        ev.generator_url = format!("{base}/ui/");
                    }
                    ev
                })
                .collect(),
        );
    }

    fn external_url(&self) -> String {
        self.stamp
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .external_url
            .clone()
    }

    fn forward(&self, source: &'static str, mut alerts: Vec<AlertEvent>) {
        {
            let stamp = self.stamp.read().unwrap_or_else(|e| e.into_inner());
            for a in &mut alerts {
                for l in stamp.external_labels.iter() {
                    if a.labels.get(&l.name).is_none_or(str::is_empty) {
                        a.labels.set(&l.name, &l.value);
                    }
                }
            }
        }
        if let Some(f) = &self.forwarder {
            f.submit(&alerts);
        }
        if let Err(e) = self.ingress.send(alerts) {
            tracing::warn!(source, error = %e, "The alert pipeline did not take a batch of alerts; it was dropped.");
        }
    }
}

impl IngressSink {
    /// The alerts of failed runbooks (an escalation of their incident).
    pub fn send_recovery(&self, alerts: Vec<AlertEvent>) {
        self.forward("runbooks", alerts);
    }

    /// The alerts of the exhaustion and composite health rules; each links
    /// to its series in the explorer.
    pub fn send_predictions(&self, alerts: Vec<AlertEvent>) {
        let base = self.external_url();
        let alerts = alerts
            .into_iter()
            .map(|mut ev| {
                if let (true, Some(series)) =
                    (ev.generator_url.is_empty(), ev.annotations.get("series"))
                {
                    ev.generator_url = crate::ui::explorer_url(&base, series);
                }
                ev
            })
            .collect();
        self.forward("exhaustion and composite health rules", alerts);
    }
}

impl argus_rules::AlertSink for IngressSink {
    fn send(&self, alerts: Vec<argus_rules::Alert>) {
        for a in &alerts {
            tracing::debug!(
                alertname = %a.name(),
                state = a.state.as_str(),
                labels = ?a.labels,
                value = a.value,
                "An alert is due for sending."
            );
        }
        self.forward(
            "rules",
            alerts
                .iter()
                .filter_map(argus_rules::Alert::event)
                .collect(),
        );
    }
}

impl argus_dynamic::AlertSink for IngressSink {
    fn send(&self, alerts: Vec<argus_dynamic::DynamicAlert>) {
        let base = self.external_url();
        self.forward(
            "dynamic rules",
            alerts
                .into_iter()
                .map(|mut a| {
                    if let Some(l) = &self.localizer {
                        l.annotate(&mut a);
                    }
                    let mut ev = a.event();
                    // The explorer shows the series with its learned band.
                    if let (true, Some(series)) =
                        (ev.generator_url.is_empty(), a.annotations.get("series"))
                    {
                        ev.generator_url = crate::ui::explorer_url(&base, series);
                    }
                    ev
                })
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_model::Labels;

    fn rule_alert(fired: Option<i64>) -> argus_rules::Alert {
        argus_rules::Alert {
            labels: Labels::from_pairs(&[("alertname", "R")]),
            annotations: Labels::from_pairs(&[("summary", "s")]),
            state: argus_rules::AlertState::Firing,
            value: 1.0,
            active_at_ms: 0,
            fired_at_ms: fired,
            resolved_at_ms: None,
            last_sent_at_ms: Some(5_000),
            valid_until_ms: Some(245_000),
            keep_firing_since_ms: None,
            generator_url: "http://argus/graph".into(),
        }
    }

    #[test]
    fn each_source_converts_once_into_one_queue() {
        let (sink, q) = ingress(None);
        let mut q = q.unwrap();
        argus_rules::AlertSink::send(&sink, vec![rule_alert(Some(1_000)), rule_alert(None)]);
        let r = q.try_recv().unwrap();
        assert_eq!(r.len(), 1, "a never-fired alert is not sent");
        assert_eq!(
            (
                r[0].starts_at_ms,
                r[0].ends_at_ms,
                r[0].generator_url.as_str()
            ),
            (1_000, Some(245_000), "http://argus/graph")
        );
        let d = argus_dynamic::DynamicAlert {
            labels: Labels::from_pairs(&[("alertname", "D"), ("level", "2")]),
            annotations: Labels::empty(),
            state: argus_dynamic::AlertState::Resolved,
            value: 3.5,
            active_at_ms: 1_000,
            fired_at_ms: 2_000,
            resolved_at_ms: Some(3_000),
            sent_at_ms: 4_000,
            valid_until_ms: None,
        };
        argus_dynamic::AlertSink::send(&sink, vec![d]);
        let r = q.try_recv().unwrap();
        assert_eq!((r[0].starts_at_ms, r[0].ends_at_ms), (2_000, Some(3_000)));
        assert!(r[0].generator_url.is_empty());
        let h = argus_health::HealthAlert {
            labels: [("alertname".to_string(), "ServiceDown".to_string())].into(),
            annotations: [("summary".to_string(), String::new())].into(),
            starts_at_ms: 7,
            ends_at_ms: 9,
            resolved: true,
        };
        sink.send_health(&[h]);
        let r = q.try_recv().unwrap();
        assert_eq!((r[0].starts_at_ms, r[0].ends_at_ms), (7, Some(9)));
        assert_eq!(r[0].annotations["summary"], "");
    }

    #[test]
    fn external_labels_are_added_and_an_alert_s_own_label_wins() {
        let (sink, q) = ingress(None);
        let mut q = q.unwrap();
        sink.set_external_labels(
            &[("cluster", "eu"), ("alertname", "X")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
        );
        let clone = sink.clone();
        argus_rules::AlertSink::send(&clone, vec![rule_alert(Some(1_000))]);
        let r = q.try_recv().unwrap();
        assert_eq!(r[0].labels.get("cluster"), Some("eu"));
        assert_eq!(r[0].labels.get("alertname"), Some("R"));
        let h = argus_health::HealthAlert {
            labels: [("alertname".to_string(), "ServiceDown".to_string())].into(),
            annotations: Default::default(),
            starts_at_ms: 7,
            ends_at_ms: 9,
            resolved: false,
        };
        sink.set_external_url("http://argus:9797/");
        sink.send_health(&[h]);
        let r = q.try_recv().unwrap();
        assert_eq!(r[0].labels.get("cluster"), Some("eu"));
        assert_eq!(r[0].generator_url, "http://argus:9797/ui/");
        let d = argus_dynamic::DynamicAlert {
            labels: Labels::from_pairs(&[("alertname", "D"), ("level", "2")]),
            annotations: Labels::from_pairs(&[("series", "x{a=\"b\"}")]),
            state: argus_dynamic::AlertState::Firing,
            value: 3.5,
            active_at_ms: 1_000,
            fired_at_ms: 2_000,
            resolved_at_ms: None,
            sent_at_ms: 4_000,
            valid_until_ms: None,
        };
        argus_dynamic::AlertSink::send(&sink, vec![d]);
        let r = q.try_recv().unwrap();
        assert_eq!(
            r[0].generator_url,
            "http://argus:9797/ui/explorer?q=x%7Ba%3D%22b%22%7D"
        );
    }

    #[test]
    fn a_hook_replaces_the_queue() {
        let (hook, mut q) = Ingress::channel();
        let (sink, own) = ingress(Some(hook));
        assert!(own.is_none());
        sink.send_health(&[]);
        assert!(q.try_recv().is_none());
    }
}
