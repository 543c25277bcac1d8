//! Go's time values in templates: layouts, `String()`, methods, durations.

use super::*;

/// 2023-11-14 22:13:20.5 UTC, a Tuesday, day 318 of the year.
fn t0() -> GoTime {
    GoTime::from_unix(1_700_000_000, 500_000_000)
}

#[test]
fn formats_go_layouts_like_go() {
    let t = t0();
    let cases = [
        ("2006-01-02 15:04:05", "2023-11-14 22:13:20"),
        (
            "Mon Jan _2 15:04:05 MST 2006",
            "Tue Nov 14 22:13:20 UTC 2023",
        ),
        (time_layouts::RFC3339, "2023-11-14T22:13:20Z"),
        (time_layouts::RFC3339_NANO, "2023-11-14T22:13:20.5Z"),
        (time_layouts::KITCHEN, "10:13PM"),
        ("03:04:05pm", "10:13:20pm"),
        (
            "Jan 2, 2006 at 3:04pm (MST)",
            "Nov 14, 2023 at 10:13pm (UTC)",
        ),
        ("05.000|05.999|05,000|.00|.9", "20.500|20.5|20,500|.50|.5"),
        (
            "002 __2 06 1 01 January Monday",
            "318 318 23 11 11 November Tuesday",
        ),
        ("-0700 -07:00 -07 Z0700", "+0000 +00:00 +00 Z"),
        // Text that is not a layout element is copied; digits 7 to 9 are not elements.
        ("at 789 o'clock", "at 789 o'clock"),
    ];
    for (layout, want) in cases {
        assert_eq!(t.format(layout), want, "layout {layout:?}");
    }
    let zero_frac = GoTime::from_unix(1_700_000_000, 0);
    assert_eq!(
        zero_frac.format("05.999"),
        "20",
        "all-zero .999 drops the dot"
    );
    assert_eq!(zero_frac.format("05.000"), "20.000");
}

#[test]
fn zones_offsets_and_string() {
    let ist = t0().in_zone(19_800, "IST");
    assert_eq!(
        ist.format("2006-01-02 15:04 -07:00 Z07:00 MST"),
        "2023-11-15 03:43 +05:30 +05:30 IST"
    );
    let west = t0().in_zone(-3_600, "");
    assert_eq!(west.format("15:04 MST -0700"), "21:13 -0100 -0100");
    assert_eq!(t0().go_string(), "2023-11-14 22:13:20.5 +0000 UTC");
    assert_eq!(ist.utc(), t0());
    let z = GoTime::zero();
    assert_eq!(
        Value::Time(z.clone()).to_go_string(),
        "0001-01-01 00:00:00 +0000 UTC"
    );
    assert!(z.is_zero() && !t0().is_zero());
    assert_eq!(z.secs, -62_135_596_800);
    assert_eq!(
        GoTime::from_unix_ms(-1).format(time_layouts::RFC3339_NANO),
        "1969-12-31T23:59:59.999Z"
    );
}

#[test]
fn parses_rfc3339_with_offsets_and_rejects_bad_times() {
    let t = GoTime::parse_rfc3339("2024-02-29T23:59:59.123+02:00").unwrap();
    assert_eq!(
        t.format(time_layouts::RFC3339_NANO),
        "2024-02-29T23:59:59.123+02:00"
    );
    assert_eq!(
        t.utc().format(time_layouts::RFC3339),
        "2024-02-29T21:59:59Z"
    );
    assert_eq!(t.format("MST"), "+0200", "no zone name: numeric, as Go");
    assert_eq!(
        GoTime::parse_rfc3339("1970-01-01T00:00:00Z").unwrap(),
        GoTime::from_unix(0, 0)
    );
    for bad in [
        "2023-02-29T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "yesterday",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.Z",
    ] {
        assert!(GoTime::parse_rfc3339(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn durations_print_like_go() {
    let cases = [
        (0, "0s"),
        (999, "999ns"),
        (2_000, "2µs"),
        (1_500_000, "1.5ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_661_000_000_000, "1h1m1s"),
        (-90_000_000_000, "-1m30s"),
    ];
    for (d, want) in cases {
        assert_eq!(go_duration(d), want, "{d} ns");
    }
}

#[test]
fn humanize_duration_matches_prometheus() {
    let cases = [
        (3725.0, "1h 2m 5s"),
        (90061.0, "1d 1h 1m 1s"),
        (61.0, "1m 1s"),
        (-61.0, "-1m 1s"),
        (1.5, "1.5s"),
        (0.0, "0s"),
        (0.012, "12ms"),
        (0.0000015, "1.5us"),
    ];
    for (v, want) in cases {
        assert_eq!(humanize_duration(v), want, "{v} s");
    }
}

fn run(text: &str) -> Result<String, Error> {
    let t1 = t0();
    let dot = Value::Map(BTreeMap::from([
        ("T".to_string(), Value::Time(t1.in_zone(3_600, "CET"))),
        (
            "Z".to_string(),
            Value::Time(GoTime::from_unix(1_699_999_000, 0)),
        ),
        ("D".to_string(), Value::Duration(90_500_000_000)),
    ]));
    let f = Funcs::new();
    Template::parse("t", text, &[], &f)?.execute(&dot, &[], &f)
}

#[test]
fn time_and_duration_methods_in_templates() {
    let cases = [
        (
            r#"{{ .T.Format "2006-01-02 15:04:05 MST" }}"#,
            "2023-11-14 23:13:20 CET",
        ),
        (
            "{{ .T.Unix }} {{ .T.UnixMilli }}",
            "1700000000 1700000000500",
        ),
        ("{{ .T.UTC }}", "2023-11-14 22:13:20.5 +0000 UTC"),
        ("{{ .T }}", "2023-11-14 23:13:20.5 +0100 CET"),
        (
            "{{ .T.Year }}-{{ .T.Month }}-{{ .T.Day }} {{ .T.Weekday }} {{ .T.Hour }}",
            "2023-November-14 Tuesday 23",
        ),
        (
            "{{ .T.Sub .Z }} {{ (.T.Sub .Z).Seconds }}",
            "16m40.5s 1000.5",
        ),
        (
            "{{ if .T.After .Z }}after{{ end }} {{ .Z.Before .T }} {{ .T.Equal .T.UTC }}",
            "after true true",
        ),
        (
            "{{ .D }} {{ .D.Minutes }} {{ .D.Milliseconds }} {{ .D.Round 60000000000 }}",
            "1m30.5s 1.5083333333333333 90500 2m0s",
        ),
        (
            "{{ .D.Truncate 60000000000 }} {{ (.T.Add .D).UTC.Format \"15:04:05.0\" }}",
            "1m0s 22:14:51.0",
        ),
        (
            "{{ if .T }}set{{ end }} {{ .T.IsZero }} {{ lt .Z .T }} {{ eq .T .T }}",
            "set false true true",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(run(text).unwrap(), want, "{text}");
    }
    let e = run(r#"{{ .T.Format 3 }}"#).unwrap_err().to_string();
    assert!(
        e.contains("error calling Format") && e.contains("layout string"),
        "{e}"
    );
    let e = run("{{ .T.Nope }}").unwrap_err().to_string();
    assert!(
        e.contains("can't evaluate field Nope in type time.Time"),
        "{e}"
    );
}
