//! Background noise: alerts that belong to no fault. Each source (one
//! flapping disk, the nightly job, one certificate, one random alert) is its
//! own ground-truth group.

use super::faults::Style;
use super::{labels, Gen, MIN};
use crate::incidents::{TruthKind, TruthRoot};

const HOUR: i64 = 60 * MIN;
const JOBS: &[&str] = &[
    "db-backup",
    "report-export",
    "search-reindex",
    "log-compaction",
];

impl Gen {
    /// All the noise of a storm `duration` long, with `rate` random
    /// low-rate alerts an hour.
    pub fn noise(&mut self, duration: i64, rate: f64) {
        let end = self.start_ms + duration;
        for _ in 0..1 + self.rng.index(3) {
            self.flapping_disk(end);
        }
        self.nightly_job(end);
        for _ in 0..1 + self.rng.index(2) {
            self.certificate(end);
        }
        let n = (rate * duration as f64 / HOUR as f64).round() as usize;
        for _ in 0..n {
            self.random_alert(end);
        }
    }

    fn flapping_disk(&mut self, end: i64) {
        let n = self.rng.index(self.world.nodes.len());
        let node = self.world.nodes[n].clone();
        let g = self.group(
            format!("noise-disk-{}", node.name),
            TruthRoot {
                service: None,
                node: Some(node.name.clone()),
            },
            TruthKind::Noise,
        );
        let mount = *self.pick(&["/var/lib/docker", "/data", "/var/log"]);
        let l = labels(&[
            ("alertname", "NodeFilesystemSpaceFillingUp"),
            ("job", "node"),
            ("instance", &format!("{}:9100", node.ip)),
            ("device", "/dev/nvme1n1"),
            ("mountpoint", mount),
            ("fstype", "ext4"),
            ("severity", "warning"),
        ]);
        let mut t = self.start_ms + self.between(0, 40 * MIN);
        let mut spans = Vec::new();
        while t < end {
            let up = self.between(4 * MIN, 35 * MIN);
            spans.push((t, Some(t + up)));
            t += up + self.between(10 * MIN, 80 * MIN);
        }
        self.episodes.push(super::Episode {
            labels: l,
            summary: format!(
                "Filesystem {mount} on {} is predicted to fill within 24 hours",
                node.name
            ),
            group: g,
            spans,
        });
    }

    fn nightly_job(&mut self, end: i64) {
        let job = *self.pick(JOBS);
        let g = self.group(
            format!("noise-job-{job}"),
            TruthRoot {
                service: Some(job.to_string()),
                node: None,
            },
            TruthKind::Noise,
        );
        // 02:00 UTC the next morning when the storm reaches it, else any time.
        let day = 86_400_000;
        let two = (self.start_ms / day + 1) * day + 2 * HOUR;
        let at = if two + 10 * MIN < end {
            two + self.between(MIN, 10 * MIN)
        } else {
            self.start_ms + self.between(0, end - self.start_ms)
        };
        let run = format!("{job}-{}", at / 1000 / 60);
        for (name, extra) in [("KubeJobFailed", "job_name"), ("CronJobFailed", "cronjob")] {
            let value = if extra == "job_name" {
                run.as_str()
            } else {
                job
            };
            let l = labels(&[
                ("alertname", name),
                (extra, value),
                ("namespace", "ops"),
                ("severity", "warning"),
            ]);
            let off = at + self.between(40 * MIN, 3 * HOUR);
            self.alert(g, l, format!("Job ops/{run} failed"), at, off, 0.0);
        }
    }

    fn certificate(&mut self, end: i64) {
        let s = self.rng.index(self.world.services.len());
        let name = self.world.services[s].name.clone();
        let g = self.group(
            format!("noise-cert-{name}"),
            TruthRoot {
                service: Some(name.clone()),
                node: None,
            },
            TruthKind::Noise,
        );
        let l = labels(&[
            ("alertname", "SSLCertExpiringSoon"),
            ("job", "blackbox"),
            ("instance", &format!("https://{name}.example.com")),
            ("severity", "warning"),
        ]);
        // The probe's answer flaps between its replicas: fire, clear, fire.
        let mut t = self.start_ms + self.between(0, HOUR);
        let mut spans = Vec::new();
        while t < end {
            let up = self.between(20 * MIN, 2 * HOUR);
            spans.push((t, Some(t + up)));
            t += up + self.between(5 * MIN, 90 * MIN);
        }
        self.episodes.push(super::Episode {
            labels: l,
            summary: format!("TLS certificate of {name}.example.com expires in 9 days"),
            group: g,
            spans,
        });
    }

    fn random_alert(&mut self, end: i64) {
        let at = self.start_ms + self.between(0, end - self.start_ms);
        let off = at + self.between(MIN, 15 * MIN);
        let s = self.rng.index(self.world.services.len());
        let inst = *self.pick(&self.world.services[s].instances.clone());
        let node = self.world.nodes[self.world.instances[inst].node].clone();
        let name = self.world.services[s].name.clone();
        let (l, root, what) = match self.rng.index(6) {
            0 => {
                let l = self.service_labels(s, inst, "HighMemoryUsage", Style::Rule, "warning");
                (
                    l,
                    TruthRoot {
                        service: Some(name.clone()),
                        node: None,
                    },
                    name.clone(),
                )
            }
            1 => {
                let l = self.service_labels(s, inst, "ContainerRestarted", Style::Kube, "info");
                (
                    l,
                    TruthRoot {
                        service: Some(name.clone()),
                        node: None,
                    },
                    name.clone(),
                )
            }
            2 => {
                let l = self.service_labels(s, inst, "LogWarningsElevated", Style::Syslog, "info");
                (
                    l,
                    TruthRoot {
                        service: Some(name.clone()),
                        node: None,
                    },
                    name.clone(),
                )
            }
            3 => {
                let l = labels(&[
                    ("alertname", "NodeClockSkewDetected"),
                    ("job", "node"),
                    ("instance", &format!("{}:9100", node.ip)),
                    ("severity", "warning"),
                ]);
                (
                    l,
                    TruthRoot {
                        service: None,
                        node: Some(node.name.clone()),
                    },
                    node.name,
                )
            }
            4 => {
                let l = labels(&[
                    ("alertname", "PrometheusRuleEvaluationSlow"),
                    ("job", "prometheus"),
                    ("instance", "10.0.9.10:9090"),
                    ("severity", "info"),
                ]);
                (
                    l,
                    TruthRoot {
                        service: Some("prometheus".into()),
                        node: None,
                    },
                    "prometheus".into(),
                )
            }
            _ => {
                let l = self.service_labels(
                    s,
                    inst,
                    "KubeHpaReplicasMismatch",
                    Style::Workload,
                    "info",
                );
                (
                    l,
                    TruthRoot {
                        service: Some(name.clone()),
                        node: None,
                    },
                    name.clone(),
                )
            }
        };
        let alertname = l["alertname"].clone();
        let id = format!("noise-{}-{what}", alertname.to_ascii_lowercase());
        // The same alert on the same target again is the same source.
        let g = match self.groups.iter().position(|x| x.id == id) {
            Some(g) => g,
            None => self.group(id, root, TruthKind::Noise),
        };
        self.alert(g, l, format!("{alertname} on {what}"), at, off, 0.2);
    }
}
