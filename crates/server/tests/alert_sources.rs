//! One way in for every alert source: a rule, a health check and a dynamic
//! rule each raise an alert in one running server (`argus_server::run` on a
//! `ManualClock`), and each reaches a real webhook receiver through the one
//! ingress queue, with its labels, status `firing` and its own `startsAt`.
//!
//! - rule: `AlwaysOn` (`expr: vector(1)`), starting at its first evaluation;
//! - health: `ServiceDown` of a TCP probe to a closed port, starting when the
//!   probe failed (the clock's time);
//! - dynamic: `LatencyHigh`, a cold-start outlier imported at the clock's
//!   time, starting at that sample's time.

mod common;
use argus_model::ManualClock;
use common::{free_port, get_json, import_text, start_server, webhook, Hooks};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The first alert named `name` in any payload, with its payload's status.
fn find(h: &Hooks, name: &str) -> Option<(String, Value)> {
    h.lock().unwrap().iter().find_map(|p| {
        p["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .map(|a| (p["status"].as_str().unwrap_or("").to_string(), a.clone()))
    })
}

/// Polls the receiver every 20 ms for an alert named `name`.
async fn wait_for(h: &Hooks, name: &str, within: Duration) -> (String, Value) {
    let t0 = Instant::now();
    loop {
        if let Some(x) = find(h, name) {
            return x;
        }
        assert!(
            t0.elapsed() < within,
            "no {name} at the webhook within {within:?}; payloads: {:?}",
            h.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn ms(rfc3339: &Value) -> i64 {
    let s = rfc3339.as_str().unwrap_or_else(|| panic!("{rfc3339}"));
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .timestamp_millis()
}

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_a_health_check_and_a_dynamic_rule_reach_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let (hook_port, hooks) = webhook().await;
    let closed = free_port();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}}\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{url: 'http://127.0.0.1:{hook_port}/', send_resolved: true}}]\n\
             argus: {{flap_damping: {{enabled: false}}}}\n"
        ),
    )
    .unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: AlwaysOn\n        expr: vector(1)\n        labels: {severity: page}\n        annotations: {summary: always}\n",
    )
    .unwrap();
    let yaml = format!(
        "global: {{evaluation_interval: 1s, external_labels: {{cluster: eu, severity: low}}}}\n\
         rule_files: ['{}']\n\
         alerting: {{config_file: '{}'}}\n\
         health:\n  services:\n\
         \x20   - name: closed\n      node: edge-1\n\
         \x20     probes: [{{type: tcp, address: '127.0.0.1:{closed}', interval: 500ms}}]\n\
         dynamic_rules:\n\
         \x20 - name: LatencyHigh\n\
         \x20   selector: 'req_latency{{job=\"api\"}}'\n\
         \x20   detector: {{kind: latency, period: none, algorithm: ma, min_points: 300}}\n\
         \x20   labels: {{team: web}}\n",
        rules.display(),
        am.display()
    );
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(&dir.path().join("data"), &yaml, clock.clone(), None).await;

    // Thirty normal samples, then an outlier at T0: the cold-start band
    // flags it at once (`for` is 0).
    let mut body = String::new();
    for i in 0..30 {
        let t = T0 - (30 - i) * MIN;
        body.push_str(&format!(
            "req_latency{{job=\"api\",instance=\"a\"}} {} {t}\n",
            100 + i % 7
        ));
    }
    body.push_str(&format!(
        "req_latency{{job=\"api\",instance=\"a\"}} 1000 {T0}\n"
    ));
    import_text(&srv.base, body).await;

    let within = Duration::from_secs(20);

    // The rule: its labels, and the start of its first firing evaluation.
    let (status, rule) = wait_for(&hooks, "AlwaysOn", within).await;
    assert_eq!(
        (status.as_str(), &rule["status"]),
        ("firing", &"firing".into())
    );
    assert_eq!(
        rule["labels"]["severity"], "page",
        "its own label wins: {rule}"
    );
    assert_eq!(rule["labels"]["cluster"], "eu", "external label: {rule}");
    assert_eq!(rule["annotations"]["summary"], "always", "{rule}");
    let active = get_json(format!("{}/api/v1/alerts", srv.base)).await;
    let active_at = active["data"]["alerts"]
        .as_array()
        .and_then(|v| v.iter().find(|a| a["labels"]["alertname"] == "AlwaysOn"))
        .map(|a| ms(&a["activeAt"]))
        .unwrap_or_else(|| panic!("AlwaysOn not in /api/v1/alerts: {active}"));
    assert_eq!(ms(&rule["startsAt"]), active_at, "{rule}");
    assert!(active_at > T0 && active_at <= T0 + 1_000, "{rule}");
    // Alertmanager's payloads carry no end for a firing alert.
    assert_eq!(rule["endsAt"], "0001-01-01T00:00:00Z", "{rule}");
    assert!(
        rule["generatorURL"]
            .as_str()
            .is_some_and(|u| u.contains("/graph?g0.expr=vector%281%29")),
        "{rule}"
    );
    // The link works: `/graph` redirects to the explorer with the expression.
    let link = rule["generatorURL"].as_str().unwrap();
    let r = reqwest::get(format!(
        "{}{}",
        srv.base,
        &link[link.find("/graph").unwrap()..]
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "{link}");
    assert_eq!(
        (r.url().path(), r.url().query()),
        ("/ui/explorer", Some("q=vector%281%29")),
        "{link}"
    );

    // The health check: the service's labels, started at the clock's time.
    let (status, down) = wait_for(&hooks, "ServiceDown", within).await;
    assert_eq!(
        (status.as_str(), &down["status"]),
        ("firing", &"firing".into())
    );
    let l = &down["labels"];
    assert_eq!(
        (
            l["service"].as_str(),
            l["reason"].as_str(),
            l["node"].as_str()
        ),
        (Some("closed"), Some("tcp"), Some("edge-1")),
        "{down}"
    );
    assert_eq!(ms(&down["startsAt"]), T0, "{down}");
    assert_eq!(down["labels"]["cluster"], "eu", "external label: {down}");
    assert!(
        down["generatorURL"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://") && u.ends_with("/ui/")),
        "{down}"
    );

    // The dynamic rule: the series' and rule's labels, started at the
    // outlier's sample time.
    let (status, lat) = wait_for(&hooks, "LatencyHigh", within).await;
    assert_eq!(
        (status.as_str(), &lat["status"]),
        ("firing", &"firing".into())
    );
    let l = &lat["labels"];
    assert_eq!(
        (
            l["team"].as_str(),
            l["instance"].as_str(),
            l["metric"].as_str(),
            l["kind"].as_str()
        ),
        (Some("web"), Some("a"), Some("req_latency"), Some("latency")),
        "{lat}"
    );
    assert_eq!(ms(&lat["startsAt"]), T0, "{lat}");
    assert_eq!(lat["annotations"]["value"], "1000", "{lat}");
    assert_eq!(lat["labels"]["cluster"], "eu", "external label: {lat}");
    assert!(
        lat["generatorURL"]
            .as_str()
            .is_some_and(|u| u
                .ends_with("/ui/explorer?q=req_latency%7Binstance%3D%22a%22%2Cjob%3D%22api%22%7D")),
        "{lat}"
    );

    srv.stop().await;
}
