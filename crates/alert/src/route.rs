//! The compiled routing tree: which routes an alert belongs to, its group labels and group key.
//!
//! ```
//! use argus_alert::config::Config;
//! use argus_alert::route::RouteTree;
//! use argus_model::Labels;
//! let cfg = Config::parse(r#"
//! route:
//!   receiver: default
//!   group_by: [alertname]
//!   routes:
//!     - matchers: ['team="db"']
//!       receiver: db
//! receivers: [{name: default}, {name: db}]
//! "#, "am.yml").unwrap();
//! let tree = RouteTree::build(&cfg.route).unwrap();
//! let l = Labels::from_pairs(&[("alertname", "Slow"), ("team", "db")]);
//! let hit = tree.match_labels(&l);
//! assert_eq!(tree.get(hit[0]).receiver, "db");
//! assert_eq!(tree.group_key(hit[0], &tree.group_labels(hit[0], &l)),
//!            r#"{}/{team="db"}:{alertname="Slow"}"#);
//! ```

use crate::config::{all_match, combine, RouteConfig};
use argus_model::{Labels, Matcher};

/// Argus's default `group_wait` for the root route: 200 ms, not Alertmanager's
/// 30 s, so a new group is told within a second (ADR 0011). Alerts raised by
/// one rule evaluation or one scrape arrive within milliseconds of each
/// other, so they still share the first notification.
pub const DEFAULT_GROUP_WAIT_MS: i64 = 200;
/// Default `group_interval`.
pub const DEFAULT_GROUP_INTERVAL_MS: i64 = 300_000;
/// Default `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL_MS: i64 = 4 * 3_600_000;

/// One compiled route with its inherited options.
#[derive(Debug, Clone)]
pub struct Route {
    /// Index in the tree (the root is 0), stable for one config.
    pub idx: usize,
    /// Alertmanager's route key: the matchers of every node from the root, joined by `/`.
    pub key: String,
    /// Matchers of this node.
    pub matchers: Vec<Matcher>,
    /// Receiver name.
    pub receiver: String,
    /// Group-by labels.
    pub group_by: Vec<String>,
    /// `group_by: ['...']`.
    pub group_by_all: bool,
    /// `group_wait` in ms.
    pub group_wait: i64,
    /// `group_interval` in ms.
    pub group_interval: i64,
    /// `repeat_interval` in ms.
    pub repeat_interval: i64,
    /// `continue`.
    pub continue_matching: bool,
    /// Named mute intervals.
    pub mute_time_intervals: Vec<String>,
    /// Named active intervals.
    pub active_time_intervals: Vec<String>,
    /// Children, in order.
    pub children: Vec<usize>,
}

/// The tree, flattened; the root is at index 0.
#[derive(Debug, Clone)]
pub struct RouteTree {
    routes: Vec<Route>,
}

impl RouteTree {
    /// Compiles the tree from config, applying inheritance and defaults.
    pub fn build(root: &RouteConfig) -> Result<RouteTree, String> {
        let mut t = RouteTree { routes: Vec::new() };
        t.add(root, None)?;
        Ok(t)
    }

    fn add(&mut self, c: &RouteConfig, parent: Option<usize>) -> Result<usize, String> {
        let mut matchers = combine(&c.matchers, &c.match_eq, &c.match_re)?;
        matchers.sort_by(|a, b| {
            (a.name.as_str(), a.value.as_str()).cmp(&(b.name.as_str(), b.value.as_str()))
        });
        let own = format!(
            "{{{}}}",
            matchers
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        let p = parent.map(|i| self.routes[i].clone());
        let key = match &p {
            Some(p) => format!("{}/{own}", p.key),
            None => own,
        };
        let group_by = c
            .group_by
            .clone()
            .or_else(|| {
                p.as_ref().map(|p| {
                    if p.group_by_all {
                        vec!["...".to_string()]
                    } else {
                        p.group_by.clone()
                    }
                })
            })
            .unwrap_or_default();
        let group_by_all = group_by.iter().any(|g| g == "...");
        let ms = |v: Option<argus_model::PromDuration>, inherit: Option<i64>, d: i64| {
            v.map(|v| v.as_millis()).or(inherit).unwrap_or(d)
        };
        let idx = self.routes.len();
        self.routes.push(Route {
            idx,
            key,
            matchers,
            receiver: c
                .receiver
                .clone()
                .or_else(|| p.as_ref().map(|p| p.receiver.clone()))
                .unwrap_or_default(),
            group_by: if group_by_all { Vec::new() } else { group_by },
            group_by_all,
            group_wait: ms(
                c.group_wait,
                p.as_ref().map(|p| p.group_wait),
                DEFAULT_GROUP_WAIT_MS,
            ),
            group_interval: ms(
                c.group_interval,
                p.as_ref().map(|p| p.group_interval),
                DEFAULT_GROUP_INTERVAL_MS,
            ),
            repeat_interval: ms(
                c.repeat_interval,
                p.as_ref().map(|p| p.repeat_interval),
                DEFAULT_REPEAT_INTERVAL_MS,
            ),
            continue_matching: c.continue_matching,
            mute_time_intervals: c.mute_time_intervals.clone(),
            active_time_intervals: c.active_time_intervals.clone(),
            children: Vec::new(),
        });
        for child in &c.routes {
            let ci = self.add(child, Some(idx))?;
            self.routes[idx].children.push(ci);
        }
        Ok(idx)
    }

    /// The route at `idx`.
    ///
    /// # Panics
    /// When `idx` did not come from this tree.
    pub fn get(&self, idx: usize) -> &Route {
        &self.routes[idx]
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Always false: a tree has a root.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The routes an alert with `labels` goes to, in Alertmanager's order: depth first, the
    /// deepest matching node, siblings tried only while matches have `continue: true`.
    pub fn match_labels(&self, labels: &Labels) -> Vec<usize> {
        self.match_at(0, labels)
    }

    fn match_at(&self, idx: usize, labels: &Labels) -> Vec<usize> {
        let r = &self.routes[idx];
        if !all_match(&r.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for &c in &r.children {
            let m = self.match_at(c, labels);
            let matched = !m.is_empty();
            all.extend(m);
            if matched && !self.routes[c].continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(idx);
        }
        all
    }

    /// The labels an alert is grouped by on route `idx`.
    pub fn group_labels(&self, idx: usize, labels: &Labels) -> Labels {
        let r = &self.routes[idx];
        if r.group_by_all {
            return labels.clone();
        }
        Labels::from_vec(
            labels
                .iter()
                .filter(|l| r.group_by.contains(&l.name))
                .cloned()
                .collect(),
        )
    }

    /// Alertmanager's group key: `routeKey:{a="b", c="d"}`.
    pub fn group_key(&self, idx: usize, group_labels: &Labels) -> String {
        format!("{}:{}", self.routes[idx].key, labelset_string(group_labels))
    }
}

/// Formats labels like Go's `model.LabelSet.String()`: `{a="b", c="d"}`.
pub fn labelset_string(l: &Labels) -> String {
    format!(
        "{{{}}}",
        l.iter()
            .map(|l| format!("{}={:?}", l.name, l.value))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
