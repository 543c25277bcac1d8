use super::*;
use crate::{Alert, AlertStatus, IntegrationKind, Notification, NotifiedAlert};
use argus_model::Labels;

fn dot() -> Value {
    let a = Alert::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("job", "api"), ("instance", "a:1")]),
        1_500,
    )
    .with_annotation("summary", "api down");
    let b = Alert::firing(
        Labels::from_pairs(&[("alertname", "Down"), ("job", "api"), ("instance", "b:1")]),
        1_000,
    )
    .resolved_at(5_000);
    let n = Notification::new(
        "ops",
        0,
        IntegrationKind::Slack,
        "k",
        Labels::from_pairs(&[("job", "api")]),
        vec![
            NotifiedAlert::new(a, AlertStatus::Firing),
            NotifiedAlert::new(b, AlertStatus::Resolved),
        ],
        6_000,
    );
    data(&n.webhook_message("http://argus", 0))
}

fn render(t: &str) -> String {
    let mut g = GoTemplates::builtin();
    g.prepare(t).unwrap_or_else(|e| panic!("{t}: {e}"));
    g.render(t, &dot()).unwrap_or_else(|e| panic!("{t}: {e}"))
}

#[test]
fn data_model_methods_and_functions() {
    let cases: &[(&str, &str)] = &[
        (
            "{{ .Receiver }} {{ .Status }} {{ .ExternalURL }}",
            "ops firing http://argus",
        ),
        (
            "{{ len .Alerts }} {{ len .Alerts.Firing }} {{ len .Alerts.Resolved }}",
            "2 1 1",
        ),
        (
            "{{ range .Alerts.Resolved }}{{ .Labels.instance }} {{ .EndsAt }}{{ end }}",
            "b:1 1970-01-01 00:00:05 +0000 UTC",
        ),
        (
            "{{ (index .Alerts 0).StartsAt }}",
            "1970-01-01 00:00:01.5 +0000 UTC",
        ),
        ("{{ .CommonLabels.SortedPairs.Names }}", "[alertname job]"),
        ("{{ .CommonLabels.Names | join \",\" }}", "alertname,job"),
        ("{{ .CommonLabels.Values }}", "[Down api]"),
        (
            "{{ (.CommonLabels.Remove (stringSlice \"alertname\")).Names }}",
            "[job]",
        ),
        (
            "{{ range .CommonLabels.SortedPairs }}{{ .Name }}:{{ .Value }};{{ end }}",
            "alertname:Down;job:api;",
        ),
        (
            "{{ .GroupLabels.job | title }} {{ toLower \"ABC\" }} {{ trimSpace \"  x \" }}",
            "Api abc x",
        ),
        ("{{ if match \"^a\" .CommonLabels.job }}yes{{ end }}", "yes"),
        (
            "{{ reReplaceAll \":.*\" \"\" (index .Alerts 0).Labels.instance }}",
            "a",
        ),
        (
            "{{ urlUnescape \"a%20b+c\" }} {{ safeHtml \"<b>\" }}",
            "a b c <b>",
        ),
        ("{{ (index .Alerts 0).Fingerprint | len }}", "16"),
    ];
    for (t, want) in cases {
        assert_eq!(render(t), *want, "{t}");
    }
}

#[test]
fn argus_defines_the_default_names() {
    assert_eq!(
        render("{{ template \"slack.default.title\" . }}"),
        "[FIRING:1] Down"
    );
    assert_eq!(
        render("{{ template \"slack.default.text\" . }}"),
        "Firing (1):\n- api down\n  labels: alertname=Down, instance=a:1, job=api\nResolved (1):\n- Down\n  labels: alertname=Down, instance=b:1, job=api\n"
    );
    let html = render("{{ template \"email.default.html\" . }}");
    assert!(html.contains("<h2>[FIRING:1] Down</h2>"), "{html}");
    assert!(html.contains("<li>instance = b:1</li>"), "{html}");
    for name in [
        "email.default.subject",
        "pagerduty.default.description",
        "__subject",
        "__text",
    ] {
        assert!(
            !render(&format!("{{{{ template \"{name}\" . }}}}")).is_empty(),
            "{name}"
        );
    }
}

#[test]
fn telling_go_from_minijinja() {
    for t in [
        "{{ .CommonLabels.alertname }}",
        "{{ template \"x\" . }}",
        "{{- range .Alerts }}{{ end }}",
        "{{ toUpper \"x\" }}",
        "{{ $x := 1 }}",
        "{{ nosuch .X }}",
    ] {
        assert!(is_go_template(t), "{t}");
    }
    for t in [
        "plain",
        "{{ status|upper }}",
        "{{ common_labels.alertname or 'x' }}",
        "{% for a in alerts %}{{ a.status }}{% endfor %}",
    ] {
        assert!(!is_go_template(t), "{t}");
    }
}

#[test]
fn errors() {
    let mut g = GoTemplates::builtin();
    assert!(g
        .add_file("f", "{{ define \"a\" }}{{ .X | nope }}{{ end }}")
        .unwrap_err()
        .to_string()
        .contains("\"nope\" not defined"));
    assert!(g
        .prepare("{{ template \"zz\" . }}")
        .unwrap_err()
        .to_string()
        .contains("no such template \"zz\""));
    let e = g
        .render("{{ (index .Alerts 5).Status }}", &dot())
        .unwrap_err();
    assert!(e.to_string().contains("index out of range: 5"), "{e}");
}
