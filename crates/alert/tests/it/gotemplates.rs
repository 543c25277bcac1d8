//! Alertmanager Go templates end to end: `templates:` files loaded next to the config, receiver
//! fields rendered with Alertmanager's data model, and load-time errors with file and line.

use argus_alert::channel::{Channels, EmailChannel};
use argus_alert::config::Config;
use argus_alert::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
use argus_model::Labels;
use std::path::Path;
use std::sync::{Arc, Mutex};

const TEMPLATES: &str = r#"{{ define "team.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} on {{ .CommonLabels.cluster }}{{ end }}

{{/* One line per alert, labels without the common ones. */}}
{{ define "team.text" -}}
{{ range .Alerts -}}
* {{ .Status }} {{ .Annotations.summary }} ({{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }})
{{ end -}}
{{ end }}

{{ define "email.subject" }}{{ template "team.title" . }} / {{ join ", " (.CommonLabels.Remove (stringSlice "cluster")).Values }}{{ end }}
"#;

fn write_config(dir: &Path, url: &str, title: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("tmpl")).unwrap();
    std::fs::write(dir.join("tmpl/team.tmpl"), TEMPLATES).unwrap();
    let yml = dir.join("alertmanager.yml");
    std::fs::write(
        &yml,
        format!(
            r#"global:
  slack_api_url: '{url}'
  smtp_smarthost: '127.0.0.1:2525'
  smtp_from: 'argus@example.com'
templates:
  - 'tmpl/*.tmpl'
route:
  receiver: team
receivers:
  - name: team
    slack_configs:
      - channel: '#ops'
        title: '{title}'
        text: '{{{{ template "team.text" . }}}}'
        pretext: '{{{{ .CommonLabels.cluster | reReplaceAll "-[0-9]+$" "" }}}}'
        fields:
          - title: 'Firing'
            value: '{{{{ range .Alerts.Firing }}}}{{{{ .Labels.instance }}}} {{{{ end }}}}'
    email_configs:
      - to: 'oncall@example.com'
        require_tls: false
        headers:
          Subject: '{{{{ template "email.subject" . }}}}'
"#
        ),
    )
    .unwrap();
    yml
}

fn notification() -> Notification {
    let labels = |inst: &str| {
        Labels::from_pairs(&[
            ("alertname", "DiskFull"),
            ("cluster", "eu-1"),
            ("instance", inst),
            ("severity", "critical"),
        ])
    };
    let a = Alert::firing(labels("db1"), 1_000).with_annotation("summary", "disk 95%");
    let b = Alert::firing(labels("db2"), 1_000)
        .with_annotation("summary", "disk 91%")
        .resolved_at(5_000);
    Notification::new(
        "team",
        0,
        IntegrationKind::Slack,
        "{}:{alertname=\"DiskFull\"}",
        Labels::from_pairs(&[("alertname", "DiskFull")]),
        vec![
            NotifiedAlert::new(a, AlertStatus::Firing),
            NotifiedAlert::new(b, AlertStatus::Resolved),
        ],
        6_000,
    )
}

