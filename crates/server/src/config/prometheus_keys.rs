//! What Argus does with the `prometheus.yml` keys it does not implement:
//! one table, checked before the typed parse, so a Prometheus configuration
//! either loads or is refused naming the key and the reason. Keys that change
//! nothing in Argus are accepted and reported as ignored.
//!
//! `docs/migrate-from-prometheus.md` lists the same keys; a test checks that
//! every key of [`PROMETHEUS_KEYS`] appears there.

/// What happens to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Accepted; a warning says it is ignored and why.
    Ignored(&'static str),
    /// The configuration is refused with this reason.
    Refused(&'static str),
}

/// One key of a section of `prometheus.yml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRule {
    /// The section: `""` (top level), `global`, `alerting`, `storage`,
    /// `scrape_configs` (each job), `scrape_configs.tls_config`,
    /// `remote_write` (each entry) or `remote_write.tls_config`.
    pub section: &'static str,
    /// The key.
    pub key: &'static str,
    /// What happens to it.
    pub status: KeyStatus,
}

const fn ignored(section: &'static str, key: &'static str, why: &'static str) -> KeyRule {
    KeyRule {
        section,
        key,
        status: KeyStatus::Ignored(why),
    }
}

const fn refused(section: &'static str, key: &'static str, why: &'static str) -> KeyRule {
    KeyRule {
        section,
        key,
        status: KeyStatus::Refused(why),
    }
}

const SD: &str =
    "this service discovery is not implemented; use static_configs, file_sd_configs, http_sd_configs, dns_sd_configs or kubernetes_sd_configs";
const NATIVE: &str = "Argus stores classic (float) samples only";
const SC: &str = "scrape_configs";
const RW: &str = "remote_write";

/// Every Prometheus key Argus accepts without implementing it, or refuses.
pub const PROMETHEUS_KEYS: &[KeyRule] = &[
    // Top level.
    refused("", "remote_read", "Argus does not read from remote storage"),
    refused("", "scrape_config_files", "put the jobs in scrape_configs of this file"),
    refused("", "otlp", "Argus does not receive OTLP metrics"),
    ignored("", "runtime", "Go runtime settings do not apply to Argus"),
    ignored("", "tracing", "Argus does not export traces"),
    // global.
    ignored("global", "query_log_file", "Argus has no query log"),
    ignored("global", "scrape_failure_log_file", "scrape failures are shown in /api/v1/targets (lastError)"),
    ignored("global", "scrape_protocols", "Argus always asks for OpenMetrics and the text format"),
    ignored("global", "target_limit", "the number of targets is not limited"),
    ignored("global", "keep_dropped_targets", "dropped targets are not kept"),
    ignored("global", "metric_name_validation_scheme", "Argus accepts the names its parser accepts"),
    ignored("global", "metric_name_escaping_scheme", "Argus accepts the names its parser accepts"),
    ignored("global", "scrape_native_histograms", NATIVE),
    ignored("global", "always_scrape_classic_histograms", NATIVE),
    ignored("global", "convert_classic_histograms_to_nhcb", NATIVE),
    // alerting.
    // storage: Prometheus's keys differ from Argus's.
    refused("storage", "tsdb", "Argus's storage keys differ: use storage.out_of_order_window, storage.retention, storage.block_range"),
    refused("storage", "exemplars", "Argus does not store exemplars"),
    // Each scrape job.
    refused(SC, "consul_sd_configs", SD),
    refused(SC, "ec2_sd_configs", SD),
    refused(SC, "azure_sd_configs", SD),
    refused(SC, "gce_sd_configs", SD),
    refused(SC, "openstack_sd_configs", SD),
    refused(SC, "docker_sd_configs", SD),
    refused(SC, "dockerswarm_sd_configs", SD),
    refused(SC, "digitalocean_sd_configs", SD),
    refused(SC, "eureka_sd_configs", SD),
    refused(SC, "hetzner_sd_configs", SD),
    refused(SC, "ionos_sd_configs", SD),
    refused(SC, "kuma_sd_configs", SD),
    refused(SC, "lightsail_sd_configs", SD),
    refused(SC, "linode_sd_configs", SD),
    refused(SC, "marathon_sd_configs", SD),
    refused(SC, "nerve_sd_configs", SD),
    refused(SC, "nomad_sd_configs", SD),
    refused(SC, "ovhcloud_sd_configs", SD),
    refused(SC, "puppetdb_sd_configs", SD),
    refused(SC, "scaleway_sd_configs", SD),
    refused(SC, "serverset_sd_configs", SD),
    refused(SC, "stackit_sd_configs", SD),
    refused(SC, "triton_sd_configs", SD),
    refused(SC, "uyuni_sd_configs", SD),
    refused(SC, "vultr_sd_configs", SD),
    refused(SC, "oauth2", "use authorization with a token, basic_auth, or bearer_token_file"),
    refused(SC, "http_headers", "only the Authorization header can be set (basic_auth, authorization)"),
    refused(SC, "proxy_connect_header", "proxy_url with user:password@ authenticates to the proxy"),
    ignored(SC, "scrape_protocols", "Argus always asks for OpenMetrics and the text format"),
    ignored(SC, "fallback_scrape_protocol", "a missing or unknown Content-Type is parsed as the text format"),
    ignored(SC, "track_timestamps_staleness", "samples with explicit timestamps never get stale markers"),
    ignored(SC, "keep_dropped_targets", "dropped targets are not kept"),
    ignored(SC, "target_limit", "the number of targets is not limited"),
    ignored(SC, "metric_name_validation_scheme", "Argus accepts the names its parser accepts"),
    ignored(SC, "metric_name_escaping_scheme", "Argus accepts the names its parser accepts"),
    ignored(SC, "scrape_failure_log_file", "scrape failures are shown in /api/v1/targets (lastError)"),
    ignored(SC, "scrape_native_histograms", NATIVE),
    ignored(SC, "scrape_classic_histograms", NATIVE),
    ignored(SC, "always_scrape_classic_histograms", NATIVE),
    ignored(SC, "convert_classic_histograms_to_nhcb", NATIVE),
    ignored(SC, "native_histogram_bucket_limit", NATIVE),
    ignored(SC, "native_histogram_min_bucket_factor", NATIVE),
    // Each remote_write entry (send_exemplars and send_native_histograms are
    // refused when true by the entry's own check).
    refused(RW, "sigv4", "AWS signing is not implemented; put a signing proxy in front of the receiver"),
    refused(RW, "azuread", "Azure AD authentication is not implemented; use authorization with a token in credentials_file"),
    refused(RW, "oauth2", "OAuth 2.0 token exchange is not implemented; use authorization with a token in credentials_file"),
    refused(RW, "google_iam", "Google IAM authentication is not implemented; use authorization with a token in credentials_file"),
    ignored(RW, "metadata_config", "Argus does not send metric metadata"),
    ignored(RW, "round_robin_dns", "the system resolver picks the address"),
    refused("remote_write.tls_config", "ca", "put the PEM in a file and use ca_file"),
    refused("remote_write.tls_config", "cert", "put the PEM in a file and use cert_file"),
    refused("remote_write.tls_config", "key", "put the PEM in a file and use key_file"),
    refused("remote_write.tls_config", "max_version", "the highest version the server offers is used"),
    refused("scrape_configs.tls_config", "ca", "put the PEM in a file and use ca_file"),
    refused("scrape_configs.tls_config", "cert", "put the PEM in a file and use cert_file"),
    refused("scrape_configs.tls_config", "key", "put the PEM in a file and use key_file"),
    refused("scrape_configs.tls_config", "max_version", "the highest version the server offers is used"),
];

