//! Alerts sent on to external Alertmanagers, as Prometheus sends them
//! (`alerting.alertmanagers` in `prometheus.yml`), beside or instead of
//! Argus's own notification pipeline.
//!
//! - [`AlertmanagerConfig`]: one entry: static targets and file discovery,
//!   `scheme`, `path_prefix`, `timeout`, `api_version: v2`, the HTTP client
//!   keys, `relabel_configs` for targets and `alert_relabel_configs`.
//! - [`Forwarder`]: takes every alert on its way into Argus's pipeline
//!   ([`Forwarder::submit`], never blocking), sends new and changed alerts
//!   at once in batches of [`MAX_BATCH`] to `POST /api/v2/alerts` of every
//!   Alertmanager, and every active alert again at each resend interval:
//!   firing ones until they resolve, resolved ones for 15 minutes. A failed
//!   request is logged and counted, and its alerts go again at the next
//!   resend, so an Alertmanager that was down gets the alerts back.
//!
//! ```
//! use argus_forward::{alert_json, AlertmanagerConfig, Settings};
//! use argus_model::{alert::AlertEvent, Labels};
//!
//! let yaml = "static_configs: [{targets: ['127.0.0.1:9093']}]\ntimeout: 5s\n";
//! let am: AlertmanagerConfig = serde_saphyr::from_str(yaml).unwrap();
//! let settings = Settings { alertmanagers: vec![am], ..Settings::default() };
//! assert!(settings.prepare().is_ok());
//!
//! let ev = AlertEvent::new(Labels::from_pairs(&[("alertname", "Down")]), 0).ending_at(60_000);
//! let v = alert_json(&ev);
//! assert_eq!(v["labels"]["alertname"], "Down");
//! assert_eq!(v["endsAt"], "1970-01-01T00:01:00.000Z");
//! ```

mod config;
mod sender;

pub use config::{validate, AlertmanagerConfig, ForwardConfigError};
pub use sender::{
    alert_json, target_urls, Counters, Forwarder, PreparedSettings, Settings, MAX_BATCH,
    QUEUE_CAPACITY,
};
