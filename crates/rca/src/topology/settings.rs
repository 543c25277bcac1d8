//! The knobs of [`super::rank`] and their ranges (a part of [`super`],
//! split for size).

use super::TopologyError;

/// The knobs of [`super::rank`]. `Default` gives the values chosen by leaving one
/// scenario of the development set out at a time and on the synthetic cases
/// (see `docs/eval-rca-topology.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The label naming a series' service. Default `service`.
    pub service_label: String,
    /// Labels naming the calling side of an edge series, first found wins.
    /// Default `source`, `source_service`, `source_workload`, `src`,
    /// `client`.
    pub source_labels: Vec<String>,
    /// Labels naming the called side of an edge series. Default
    /// `destination`, `destination_service`, `destination_workload`, `dst`,
    /// `dest`, `server`.
    pub destination_labels: Vec<String>,
    /// Weight of an edge series in its destination's score. Default 0.8.
    pub edge_weight: f64,
    /// Fewest points a baseline (normal period or history) needs to be used
    /// when another one is there. Default 3.
    pub min_baseline_points: usize,
    /// A history before the start of at least this many points that
    /// disagrees with the normal period about the level (by more than
    /// `anomalous_z` of its scale) is used alone; 0 turns it off. Default 10.
    pub history_points: usize,
    /// How many of the last points before the start make the "recent" level
    /// that the move must also depart from (fewer when the history is
    /// shorter); 0 turns it off. Default 3.
    pub recent_points: usize,
    /// The scale is at least this fraction of the series' own level. Default 0.05.
    pub relative_floor: f64,
    /// The scale is at least this fraction of the family's typical magnitude
    /// (from each series' median: for cpu, memory, bytes and requests, the
    /// volume-weighted median over the family's series, so idle services
    /// do not shrink it; for other families, the upper quartile). Default 0.01.
    pub family_floor: f64,
    /// Scores are capped here. Default 10 000.
    pub max_z: f64,
    /// Weight of a service's second-best series. Default 0.
    pub second_weight: f64,
    /// A series or service at or beyond this score moved. Default 3.
    pub anomalous_z: f64,
    /// A callee "moved as much" when its score (`ln(1 + z)`) is at least
    /// this share of its caller's. Default 0.7.
    pub downstream_ratio: f64,
    /// A caller with such a callee has its score multiplied by this. Default 0.5.
    pub downstream_penalty: f64,
    /// How many hops down the graph to look for such a callee. Default 3.
    pub downstream_depth: usize,
    /// A service the entry cannot reach has its score multiplied by this. Default 0.5.
    pub unreachable_penalty: f64,
    /// A series decides the kind only when its score (`ln(1 + z)`) is at
    /// least this share of the service's best. Default 0.5.
    pub kind_share: f64,
    /// With an entry on the graph, a moving service that the entry reaches
    /// only through callers that did not move (an anomalous path: every hop
    /// moved or has no metrics) has its score multiplied by this. Default 0.7.
    pub path_penalty: f64,
    /// A hop of that path "moved" at this robust z (lower than
    /// `anomalous_z`: a move carried up the graph weakens). Default 2.
    pub path_z: f64,
    /// Among the moving services scoring at least this share of the best,
    /// the one whose move began first goes first (the root moves first); 0
    /// turns it off. Default 0 (off: a ramp such as a memory leak crosses
    /// later than an idle service's blip).
    pub onset_share: f64,
    /// A rising cpu or memory series has its score multiplied by this (the
    /// service's own resource beats latency carried from elsewhere). Default 1
    /// (off: it lifts idle services' cpu blips too).
    pub resource_weight: f64,
    /// When the entry's metric is of the error kind (errors, availability,
    /// success rate: the incident was seen by failing requests), a series
    /// that is neither of that kind nor cpu or memory (latency, traffic),
    /// or of that kind but moved the healthy way (a success rate up), has
    /// its score multiplied by this. Default 0: only a service's failing
    /// requests and resources say whether it caused failures.
    pub entry_kind_weight: f64,
    /// A series whose samples are the same, point for point, as another
    /// service's series of the same family (a machine's cpu or memory
    /// reported beside every pod on it) says nothing about which of those
    /// services is at fault; its score is multiplied by this. Default 0.5.
    pub shared_weight: f64,
}

