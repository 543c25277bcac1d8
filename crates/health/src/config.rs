//! The `health:` section of the server configuration. Every key is documented
//! with its default; unknown keys are rejected. [`HealthConfig::validate`]
//! checks what the types cannot (unique names, ΣKᵢ = 1, a URL for an HTTP
//! probe...) and names the service and the key in its error.
//!
//! ```
//! let yaml = r#"
//! services:
//!   - name: svc-01
//!     heartbeat: { source: http, interval: 1s }
//!     probes:
//!       - { type: tcp, address: "127.0.0.1:18001", interval: 1s }
//! "#;
//! let cfg: argus_health::HealthConfig = serde_saphyr::from_str(yaml).unwrap();
//! cfg.validate().unwrap();
//! assert_eq!(cfg.services[0].probes[0].timeout.as_millis(), 1000);
//! ```

use argus_model::PromDuration;
use serde::Deserialize;

use crate::HealthError;

/// `health:`: services whose liveness, probes and saturation Argus watches.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// The Redis holding heartbeat counters, e.g. `redis://127.0.0.1:6379`.
    /// Needed only when a service has `heartbeat.source: redis`. Default none.
    pub redis_url: Option<String>,
    /// How often the Redis counters are read (one pipelined `MGET` of all
    /// keys) and the in-memory HTTP counters checked. Default: a tenth of the
    /// shortest heartbeat interval, at least `20ms` and at most `1s`.
    pub poll_interval: Option<PromDuration>,
    /// Longest wait for Redis to connect or answer one poll; past it Redis
    /// counts as unreachable (`HeartbeatStoreDown`). Default `1s`.
    pub redis_timeout: PromDuration,
    /// How often the `argus_service_*`, `argus_probe_*` and
    /// `argus_heartbeat_*` series are written to the store. Default `5s`.
    pub sample_interval: PromDuration,
    /// How often active alerts are sent again to the alert pipeline (each
    /// valid for four times this), and resolved ones repeated for 15 minutes,
    /// as Prometheus does. Default `30s`.
    pub resend_interval: PromDuration,
    /// The watched services. Default none.
    pub services: Vec<ServiceConfig>,
}

/// One watched service.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The service's name, unique; the `service` label. Required.
    pub name: String,
    /// The node it runs on; the `node` label. Default: this host's name.
    #[serde(default)]
    pub node: Option<String>,
    /// The five-tuple's source: `software` or `hardware`. Default `software`.
    #[serde(default)]
    pub source: Source,
    /// Liveness from a counter the service increments. Default none.
    #[serde(default)]
    pub heartbeat: Option<HeartbeatConfig>,
    /// Active probes. Default none.
    #[serde(default)]
    pub probes: Vec<ProbeConfig>,
    /// The seed 004 saturation (formulas 1–3). Default none.
    #[serde(default)]
    pub saturation: Option<SaturationConfig>,
}

/// The five-tuple's `source`: what kind of resource the service is.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Software (a process, a service). The default.
    #[default]
    Software,
    /// Hardware (a device, a host).
    Hardware,
}

impl Source {
    /// `software` or `hardware`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Software => "software",
            Source::Hardware => "hardware",
        }
    }
}

/// Where a heartbeat counter lives.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum HeartbeatSource {
    /// A Redis key the service `INCR`s. The default.
    #[default]
    Redis,
    /// A counter in Argus the service bumps with `POST /api/v1/heartbeat/{service}`.
    Http,
}

/// `heartbeat:` of a service (the seed's E-H algorithm).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// `redis` or `http`. Default `redis`.
    #[serde(default)]
    pub source: HeartbeatSource,
    /// The Redis key (redis only). Default `argus:hb:<name>`.
    #[serde(default)]
    pub key: Option<String>,
    /// The promise: a counter that has not moved for this long means the
    /// service failed. Default `10s`. Services should increment at a
    /// fraction of it (a quarter, say): a counter seen to move 1.2 s apart
    /// breaks a 1 s promise.
    #[serde(default = "ten_seconds")]
    pub interval: PromDuration,
}

/// The kind of an active probe.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ProbeType {
    /// An HTTP(S) GET: status, optional body regex, TLS, timeout.
    Http,
    /// A TCP connect.
    Tcp,
    /// A process present, by name or by pid file.
    Process,
}

impl ProbeType {
    /// `http`, `tcp` or `process`: the `type` and `reason` label values.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeType::Http => "http",
            ProbeType::Tcp => "tcp",
            ProbeType::Process => "process",
        }
    }
}

