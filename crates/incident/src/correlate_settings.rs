//! The correlator's settings and its input, one alert change.

use argus_model::Labels;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The correlator's settings (`incidents:` in the server's config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// An incident takes related alerts for this long after its last firing
    /// alert, at first.
    pub window_ms: i64,
    /// An incident stops taking alerts related only through the graph or a
    /// machine once none joined or fired for this long.
    pub quiet_ms: i64,
    /// Services this many calls apart or closer are related.
    pub max_hops: u8,
    /// Alerts on one machine this close in time are one fault's when a
    /// machine-level alert ties them.
    pub burst_ms: i64,
    /// An incident whose alerts all resolved is recovered after they stay
    /// resolved this long.
    pub recovery_stable_ms: i64,
    /// A root is "located" once its confidence reaches this.
    pub locate_confidence: f64,
    /// An alert that fired this many times in [`Settings::noisy_window_ms`]
    /// joins incidents only through its own service, instance or machine.
    pub noisy_after: u32,
    /// See [`Settings::noisy_after`].
    pub noisy_window_ms: i64,
    /// Two services whose alerts shared this many earlier incidents are
    /// related even without an edge between them.
    pub together_after: u32,
    /// Services related by [`Settings::together_after`] must also have
    /// shared at least this share (0–1) of the incidents of the one of the
    /// two seen in fewer: two busy services meet by chance; services that
    /// fail together do so most times either fails.
    pub together_share: f64,
    /// The least relation an alert needs to join an incident (0–1).
    pub join_threshold: f64,
    /// How related an instance alert of a service whose machines are unknown
    /// is to a machine's alert of the last [`Settings::burst_ms`].
    pub unplaced_near_machine: f64,
    /// A machine's alert also merges the young incidents of one service
    /// whose machines are unknown.
    pub merge_unplaced: bool,
    /// Alert names holding one of these (any case) say a service's own
    /// resources or process are failing (its cpu, memory or disk, a crash
    /// loop, an exhausted pool), as does a dynamic rule's alert of kind
    /// `saturation` or `resource`. Such an alert joins an incident through
    /// its own service, instance or machine, or as a callee of the
    /// incident's root, but not as a caller of the incident's services: a
    /// caller of a failing dependency shows latency and errors, not its own
    /// resources failing.
    pub own_trouble: Vec<String>,
}

/// The default [`Settings::own_trouble`].
const OWN_TROUBLE: [&str; 12] = [
    "cpu",
    "memory",
    "oom",
    "throttl",
    "disk",
    "crashloop",
    "saturat",
    "exhaust",
    "gcpause",
    "replication",
    "rollout",
    "connections",
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            window_ms: 5 * 60_000,
            quiet_ms: 3 * 60_000,
            max_hops: 2,
            burst_ms: 2 * 60_000,
            recovery_stable_ms: 5 * 60_000,
            locate_confidence: 0.6,
            noisy_after: 3,
            noisy_window_ms: 24 * 3_600_000,
            together_after: 2,
            together_share: 0.7,
            join_threshold: 0.5,
            unplaced_near_machine: 0.6,
            merge_unplaced: true,
            own_trouble: OWN_TROUBLE.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Settings {
    /// Whether an alert with these labels reports its service's own
    /// resources or process failing ([`Settings::own_trouble`]).
    pub fn is_own_trouble(&self, labels: &Labels) -> bool {
        self.names_own_trouble(labels.get("alertname"), labels.get("kind"))
    }

    /// [`Settings::is_own_trouble`] from the alert's name and its `kind`
    /// label.
    pub fn names_own_trouble(&self, alertname: Option<&str>, kind: Option<&str>) -> bool {
        if matches!(kind, Some("saturation" | "resource")) {
            return true;
        }
        let name = alertname.unwrap_or("").as_bytes();
        // Any case, without allocating: this runs for every alert of an
        // incident each time its root is ranked again.
        self.own_trouble.iter().any(|w| {
            let w = w.as_bytes();
            !w.is_empty() && name.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w))
        })
    }
}

/// One alert change, from any source.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// The alert's identity (a fingerprint of its labels).
    pub key: u64,
    /// Its labels.
    pub labels: Labels,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// True when it fires, false when it resolved.
    pub firing: bool,
    /// When this change was seen, ms since the epoch.
    pub at_ms: i64,
    /// The alert's own start (`startsAt`).
    pub starts_at_ms: i64,
    /// For a firing alert, when its last send stops being valid: it counts
    /// as resolved then unless refreshed. `None`: until resolved.
    pub ends_at_ms: Option<i64>,
}

impl Signal {
    /// A firing alert seen at `at_ms`, keyed by its labels' hash.
    pub fn firing(labels: Labels, at_ms: i64) -> Signal {
        Signal {
            key: labels.stable_hash(),
            labels,
            annotations: BTreeMap::new(),
            firing: true,
            at_ms,
            starts_at_ms: at_ms,
            ends_at_ms: None,
        }
    }

    /// The same alert resolved at `at_ms`.
    pub fn resolved(labels: Labels, at_ms: i64) -> Signal {
        Signal {
            firing: false,
            ..Signal::firing(labels, at_ms)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_trouble_reads_name_words_in_any_case_and_the_dynamic_kinds() {
        let s = Settings::default();
        assert!(s.names_own_trouble(Some("KubePodCrashLooping"), None));
        assert!(s.names_own_trouble(Some("HighCPUUsage"), None));
        assert!(s.names_own_trouble(Some("Workers"), Some("saturation")));
        assert!(!s.names_own_trouble(Some("HighRequestLatency"), None));
        assert!(!s.names_own_trouble(Some("Workers"), Some("latency")));
        assert!(!s.names_own_trouble(None, None));
    }
}
