//! Faults: a service's own trouble, or a machine's, and the symptoms that
//! travel from it to the services that call it.

use std::collections::BTreeMap;

use super::world::Tier;
use super::{labels, Gen, MIN};
use crate::incidents::{TruthKind, TruthRoot};

/// How a source writes an alert about a service (or one of its instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// A rule: `service` and `instance`.
    Rule,
    /// A rule over the whole service: `service` only.
    RuleService,
    /// Kubernetes: `pod`, `namespace`, `node` (sometimes `container`).
    Kube,
    /// kube-state-metrics about the workload: `namespace`, `deployment`.
    Workload,
    /// A health check: `job` only.
    Health,
    /// Prometheus' scrape: `job` and `instance`.
    Target,
    /// Syslog: `host` and `app`.
    Syslog,
}

#[derive(Clone, Copy)]
enum ServiceFault {
    Saturation,
    Errors,
    Down,
    Slow,
    BadDeploy,
}

#[derive(Clone, Copy)]
enum NodeFault {
    Down,
    Pressure,
    Network,
}

impl Gen {
    /// Labels of an alert about service `s` (instance `inst` where the
    /// style has one).
    pub fn service_labels(
        &mut self,
        s: usize,
        inst: usize,
        alertname: &str,
        style: Style,
        severity: &str,
    ) -> BTreeMap<String, String> {
        let w = &self.world;
        let svc = &w.services[s];
        let i = &w.instances[inst];
        let node = &w.nodes[i.node];
        let addr = w.address(inst);
        let mut l = match style {
            Style::Rule => labels(&[("service", &svc.name), ("instance", &addr), ("env", "prod")]),
            Style::RuleService => labels(&[("service", &svc.name), ("env", "prod")]),
            Style::Kube => labels(&[
                ("pod", &i.pod),
                ("namespace", &svc.namespace),
                ("node", &node.name),
            ]),
            Style::Workload => {
                let kind = if svc.tier == Tier::Store {
                    "statefulset"
                } else {
                    "deployment"
                };
                labels(&[(kind, &svc.name), ("namespace", &svc.namespace)])
            }
            Style::Health => labels(&[("job", &svc.name)]),
            Style::Target => labels(&[("job", &svc.name), ("instance", &addr)]),
            Style::Syslog => {
                let host = if self.rng.unit() < 0.5 {
                    &node.fqdn
                } else {
                    &node.name
                };
                labels(&[("host", host), ("app", &svc.name)])
            }
        };
        if style == Style::Kube && self.rng.unit() < 0.5 {
            l.insert("container".into(), svc.name.clone());
        }
        l.insert("alertname".into(), alertname.into());
        l.insert("severity".into(), severity.into());
        l
    }

    /// Schedules `n` faults over `duration`, some at the same minute as the
    /// one before in another part of the graph.
    pub fn faults(&mut self, n: usize, duration: i64, node_share: f64) {
        let mut starts: Vec<i64> = (0..n)
            .map(|_| self.start_ms + self.between(2 * MIN, duration - 5 * MIN))
            .collect();
        starts.sort_unstable();
        let mut prev: Option<(bool, usize)> = None;
        let mut prev_start = 0;
        for (k, mut start) in starts.into_iter().enumerate() {
            let together = prev.is_some() && self.chance(0.2);
            let on_node = self.chance(node_share);
            if together {
                start = prev_start / MIN * MIN + self.between(0, MIN - 1000);
            }
            prev_start = start;
            let avoid = if together { prev } else { None };
            if on_node {
                let node = self.pick_node(avoid);
                self.node_failure(k + 1, node, start);
                prev = Some((true, node));
            } else {
                let root = self.pick_root(avoid);
                self.service_fault(k + 1, root, start);
                prev = Some((false, root));
            }
        }
    }

    fn pick_root(&mut self, avoid: Option<(bool, usize)>) -> usize {
        let n = self.world.services.len();
        let mut s = 0;
        for _ in 0..20 {
            let want = match self.rng.unit() {
                x if x < 0.4 => Tier::Store,
                x if x < 0.9 => Tier::Mid,
                _ => Tier::Frontend,
            };
            let of_tier: Vec<usize> = (0..n)
                .filter(|&i| self.world.services[i].tier == want)
                .collect();
            s = *self.pick(&of_tier);
            let Some((false, other)) = avoid else {
                return s;
            };
            let related = self.world.upstream(other).contains(&s)
                || self.world.downstream(other).contains(&s);
            if !related {
                return s;
            }
        }
        s
    }

