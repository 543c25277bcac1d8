//! `line_format` and `label_format`: templates over labels, `__line__` and `__timestamp__`,
//! the functions, and their errors.

use super::tests_eval::{logs, matrix, pts, range, rec, streams};
use super::*;
use crate::record::MemorySource;
use argus_model::Labels;
use proptest::prelude::*;
use serde_json::json;

fn src() -> MemorySource {
    MemorySource::from_records(vec![
        rec(
            &[("app", "api")],
            10,
            r#"level=info path=/api/users bytes=1536 n=4 msg="  hello world  ""#,
        ),
        rec(&[("app", "api")], 20, "level=error path=/health n=7"),
    ])
}

/// The lines of a log query, oldest first.
fn lines(src: &MemorySource, q: &str) -> Vec<String> {
    let v = logs(src, q, 100, Direction::Forward);
    let mut out: Vec<(String, String)> = streams(&v).into_iter().flat_map(|s| s.1).collect();
    out.sort();
    out.into_iter().map(|(_, l)| l).collect()
}

fn first_line(q: &str) -> String {
    lines(&src(), q).remove(0)
}

#[test]
fn line_format_reads_labels_line_and_time() {
    let q = r#"{app="api"} | logfmt | line_format "{{.level | ToUpper}} {{.path}} {{.missing}}|""#;
    assert_eq!(lines(&src(), q), ["INFO /api/users |", "ERROR /health |"]);
    let q = r#"{app="api"} | line_format `{{ (__timestamp__).Unix }} {{ unixEpoch __timestamp__ }} {{ __timestamp__ | date "15:04:05" }} {{__line__ | trunc 10}}`"#;
    assert_eq!(lines(&src(), q)[0], "10 10 00:00:10 level=info");
    // Backticks keep the quotes of the template readable.
    let q = r#"{app="api"} | logfmt | line_format `{{ printf "%s:%s" .app .level }}`"#;
    assert_eq!(lines(&src(), q), ["api:info", "api:error"]);
}

