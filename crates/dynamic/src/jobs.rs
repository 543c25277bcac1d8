//! Training jobs started by hand (`POST /api/v1/models/train`,
//! `argus train`): which series, how many are done, what failed.
//!
//! ```
//! use argus_dynamic::jobs::Job;
//! let j = Job::new(1, "ApiTraffic".into(), None, 0);
//! j.set_total(2);
//! j.finish_one(Ok(()));
//! j.finish_one(Err("too little history".into()));
//! let s = j.snapshot();
//! assert_eq!((s.done, s.failed, s.state), (1, 1, "done"));
//! ```

use parking_lot::Mutex;
use serde::Serialize;

/// What the status endpoint returns.
#[derive(Debug, Clone, Serialize)]
pub struct JobSnapshot {
    /// The job id.
    pub id: u64,
    /// The rule.
    pub rule: String,
    /// The extra series selector, if any.
    #[serde(rename = "match")]
    pub matcher: Option<String>,
    /// `listing`, `running`, `done` or `failed` (failed: nothing trained).
    pub state: &'static str,
    /// Series to train.
    pub total: usize,
    /// Series trained.
    pub done: usize,
    /// Series whose training failed.
    pub failed: usize,
    /// Why, per failed series (at most 100).
    pub errors: Vec<String>,
    /// When it was started (server clock, ms).
    pub created_ms: i64,
}

#[derive(Debug)]
struct State {
    total: Option<usize>,
    done: usize,
    failed: usize,
    errors: Vec<String>,
}

/// A training job.
#[derive(Debug)]
pub struct Job {
    id: u64,
    rule: String,
    matcher: Option<String>,
    created_ms: i64,
    st: Mutex<State>,
}

impl Job {
    /// A job still listing its series.
    pub fn new(id: u64, rule: String, matcher: Option<String>, created_ms: i64) -> Job {
        Job {
            id,
            rule,
            matcher,
            created_ms,
            st: Mutex::new(State {
                total: None,
                done: 0,
                failed: 0,
                errors: Vec::new(),
            }),
        }
    }

    /// The job id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets the number of series found.
    pub fn set_total(&self, n: usize) {
        self.st.lock().total = Some(n);
    }

    /// Fails the whole job (e.g. the series could not be listed).
    pub fn fail(&self, why: String) {
        let mut s = self.st.lock();
        s.total = Some(0);
        s.errors.push(why);
    }

    /// Records one series' outcome.
    pub fn finish_one(&self, res: Result<(), String>) {
        let mut s = self.st.lock();
        match res {
            Ok(()) => s.done += 1,
            Err(e) => {
                s.failed += 1;
                if s.errors.len() < 100 {
                    s.errors.push(e);
                }
            }
        }
    }

    /// The current status.
    pub fn snapshot(&self) -> JobSnapshot {
        let s = self.st.lock();
        let state = match s.total {
            None => "listing",
            Some(t) if s.done + s.failed < t => "running",
            Some(_) if s.done == 0 => "failed",
            Some(_) => "done",
        };
        JobSnapshot {
            id: self.id,
            rule: self.rule.clone(),
            matcher: self.matcher.clone(),
            state,
            total: s.total.unwrap_or(0),
            done: s.done,
            failed: s.failed,
            errors: s.errors.clone(),
            created_ms: self.created_ms,
        }
    }
}
