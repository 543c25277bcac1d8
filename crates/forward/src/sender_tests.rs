//! The forwarder's unit tests: relabelled targets, the queue, resends, and
//! the entries it refuses.

use super::*;
use argus_model::SystemClock;

fn relabel_cfg(yaml: &str) -> Vec<RelabelConfig> {
    serde_saphyr::from_str(yaml).unwrap()
}

/// The error `prepare` gives for one Alertmanager entry written as `yaml`.
fn refused(yaml: &str) -> String {
    let c: AlertmanagerConfig = serde_saphyr::from_str(yaml).unwrap();
    Settings {
        alertmanagers: vec![c],
        ..Settings::default()
    }
    .prepare()
    .unwrap_err()
    .to_string()
}

#[test]
fn a_bad_discovery_entry_is_named() {
    let e = refused("dns_sd_configs: [{names: [am.example], type: A}]\n");
    assert!(
        e.contains(
            "alerting.alertmanagers[0]: dns_sd_configs[0]: dns_sd_configs: a port is required for A records"
        ),
        "{e}"
    );
}

#[test]
fn an_unsupported_discovery_is_refused_with_the_reason() {
    let e = refused("consul_sd_configs: [{server: consul:8500}]\n");
    assert!(
        e.contains("consul_sd_configs: this discovery is not implemented"),
        "{e}"
    );
}

fn forwarder(settings: Settings) -> Forwarder {
    let f = Forwarder::new(Arc::new(SystemClock));
    f.apply(settings.prepare().unwrap());
    f
}

fn ev(name: &str) -> AlertEvent {
    AlertEvent::new(Labels::from_pairs(&[("alertname", name)]), 1)
}

#[test]
fn targets_are_relabeled_and_can_be_dropped() {
    let mut c = AlertmanagerConfig::new_static(&["a:9093", "b:9093"]);
    c.relabel_configs = relabel_cfg(
        "- {source_labels: [__address__], regex: 'b:.*', action: drop}\n- {target_label: __scheme__, replacement: https}\n",
    );
    assert_eq!(
        target_urls(&c, &c.static_configs),
        ["https://a:9093/api/v2/alerts"]
    );
}

#[test]
fn nothing_is_kept_without_an_alertmanager() {
    let f = forwarder(Settings::default());
    f.submit(&[ev("A")]);
    assert_eq!(f.queue_length(), 0);
    assert!(!f.enabled());
}

#[test]
fn dropped_alerts_are_not_queued_and_a_full_queue_drops_the_oldest() {
    let f = forwarder(Settings {
        alertmanagers: vec![AlertmanagerConfig::new_static(&["127.0.0.1:1"])],
        alert_relabel_configs: relabel_cfg(
            "- {source_labels: [alertname], regex: Noisy, action: drop}\n",
        ),
    });
    f.submit(&[ev("Noisy"), ev("Kept")]);
    assert_eq!(f.queue_length(), 1);
    let many: Vec<AlertEvent> = (0..QUEUE_CAPACITY + 5)
        .map(|i| ev(&format!("A{i}")))
        .collect();
    f.submit(&many);
    assert_eq!(f.queue_length(), QUEUE_CAPACITY);
    assert_eq!(f.counters().dropped.load(Ordering::Relaxed), 6);
}

#[test]
fn a_resend_sends_every_active_alert_and_forgets_long_resolved_ones() {
    let f = forwarder(Settings {
        alertmanagers: vec![AlertmanagerConfig::new_static(&["127.0.0.1:1"])],
        ..Settings::default()
    });
    let now = SystemClock.now_ms();
    f.submit(&[
        ev("Firing"),
        ev("JustResolved").ending_at(now - 1000),
        ev("LongResolved").ending_at(now - RESOLVED_RETENTION_MS - 1),
    ]);
    let (queued, _) = f.take(false);
    assert_eq!(queued.len(), 3);
    let (all, targets) = f.take(true);
    let mut names: Vec<&str> = all
        .iter()
        .filter_map(|a| a.labels.get("alertname"))
        .collect();
    names.sort();
    assert_eq!(names, ["Firing", "JustResolved"]);
    assert_eq!(targets.len(), 1);
}

#[test]
fn a_bad_entry_is_named() {
    let mut c = AlertmanagerConfig::new_static(&["a:1"]);
    c.scheme = "ftp".into();
    let e = Settings {
        alertmanagers: vec![AlertmanagerConfig::new_static(&["b:1"]), c],
        ..Settings::default()
    }
    .prepare()
    .unwrap_err();
    assert_eq!(e.key, "alerting.alertmanagers[1]");
    assert!(e.reason.contains("scheme"), "{e}");
}
