//! The `incidents:` section of the server's configuration.
//!
//! ```
//! use argus_incident::config::IncidentsConfig;
//! let yaml = "window: 3m\ntopology:\n  - {caller: web, callee: db}\n";
//! let c: IncidentsConfig = serde_saphyr::from_str(yaml).unwrap();
//! assert_eq!(c.settings().window_ms, 180_000);
//! assert_eq!(c.topology().callees("web").collect::<Vec<_>>(), vec!["db"]);
//! assert!(c.validate().is_ok());
//! let bad: IncidentsConfig = serde_saphyr::from_str("own_trouble_alerts: [cpu, ' ']\n").unwrap();
//! assert_eq!(bad.validate().unwrap_err().key, "own_trouble_alerts");
//! ```

use crate::correlate::Settings;
use crate::topology::{Edge, Topology};
use argus_model::PromDuration;
use serde::{Deserialize, Serialize};

/// `incidents:`: how alerts are grouped into incidents, the service graph,
/// and how long incidents are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Group alerts into incidents (default true).
    pub enabled: bool,
    /// An incident takes alerts related through the graph, a machine or
    /// its services for this long after it opened (default 5m).
    pub window: PromDuration,
    /// No alert joins through the graph or a machine once the incident had
    /// no new alert for this long (default 3m).
    pub quiet: PromDuration,
    /// Services this many calls apart or closer are related (default 2).
    pub max_hops: u8,
    /// Alerts on one machine this close in time are one fault's when a
    /// machine-level alert ties them (default 2m).
    pub burst: PromDuration,
    /// An incident is recovered once every alert stayed resolved this long
    /// (default 5m).
    pub recovery_stable: PromDuration,
    /// A root counts as located once its confidence reaches this (0–1,
    /// default 0.6).
    pub locate_confidence: f64,
    /// An alert that fired this many times in a day joins incidents only
    /// through its own service, instance or machine (default 3).
    pub noisy_after: u32,
    /// Alert names holding one of these words (any case) report a
    /// service's own resources or process failing; such an alert does not
    /// join an incident only because its service calls the incident's
    /// services (default: cpu, memory, oom, throttl, disk, crashloop,
    /// saturat, exhaust, gcpause, replication, rollout, connections).
    pub own_trouble_alerts: Vec<String>,
    /// The service graph: `caller` depends on `callee`. Edges are also
    /// learned from `traces_service_graph_request_total{client,server}` and
    /// `istio_requests_total{source_workload,destination_workload}` series.
    pub topology: Vec<Edge>,
    /// How often names and edges are learned from the store's series
    /// (default 5m; 0 turns learning off).
    pub learn_interval: PromDuration,
    /// Resolved incidents are kept this long (default 30d).
    pub retention: PromDuration,
    /// An OpenAI-compatible language model that summarises an incident's
    /// evidence when someone asks (default: none; nothing is ever sent
    /// without it).
    pub assistant: Option<AssistantConfig>,
}

/// `incidents.assistant`: an OpenAI-compatible chat completions endpoint (a
/// local Ollama, vLLM or llama.cpp server). Unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    /// `url` (required): the API's base, e.g. `http://127.0.0.1:11434/v1`;
    /// Argus posts to `<url>/chat/completions`.
    pub url: String,
    /// `model` (required): the model's name, e.g. `llama3.1:8b`.
    pub model: String,
    /// `api_key_file`: a file holding a bearer token, when the endpoint
    /// wants one (default none).
    #[serde(default)]
    pub api_key_file: Option<std::path::PathBuf>,
    /// `timeout`: how long to wait for the answer (default 120s).
    #[serde(default = "assistant_timeout")]
    pub timeout: PromDuration,
    /// `max_tokens`: the longest answer asked for (default 800).
    #[serde(default = "assistant_max_tokens")]
    pub max_tokens: u32,
}

fn assistant_timeout() -> PromDuration {
    PromDuration(120_000)
}

fn assistant_max_tokens() -> u32 {
    800
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        let s = Settings::default();
        IncidentsConfig {
            enabled: true,
            window: PromDuration(s.window_ms),
            quiet: PromDuration(s.quiet_ms),
            max_hops: s.max_hops,
            burst: PromDuration(s.burst_ms),
            recovery_stable: PromDuration(s.recovery_stable_ms),
            locate_confidence: s.locate_confidence,
            noisy_after: s.noisy_after,
            own_trouble_alerts: s.own_trouble,
            topology: Vec::new(),
            learn_interval: PromDuration(5 * 60_000),
            retention: PromDuration(30 * 86_400_000),
            assistant: None,
        }
    }
}

/// A value of `incidents:` that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("incidents.{key}: {reason}")]
pub struct ConfigError {
    /// The key.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl IncidentsConfig {
    /// The correlator's settings.
    pub fn settings(&self) -> Settings {
        Settings {
            window_ms: self.window.as_millis(),
            quiet_ms: self.quiet.as_millis(),
            max_hops: self.max_hops,
            burst_ms: self.burst.as_millis(),
            recovery_stable_ms: self.recovery_stable.as_millis(),
            locate_confidence: self.locate_confidence,
            noisy_after: self.noisy_after,
            own_trouble: self.own_trouble_alerts.clone(),
            ..Settings::default()
        }
    }

    /// The configured graph.
    pub fn topology(&self) -> Topology {
        Topology::from_edges(&self.topology)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key, reason: &str| {
            Err(ConfigError {
                key,
                reason: reason.to_string(),
            })
        };
        if self.window.as_millis() <= 0 {
            return bad("window", "must be positive");
        }
        if self.quiet.as_millis() <= 0 {
            return bad("quiet", "must be positive");
        }
        if !(0.0..=1.0).contains(&self.locate_confidence) {
            return bad("locate_confidence", "must be between 0 and 1");
        }
        if self.max_hops == 0 || self.max_hops > 6 {
            return bad("max_hops", "must be between 1 and 6");
        }
        if self.own_trouble_alerts.iter().any(|w| w.trim().is_empty()) {
            return bad("own_trouble_alerts", "words must not be empty");
        }
        if self.retention.as_millis() < 86_400_000 {
            return bad("retention", "must be at least 1d");
        }
        if let Some(a) = &self.assistant {
            if !(a.url.starts_with("http://") || a.url.starts_with("https://")) {
                return bad("assistant.url", "must start with http:// or https://");
            }
            if a.model.trim().is_empty() {
                return bad("assistant.model", "must name a model");
            }
            if a.timeout.as_millis() <= 0 {
                return bad("assistant.timeout", "must be positive");
            }
            if a.max_tokens == 0 {
                return bad("assistant.max_tokens", "must be at least 1");
            }
        }
        for (i, e) in self.topology.iter().enumerate() {
            if e.caller.is_empty() || e.callee.is_empty() || e.caller == e.callee {
                return Err(ConfigError {
                    key: "topology",
                    reason: format!(
                        "edge {} ({} → {}) needs two different services",
                        i + 1,
                        e.caller,
                        e.callee
                    ),
                });
            }
        }
        Ok(())
    }
}
