//! The system under test and the faults of one run: the ten services and
//! their fixed call graph, the fault kinds, and the seeded schedule of faults.
//!
//! ```text
//! gateway -> orders, search, users
//! orders  -> payments, inventory, shipping, db
//! search  -> cache, db          users -> cache, db
//! payments -> db                inventory -> db        shipping -> notify
//! ```
//! Everything here is pure: the same seed gives the same faults.

use argus_model::SplitMix64;
use serde::Serialize;

/// The services, callers before callees.
pub const SERVICES: [&str; 10] = [
    "gateway",
    "orders",
    "search",
    "users",
    "payments",
    "inventory",
    "shipping",
    "notify",
    "cache",
    "db",
];

/// The call graph: (caller, callee), the caller depends on the callee.
pub const EDGES: [(&str, &str); 13] = [
    ("gateway", "orders"),
    ("gateway", "search"),
    ("gateway", "users"),
    ("orders", "payments"),
    ("orders", "inventory"),
    ("orders", "shipping"),
    ("orders", "db"),
    ("search", "cache"),
    ("search", "db"),
    ("users", "cache"),
    ("users", "db"),
    ("payments", "db"),
    ("inventory", "db"),
];

/// One more edge kept apart so `EDGES` stays the callers' fan-out.
pub const EXTRA_EDGE: (&str, &str) = ("shipping", "notify");

/// Services that heartbeat into Redis.
pub const HEARTBEATS: [&str; 5] = ["gateway", "orders", "payments", "search", "users"];

/// The dimension values of the business KPI `orders_total{region, channel}`.
pub const REGIONS: [&str; 3] = ["eu", "us", "apac"];
/// See [`REGIONS`].
pub const CHANNELS: [&str; 2] = ["web", "app"];

/// Every call edge.
pub fn edges() -> Vec<(&'static str, &'static str)> {
    let mut v = EDGES.to_vec();
    v.push(EXTRA_EDGE);
    v
}

/// The callees of `service`.
pub fn callees(service: &str) -> Vec<&'static str> {
    edges()
        .into_iter()
        .filter(|(c, _)| *c == service)
        .map(|(_, d)| d)
        .collect()
}

/// What is done to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGKILL; healing starts it again.
    Kill,
    /// SIGSTOP: the process stops answering; healing sends SIGCONT.
    Hang,
    /// Every request takes 800 ms longer.
    Latency,
    /// A deploy event, then 60 % of requests fail.
    DeployErrors,
    /// A thread spins on a core.
    CpuHog,
    /// 32 MiB more resident memory each second (up to 1 GiB).
    MemoryLeak,
    /// A real file under the service's data directory grows 8 MiB a second.
    DiskFill,
    /// The database stops listening: its callers fail.
    DependencyDown,
    /// Orders of one region are silently lost: the KPI drops in one dimension.
    KpiDrop,
}

impl FaultKind {
    /// Every kind, in the order of the tables.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Kill,
        FaultKind::Hang,
        FaultKind::Latency,
        FaultKind::DeployErrors,
        FaultKind::CpuHog,
        FaultKind::MemoryLeak,
        FaultKind::DiskFill,
        FaultKind::DependencyDown,
        FaultKind::KpiDrop,
    ];

    /// Name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Hang => "hang",
            FaultKind::Latency => "latency",
            FaultKind::DeployErrors => "deploy-errors",
            FaultKind::CpuHog => "cpu-hog",
            FaultKind::MemoryLeak => "memory-leak",
            FaultKind::DiskFill => "disk-fill",
            FaultKind::DependencyDown => "db-down",
            FaultKind::KpiDrop => "kpi-drop",
        }
    }

    /// The services this kind may hit.
    pub fn candidates(self) -> Vec<&'static str> {
        match self {
            FaultKind::DependencyDown => vec!["db"],
            FaultKind::KpiDrop => vec!["orders"],
            // db down has its own kind.
            FaultKind::Kill | FaultKind::Hang => {
                SERVICES.iter().copied().filter(|s| *s != "db").collect()
            }
            _ => SERVICES.to_vec(),
        }
    }
}

/// One planned fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// 1-based position in the run.
    pub n: usize,
    /// What is done.
    pub kind: FaultKind,
    /// To which service.
    pub service: String,
    /// For a KPI drop: the region whose orders are lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// `n` faults from `seed`. Kinds come in shuffled blocks of all nine, so
/// every kind is drawn equally often (±1); the service is drawn among the
/// kind's candidates, never the previous fault's service when another exists.
pub fn schedule(n: usize, seed: u64) -> Vec<Fault> {
    let mut rng = SplitMix64::new(seed);
    let mut kinds: Vec<FaultKind> = Vec::new();
    let mut out: Vec<Fault> = Vec::with_capacity(n);
    for i in 1..=n {
        if kinds.is_empty() {
            kinds = FaultKind::ALL.to_vec();
            for j in (1..kinds.len()).rev() {
                kinds.swap(j, rng.index(j + 1));
            }
        }
        let Some(kind) = kinds.pop() else { break };
        let mut cands = kind.candidates();
        if let Some(prev) = out.last() {
            if cands.len() > 1 {
                cands.retain(|s| *s != prev.service);
            }
        }
        let service = cands[rng.index(cands.len())].to_string();
        let region =
            (kind == FaultKind::KpiDrop).then(|| REGIONS[rng.index(REGIONS.len())].to_string());
        out.push(Fault {
            n: i,
            kind,
            service,
            region,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let a = schedule(20, 1);
        assert_eq!(a, schedule(20, 1));
        assert_ne!(a, schedule(20, 2));
        assert_eq!(a.len(), 20);
        assert_eq!(a[0].n, 1);
        assert_eq!(a[19].n, 20);
    }

    #[test]
    fn kinds_are_balanced_and_services_fit_their_kind() {
        let v = schedule(27, 7);
        for k in FaultKind::ALL {
            assert_eq!(v.iter().filter(|f| f.kind == k).count(), 3, "{k:?}");
        }
        for f in &v {
            assert!(f.kind.candidates().contains(&f.service.as_str()), "{f:?}");
            assert_eq!(f.region.is_some(), f.kind == FaultKind::KpiDrop);
        }
        assert!(v
            .iter()
            .filter(|f| f.kind == FaultKind::DependencyDown)
            .all(|f| f.service == "db"));
    }

    #[test]
    fn no_service_twice_in_a_row_when_avoidable() {
        let v = schedule(90, 3);
        for w in v.windows(2) {
            if w[1].kind.candidates().len() > 1 {
                assert_ne!(w[0].service, w[1].service, "{w:?}");
            }
        }
    }

    #[test]
    fn the_graph_is_closed_over_the_services() {
        for (c, d) in edges() {
            assert!(SERVICES.contains(&c) && SERVICES.contains(&d));
        }
        assert_eq!(
            callees("orders"),
            ["payments", "inventory", "shipping", "db"]
        );
        assert!(callees("db").is_empty());
        for h in HEARTBEATS {
            assert!(SERVICES.contains(&h));
        }
    }
}
