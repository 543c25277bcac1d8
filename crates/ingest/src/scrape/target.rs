//! Targets: turning discovered groups into scrape URLs and target labels.

use super::config::ScrapeConfig;
use crate::relabel::relabel;
use argus_model::{hash_pairs, Labels};
use std::collections::BTreeMap;
use std::time::Duration;

/// A target after relabeling: what to scrape and which labels to attach.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The job name.
    pub job: String,
    /// The labels attached to every sample (no `__`-prefixed labels).
    pub labels: Labels,
    /// The labels before relabeling, including `__address__`, `__meta_*`...
    pub discovered_labels: Labels,
    /// The URL scraped.
    pub url: String,
    /// A stable identity over labels and URL; also seeds the scrape offset.
    pub hash: u64,
}

/// The health of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `"unknown"`, `"up"` or `"down"`, as `/api/v1/targets` spells them.
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What `/api/v1/targets` shows for one active target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    /// The job (scrape pool) name.
    pub job: String,
    /// The URL scraped.
    pub scrape_url: String,
    /// Target labels after relabeling.
    pub labels: Labels,
    /// Labels before relabeling.
    pub discovered_labels: Labels,
    /// Health after the last scrape.
    pub health: Health,
    /// The last scrape's error, or the parse errors of a scrape that kept its good lines.
    pub last_error: Option<String>,
    /// When the last scrape started (ms since the epoch, from the injected clock).
    pub last_scrape_ms: Option<i64>,
    /// How long the last scrape took.
    pub last_scrape_duration: Option<Duration>,
    /// The scrape interval in force.
    pub scrape_interval: Duration,
    /// The scrape timeout in force.
    pub scrape_timeout: Duration,
}

impl TargetStatus {
    /// The status of a target that has not been scraped yet.
    pub fn new(t: &Target, cfg: &ScrapeConfig) -> TargetStatus {
        TargetStatus {
            job: t.job.clone(),
            scrape_url: t.url.clone(),
            labels: t.labels.clone(),
            discovered_labels: t.discovered_labels.clone(),
            health: Health::Unknown,
            last_error: None,
            last_scrape_ms: None,
            last_scrape_duration: None,
            scrape_interval: cfg.interval(),
            scrape_timeout: cfg.timeout(),
        }
    }
}

fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Builds a target from one address of a group, as Prometheus's
/// `PopulateLabels` does: adds `job`, `__scheme__`, `__metrics_path__`,
/// `__scrape_interval__`, `__scrape_timeout__` and `__param_<name>` unless the
/// group sets them, applies `relabel_configs`, defaults `instance` to
/// `__address__`, and drops `__`-prefixed labels. `Ok(None)` means relabeling
/// dropped the target.
pub fn populate(
    cfg: &ScrapeConfig,
    group_labels: &BTreeMap<String, String>,
    address: &str,
    extra: &[(&str, &str)],
) -> Result<Option<Target>, String> {
    let mut pairs: Vec<(String, String)> = group_labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    pairs.push(("__address__".into(), address.into()));
    let mut l = Labels::from_pairs(&pairs);
    let mut defaults = vec![
        ("job".to_string(), cfg.job_name.clone()),
        ("__scheme__".to_string(), cfg.scheme.as_str().to_string()),
        ("__metrics_path__".to_string(), cfg.metrics_path.clone()),
        (
            "__scrape_interval__".to_string(),
            fmt_duration(cfg.interval()),
        ),
        (
            "__scrape_timeout__".to_string(),
            fmt_duration(cfg.timeout()),
        ),
    ];
    for (k, v) in &cfg.params {
        if let Some(first) = v.first() {
            defaults.push((format!("__param_{k}"), first.clone()));
        }
    }
    for (k, v) in defaults {
        if l.get(&k).is_none() {
            l.set(&k, &v);
        }
    }
    let discovered_labels = l.clone();
    if !relabel(&mut l, &cfg.relabel_configs) {
        return Ok(None);
    }
    let addr = l.get("__address__").unwrap_or("").to_string();
    if addr.is_empty() {
        return Err(format!(
            "target {discovered_labels} has no __address__ after relabeling"
        ));
    }
    if addr.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "invalid target address {addr:?}: expected host:port"
        ));
    }
    if l.get("instance").is_none() {
        l.set("instance", &addr);
    }
    let scheme = l.get("__scheme__").unwrap_or("http");
    if scheme != "http" && scheme != "https" {
        return Err(format!("invalid scheme {scheme:?} for target {addr}"));
    }
    let path = l.get("__metrics_path__").unwrap_or("/metrics");
    let mut url = reqwest::Url::parse(&format!("{scheme}://{addr}{path}"))
        .map_err(|e| format!("invalid target URL for {addr}: {e}"))?;
    let mut params = cfg.params.clone();
    for lab in l.iter() {
        if let Some(name) = lab.name.strip_prefix("__param_") {
            let e = params.entry(name.to_string()).or_default();
            match e.first_mut() {
                Some(f) => *f = lab.value.clone(),
                None => e.push(lab.value.clone()),
            }
        }
    }
    if !params.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, vs) in &params {
            for v in vs {
                q.append_pair(k, v);
            }
        }
    }
    let url = url.to_string();
    let labels: Labels = l
        .iter()
        .filter(|x| !x.name.starts_with("__"))
        .cloned()
        .collect();
    let hash = hash_pairs(
        labels
            .iter()
            .map(|x| (x.name.as_str(), x.value.as_str()))
            .chain([("__url__", url.as_str())]),
    );
    Ok(Some(Target {
        job: cfg.job_name.clone(),
        labels,
        discovered_labels,
        url,
        hash,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_defaults_and_relabel() {
        let mut cfg = ScrapeConfig::new_static("node", &[]);
        cfg.params.insert("module".into(), vec!["icmp".into()]);
        cfg.relabel_configs = serde_json::from_str(
            r#"[{"source_labels":["__address__"],"target_label":"__param_target"},
                {"target_label":"__address__","replacement":"probe:9115"}]"#,
        )
        .unwrap();
        let g = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        let t = populate(&cfg, &g, "example.com:80", &[]).unwrap().unwrap();
        assert_eq!(
            t.url,
            "http://probe:9115/metrics?module=icmp&target=example.com%3A80"
        );
        assert_eq!(
            t.labels.to_string(),
            r#"{env="prod",instance="probe:9115",job="node"}"#
        );
        assert_eq!(
            t.discovered_labels.get("__address__"),
            Some("example.com:80")
        );
    }
}
