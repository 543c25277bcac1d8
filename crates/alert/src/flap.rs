//! Flap damping.
//!
//! **Rule.** Every change of an alert between firing and resolved is a *transition*. An alert
//! whose transitions within the last `window` number more than `max_transitions` is *flapping*.
//! When a flapping alert resolves, it is still reported as firing (its resolution is held) until
//! it has stayed resolved for `hold`; if it fires again meanwhile, nothing is sent because the
//! firing set did not change. Defaults: `window: 10m`, `max_transitions: 4`, `hold: 5m`.
//!
//! ```
//! use argus_alert::config::FlapDampingConfig;
//! use argus_alert::flap::FlapState;
//! let cfg = FlapDampingConfig::default();
//! let mut f = FlapState::default();
//! for (i, firing) in [true, false, true, false, true, false].into_iter().enumerate() {
//!     f.observe(firing, i as i64 * 60_000, &cfg);
//! }
//! // Six transitions in five minutes: resolved at 5m, held as firing for 5m.
//! assert!(f.holds_firing(300_000, 400_000, &cfg));
//! assert!(!f.holds_firing(300_000, 600_000, &cfg));
//! ```

use crate::config::FlapDampingConfig;
use serde::{Deserialize, Serialize};

/// Transition history of one alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlapState {
    /// Times of recent transitions, ms, oldest first.
    pub transitions: Vec<i64>,
    /// The state last observed; `None` before the first observation.
    pub last_firing: Option<bool>,
}

impl FlapState {
    /// Records the state observed at `now`; a change is a transition. The first observation of
    /// a firing alert counts as one (it went from nothing to firing).
    pub fn observe(&mut self, firing: bool, now: i64, cfg: &FlapDampingConfig) {
        if self.last_firing != Some(firing) {
            if self.last_firing.is_some() || firing {
                self.transitions.push(now);
            }
            self.last_firing = Some(firing);
        }
        let keep_from = now - 2 * cfg.window.as_millis();
        self.transitions.retain(|t| *t >= keep_from);
    }

    /// True when more than `max_transitions` happened in the window ending at `at`.
    pub fn is_flapping(&self, at: i64, cfg: &FlapDampingConfig) -> bool {
        cfg.enabled
            && self
                .transitions
                .iter()
                .filter(|t| **t <= at && **t > at - cfg.window.as_millis())
                .count()
                > cfg.max_transitions
    }

    /// True when an alert that resolved at `resolved_at` should still be shown firing at `now`.
    pub fn holds_firing(&self, resolved_at: i64, now: i64, cfg: &FlapDampingConfig) -> bool {
        now < resolved_at + cfg.hold.as_millis() && self.is_flapping(resolved_at, cfg)
    }
}
