//! The dispatcher's public records and its error.

use crate::alert::Alert;
use crate::escalation::Ack;
use crate::silence::SilenceError;
use crate::store::StoreError;
use argus_model::Labels;
use serde::{Deserialize, Serialize};

/// A dispatcher error.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// The store failed; the change was not applied.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A silence was refused.
    #[error(transparent)]
    Silence(#[from] SilenceError),
    /// The config could not be compiled.
    #[error("invalid alerting config: {0}")]
    Config(String),
    /// Nothing matched an acknowledgement.
    #[error("nothing to acknowledge for {0}")]
    NotFound(String),
}

impl DispatchError {
    /// True when retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DispatchError::Store(e) if e.is_retryable())
    }
}

/// An alert with what Argus keeps about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// The alert.
    pub alert: Alert,
    /// Acknowledgement of this firing episode.
    #[serde(default)]
    pub ack: Option<Ack>,
}

/// Identifies an aggregation group: route index and group key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId {
    /// Route index.
    pub route: usize,
    /// Alertmanager group key.
    pub key: String,
}

/// An aggregation group as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupInfo {
    /// Group id.
    pub id: GroupId,
    /// Receiver name.
    pub receiver: String,
    /// Group labels.
    pub labels: Labels,
    /// Fingerprints of its alerts.
    pub alerts: Vec<u64>,
}

/// An alert as the API shows it, with why it is suppressed.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertInfo {
    /// The alert.
    pub alert: Alert,
    /// Fingerprint.
    pub fingerprint: u64,
    /// Ids of active silences that match.
    pub silenced_by: Vec<String>,
    /// Fingerprint of an inhibiting alert.
    pub inhibited_by: Option<u64>,
    /// Receivers of the routes it goes to.
    pub receivers: Vec<String>,
    /// Acknowledgement.
    pub ack: Option<Ack>,
}