    fn pick_node(&mut self, avoid: Option<(bool, usize)>) -> usize {
        let busy: Vec<usize> = (0..self.world.nodes.len())
            .filter(|&n| self.world.instances.iter().any(|i| i.node == n))
            .filter(|&n| avoid != Some((true, n)))
            .collect();
        if busy.is_empty() {
            self.rng.index(self.world.nodes.len())
        } else {
            *self.pick(&busy)
        }
    }

    /// A fault length: mostly short, sometimes an hour.
    fn length(&mut self) -> i64 {
        let u = self.rng.unit();
        (3 * MIN + (u * u * 57.0 * MIN as f64) as i64) / 1000 * 1000
    }

    fn service_fault(&mut self, k: usize, root: usize, start: i64) {
        let name = self.world.services[root].name.clone();
        let g = self.group(
            format!("fault-{k:03}"),
            TruthRoot {
                service: Some(name.clone()),
                node: None,
            },
            TruthKind::ServiceFault,
        );
        let end = start + self.length();
        let store = self.world.services[root].tier == Tier::Store;
        let kind = if store {
            *self.pick(&[
                ServiceFault::Saturation,
                ServiceFault::Slow,
                ServiceFault::Down,
                ServiceFault::Errors,
            ])
        } else {
            *self.pick(&[
                ServiceFault::Errors,
                ServiceFault::Saturation,
                ServiceFault::Down,
                ServiceFault::BadDeploy,
                ServiceFault::Slow,
            ])
        };
        use Style::*;
        let alerts: &[(&str, Style, &str)] = match kind {
            ServiceFault::Saturation if store => &[
                ("DatastoreConnectionsSaturated", Rule, "critical"),
                ("CPUThrottlingHigh", Kube, "warning"),
                ("HighMemoryUsage", Rule, "warning"),
            ],
            ServiceFault::Saturation => &[
                ("CPUThrottlingHigh", Kube, "warning"),
                ("ThreadPoolExhausted", Rule, "critical"),
                ("KubeHpaMaxedOut", Workload, "warning"),
                ("HighCPUUsage", Rule, "warning"),
            ],
            ServiceFault::Errors => &[
                ("HighErrorRate", Rule, "critical"),
                ("Http5xxRatioHigh", RuleService, "critical"),
                ("LogErrorSpike", Syslog, "warning"),
            ],
            ServiceFault::Down => &[
                ("TargetDown", Target, "critical"),
                ("ServiceHealthCheckFailed", Health, "critical"),
                ("KubePodCrashLooping", Kube, "critical"),
                ("KubeReplicasUnavailable", Workload, "critical"),
            ],
            ServiceFault::Slow if store => &[
                ("SlowQueries", Rule, "warning"),
                ("ReplicationLagHigh", Rule, "critical"),
                ("DiskIOSaturated", Syslog, "warning"),
            ],
            ServiceFault::Slow => &[
                ("HighRequestLatency", Rule, "warning"),
                ("GCPauseHigh", Rule, "warning"),
                ("HealthCheckSlow", Health, "warning"),
            ],
            ServiceFault::BadDeploy => &[
                ("KubePodCrashLooping", Kube, "critical"),
                ("KubeDeploymentRolloutStuck", Workload, "warning"),
                ("HighErrorRate", Rule, "critical"),
            ],
        };
        // The first of the kind's alerts always, the others sometimes.
        let instances = self.world.services[root].instances.clone();
        for (j, &(alertname, style, severity)) in alerts.iter().enumerate() {
            if j > 0 && !self.chance(0.55) {
                continue;
            }
            let per_instance = matches!(style, Rule | Kube | Target | Syslog);
            let count = if per_instance {
                1 + self.rng.index(instances.len())
            } else {
                1
            };
            for &inst in instances.iter().take(count) {
                let l = self.service_labels(root, inst, alertname, style, severity);
                let on = start + self.between(0, 90_000);
                let off = end + self.between(0, 2 * MIN);
                let summary = format!("{alertname} on {name}");
                self.alert(g, l, summary, on, off, 0.1);
            }
        }
        let p = 0.5 + 0.4 * self.rng.unit();
        self.cascade(g, vec![(root, start)], start, end, p);
    }

