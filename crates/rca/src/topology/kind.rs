//! What kind of fault a metric family points to, read from the words of its
//! name (split on `_`, `:`, `.` and `-`).
//!
//! | words in the family name | signal | kind |
//! |---|---|---|
//! | `cpu` | resource | cpu |
//! | `mem`, `memory`, `rss`, `heap`, `swap`, `oom` | resource | memory |
//! | `error(s)`, `fail(ed,ure,ures)`, `exception(s)`, `success`, `availability`, `status`, `5xx`, `syscall(s)` | errors | code |
//! | `latency`, `duration`, `delay`, `rtt`, `network`, `net`, `tcp`, `udp`, `socket(s)`, `packet(s)`, `receive`, `transmit`, `rx`, `tx`, `request(s)`, `workload`, `throughput` | network | network |
//! | anything else | other | code |
//!
//! The first row that matches wins, top to bottom. A service's kind is then
//! chosen from all of its moving series (see `Kind` in the module above):
//! a rising cpu or memory series strong enough wins, else errors mean code and
//! latency alone means network.

use serde::{Deserialize, Serialize};

/// The kind of fault a suspect points to; serialised lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// CPU saturation (a hog, throttling).
    Cpu,
    /// Memory growth (a leak, a hog).
    Memory,
    /// Network delay or loss: latency moved without errors.
    Network,
    /// Errors in the service's own code: error or success rates moved.
    Code,
}

impl Kind {
    /// The lowercase name (`cpu`, `memory`, `network`, `code`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Cpu => "cpu",
            Kind::Memory => "memory",
            Kind::Network => "network",
            Kind::Code => "code",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a metric family measures, from the words of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Cpu,
    Memory,
    Errors,
    Network,
    Other,
}

const MEMORY: &[&str] = &["mem", "memory", "rss", "heap", "swap", "oom"];
/// Error-kind words whose series rise when requests fail.
const FAILING_UP: &[&str] = &[
    "error",
    "errors",
    "fail",
    "failed",
    "failure",
    "failures",
    "exception",
    "exceptions",
    "5xx",
];
/// Error-kind words whose series fall when requests fail.
const FAILING_DOWN: &[&str] = &["success", "availability"];
/// Other error-kind words (which way they go is not said).
const ERRORS_OTHER: &[&str] = &["status", "syscall", "syscalls"];
const NETWORK: &[&str] = &[
    "latency",
    "duration",
    "delay",
    "rtt",
    "network",
    "net",
    "tcp",
    "udp",
    "socket",
    "sockets",
    "packet",
    "packets",
    "receive",
    "transmit",
    "rx",
    "tx",
    "request",
    "requests",
    "workload",
    "throughput",
];

/// The lowercase words of a family or alert name, split at anything but
/// letters and digits and at capitals after a lowercase letter
/// (`HighErrorRate`: high, error, rate).
fn words(name: &str) -> Vec<String> {
    let mut spaced = String::with_capacity(name.len() + 8);
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            spaced.push(' ');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        spaced.push(c.to_ascii_lowercase());
    }
    spaced
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Classifies a family name (or an alert's).
pub(crate) fn signal_of(family: &str) -> Signal {
    let words = words(family);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if words.iter().any(|w| w.starts_with("cpu")) {
        Signal::Cpu
    } else if has(MEMORY) || words.iter().any(|w| w.starts_with("memory")) {
        Signal::Memory
    } else if has(FAILING_UP) || has(FAILING_DOWN) || has(ERRORS_OTHER) {
        Signal::Errors
    } else if has(NETWORK) {
        Signal::Network
    } else {
        Signal::Other
    }
}

/// Words of families that measure how long requests take (a subset of the
/// network kind's, without traffic).
const LATENCY: &[&str] = &["latency", "duration", "delay", "rtt"];

/// Whether a family measures how long requests take.
pub(crate) fn is_latency(family: &str) -> bool {
    words(family).iter().any(|w| LATENCY.contains(&w.as_str()))
}

/// The unit of time a latency family's name gives (`seconds`, `ms`, …),
/// normalised (`s`, `ms`, `us`); `None` when it names none.
pub(crate) fn time_unit(family: &str) -> Option<&'static str> {
    words(family).iter().rev().find_map(|w| match w.as_str() {
        "seconds" | "second" | "sec" | "s" => Some("s"),
        "milliseconds" | "millisecond" | "ms" => Some("ms"),
        "microseconds" | "microsecond" | "us" => Some("us"),
        _ => None,
    })
}

/// Whether a family measures the calls a service makes rather than those it
/// serves (a client-side latency: its callees' time as the caller sees it).
pub(crate) fn is_client_side(family: &str) -> bool {
    words(family)
        .iter()
        .any(|w| matches!(w.as_str(), "client" | "outbound"))
}

/// Which way an error-kind family goes when requests fail: `Some(true)`
/// when it falls (a success rate, an availability), `Some(false)` when it
/// rises (errors, failures, exceptions), `None` when its name does not say.
pub(crate) fn fails_falling(family: &str) -> Option<bool> {
    let words = words(family);
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    if has(FAILING_DOWN) {
        Some(true)
    } else if has(FAILING_UP) {
        Some(false)
    } else {
        None
    }
}

impl Signal {
    /// The kind a suspect gets when this signal is its best evidence.
    pub(crate) fn kind(self) -> Kind {
        match self {
            Signal::Cpu => Kind::Cpu,
            Signal::Memory => Kind::Memory,
            Signal::Network => Kind::Network,
            Signal::Errors | Signal::Other => Kind::Code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_classify_by_words() {
        assert_eq!(signal_of("container_cpu_usage_seconds_total"), Signal::Cpu);
        assert_eq!(
            signal_of("container_memory_working_set_bytes"),
            Signal::Memory
        );
        assert_eq!(signal_of("pod_latency_p90_seconds"), Signal::Network);
        assert_eq!(signal_of("http_errors_ratio"), Signal::Errors);
        assert_eq!(signal_of("success_rate"), Signal::Errors);
        assert_eq!(
            signal_of("container_network_receive_bytes_total"),
            Signal::Network
        );
        assert_eq!(signal_of("something_else"), Signal::Other);
        assert_eq!(fails_falling("pod_success_rate"), Some(true));
        assert_eq!(fails_falling("petshop_availability_ratio"), Some(true));
        assert_eq!(fails_falling("http_errors_total"), Some(false));
        assert_eq!(fails_falling("syscalls_total"), None);
        // Alert names are split at their capitals.
        assert_eq!(signal_of("HighErrorRate"), Signal::Errors);
        assert_eq!(signal_of("HighLatency"), Signal::Network);
        assert_eq!(signal_of("KubePodCPUThrottling"), Signal::Cpu);
        assert_eq!(signal_of("ServiceDown"), Signal::Other);
        // "mem" as a word, not as a substring of another word.
        assert_eq!(signal_of("member_count"), Signal::Other);
        assert_eq!(Kind::Network.to_string(), "network");
        assert_eq!(serde_json::to_string(&Kind::Cpu).unwrap(), "\"cpu\"");
    }
}