/// A local HTTP server that records request bodies.
async fn sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let s = s2.clone();
            async move {
                s.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

#[tokio::test]
async fn slack_renders_templates_files_through_the_channels() {
    let (url, seen) = sink().await;
    let dir = tempfile::tempdir().unwrap();
    let yml = write_config(dir.path(), &url, r#"{{ template "team.title" . }}"#);
    let cfg = Config::load(&yml).unwrap();
    let channels = Channels::from_config(&cfg).unwrap();
    let slack = channels
        .get("team", 1)
        .expect("slack is the second integration");
    slack.notify(&notification()).await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&seen.lock().unwrap()[0]).unwrap();
    let att = &body["attachments"][0];
    assert_eq!(att["title"], "[FIRING:1] DiskFull on eu-1");
    assert_eq!(
        att["text"],
        "* firing disk 95% (alertname=DiskFull cluster=eu-1 instance=db1 severity=critical )\n\
         * resolved disk 91% (alertname=DiskFull cluster=eu-1 instance=db2 severity=critical )\n"
    );
    assert_eq!(att["pretext"], "eu");
    assert_eq!(att["fields"][0]["title"], "Firing");
    assert_eq!(att["fields"][0]["value"], "db1 ");
    assert_eq!(body["channel"], "#ops");
}

#[tokio::test]
async fn email_subject_and_default_names() {
    let dir = tempfile::tempdir().unwrap();
    let yml = write_config(
        dir.path(),
        "http://127.0.0.1:9/hook",
        "{{ template \"slack.default.title\" . }}",
    );
    let cfg = Config::load(&yml).unwrap();
    let email = EmailChannel::from_config(
        &cfg.receivers[0].email_configs[0],
        &cfg.global,
        "http://argus",
    )
    .unwrap()
    .with_templates(cfg.go_templates.clone());
    let msg = String::from_utf8(email.message(&notification()).unwrap().formatted()).unwrap();
    assert!(
        msg.contains("Subject: [FIRING:1] DiskFull on eu-1 / DiskFull, critical"),
        "{msg}"
    );
}

#[test]
fn errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let yml = write_config(
        dir.path(),
        "http://x/hook",
        "{{ template \"team.title\" . }}",
    );
    // An unknown function in a templates file: the file and its line.
    std::fs::write(
        dir.path().join("tmpl/bad.tmpl"),
        "{{ define \"x\" }}\nok\n{{ .X | nosuchfunc }}{{ end }}\n",
    )
    .unwrap();
    let e = Config::load(&yml).unwrap_err().to_string();
    assert!(e.contains("bad.tmpl line 3"), "{e}");
    assert!(e.contains("function \"nosuchfunc\" not defined"), "{e}");
    // A call to an undefined template inside a file.
    std::fs::write(
        dir.path().join("tmpl/bad.tmpl"),
        "\n{{ define \"x\" }}{{ template \"missing\" . }}{{ end }}\n",
    )
    .unwrap();
    let e = Config::load(&yml).unwrap_err().to_string();
    assert!(
        e.contains("bad.tmpl line 2") && e.contains("no such template \"missing\""),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("tmpl/bad.tmpl")).unwrap();
    // An unknown template name in a receiver field: the config file and the field's line.
    let yml = write_config(dir.path(), "http://x/hook", "{{ template \"nope\" . }}");
    let e = Config::load(&yml).unwrap_err().to_string();
    assert!(e.contains("alertmanager.yml line 13"), "{e}");
    assert!(
        e.contains("receiver \"team\": title") && e.contains("no such template \"nope\""),
        "{e}"
    );
    // An unknown function in a field.
    let yml = write_config(dir.path(), "http://x/hook", "{{ .Status | shout }}");
    let e = Config::load(&yml).unwrap_err().to_string();
    assert!(
        e.contains("line 13") && e.contains("function \"shout\" not defined"),
        "{e}"
    );
}

#[tokio::test]
async fn reload_picks_up_changed_templates() {
    let (url, seen) = sink().await;
    let dir = tempfile::tempdir().unwrap();
    let yml = write_config(dir.path(), &url, "{{ template \"team.title\" . }}");
    let n = notification();
    let send = |cfg: Config| {
        let n = n.clone();
        async move {
            let ch = Channels::from_config(&cfg).unwrap();
            ch.get("team", 1).unwrap().notify(&n).await.unwrap();
        }
    };
    send(Config::load(&yml).unwrap()).await;
    std::fs::write(
        dir.path().join("tmpl/team.tmpl"),
        TEMPLATES.replace(
            " on {{ .CommonLabels.cluster }}",
            " @ {{ .GroupLabels.alertname }}",
        ),
    )
    .unwrap();
    send(Config::load(&yml).unwrap()).await;
    let titles: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["attachments"][0]["title"]
                .to_string()
        })
        .collect();
    assert_eq!(
        titles,
        [
            "\"[FIRING:1] DiskFull on eu-1\"",
            "\"[FIRING:1] DiskFull @ DiskFull\""
        ]
    );
}