impl Default for Settings {
    fn default() -> Self {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        Settings {
            service_label: "service".into(),
            source_labels: v(&[
                "source",
                "source_service",
                "source_workload",
                "src",
                "client",
            ]),
            destination_labels: v(&[
                "destination",
                "destination_service",
                "destination_workload",
                "dst",
                "dest",
                "server",
            ]),
            edge_weight: 0.8,
            min_baseline_points: 3,
            history_points: 10,
            recent_points: 3,
            relative_floor: 0.05,
            family_floor: 0.01,
            max_z: 10_000.0,
            second_weight: 0.0,
            anomalous_z: 3.0,
            downstream_ratio: 0.7,
            downstream_penalty: 0.5,
            downstream_depth: 3,
            unreachable_penalty: 0.5,
            kind_share: 0.5,
            path_penalty: 0.7,
            path_z: 2.0,
            onset_share: 0.0,
            resource_weight: 1.0,
            entry_kind_weight: 0.0,
            shared_weight: 0.5,
        }
    }
}

impl Settings {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), TopologyError> {
        let checks: [(&'static str, f64, bool, &'static str); 16] = [
            (
                "entry_kind_weight",
                self.entry_kind_weight,
                (0.0..=1.0).contains(&self.entry_kind_weight),
                "0 to 1",
            ),
            (
                "shared_weight",
                self.shared_weight,
                (0.0..=1.0).contains(&self.shared_weight),
                "0 to 1",
            ),
            ("path_z", self.path_z, self.path_z >= 0.0, "0 or more"),
            (
                "path_penalty",
                self.path_penalty,
                (0.0..=1.0).contains(&self.path_penalty),
                "0 to 1",
            ),
            (
                "onset_share",
                self.onset_share,
                (0.0..=1.0).contains(&self.onset_share),
                "0 to 1",
            ),
            (
                "resource_weight",
                self.resource_weight,
                (1.0..=10.0).contains(&self.resource_weight),
                "1 to 10",
            ),
            (
                "edge_weight",
                self.edge_weight,
                (0.0..=1.0).contains(&self.edge_weight),
                "0 to 1",
            ),
            (
                "relative_floor",
                self.relative_floor,
                self.relative_floor >= 0.0,
                "0 or more",
            ),
            (
                "family_floor",
                self.family_floor,
                self.family_floor >= 0.0,
                "0 or more",
            ),
            ("max_z", self.max_z, self.max_z > 0.0, "above 0"),
            (
                "second_weight",
                self.second_weight,
                (0.0..=1.0).contains(&self.second_weight),
                "0 to 1",
            ),
            (
                "anomalous_z",
                self.anomalous_z,
                self.anomalous_z > 0.0,
                "above 0",
            ),
            (
                "downstream_ratio",
                self.downstream_ratio,
                self.downstream_ratio > 0.0,
                "above 0",
            ),
            (
                "downstream_penalty",
                self.downstream_penalty,
                (0.0..=1.0).contains(&self.downstream_penalty),
                "0 to 1",
            ),
            (
                "unreachable_penalty",
                self.unreachable_penalty,
                (0.0..=1.0).contains(&self.unreachable_penalty),
                "0 to 1",
            ),
            (
                "kind_share",
                self.kind_share,
                (0.0..=1.0).contains(&self.kind_share),
                "0 to 1",
            ),
        ];
        for (name, value, ok, expected) in checks {
            // `ok` is false for NaN too, since every comparison with NaN is.
            if !ok {
                return Err(TopologyError::InvalidSetting {
                    name,
                    value,
                    expected,
                });
            }
        }
        Ok(())
    }
}
