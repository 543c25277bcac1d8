use argus_alert::config::Config;
use argus_alert::store::Store;
use argus_alert::{Alert, Dispatcher, Notification};
use argus_model::{Labels, ManualClock};
use std::sync::Arc;

/// A dispatcher on a paused clock, with helpers to step it like an Alertmanager acceptance test.
pub struct Timeline {
    pub clock: Arc<ManualClock>,
    pub d: Dispatcher,
    /// Every notification delivered, with the second it was produced.
    pub log: Vec<(i64, Notification)>,
}

impl Timeline {
    pub fn new(yaml: &str) -> Self {
        Self::with_store(yaml, None, 0)
    }

    pub fn with_store(yaml: &str, store: Option<Store>, start_ms: i64) -> Self {
        let cfg = Config::parse(yaml, "test.yml").expect("config parses");
        let clock = Arc::new(ManualClock::new(start_ms));
        let d = Dispatcher::new(cfg, clock.clone(), store).expect("dispatcher builds");
        Timeline {
            clock,
            d,
            log: Vec::new(),
        }
    }

    /// Moves to second `s`, ticks, delivers everything successfully, returns what was sent.
    pub fn at(&mut self, s: i64) -> Vec<Notification> {
        self.clock.set(s * 1000);
        let out = self.d.tick(s * 1000);
        for n in &out {
            self.d.complete(n, true).expect("complete");
            self.log.push((s, n.clone()));
        }
        out
    }

    /// Steps second by second from the current time to `to` (inclusive).
    pub fn run_until(&mut self, to: i64) {
        let from = self.clock_s() + 1;
        for s in from..=to {
            self.at(s);
        }
    }

    pub fn clock_s(&self) -> i64 {
        use argus_model::Clock;
        self.clock.now_ms() / 1000
    }

    /// Fires an alert (started now) at second `s`.
    pub fn fire(&mut self, s: i64, pairs: &[(&str, &str)]) {
        self.clock.set(s * 1000);
        self.d
            .put_alerts(vec![Alert::firing(Labels::from_pairs(pairs), s * 1000)])
            .expect("put");
    }

    /// Resolves an alert at second `s` (as Prometheus does: endsAt = now).
    pub fn resolve(&mut self, s: i64, started: i64, pairs: &[(&str, &str)]) {
        self.clock.set(s * 1000);
        let a = Alert::firing(Labels::from_pairs(pairs), started * 1000).resolved_at(s * 1000);
        self.d.put_alerts(vec![a]).expect("put");
    }

    /// `(second, receiver, summary)` of every notification so far.
    pub fn summary(&self) -> Vec<(i64, String, String)> {
        self.log
            .iter()
            .map(|(s, n)| (*s, n.receiver.clone(), describe(n)))
            .collect()
    }
}

/// `firing:a,b resolved:c`, naming alerts by `instance` (or alertname).
pub fn describe(n: &Notification) -> String {
    let name = |a: &argus_alert::NotifiedAlert| {
        a.alert
            .labels
            .get("instance")
            .or(a.alert.labels.get("alertname"))
            .unwrap_or("?")
            .to_string()
    };
    let pick = |st: argus_alert::AlertStatus| {
        n.alerts
            .iter()
            .filter(|a| a.status == st)
            .map(name)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "firing:{} resolved:{}",
        pick(argus_alert::AlertStatus::Firing),
        pick(argus_alert::AlertStatus::Resolved)
    )
}