/// A resolved alert that fired at 2024-05-01T10:00:00.25Z and ended 90 s later.
fn timed() -> argus_gotmpl::Value {
    let start = 1_714_557_600_250;
    let mut a = Alert::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("instance", "web-1")]),
        start,
    );
    a.ends_at = start + 90_000;
    let n = Notification::new(
        "team",
        0,
        IntegrationKind::Webhook,
        "{}:{alertname=\"Down\"}",
        Labels::from_pairs(&[("alertname", "Down")]),
        vec![NotifiedAlert::new(a, AlertStatus::Resolved)],
        start + 100_000,
    );
    argus_alert::template::go::data(&n.webhook_message("", 0))
}

#[test]
fn alert_times_are_go_times_with_alertmanager_time_functions() {
    use argus_alert::template::go::GoTemplates;
    use argus_model::ManualClock;
    // "Now" is two hours and a bit after the start.
    let clock = Arc::new(ManualClock::new(1_714_557_600_250 + 7_384_500));
    let t = GoTemplates::builtin().with_clock(clock);
    let dot = timed();
    let cases = [
        (r#"{{ range .Alerts }}{{ .StartsAt.Format "2006-01-02 15:04:05" }}{{ end }}"#, "2024-05-01 10:00:00"),
        (r#"{{ range .Alerts }}{{ .StartsAt.Format "Mon, 02 Jan 2006 15:04:05.000 MST" }}{{ end }}"#, "Wed, 01 May 2024 10:00:00.250 UTC"),
        ("{{ range .Alerts }}{{ .StartsAt.Unix }} {{ .StartsAt.UTC }}{{ end }}", "1714557600 2024-05-01 10:00:00.25 +0000 UTC"),
        ("{{ range .Alerts }}{{ .StartsAt }} / {{ .EndsAt }}{{ end }}", "2024-05-01 10:00:00.25 +0000 UTC / 2024-05-01 10:01:30.25 +0000 UTC"),
        ("{{ range .Alerts }}{{ .EndsAt.Sub .StartsAt }}{{ end }}", "1m30s"),
        (r#"{{ range .Alerts }}{{ date "15:04 MST" .StartsAt }}{{ end }}"#, "10:00 UTC"),
        (r#"{{ range .Alerts }}{{ .StartsAt | tz "Asia/Shanghai" | date "2006-01-02 15:04 -07:00" }}{{ end }}"#, "2024-05-01 18:00 +08:00"),
        (r#"{{ range .Alerts }}{{ (tz "America/New_York" .StartsAt).Format "3:04PM MST" }}{{ end }}"#, "6:00AM EDT"),
        ("{{ range .Alerts }}{{ since .StartsAt }} | {{ since .StartsAt | humanizeDuration }}{{ end }}", "2h3m4.5s | 2h 3m 4s"),
        ("{{ humanizeDuration 3725 }} {{ humanizeDuration \"0.25\" }}", "1h 2m 5s 250ms"),
        ("{{ range .Alerts }}{{ toJson .StartsAt }} {{ toJson .Labels }}{{ end }}", r#""2024-05-01T10:00:00.25Z" {"alertname":"Down","instance":"web-1"}"#),
    ];
    for (text, want) in cases {
        assert_eq!(t.render(text, &dot).unwrap(), want, "{text}");
    }
    let e = t
        .render(
            r#"{{ range .Alerts }}{{ tz "Mars/Olympus" .StartsAt }}{{ end }}"#,
            &dot,
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown time zone Mars/Olympus"), "{e}");
    let e = t
        .render(r#"{{ date "15:04" "yesterday" }}"#, &dot)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected time.Time; got string"), "{e}");
}

#[test]
fn time_functions_are_accepted_in_config_fields() {
    let yaml = r#"route: {receiver: team}
receivers:
  - name: team
    slack_configs:
      - api_url: 'http://127.0.0.1:1/'
        text: '{{ range .Alerts }}{{ .StartsAt | tz "Europe/Paris" | date "15:04" }} for {{ since .StartsAt | humanizeDuration }}{{ end }}'
"#;
    Config::parse(yaml, "am.yml").expect("the time functions exist at load");
    let bad = yaml.replace("humanizeDuration", "humanizeDurations");
    let e = Config::parse(&bad, "am.yml").unwrap_err().to_string();
    assert!(e.contains("humanizeDurations"), "{e}");
}