    /// Symptoms travel from `seeds` to their (transitive) callers: each
    /// caller is hit with probability `p` (less each hop), after a delay;
    /// a hit caller alerts most of the time.
    fn cascade(&mut self, g: usize, seeds: Vec<(usize, i64)>, start: i64, end: i64, p: f64) {
        let mut seen: Vec<usize> = seeds.iter().map(|s| s.0).collect();
        let mut queue: Vec<(usize, i64, u32)> = seeds.into_iter().map(|(s, t)| (s, t, 0)).collect();
        let mut i = 0;
        while i < queue.len() {
            let (s, t, depth) = queue[i];
            i += 1;
            let callers = self.world.callers[s].clone();
            for c in callers {
                if seen.contains(&c) || !self.chance(p * 0.85f64.powi(depth as i32)) {
                    continue;
                }
                seen.push(c);
                let u = self.rng.unit();
                let tc = t + 10_000 + (u * u * 170_000.0) as i64;
                queue.push((c, tc, depth + 1));
                if self.chance(0.85) {
                    let off = end + (tc - start) + self.between(0, 3 * MIN);
                    self.symptoms(g, c, tc, off);
                }
            }
        }
    }

    /// A service's alerts when something it calls is in trouble.
    pub fn symptoms(&mut self, g: usize, s: usize, on: i64, off: i64) {
        use Style::*;
        let front = self.world.services[s].tier == Tier::Frontend;
        let options: &[(&str, Style, &str)] = &[
            ("HighRequestLatency", Rule, "warning"),
            ("HighRequestLatency", RuleService, "warning"),
            ("HighErrorRate", Rule, "critical"),
            ("UpstreamTimeouts", Rule, "warning"),
            ("EndpointSlow", Health, "warning"),
            ("ProbeFailed", Health, "critical"),
            ("KubeHpaMaxedOut", Workload, "info"),
        ];
        let n = if self.chance(0.35) { 2 } else { 1 };
        let name = self.world.services[s].name.clone();
        let instances = self.world.services[s].instances.clone();
        for _ in 0..n {
            let (alertname, style, severity) = if front && self.chance(0.4) {
                ("SLOErrorBudgetBurn", RuleService, "critical")
            } else {
                *self.pick(options)
            };
            let count = if style == Rule {
                1 + self.rng.index(instances.len())
            } else {
                1
            };
            for &inst in instances.iter().take(count) {
                let mut l = self.service_labels(s, inst, alertname, style, severity);
                if alertname == "SLOErrorBudgetBurn" {
                    l.insert("slo".into(), format!("{name}-availability"));
                }
                let on = on + self.between(0, 45_000);
                let summary = format!("{alertname} on {name}");
                self.alert(g, l, summary, on, off, 0.15);
            }
        }
    }