/// One entry of `probes:`. Which keys apply depends on `type`; keys of
/// another type are refused by [`HealthConfig::validate`].
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// `http`, `tcp` or `process`. Required.
    #[serde(rename = "type")]
    pub kind: ProbeType,
    /// Time between the starts of two probes. Default `10s`.
    #[serde(default = "ten_seconds")]
    pub interval: PromDuration,
    /// Longest one attempt may take. Default `1s`.
    #[serde(default = "one_second")]
    pub timeout: PromDuration,
    /// Extra attempts, made at once, before a probe counts as failed. Default `0`.
    #[serde(default)]
    pub retries: u32,
    /// http: the URL (`http://` or `https://`). Required for http.
    #[serde(default)]
    pub url: Option<String>,
    /// http: the status expected. Default: any 2xx.
    #[serde(default)]
    pub expect_status: Option<u16>,
    /// http: a regular expression the body must match. Default none.
    #[serde(default)]
    pub body_match: Option<String>,
    /// http: accept any TLS certificate. Default `false`.
    #[serde(default)]
    pub tls_insecure_skip_verify: bool,
    /// tcp: `host:port` to connect to. Required for tcp.
    #[serde(default)]
    pub address: Option<String>,
    /// process: the process name (`/proc/<pid>/comm`, or the file name of
    /// `argv[0]`). One of `name` and `pid_file` is required for process.
    #[serde(default)]
    pub name: Option<String>,
    /// process: a file holding the pid of the process.
    #[serde(default)]
    pub pid_file: Option<String>,
}

impl ProbeConfig {
    /// What the probe checks, for the five-tuple's content and the `target` label.
    pub fn target(&self) -> String {
        let s = match self.kind {
            ProbeType::Http => self.url.as_deref(),
            ProbeType::Tcp => self.address.as_deref(),
            ProbeType::Process => self.name.as_deref().or(self.pid_file.as_deref()),
        };
        s.unwrap_or("").to_string()
    }
}

/// `saturation:` of a service: seed 004's formulas 1–3,
/// `saturation = (L/T) / Σ(Vᵢ·Kᵢ)`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SaturationConfig {
    /// A PromQL expression whose value is the service's actual processing
    /// rate L/T, e.g. `rate(svc_requests_total{service="svc-01"}[1m])`.
    /// `$window` in it is replaced by `window`. Required.
    pub load_query: String,
    /// T, the window the load is measured over. Default `1m`.
    #[serde(default = "one_minute")]
    pub window: PromDuration,
    /// The hardware dimensions, each with its ideal capacity Vᵢ and weight
    /// Kᵢ; the weights must sum to 1. Required, at least one.
    pub dimensions: Vec<Dimension>,
    /// Saturation strictly above this is `overloaded`. Default `0.9`.
    #[serde(default = "default_overloaded")]
    pub overloaded_above: f64,
    /// Saturation strictly below this is `starved`. Default `0.1`.
    #[serde(default = "default_starved")]
    pub starved_below: f64,
    /// How often the load query is evaluated. Default `15s`.
    #[serde(default = "fifteen_seconds")]
    pub interval: PromDuration,
}

/// One hardware dimension of a saturation model.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// The dimension's name (`cpu`, `memory`...). Required.
    pub name: String,
    /// Vᵢ: the ideal processing capacity this dimension allows, in the unit
    /// of the load rate. Required, positive.
    pub capacity: f64,
    /// Kᵢ: this dimension's share of the ideal capacity. Required, in [0, 1].
    pub weight: f64,
}

fn ten_seconds() -> PromDuration {
    PromDuration(10_000)
}
fn fifteen_seconds() -> PromDuration {
    PromDuration(15_000)
}
fn one_second() -> PromDuration {
    PromDuration(1_000)
}
fn one_minute() -> PromDuration {
    PromDuration(60_000)
}
fn default_overloaded() -> f64 {
    0.9
}
fn default_starved() -> f64 {
    0.1
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            redis_url: None,
            poll_interval: None,
            redis_timeout: one_second(),
            sample_interval: PromDuration(5_000),
            resend_interval: PromDuration(30_000),
            services: Vec::new(),
        }
    }
}

/// How far ΣKᵢ may be from 1 (decimal weights such as 0.1 + 0.2 + 0.7).
pub const WEIGHT_TOLERANCE: f64 = 1e-6;

