//! Rules and their alerts in the JSON shapes of Prometheus's
//! `/api/v1/rules` and `/api/v1/alerts` (`web/api/v1/api.go`), for the
//! server's endpoints and the UI.
//!
//! ```
//! use argus_rules::api_json::{go_exp, RuleFilter};
//! assert_eq!(go_exp(123.4), "1.234e+02");
//! let f = RuleFilter::parse(&[("type".into(), "record".into())]).unwrap();
//! assert!(f.recording && !f.alerting);
//! assert!(RuleFilter::parse(&[("type".into(), "both".into())]).is_err());
//! ```

use crate::{Alert, AlertState, Group, Rule, RuleKind};
use argus_model::time::{format_rfc3339_ms, Fraction, GO_ZERO_TIME};
use argus_model::Labels;
use serde_json::{json, Map, Value};

/// RFC 3339 with as many fractional digits as needed, like Go's `time.Time` JSON.
fn rfc3339(ms: Option<i64>) -> String {
    ms.and_then(|ms| format_rfc3339_ms(ms, Fraction::MillisIfAny))
        .unwrap_or_else(|| GO_ZERO_TIME.to_string())
}

/// A float as Go's `encoding/json` writes it: whole numbers without `.0`.
fn go_float(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        json!(f as i64)
    } else if f.is_finite() {
        json!(f)
    } else {
        json!(0)
    }
}

/// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, which Prometheus uses for an
/// alert's `value`: `1e+00`, `1.234e+02`, `NaN`, `+Inf`.
pub fn go_exp(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = format!("{v:e}");
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mant}e{sign}{digits:0>2}")
}

fn labels_json(l: &Labels) -> Value {
    Value::Object(
        l.iter()
            .map(|x| (x.name.clone(), Value::String(x.value.clone())))
            .collect(),
    )
}

fn pairs_json(p: &[(String, String)]) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// One alert in Prometheus's `/api/v1/alerts` and `/api/v1/rules` shape.
pub fn alert_json(a: &Alert) -> Value {
    let mut m = Map::new();
    m.insert("labels".into(), labels_json(&a.labels));
    m.insert("annotations".into(), labels_json(&a.annotations));
    m.insert("state".into(), json!(a.state.as_str()));
    m.insert("activeAt".into(), json!(rfc3339(Some(a.active_at_ms))));
    if let Some(k) = a.keep_firing_since_ms {
        m.insert("keepFiringSince".into(), json!(rfc3339(Some(k))));
    }
    m.insert("value".into(), json!(go_exp(a.value)));
    Value::Object(m)
}

/// Pending and firing alerts of a rule (resolved ones are not shown, as in Prometheus).
fn active(r: &Rule) -> Vec<Alert> {
    r.alerts()
        .into_iter()
        .filter(|a| a.state != AlertState::Inactive)
        .collect()
}

/// One rule in Prometheus's shape.
pub fn rule_json(r: &Rule) -> Value {
    let mut m = Map::new();
    let h = &r.health;
    match &r.spec.kind {
        RuleKind::Alert(name) => {
            let all = r.alerts();
            let state = all
                .iter()
                .map(|a| a.state)
                .max_by_key(|s| match s {
                    AlertState::Inactive => 0,
                    AlertState::Pending => 1,
                    AlertState::Firing => 2,
                })
                .unwrap_or(AlertState::Inactive);
            m.insert("state".into(), json!(state.as_str()));
            m.insert("name".into(), json!(name));
            m.insert("query".into(), json!(r.spec.expr));
            m.insert("duration".into(), go_float(r.spec.for_ms as f64 / 1000.0));
            m.insert(
                "keepFiringFor".into(),
                go_float(r.spec.keep_firing_for_ms as f64 / 1000.0),
            );
            m.insert("labels".into(), pairs_json(&r.spec.labels));
            m.insert("annotations".into(), pairs_json(&r.spec.annotations));
            let alerts: Vec<Value> = active(r).iter().map(alert_json).collect();
            m.insert("alerts".into(), Value::Array(alerts));
        }
        RuleKind::Record(name) => {
            m.insert("name".into(), json!(name));
            m.insert("query".into(), json!(r.spec.expr));
            if !r.spec.labels.is_empty() {
                m.insert("labels".into(), pairs_json(&r.spec.labels));
            }
        }
    }
    m.insert("health".into(), json!(h.as_str()));
    if let Some(e) = &h.last_error {
        m.insert("lastError".into(), json!(e));
    }
    m.insert("evaluationTime".into(), go_float(h.eval_seconds));
    m.insert("lastEvaluation".into(), json!(rfc3339(h.last_eval_ms)));
    let typ = if r.is_alerting() {
        "alerting"
    } else {
        "recording"
    };
    m.insert("type".into(), json!(typ));
    Value::Object(m)
}

/// A `type` filter other than `alert` or `record`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter \"type\": not supported value {0:?}")]
pub struct FilterError(pub String);