    fn node_failure(&mut self, k: usize, node: usize, start: i64) {
        let n = self.world.nodes[node].clone();
        let g = self.group(
            format!("node-{k:03}"),
            TruthRoot {
                service: None,
                node: Some(n.name.clone()),
            },
            TruthKind::NodeFailure,
        );
        let end = start + self.length();
        let kind = *self.pick(&[
            NodeFault::Down,
            NodeFault::Down,
            NodeFault::Pressure,
            NodeFault::Network,
        ]);
        let exporter = format!("{}:9100", n.ip);
        let host = if self.chance(0.5) {
            n.fqdn.clone()
        } else {
            n.name.clone()
        };
        let node_alerts: Vec<(BTreeMap<String, String>, f64)> = match kind {
            NodeFault::Down => vec![
                (
                    labels(&[
                        ("alertname", "NodeDown"),
                        ("job", "node"),
                        ("instance", &exporter),
                        ("severity", "critical"),
                    ]),
                    0.9,
                ),
                (
                    labels(&[
                        ("alertname", "KubeNodeNotReady"),
                        ("node", &n.name),
                        ("severity", "critical"),
                    ]),
                    0.8,
                ),
                (
                    labels(&[
                        ("alertname", "KubeNodeUnreachable"),
                        ("node", &n.name),
                        ("severity", "warning"),
                    ]),
                    0.4,
                ),
                (
                    labels(&[
                        ("alertname", "KernelSoftLockup"),
                        ("host", &host),
                        ("severity", "critical"),
                    ]),
                    0.3,
                ),
            ],
            NodeFault::Pressure => vec![
                (
                    labels(&[
                        ("alertname", "KubeNodeMemoryPressure"),
                        ("node", &n.name),
                        ("severity", "warning"),
                    ]),
                    0.9,
                ),
                (
                    labels(&[
                        ("alertname", "NodeMemoryHigh"),
                        ("job", "node"),
                        ("instance", &exporter),
                        ("severity", "warning"),
                    ]),
                    0.7,
                ),
                (
                    labels(&[
                        ("alertname", "OOMKillerInvoked"),
                        ("host", &host),
                        ("severity", "critical"),
                    ]),
                    0.5,
                ),
            ],
            NodeFault::Network => vec![
                (
                    labels(&[
                        ("alertname", "NodeNetworkReceiveErrs"),
                        ("job", "node"),
                        ("instance", &exporter),
                        ("device", "eth0"),
                        ("severity", "warning"),
                    ]),
                    0.9,
                ),
                (
                    labels(&[
                        ("alertname", "KubeNodeNotReady"),
                        ("node", &n.name),
                        ("severity", "critical"),
                    ]),
                    0.5,
                ),
                (
                    labels(&[
                        ("alertname", "NICLinkFlapping"),
                        ("host", &host),
                        ("severity", "warning"),
                    ]),
                    0.4,
                ),
            ],
        };
        let mut any = false;
        for (j, (l, p)) in node_alerts.into_iter().enumerate() {
            if self.chance(p) || (j == 0 && !any) {
                any = true;
                let on = start + self.between(0, 2 * MIN);
                let off = end + self.between(0, 2 * MIN);
                let summary = format!("{} on {}", l["alertname"], n.name);
                self.alert(g, l, summary, on, off, 0.1);
            }
        }
        // Every instance on the machine, and the services they belong to.
        let hit = match kind {
            NodeFault::Down => 0.9,
            NodeFault::Pressure => 0.5,
            NodeFault::Network => 0.8,
        };
        let on_node: Vec<usize> = (0..self.world.instances.len())
            .filter(|&i| self.world.instances[i].node == node)
            .collect();
        let mut lost: BTreeMap<usize, usize> = BTreeMap::new();
        for inst in on_node {
            if !self.chance(hit) {
                continue;
            }
            let s = self.world.instances[inst].service;
            *lost.entry(s).or_default() += 1;
            let (alertname, style) = *self.pick(&[
                ("TargetDown", Style::Target),
                ("InstanceDown", Style::Target),
                ("KubePodNotReady", Style::Kube),
                ("KubePodNotReady", Style::Kube),
                ("InstanceUnreachable", Style::Rule),
            ]);
            let alertname = match kind {
                NodeFault::Pressure if style == Style::Kube => "KubePodEvicted",
                _ => alertname,
            };
            let l = self.service_labels(s, inst, alertname, style, "critical");
            let on = start + self.between(15_000, 2 * MIN);
            let off = end + self.between(30_000, 3 * MIN);
            let summary = format!("{alertname}: {}", self.world.instances[inst].pod);
            self.alert(g, l, summary, on, off, 0.1);
        }
        let mut seeds = Vec::new();
        let mut frac_sum = 0.0;
        for (&s, &n_lost) in &lost {
            let total = self.world.services[s].instances.len().max(1);
            let frac = n_lost as f64 / total as f64;
            frac_sum += frac;
            let t = start + self.between(30_000, 3 * MIN);
            if self.chance(0.3 + 0.6 * frac) {
                let off = end + self.between(MIN, 4 * MIN);
                self.symptoms(g, s, t, off);
            }
            seeds.push((s, t));
        }
        if !seeds.is_empty() {
            let mean = frac_sum / seeds.len() as f64;
            let p = (0.35 + 0.35 * self.rng.unit()) * (0.4 + 0.6 * mean);
            self.cascade(g, seeds, start, end, p);
        }
    }
}