impl HealthConfig {
    /// Checks what the types cannot express. Errors name the service and the key.
    pub fn validate(&self) -> Result<(), HealthError> {
        let bad = |service: &str, message: String| HealthError::Config {
            service: service.to_string(),
            message,
        };
        for (key, d) in [
            ("redis_timeout", self.redis_timeout),
            ("sample_interval", self.sample_interval),
            ("resend_interval", self.resend_interval),
        ] {
            if d.as_millis() <= 0 {
                return Err(bad("-", format!("health.{key} must be positive")));
            }
        }
        if let Some(p) = self.poll_interval {
            if p.as_millis() <= 0 {
                return Err(bad("-", "health.poll_interval must be positive".into()));
            }
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.services {
            if s.name.is_empty() {
                return Err(bad("", "a service has an empty name".into()));
            }
            if !names.insert(s.name.as_str()) {
                return Err(bad(&s.name, "the name appears more than once".into()));
            }
            if let Some(hb) = &s.heartbeat {
                if hb.interval.as_millis() <= 0 {
                    return Err(bad(&s.name, "heartbeat.interval must be positive".into()));
                }
                match hb.source {
                    HeartbeatSource::Redis if self.redis_url.is_none() => {
                        return Err(bad(
                            &s.name,
                            "heartbeat.source is redis but health.redis_url is not set".into(),
                        ))
                    }
                    HeartbeatSource::Http if hb.key.is_some() => {
                        return Err(bad(
                            &s.name,
                            "heartbeat.key applies only to heartbeat.source redis".into(),
                        ))
                    }
                    _ => {}
                }
            }
            for (i, p) in s.probes.iter().enumerate() {
                validate_probe(p).map_err(|m| bad(&s.name, format!("probes[{i}]: {m}")))?;
            }
            if let Some(sat) = &s.saturation {
                validate_saturation(sat).map_err(|m| bad(&s.name, format!("saturation: {m}")))?;
            }
        }
        if let Some(url) = &self.redis_url {
            redis::Client::open(url.as_str())
                .map_err(|e| bad("-", format!("health.redis_url {url:?} is invalid: {e}")))?;
        }
        Ok(())
    }
}

fn validate_probe(p: &ProbeConfig) -> Result<(), String> {
    if p.interval.as_millis() <= 0 || p.timeout.as_millis() <= 0 {
        return Err("interval and timeout must be positive".into());
    }
    let http_keys = p.url.is_some()
        || p.expect_status.is_some()
        || p.body_match.is_some()
        || p.tls_insecure_skip_verify;
    let foreign = match p.kind {
        ProbeType::Http => p.address.is_some() || p.name.is_some() || p.pid_file.is_some(),
        ProbeType::Tcp => http_keys || p.name.is_some() || p.pid_file.is_some(),
        ProbeType::Process => http_keys || p.address.is_some(),
    };
    if foreign {
        return Err(format!(
            "a key of another probe type is set on a {} probe",
            p.kind.as_str()
        ));
    }
    match p.kind {
        ProbeType::Http => {
            let url = p.url.as_deref().ok_or("an http probe needs url")?;
            let parsed = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(format!("url {url:?}: the scheme must be http or https"));
            }
            if let Some(re) = &p.body_match {
                regex::Regex::new(re).map_err(|e| format!("body_match {re:?}: {e}"))?;
            }
            if let Some(code) = p.expect_status {
                if !(100..=599).contains(&code) {
                    return Err(format!("expect_status {code} is not an HTTP status"));
                }
            }
        }
        ProbeType::Tcp => {
            let a = p.address.as_deref().ok_or("a tcp probe needs address")?;
            if a.rsplit_once(':')
                .and_then(|(_, port)| port.parse::<u16>().ok())
                .is_none()
            {
                return Err(format!("address {a:?} is not host:port"));
            }
        }
        ProbeType::Process => match (&p.name, &p.pid_file) {
            (Some(_), Some(_)) => return Err("set name or pid_file, not both".into()),
            (None, None) => return Err("a process probe needs name or pid_file".into()),
            (Some(n), None) if n.is_empty() || n.contains('/') => {
                return Err(format!("name {n:?} must be a non-empty file name"))
            }
            _ => {}
        },
    }
    Ok(())
}

