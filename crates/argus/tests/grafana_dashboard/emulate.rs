//! Grafana's side of a dashboard query, re-done for the test: template
//! variable resolution and escaping (the frontend), and the built-in interval
//! and range variables, step and alignment of the Prometheus backend
//! (`pkg/tsdb/prometheus/models/query.go`, `pkg/tsdb/intervalv2`).
//!
//! ```text
//! interval = max(range / maxDataPoints rounded, timeInterval)   -> step, $__interval
//! $__rate_interval = max($__interval + step, 4 * step)           -> Go's "1m0s"
//! start, end = floor(t / step) * step
//! ```

use serde_json::Value;
use std::collections::BTreeMap;

/// Milliseconds of a Grafana/Prometheus duration such as `15s`.
pub fn dur_ms(s: &str) -> i64 {
    argus_model::parse_duration(s).unwrap_or_else(|e| panic!("duration {s:?}: {e}"))
}

pub fn title(p: &Value) -> String {
    p["title"].as_str().unwrap_or("<untitled>").to_string()
}

/// `$name`, `${name}`, `${name:fmt}` and `[[name]]` references in `s`.
pub fn var_refs(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let ident = |i: usize| {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            let j = ident(i + 2);
            out.push(s[i + 2..j].to_string());
            i = j;
        } else if b[i] == b'$' {
            let j = ident(i + 1);
            out.push(s[i + 1..j].to_string());
            i = j.max(i + 1);
        } else if b[i] == b'[' && b.get(i + 1) == Some(&b'[') {
            let j = ident(i + 2);
            out.push(s[i + 2..j].to_string());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

pub const BUILTINS: [&str; 7] = [
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
    "__rate_interval",
    "__rate_interval_ms",
];

/// A query variable: `label_values(metric, label)`.
pub struct Var {
    pub name: String,
    pub ds_uid: String,
    pub metric: String,
    pub label: String,
    pub multi: bool,
    pub include_all: bool,
    pub all_value: Option<String>,
}

pub fn variables(d: &Value) -> Vec<Var> {
    let list = d["templating"]["list"]
        .as_array()
        .expect("dashboard: templating.list");
    list.iter()
        .map(|v| {
            let name = v["name"].as_str().expect("variable: name").to_string();
            assert_eq!(
                v["type"], "query",
                "variable {name}: only query variables are supported"
            );
            let q = v["query"]["query"].as_str().or(v["query"].as_str());
            let q = q.unwrap_or_else(|| panic!("variable {name}: query"));
            let inner = q
                .trim()
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| {
                    panic!("variable {name}: want label_values(metric, label), got {q}")
                });
            let (metric, label) = inner
                .split_once(',')
                .unwrap_or_else(|| panic!("variable {name}: label_values needs a metric: {q}"));
            Var {
                ds_uid: v["datasource"]["uid"].as_str().unwrap_or("").to_string(),
                metric: metric.trim().to_string(),
                label: label.trim().to_string(),
                multi: v["multi"].as_bool().unwrap_or(false),
                include_all: v["includeAll"].as_bool().unwrap_or(false),
                all_value: v["allValue"].as_str().map(str::to_string),
                name,
            }
        })
        .collect()
}

/// Grafana's `prometheusRegularEscape`.
fn regular_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\'', "\\\\'")
}

/// Grafana's `prometheusSpecialRegexEscape`: regex metacharacters escaped for a
/// regex inside a PromQL string (`a.b` becomes `a\\.b`, the regex `a\.b`).
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\\\\\"),
            '$' | '^' | '*' | '{' | '}' | '[' | ']' | '\'' | '+' | '?' | '.' | '(' | ')' | '|' => {
                out.push_str("\\\\");
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The value Grafana interpolates for `v` after loading the dashboard: the
/// saved "All" when the variable has one, else its first option.
pub fn resolve(v: &Var, values: &[String]) -> Result<String, String> {
    if v.include_all {
        return Ok(match &v.all_value {
            Some(a) => a.clone(),
            None => format!(
                "({})",
                values
                    .iter()
                    .map(|x| regex_escape(x))
                    .collect::<Vec<_>>()
                    .join("|")
            ),
        });
    }
    let first = values
        .first()
        .ok_or_else(|| format!("variable {} has no values", v.name))?;
    Ok(if v.multi {
        regex_escape(first)
    } else {
        regular_escape(first)
    })
}

/// Grafana's `roundInterval` (pkg/tsdb/intervalv2): the nice interval for a raw one.
fn round_interval(ms: i64) -> i64 {
    const TABLE: [(i64, i64); 22] = [
        (15, 10),
        (35, 20),
        (75, 50),
        (150, 100),
        (350, 200),
        (750, 500),
        (1_500, 1_000),
        (3_500, 2_000),
        (7_500, 5_000),
        (12_500, 10_000),
        (17_500, 15_000),
        (25_000, 20_000),
        (45_000, 30_000),
        (90_000, 60_000),
        (210_000, 120_000),
        (450_000, 300_000),
        (900_000, 600_000),
        (1_350_000, 900_000),
        (2_700_000, 1_800_000),
        (5_400_000, 3_600_000),
        (9_000_000, 7_200_000),
        (16_200_000, 10_800_000),
    ];
    TABLE
        .iter()
        .find(|(max, _)| ms <= *max)
        .map_or(21_600_000, |(_, v)| *v)
}

/// Grafana's `FormatDuration`: the largest whole unit (`15s`, `1m`, `2h`).
fn grafana_interval(ms: i64) -> String {
    for (unit, f) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= f {
            return format!("{}{unit}", ms / f);
        }
    }
    format!("{}ms", ms.max(1))
}