fn rule(section: &str, key: &str) -> Option<&'static KeyRule> {
    PROMETHEUS_KEYS
        .iter()
        .find(|r| r.section == section && r.key == key)
}

/// What the key check found: warnings for ignored keys, or the refusal.
#[derive(Debug, Default)]
pub(crate) struct KeyReport {
    /// One line per ignored key.
    pub warnings: Vec<String>,
    /// The first refused key, as a message naming it.
    pub refused: Option<String>,
}

fn visit(
    obj: &serde_json::Map<String, serde_json::Value>,
    section: &str,
    place: &str,
    out: &mut KeyReport,
) {
    for key in obj.keys() {
        let Some(r) = rule(section, key) else {
            continue;
        };
        match r.status {
            KeyStatus::Ignored(why) => out
                .warnings
                .push(format!("{place}{key} is accepted but ignored: {why}")),
            KeyStatus::Refused(why) => {
                if out.refused.is_none() {
                    out.refused = Some(format!("{place}{key} is not supported yet: {why}"));
                }
            }
        }
    }
}

/// Checks the keys of a configuration's text against [`PROMETHEUS_KEYS`].
/// Text that does not parse is left to the typed parse, which reports it.
pub(crate) fn check(text: &str) -> KeyReport {
    let mut out = KeyReport::default();
    let Ok(serde_json::Value::Object(top)) = serde_saphyr::from_str::<serde_json::Value>(text)
    else {
        return out;
    };
    visit(&top, "", "", &mut out);
    for section in ["global", "alerting", "storage"] {
        if let Some(serde_json::Value::Object(o)) = top.get(section) {
            visit(o, section, &format!("{section}."), &mut out);
        }
    }
    if let Some(serde_json::Value::Array(jobs)) = top.get(SC) {
        for job in jobs {
            let serde_json::Value::Object(o) = job else {
                continue;
            };
            let name = o.get("job_name").and_then(|v| v.as_str()).unwrap_or("");
            let place = format!("scrape_configs: job {name:?}: ");
            visit(o, SC, &place, &mut out);
            if let Some(serde_json::Value::Object(t)) = o.get("tls_config") {
                visit(
                    t,
                    "scrape_configs.tls_config",
                    &format!("{place}tls_config."),
                    &mut out,
                );
            }
        }
    }
    if let Some(serde_json::Value::Array(remotes)) = top.get(RW) {
        for (i, r) in remotes.iter().enumerate() {
            let serde_json::Value::Object(o) = r else {
                continue;
            };
            let place = match o.get("name").and_then(|v| v.as_str()) {
                Some(n) => format!("remote_write {n:?}: "),
                None => format!("remote_write entry {}: ", i + 1),
            };
            visit(o, RW, &place, &mut out);
            if let Some(serde_json::Value::Object(t)) = o.get("tls_config") {
                visit(
                    t,
                    "remote_write.tls_config",
                    &format!("{place}tls_config."),
                    &mut out,
                );
            }
        }
    }
    out
}