#[test]
fn line_format_functions() {
    for (tmpl, want) in [
        (r#"{{ .msg | trim }}"#, "hello world"),
        (r#"{{ .path | trimPrefix "/api" }}"#, "/users"),
        (r#"{{ .path | trimSuffix "users" }}"#, "/api/"),
        (r#"{{ TrimPrefix .path "/api" }}"#, "/users"),
        (r#"{{ .path | replace "/" "." }}"#, ".api.users"),
        (r#"{{ Replace .path "/" "." 1 }}"#, ".api/users"),
        (
            r#"{{ regexReplaceAll "/(\\w+)" .path "<$1>" }}"#,
            "<api><users>",
        ),
        (r#"{{ .nothing | default "none" }}"#, "none"),
        (r#"{{ .level | default "none" }}"#, "info"),
        (r#"{{ substr 1 4 .path }}"#, "api"),
        (r#"{{ .level | upper | lower }}"#, "info"),
        (r#"{{ .level | title }}"#, "Info"),
        // 1536 / 1024 = 1 in integers, 1.5 in floats.
        (r#"{{ div .bytes 1024 }} {{ divf .bytes 1024 }}"#, "1 1.5"),
        (
            r#"{{ printf "%.2f|%d|%v" (divf .bytes 1024) (add .n 2) .level }}"#,
            "1.50|6|info",
        ),
        (
            r#"{{ add .n 1 }} {{ sub 10 .n }} {{ mul .n 3 }} {{ mod 7 .n }}"#,
            "5 6 12 3",
        ),
        (r#"{{ if eq .level "info" }}ok{{ else }}bad{{ end }}"#, "ok"),
        (
            r#"{{ if and (ne .level "error") (not (eq .n "5")) }}y{{ end }}"#,
            "y",
        ),
        (
            r#"{{ if or (eq .level "x") (contains "users" .path) }}y{{ end }}"#,
            "y",
        ),
        (
            r#"{{ .level | len }} {{ duration "1m30s" }} {{ bytes "2KiB" }}"#,
            "4 90 2048",
        ),
        (r#"[{{ alignRight 6 .level }}]"#, "[  info]"),
        (r#"{{ .path | b64enc }}"#, "L2FwaS91c2Vycw=="),
        (r#"{{ .path | b64enc | b64dec }}"#, "/api/users"),
        (
            r#"{{ printf "%s a+b=c~&é" .path | urlencode }}"#,
            "%2Fapi%2Fusers+a%2Bb%3Dc~%26%C3%A9",
        ),
        (r#"{{ "%2Fx+y%C3%A9" | urldecode }}"#, "/x yé"),
        (
            r#"{{ if gt (unixEpoch now) 1700000000 }}later{{ end }}"#,
            "later",
        ),
        (
            r#"{{ toJson .level }} {{ (fromJson "{\"a\": [1, \"x\"]}").a | toJson }}"#,
            r#""info" [1,"x"]"#,
        ),
        (r#"{{ (fromJson "{\"code\": 502}").code }}"#, "502"),
    ] {
        let q = format!("{{app=\"api\"}} | logfmt | line_format `{tmpl}`");
        assert_eq!(first_line(&q), want, "{tmpl}");
    }
}

#[test]
fn filters_and_parsers_after_line_format_see_the_new_line() {
    let q = r#"{app="api"} | logfmt | line_format "{{.level}}" |= "err""#;
    assert_eq!(lines(&src(), q), ["error"]);
    let q = r#"{app="api"} | logfmt | line_format "code={{.n}}" | logfmt | code > 5"#;
    let v = logs(&src(), q, 100, Direction::Forward);
    let s = streams(&v);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0["code"], "7");
    assert_eq!(s[0].1[0].1, "code=7");
    // bytes_over_time counts the formatted line: "info" and "error", 4 + 5 bytes.
    let v = range(
        &src(),
        r#"sum(bytes_over_time({app="api"} | logfmt | line_format "{{.level}}" [1m]))"#,
        60,
        60,
        60,
    );
    assert_eq!(matrix(&v), vec![(json!({}), pts(&[(60, "9")]))]);
}

#[test]
fn a_template_that_fails_marks_the_line_and_keeps_it() {
    let q = r#"{app="api"} | logfmt | line_format "{{ div 1 0 }}""#;
    let v = logs(&src(), q, 100, Direction::Forward);
    let s = streams(&v);
    assert_eq!(s.len(), 2);
    let e = s.iter().find(|x| x.0["level"] == "error").unwrap();
    assert_eq!(e.0["__error__"], "TemplateFormatErr");
    let details = e.0["__error_details__"].as_str().unwrap();
    assert!(details.contains("division by zero"), "{details}");
    assert_eq!(e.1[0].1, "level=error path=/health n=7");
    let q = r#"{app="api"} | logfmt | line_format "{{ div 1 0 }}" | __error__="""#;
    assert!(lines(&src(), q).is_empty());
}

#[test]
fn label_format_renames_and_templates() {
    let q = r#"{app="api"} | logfmt | keep app, level, n | label_format lvl=level, tag="{{.app}}-{{.n}}", svc=app"#;
    let v = logs(&src(), q, 100, Direction::Forward);
    let s = streams(&v);
    assert_eq!(
        s.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
        vec![
            json!({"lvl": "error", "n": "7", "svc": "api", "tag": "api-7"}),
            json!({"lvl": "info", "n": "4", "svc": "api", "tag": "api-4"}),
        ]
    );
    // Templates read the labels as they were before the stage; renaming a missing label does
    // nothing.
    let q = r#"{app="api"} | logfmt | keep app, level | label_format app=level, was="{{.app}}", x=nope"#;
    let v = logs(&src(), q, 100, Direction::Forward);
    assert_eq!(streams(&v)[0].0, json!({"app": "error", "was": "api"}));
    // Formatted labels group metrics.
    let v = range(
        &src(),
        r#"sum by (kind) (count_over_time({app="api"} | logfmt | label_format kind=`{{ if eq .level "error" }}bad{{ else }}good{{ end }}` [1m]))"#,
        60,
        60,
        60,
    );
    assert_eq!(
        matrix(&v),
        vec![
            (json!({"kind": "bad"}), pts(&[(60, "1")])),
            (json!({"kind": "good"}), pts(&[(60, "1")])),
        ]
    );
}

fn syntax(q: &str) -> (usize, String) {
    match parse(q) {
        Err(LogqlError::Syntax { pos, msg }) => (pos, msg),
        other => panic!("{q}: expected a syntax error, got {other:?}"),
    }
}

#[test]
fn template_errors_name_the_function_and_place() {
    let (pos, msg) = syntax(r#"{a="b"} | line_format "{{ frobnicate .x }}""#);
    assert_eq!(pos, 22);
    assert!(
        msg.contains(r#"function "frobnicate" not defined"#),
        "{msg}"
    );
    let (pos, msg) = syntax(r#"{a="b"} | line_format "{{ .x ""#);
    assert_eq!(pos, 22);
    assert!(msg.contains("unclosed"), "{msg}");
    let (_, msg) = syntax(r#"{a="b"} | line_format "{{ if .x }}y""#);
    assert!(msg.contains("unexpected EOF"), "{msg}");
    let (_, msg) = syntax(r#"{a="b"} | line_format x"#);
    assert!(msg.contains("quoted string"), "{msg}");
    let (pos, msg) = syntax(r#"{a="b"} | label_format x="{{ nope }}""#);
    assert_eq!(pos, 25);
    assert!(msg.contains("nope"), "{msg}");
    let (pos, msg) = syntax(r#"{a="b"} | label_format x=y, x="z""#);
    assert_eq!(pos, 28);
    assert!(msg.contains("multiple label name 'x'"), "{msg}");
    let (_, msg) = syntax(r#"{a="b"} | label_format x"#);
    assert!(msg.contains("`=`"), "{msg}");
    let (_, msg) = syntax(r#"{a="b"} | label_format x=3"#);
    assert!(msg.contains("label name or a quoted template"), "{msg}");
    // Every function named in LINE_FUNCS parses.
    for f in LINE_FUNCS {
        let q = format!("{{a=\"b\"}} | line_format `{{{{ if false }}}}{{{{ {f} }}}}{{{{ end }}}}`");
        assert!(parse(&q).is_ok(), "{q}");
    }
}

#[test]
fn bad_arguments_never_panic() {
    // Out-of-range, negative and non-numeric arguments: an output or a marked line, no panic.
    for tmpl in [
        r#"{{ substr 5 2 .path }}"#,
        r#"{{ substr -3 100 .path }}"#,
        r#"{{ trunc -3 .path }}"#,
        r#"{{ trunc 99 .path }}"#,
        r#"{{ repeat 99999999 .path }}"#,
        r#"{{ mul 9223372036854775807 2 }}"#,
        r#"{{ regexReplaceAll "(" .path "x" }}"#,
        r#"{{ date "2006" .path }}"#,
        r#"{{ unixToTime "x" }}"#,
        r#"{{ index .path 3 }}"#,
        r#"{{ printf "%d %s" }}"#,
        r#"{{ "%zz" | urldecode }} {{ "%4" | urldecode }} {{ "@@" | b64dec }}"#,
        r#"{{ fromJson "{" }} {{ fromJson .path }}"#,
        r#"{{ round 2.555 2 }} {{ ceil "x" }} {{ max 1 "9" 3 }}"#,
    ] {
        let q = format!("{{app=\"api\"}} | logfmt | line_format `{tmpl}`");
        let _ = lines(&src(), &q);
    }
    assert_eq!(
        first_line(r#"{app="api"} | logfmt | line_format `{{ substr -3 4 .path }}`"#),
        "/api"
    );
    assert_eq!(
        first_line(r#"{app="api"} | logfmt | line_format `{{ trunc -5 .path }}`"#),
        "users"
    );
    assert_eq!(
        first_line(r#"{app="api"} | logfmt | line_format `{{ max 1 "9" 3 }}`"#),
        "9"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn templates_never_panic(src in "[{}()|. \"a-z0-9_$-]{0,60}") {
        if let Ok(t) = LineTemplate::parse(&src) {
            let l = Labels::from_pairs(&[("a", "1"), ("b", "x")]);
            let _ = t.render(&l, "line", 1);
        }
    }

    #[test]
    fn functions_never_panic_on_any_arguments(
        f in 0..LINE_FUNCS.len(),
        args in proptest::collection::vec("(-?[0-9]{1,20}|\\.a|\\.b|\"[a-z(]{0,3}\"|__timestamp__)", 0..4),
    ) {
        let src = format!("{{{{ {} {} }}}}", LINE_FUNCS[f], args.join(" "));
        if let Ok(t) = LineTemplate::parse(&src) {
            let l = Labels::from_pairs(&[("a", "12"), ("b", "héllo")]);
            let _ = t.render(&l, "line", 1);
        }
    }
}