/// The filters of `/api/v1/rules`.
#[derive(Debug, Default)]
pub struct RuleFilter {
    /// Keep alerting rules.
    pub alerting: bool,
    /// Keep recording rules.
    pub recording: bool,
    /// `rule_name[]`: keep only these rules (empty: all).
    pub names: Vec<String>,
    /// `rule_group[]`: keep only these groups (empty: all).
    pub groups: Vec<String>,
    /// `file[]`: keep only groups from these files (empty: all).
    pub files: Vec<String>,
}

impl RuleFilter {
    /// Parses the request parameters `type`, `rule_name[]`, `rule_group[]`
    /// and `file[]` (name, value pairs).
    pub fn parse(p: &[(String, String)]) -> Result<Self, FilterError> {
        let typ = p
            .iter()
            .find(|(k, _)| k == "type")
            .map(|(_, t)| t.to_lowercase())
            .unwrap_or_default();
        if !typ.is_empty() && typ != "alert" && typ != "record" {
            return Err(FilterError(typ));
        }
        let all = |n: &str| {
            p.iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        };
        Ok(RuleFilter {
            alerting: typ.is_empty() || typ == "alert",
            recording: typ.is_empty() || typ == "record",
            names: all("rule_name[]"),
            groups: all("rule_group[]"),
            files: all("file[]"),
        })
    }

    fn narrows_rules(&self) -> bool {
        !(self.alerting && self.recording && self.names.is_empty())
    }
}

/// The `groups` array of `/api/v1/rules`. Groups whose every rule was
/// filtered out are left out, as in Prometheus.
pub fn groups_json(groups: &[&Group], f: &RuleFilter) -> Value {
    let mut out = Vec::new();
    for g in groups {
        if (!f.groups.is_empty() && !f.groups.contains(&g.name))
            || (!f.files.is_empty() && !f.files.contains(&g.file))
        {
            continue;
        }
        let rules: Vec<Value> = g
            .rules
            .iter()
            .filter(|r| {
                if r.is_alerting() {
                    f.alerting
                } else {
                    f.recording
                }
            })
            .filter(|r| f.names.is_empty() || f.names.iter().any(|n| n == r.name()))
            .map(rule_json)
            .collect();
        if rules.is_empty() && f.narrows_rules() {
            continue;
        }
        out.push(json!({
            "name": g.name,
            "file": g.file,
            "rules": rules,
            "interval": go_float(g.interval_ms as f64 / 1000.0),
            "limit": g.limit,
            "evaluationTime": go_float(g.last_eval_seconds),
            "lastEvaluation": rfc3339(g.last_eval_ms),
        }));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_go() {
        assert_eq!(go_exp(1.0), "1e+00");
        assert_eq!(go_exp(123.4), "1.234e+02");
        assert_eq!(go_exp(0.005), "5e-03");
        assert_eq!(go_exp(-2.5e-12), "-2.5e-12");
        assert_eq!(go_exp(1e100), "1e+100");
        assert_eq!(go_exp(f64::INFINITY), "+Inf");
        assert_eq!(go_float(2.0), json!(2));
        assert_eq!(go_float(0.25), json!(0.25));
        assert_eq!(rfc3339(None), GO_ZERO_TIME);
        assert_eq!(rfc3339(Some(1_500)), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn filters_and_shapes() {
        let file = crate::parse_rule_file(
            "r.yml",
            "groups:\n- name: g\n  interval: 30s\n  rules:\n  - record: a:b\n    expr: sum(up)\n  - alert: Down\n    expr: up == 0\n    for: 90s\n    labels: {severity: page}\n",
        )
        .unwrap();
        let g = Group::new(file.groups[0].clone(), crate::GroupOptions::default());
        let all = groups_json(&[&g], &RuleFilter::parse(&[]).unwrap());
        let grp = &all[0];
        assert_eq!(grp["interval"], json!(30));
        assert_eq!(grp["lastEvaluation"], GO_ZERO_TIME);
        assert_eq!(grp["rules"][0]["type"], "recording");
        assert!(grp["rules"][0].get("labels").is_none());
        let alert = &grp["rules"][1];
        assert_eq!(alert["type"], "alerting");
        assert_eq!(alert["state"], "inactive");
        assert_eq!(alert["duration"], json!(90));
        assert_eq!(alert["health"], "unknown");
        assert_eq!(alert["labels"], json!({"severity": "page"}));
        assert_eq!(alert["alerts"], json!([]));
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        let f = RuleFilter::parse(&p("type", "record")).unwrap();
        assert_eq!(
            groups_json(&[&g], &f)[0]["rules"].as_array().unwrap().len(),
            1
        );
        let f = RuleFilter::parse(&p("rule_name[]", "Nope")).unwrap();
        assert_eq!(groups_json(&[&g], &f), json!([]));
        let f = RuleFilter::parse(&p("file[]", "r.yml")).unwrap();
        assert_eq!(groups_json(&[&g], &f).as_array().unwrap().len(), 1);
        assert!(RuleFilter::parse(&p("type", "both")).is_err());
    }
}