/// Go's `time.Duration.String()` for whole milliseconds: `1m0s`, `30s`, `500ms`.
fn go_duration(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, frac) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    match (h, m) {
        (0, 0) => secs,
        (0, m) => format!("{m}m{secs}"),
        (h, m) => format!("{h}h{m}m{secs}"),
    }
}

/// One query as Grafana sends it.
pub struct Request {
    pub panel: String,
    pub ref_id: String,
    pub expr: String,
    pub instant: bool,
    pub start_s: i64,
    pub end_s: i64,
    pub step_s: f64,
}

/// Interpolates a target as Grafana 10 does: template variables (frontend),
/// then the built-in interval and range variables (backend), and aligns the
/// range to the step.
pub fn build_request(
    p: &Value,
    tg: &Value,
    vars: &BTreeMap<String, String>,
    scrape_ms: i64,
    (from, now_s): (i64, i64),
) -> Request {
    let range_ms = (now_s - from) * 1000;
    let max_points = p["maxDataPoints"].as_i64().unwrap_or(1000);
    let min_ms = p["interval"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or(scrape_ms, dur_ms);
    // intervalv2.Calculate: the panel's resolution, never under the minimum
    // (the data source's scrape interval), nor over 11000 points.
    let raw = range_ms / max_points;
    let calculated = if raw < min_ms {
        min_ms
    } else {
        round_interval(raw)
    };
    let interval_ms = calculated.max(round_interval(range_ms / 11_000));
    // calculateRateInterval(interval, step): max(interval + step, 4 * step).
    let rate_ms = (interval_ms + interval_ms).max(4 * interval_ms);
    let mut expr = tg["expr"].as_str().expect("expr").to_string();
    // Longest names first, as the substitutions would otherwise cut them.
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        for form in [format!("${{{n}}}"), format!("[[{n}]]"), format!("${n}")] {
            expr = expr.replace(&form, &vars[n]);
        }
    }
    let range_s = (range_ms as f64 / 1000.0).round() as i64;
    for (name, value) in [
        ("__interval_ms", interval_ms.to_string()),
        ("__interval", grafana_interval(interval_ms)),
        ("__range_ms", range_ms.to_string()),
        ("__range_s", range_s.to_string()),
        ("__range", format!("{range_s}s")),
        ("__rate_interval_ms", rate_ms.to_string()),
        ("__rate_interval", go_duration(rate_ms)),
    ] {
        expr = expr
            .replace(&format!("${name}"), &value)
            .replace(&format!("${{{name}}}"), &value);
    }
    let step_s = interval_ms as f64 / 1000.0;
    let align = |t: i64| ((t * 1000) / interval_ms) * interval_ms / 1000;
    Request {
        panel: title(p),
        ref_id: tg["refId"].as_str().unwrap_or("?").to_string(),
        expr,
        instant: tg["instant"].as_bool() == Some(true) && tg["range"].as_bool() != Some(true),
        start_s: align(from),
        end_s: align(now_s),
        step_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_helpers_follow_grafana() {
        assert_eq!(round_interval(3_600), 5_000);
        assert_eq!(round_interval(16_000), 15_000);
        assert_eq!(grafana_interval(15_000), "15s");
        assert_eq!(grafana_interval(90_000), "1m");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_723_500), "1h2m3.5s");
        assert_eq!(go_duration(30_000), "30s");
        assert_eq!(regex_escape("a.b"), "a\\\\.b");
        assert_eq!(
            var_refs("x{a=~\"$instance\"}[$__rate_interval] ${m} [[n]]"),
            ["instance", "__rate_interval", "m", "n"]
        );
    }
}
