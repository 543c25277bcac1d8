//! Changes around an incident: deploys, configuration changes and other
//! events of its services shortly before and during it, the most common cause
//! of a fault. The server reads them from where events are kept (the log
//! store) through [`ChangeSource`].
//!
//! ```
//! use argus_incident::changes::Change;
//! let c = Change { at_ms: 5, kind: "deploy".into(), service: "api".into(), summary: "api v42 rolled out".into() };
//! assert_eq!(c.service, "api");
//! ```

use serde::{Deserialize, Serialize};

/// One change of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// When it happened, ms since the epoch.
    pub at_ms: i64,
    /// Its kind: `deploy`, `config_change`, `kubernetes`…
    pub kind: String,
    /// The service (or object) it changed.
    pub service: String,
    /// What happened, in a line.
    pub summary: String,
}

/// Reads changes; the server implements it over the events it keeps.
pub trait ChangeSource: Send + Sync + std::fmt::Debug {
    /// Changes of any of `names` (services, instances, pods) in
    /// `[from_ms, to_ms]`, oldest first, at most `max`.
    fn changes(
        &self,
        names: &[String],
        from_ms: i64,
        to_ms: i64,
        max: usize,
    ) -> Result<Vec<Change>, crate::service::SourceError>;
}
