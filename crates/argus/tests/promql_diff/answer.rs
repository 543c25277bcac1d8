//! The differential test's answers: a query API response parsed into one shape, and two answers
//! compared (same type, same series, same timestamps, values within a relative epsilon).

use std::collections::BTreeMap;

use super::REL_EPS;

/// A result series: (labels, [(t_ms, value)]).
pub type ResultSeries = (BTreeMap<String, String>, Vec<(i64, f64)>);

#[derive(Debug, Clone)]
pub enum Answer {
    Error(String),
    Scalar(i64, f64),
    Str(i64, String),
    /// "vector" or "matrix"; an instant vector has one point per series.
    Series(&'static str, Vec<ResultSeries>),
}

fn parse_val(v: &serde_json::Value) -> f64 {
    match v.as_str().unwrap_or("?") {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().unwrap_or(f64::NAN),
    }
}

fn parse_point(p: &serde_json::Value) -> (i64, f64) {
    let t = (p[0].as_f64().unwrap_or(f64::NAN) * 1000.0).round() as i64;
    (t, parse_val(&p[1]))
}

pub fn parse_answer(body: &str) -> Answer {
    let v: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return Answer::Error(format!("not JSON: {}", &body[..body.len().min(200)])),
    };
    if v["status"] != "success" {
        return Answer::Error(v["errorType"].as_str().unwrap_or("?").to_string());
    }
    let r = &v["data"]["result"];
    let labels = |m: &serde_json::Value| -> BTreeMap<String, String> {
        m.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    match v["data"]["resultType"].as_str().unwrap_or("") {
        "scalar" => {
            let (t, x) = parse_point(r);
            Answer::Scalar(t, x)
        }
        "string" => Answer::Str(
            (r[0].as_f64().unwrap_or(0.0) * 1000.0).round() as i64,
            r[1].as_str().unwrap_or("").to_string(),
        ),
        "vector" => Answer::Series(
            "vector",
            r.as_array()
                .into_iter()
                .flatten()
                .map(|s| (labels(&s["metric"]), vec![parse_point(&s["value"])]))
                .collect(),
        ),
        "matrix" => Answer::Series(
            "matrix",
            r.as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    (
                        labels(&s["metric"]),
                        s["values"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(parse_point)
                            .collect(),
                    )
                })
                .collect(),
        ),
        other => Answer::Error(format!("unknown resultType {other:?}")),
    }
}

fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    a == b || (a - b).abs() <= REL_EPS * a.abs().max(b.abs())
}

fn fmt_labels(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// `None` when equal, else a one-line description of the first difference.
pub fn compare(argus: &Answer, prom: &Answer, ordered: bool) -> Option<String> {
    match (argus, prom) {
        (Answer::Error(a), Answer::Error(p)) => {
            (a != p).then(|| format!("error types differ: argus {a}, prometheus {p}"))
        }
        (Answer::Scalar(ta, a), Answer::Scalar(tp, p)) => (ta != tp || !same_value(*a, *p))
            .then(|| format!("scalar: argus {a}@{ta}, prometheus {p}@{tp}")),
        (Answer::Str(ta, a), Answer::Str(tp, p)) => {
            (ta != tp || a != p).then(|| format!("string: argus {a:?}, prometheus {p:?}"))
        }
        (Answer::Series(ka, a), Answer::Series(kp, p)) => {
            if ka != kp {
                return Some(format!("result type: argus {ka}, prometheus {kp}"));
            }
            let (mut a, mut p) = (a.clone(), p.clone());
            if !ordered {
                a.sort_by(|x, y| x.0.cmp(&y.0));
                p.sort_by(|x, y| x.0.cmp(&y.0));
            }
            let la: Vec<&BTreeMap<String, String>> = a.iter().map(|s| &s.0).collect();
            let lp: Vec<&BTreeMap<String, String>> = p.iter().map(|s| &s.0).collect();
            if la != lp {
                let only_a: Vec<String> = la
                    .iter()
                    .filter(|x| !lp.contains(x))
                    .map(|x| fmt_labels(x))
                    .collect();
                let only_p: Vec<String> = lp
                    .iter()
                    .filter(|x| !la.contains(x))
                    .map(|x| fmt_labels(x))
                    .collect();
                return Some(format!(
                    "series differ ({} vs {}): only argus {:?}; only prometheus {:?}{}",
                    la.len(),
                    lp.len(),
                    only_a.iter().take(3).collect::<Vec<_>>(),
                    only_p.iter().take(3).collect::<Vec<_>>(),
                    if only_a.is_empty() && only_p.is_empty() {
                        " (order differs)"
                    } else {
                        ""
                    }
                ));
            }
            for ((labels, pa), (_, pp)) in a.iter().zip(p.iter()) {
                if pa.len() != pp.len() {
                    let ta: Vec<i64> = pa.iter().map(|x| x.0).collect();
                    let tp: Vec<i64> = pp.iter().map(|x| x.0).collect();
                    let first = ta.iter().zip(tp.iter()).position(|(x, y)| x != y);
                    return Some(format!(
                        "{}: {} points vs {}; first differing timestamp index {:?} (argus {:?}, prometheus {:?})",
                        fmt_labels(labels),
                        pa.len(),
                        pp.len(),
                        first,
                        first.and_then(|i| ta.get(i)),
                        first.and_then(|i| tp.get(i)),
                    ));
                }
                for (x, y) in pa.iter().zip(pp.iter()) {
                    if x.0 != y.0 || !same_value(x.1, y.1) {
                        return Some(format!(
                            "{} at t={}: argus {}@{}, prometheus {}@{}",
                            fmt_labels(labels),
                            y.0,
                            x.1,
                            x.0,
                            y.1,
                            y.0
                        ));
                    }
                }
            }
            None
        }
        (a, p) => Some(format!(
            "kinds differ: argus {}, prometheus {}",
            short(a),
            short(p)
        )),
    }
}

fn short(a: &Answer) -> String {
    match a {
        Answer::Error(e) => format!("error {e}"),
        Answer::Scalar(t, v) => format!("scalar {v}@{t}"),
        Answer::Str(_, s) => format!("string {s:?}"),
        Answer::Series(k, s) => format!("{k} of {} series", s.len()),
    }
}
