//! Tables (one per system per group, as the seed's figures 6 and 7) and the
//! machine-readable JSON of `argus-lab failures`.
//!
//! ```text
//! argus: <settings>
//!   hold 3s, cool-down 3s, slow 2s; healthy: CPU 1.2 % RSS 20.1 MiB; false alerts while quiet: 0
//! group injected detected    rate false  resp mean   p50   p99   max   CPU fail  RSS fail
//!     1     1000     1000 100.00%     0      0.81  0.80  1.50  1.90    3.40 %  22.0 MiB
//!       by kind: hang 198/198, heartbeat_stopped 201/201, ...
//! ```

use super::analysis::GroupFigures;
use super::fleet::Timing;
use super::resources::Usage;
use serde::Serialize;
use std::fmt::Write as _;

/// One group's figures and the monitor's usage while it ran.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    /// Detection, false alerts, response times.
    #[serde(flatten)]
    pub figures: GroupFigures,
    /// Monitor CPU/RSS while this group's failures ran.
    pub failing: Usage,
    /// Wall time of the group, seconds.
    pub duration_s: f64,
}

/// Everything measured for one system at one setting.
#[derive(Debug, Clone, Serialize)]
pub struct SystemReport {
    /// `argus`, `prometheus-fast`, ...
    pub system: String,
    /// The settings in words.
    pub settings: String,
    /// Hold, cool-down and slow delay used.
    pub timing: Timing,
    /// Services, concurrency, seed.
    pub services: usize,
    /// Most services failing at once.
    pub concurrency: usize,
    /// RNG seed.
    pub seed: u64,
    /// Monitor CPU/RSS in the quiet phase before the failures.
    pub healthy: Usage,
    /// Firing alerts during the quiet phase (all false).
    pub quiet_false_alerts: usize,
    /// False alerts between groups or in the drain (not in any group's span).
    pub other_false_alerts: usize,
    /// One entry per group.
    pub groups: Vec<GroupReport>,
    /// Wall time from start to stop, seconds.
    pub duration_s: f64,
}

/// The text tables of one system.
pub fn table(r: &SystemReport) -> String {
    let mut s = String::new();
    let t = &r.timing;
    let _ = writeln!(s, "== {}: {}", r.system, r.settings);
    let _ = writeln!(
        s,
        "   {} services, ≤{} failing at once, seed {}; hold {:?}, cool-down {:?}, slow {:?}; run {:.0} s",
        r.services, r.concurrency, r.seed, t.hold, t.cooldown, t.slow, r.duration_s
    );
    let _ = writeln!(
        s,
        "   healthy: CPU {:.2} % of a core, PSS {:.1} MiB, RSS {:.1} MiB ({} samples); false alerts while quiet {}, outside groups {}",
        r.healthy.cpu_pct, r.healthy.pss_mib, r.healthy.rss_mib, r.healthy.samples, r.quiet_false_alerts, r.other_false_alerts
    );
    let _ = writeln!(
        s,
        "{:>5} {:>8} {:>8} {:>8} {:>5} {:>9} {:>7} {:>7} {:>7} {:>10} {:>10} {:>10} {:>7}",
        "group",
        "injected",
        "detected",
        "rate",
        "false",
        "resp mean",
        "p50",
        "p99",
        "max",
        "CPU fail",
        "PSS fail",
        "RSS fail",
        "time"
    );
    for g in &r.groups {
        let f = &g.figures;
        let _ = writeln!(
            s,
            "{:>5} {:>8} {:>8} {:>7.2}% {:>5} {:>8.2}s {:>6.2}s {:>6.2}s {:>6.2}s {:>8.2} % {:>6.1} MiB {:>6.1} MiB {:>6.0}s",
            f.group,
            f.injected,
            f.detected,
            100.0 * f.detection_rate,
            f.false_alerts,
            f.response_s.mean,
            f.response_s.p50,
            f.response_s.p99,
            f.response_s.max,
            g.failing.cpu_pct,
            g.failing.pss_mib,
            g.failing.rss_mib,
            g.duration_s
        );
        let kinds: Vec<String> = f
            .by_kind
            .iter()
            .map(|(k, (i, d))| format!("{k} {d}/{i}"))
            .collect();
        let _ = writeln!(s, "      detected by kind: {}", kinds.join(", "));
    }
    s
}
