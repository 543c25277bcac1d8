//! Argus's own metrics (`argus_<area>_<name>_<unit>`), rendered for `/metrics`.

pub use argus_store_service::StoreCounters as SelfMetrics;

/// One family of one unlabelled sample; see [`argus_model::exposition::write_family`].
pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str, v: f64) {
    argus_model::exposition::write_family(name, kind, help, v, out);
}

/// The alert store's health: `argus_alert_store_healthy` (1 or 0),
/// `argus_alert_store_errors_total` and `argus_alert_store_pending_changes`.
pub fn alert_store(out: &mut String, h: &argus_alert::store::StoreHealth) {
    family(
        out,
        "argus_alert_store_healthy",
        "gauge",
        "1 when the alert store saves changes, 0 while it fails (a full disk, say).",
        if h.healthy { 1.0 } else { 0.0 },
    );
    family(
        out,
        "argus_alert_store_errors_total",
        "counter",
        "Failed writes and reopen attempts of the alert store.",
        h.errors_total as f64,
    );
    family(
        out,
        "argus_alert_store_pending_changes",
        "gauge",
        "Alert pipeline changes kept in memory until the alert store can save them.",
        h.pending_changes as f64,
    );
}

/// The audit log's backlog: `argus_audit_pending_entries`,
/// `argus_audit_write_failures_total` and `argus_audit_dropped_entries_total`.
pub fn audit(out: &mut String, log: &argus_auth::audit::AuditLog) {
    family(
        out,
        "argus_audit_pending_entries",
        "gauge",
        "Audit entries kept in memory because the audit log cannot be written (a full disk, say).",
        log.pending_entries() as f64,
    );
    family(
        out,
        "argus_audit_write_failures_total",
        "counter",
        "Failed tries to write the audit log.",
        log.write_failures_total() as f64,
    );
    family(
        out,
        "argus_audit_dropped_entries_total",
        "counter",
        "Audit entries dropped unwritten because too many waited for the disk.",
        log.dropped_entries_total() as f64,
    );
}
