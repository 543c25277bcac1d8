use super::*;
use argus_model::Labels;

fn data() -> AlertTemplateData {
    AlertTemplateData {
        labels: Labels::from_pairs(&[
            ("instance", "web-1:9100"),
            ("job", "node"),
            ("path", "/var/log"),
        ]),
        external_labels: Labels::from_pairs(&[("cluster", "eu1")]),
        external_url: "http://argus:9090".into(),
        value: 0.123456,
    }
}

fn q(expr: &str, _t: i64) -> Result<Vec<argus_promql::VectorSample>, String> {
    match expr {
        "up" => Ok(vec![
            argus_promql::VectorSample {
                labels: Labels::from_pairs(&[("instance", "b")]),
                t: 0,
                v: 0.0,
            },
            argus_promql::VectorSample {
                labels: Labels::from_pairs(&[("instance", "a")]),
                t: 0,
                v: 1.0,
            },
        ]),
        "none" => Ok(vec![]),
        _ => Err("bad query".into()),
    }
}

fn ex(text: &str) -> String {
    expand_alert_text("Test", text, &data(), Some(&q), 60_000)
}

#[test]
fn function_table() {
    let cases: &[(&str, &str)] = &[
        ("{{ $labels.instance }}", "web-1:9100"),
        ("{{ .Labels.job }}", "node"),
        ("{{ $labels.missing }}|", "|"),
        ("{{ $value }}", "0.123456"),
        ("{{ .Value }}", "0.123456"),
        ("{{ $externalLabels.cluster }} {{ .ExternalURL }}", "eu1 http://argus:9090"),
        ("{{ $value | humanizePercentage }}", "12.35%"),
        ("{{ 1234567.0 | humanize }}", "1.235M"),
        ("{{ 0.0012 | humanize }}", "1.2m"),
        ("{{ 0 | humanize }}", "0"),
        ("{{ humanize 999 }}", "999"),
        ("{{ 1048576.0 | humanize1024 }}", "1Mi"),
        ("{{ 1.0 | humanize1024 }}", "1"),
        ("{{ 3725.0 | humanizeDuration }}", "1h 2m 5s"),
        ("{{ 90061.0 | humanizeDuration }}", "1d 1h 1m 1s"),
        ("{{ 1.5 | humanizeDuration }}", "1.5s"),
        ("{{ 0.25 | humanizeDuration }}", "250ms"),
        ("{{ 0.0 | humanizeDuration }}", "0s"),
        ("{{ 1435065584.128 | humanizeTimestamp }}", "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ \"1000\" | humanize }}", "1k"),
        ("{{ printf \"%.2f\" $value }}", "0.12"),
        ("{{ printf \"%s=%d\" \"n\" 3 }}", "n=3"),
        ("{{ \"abc\" | toUpper }}{{ \"DeF\" | toLower }}", "ABCdef"),
        ("{{ title \"hello big world\" }}", "Hello Big World"),
        ("{{ reReplaceAll \":[0-9]+$\" \"\" $labels.instance }}", "web-1"),
        ("{{ reReplaceAll \"(\\\\w+)-(\\\\d)\" \"$2-$1\" \"web-1\" }}", "1-web"),
        ("{{ $labels.instance | stripPort }}", "web-1"),
        ("{{ if gt $value 0.1 }}high{{ else }}low{{ end }}", "high"),
        ("{{ if lt $value 0.1 }}low{{ else if eq $labels.job \"node\" }}node{{ else }}x{{ end }}", "node"),
        ("{{- /* comment */ -}} a  {{- \" b\" }}", "a b"),
        ("{{ with query \"up\" }}{{ . | first | value }}{{ end }}", "0"),
        ("{{ query \"up\" | first | label \"instance\" }}", "b"),
        ("{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}", "a=1;b=0;"),
        ("{{ range $i, $s := query \"up\" }}{{ $i }}{{ end }}", "01"),
        ("{{ with query \"none\" }}some{{ else }}none{{ end }}", "none"),
        ("{{ $x := \"v\" }}{{ $x }}", "v"),
        ("{{ len $labels }}", "3"),
        ("{{ index $labels \"job\" }}", "node"),
        ("{{ and true \"x\" }} {{ or \"\" \"y\" }} {{ not false }}", "x y true"),
        ("{{ match \"^web\" $labels.instance }}", "true"),
        ("{{ (query \"up\" | first).Value }}", "0"),
        ("{{ 1e6 }}", "1e+06"),
        ("{{ \"ok\" | safeHtml }}", "ok"),
        ("{{ \"host.example.com:80\" | stripDomain }}", "host:80"),
        ("{{ args 1 \"b\" }}", "map[arg0:1 arg1:b]"),
        ("{{ parseDuration \"1m30s\" }}", "90"),
        ("{{ externalURL }}", "http://argus:9090"),
        ("{{ define \"j\" }}<{{ . }}>{{ end }}{{ template \"j\" $labels.job }}", "<node>"),
        ("{{ html \"a<b\" }}", "a&lt;b"),
    ];
    for (tpl, want) in cases {
        assert_eq!(ex(tpl), *want, "template {tpl}");
    }
}

#[test]
fn execution_errors_become_text() {
    let out = ex("{{ humanize \"abc\" }}");
    assert!(
        out.starts_with("<error expanding template: template: __alert_Test: executing"),
        "{out}"
    );
    assert!(out.contains("error calling humanize"), "{out}");
    let out = ex("{{ query \"oops\" }}");
    assert!(out.contains("bad query"), "{out}");
    let out = ex("{{ query \"none\" | first }}");
    assert!(
        out.contains("first() called on vector with no elements"),
        "{out}"
    );
}

#[test]
fn parse_errors() {
    for (tpl, want) in [
        ("{{ $nope }}", "undefined variable \"$nope\""),
        ("{{ nofunc 1 }}", "function \"nofunc\" not defined"),
        ("{{ if true }}x", "unexpected EOF"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ \"x }}", "unclosed action"),
        ("{{ template \"nope\" . }}", "no such template \"nope\""),
        ("{{ break }}", "not supported"),
    ] {
        let e = check_alert_template("A", tpl).unwrap_err().to_string();
        assert!(e.contains(want), "{tpl}: {e}");
    }
    assert!(check_alert_template("A", "plain {{ $labels.x | toUpper }}").is_ok());
}