fn validate_saturation(s: &SaturationConfig) -> Result<(), String> {
    if s.load_query.trim().is_empty() {
        return Err("load_query is empty".into());
    }
    if s.window.as_millis() <= 0 || s.interval.as_millis() <= 0 {
        return Err("window and interval must be positive".into());
    }
    if s.dimensions.is_empty() {
        return Err("at least one dimension is needed".into());
    }
    for d in &s.dimensions {
        if !(d.capacity.is_finite() && d.capacity > 0.0) {
            return Err(format!("dimension {:?}: capacity must be positive", d.name));
        }
        if !(0.0..=1.0).contains(&d.weight) {
            return Err(format!("dimension {:?}: weight must be in [0, 1]", d.name));
        }
    }
    let sum: f64 = s.dimensions.iter().map(|d| d.weight).sum();
    if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
        return Err(format!("the dimension weights sum to {sum}, not 1"));
    }
    if !(s.starved_below.is_finite() && s.overloaded_above.is_finite())
        || s.starved_below >= s.overloaded_above
    {
        return Err(format!(
            "starved_below ({}) must be below overloaded_above ({})",
            s.starved_below, s.overloaded_above
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> HealthConfig {
        serde_saphyr::from_str(y).expect("test yaml parses")
    }

    #[test]
    fn the_agreed_example_parses_and_validates() {
        let cfg = parse(
            r#"
redis_url: redis://127.0.0.1:6379
services:
  - name: svc-01
    node: edge-1
    source: software
    heartbeat: { source: redis, key: "argus:hb:svc-01", interval: 1s }
    probes:
      - type: http
        url: http://127.0.0.1:18001/health
        expect_status: 200
        body_match: "ok"
        interval: 1s
        timeout: 500ms
        retries: 0
        tls_insecure_skip_verify: false
      - { type: tcp, address: "127.0.0.1:18001", interval: 1s }
      - { type: process, name: svc-01, interval: 1s }
    saturation:
      load_query: 'rate(svc_requests_total{service="svc-01"}[1m])'
      window: 1m
      dimensions:
        - { name: cpu, capacity: 4, weight: 0.5 }
        - { name: memory, capacity: 8, weight: 0.5 }
      overloaded_above: 0.9
      starved_below: 0.1
"#,
        );
        cfg.validate().unwrap();
        let s = &cfg.services[0];
        assert_eq!(s.probes[0].timeout.as_millis(), 500);
        assert_eq!(s.probes[1].timeout.as_millis(), 1000);
        assert_eq!(s.probes[2].retries, 0);
        assert_eq!(s.heartbeat.as_ref().unwrap().interval.as_millis(), 1000);
    }

    #[test]
    fn weights_not_summing_to_one_name_the_service() {
        let cfg = parse(
            r#"
services:
  - name: svc-weights
    saturation:
      load_query: up
      dimensions:
        - { name: cpu, capacity: 4, weight: 0.5 }
        - { name: memory, capacity: 8, weight: 0.4 }
"#,
        );
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("svc-weights"), "{e}");
        assert!(e.contains("sum to 0.9"), "{e}");
        // 0.1 + 0.2 + 0.7 is not exactly 1.0 in binary, and is accepted.
        let ok = parse(
            "services:\n  - name: a\n    saturation:\n      load_query: up\n      dimensions:\n        - {name: x, capacity: 1, weight: 0.1}\n        - {name: y, capacity: 1, weight: 0.2}\n        - {name: z, capacity: 1, weight: 0.7}\n",
        );
        ok.validate().unwrap();
    }

    #[test]
    fn bad_configs_are_refused_with_their_reason() {
        let cases = [
            ("services:\n  - {name: a}\n  - {name: a}\n", "more than once"),
            (
                "services:\n  - {name: a, heartbeat: {interval: 1s}}\n",
                "redis_url is not set",
            ),
            ("services:\n  - {name: a, probes: [{type: http}]}\n", "needs url"),
            (
                "services:\n  - {name: a, probes: [{type: tcp, address: nope}]}\n",
                "host:port",
            ),
            (
                "services:\n  - {name: a, probes: [{type: tcp, address: 'h:1', url: 'http://x'}]}\n",
                "another probe type",
            ),
            (
                "services:\n  - {name: a, probes: [{type: process}]}\n",
                "name or pid_file",
            ),
            (
                "services:\n  - {name: a, probes: [{type: http, url: 'http://x', body_match: '('}]}\n",
                "body_match",
            ),
        ];
        for (y, want) in cases {
            let e = parse(y).validate().unwrap_err().to_string();
            assert!(e.contains(want), "{y}: {e}");
        }
        assert!(
            serde_saphyr::from_str::<HealthConfig>("services:\n  - {name: a, nme: b}\n").is_err()
        );
    }
}
