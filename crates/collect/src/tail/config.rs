//! The `logs:` section of the agent's settings: which files to tail, with
//! which labels, and where to ship them.
//!
//! ```
//! use argus_collect::tail::LogTailConfig;
//! let cfg: LogTailConfig = serde_json::from_str(r#"{
//!     "url": "http://argus:9797",
//!     "state_dir": "/var/lib/argus-agent/logs",
//!     "files": [{"paths": ["/var/log/nginx/*.log"], "labels": {"job": "nginx"},
//!                "exclude": ["/var/log/nginx/*.gz"], "multiline_start": "^\\d{4}-"}]
//! }"#).unwrap();
//! assert_eq!(cfg.batch_lines, 1000);
//! assert_eq!(cfg.poll_interval.as_millis(), 1000);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use argus_model::PromDuration;
use serde::{Deserialize, Serialize};

use crate::CollectError;

fn d_poll() -> PromDuration {
    PromDuration(1000)
}
fn d_batch() -> usize {
    1000
}
fn d_max_line() -> usize {
    256 << 10
}
fn d_max_queue() -> u64 {
    512 << 20
}
fn d_segment() -> u64 {
    8 << 20
}
fn d_timeout() -> u64 {
    10
}
fn d_max_backoff() -> u64 {
    30
}

/// Where reading starts in a file seen for the first time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Files that exist when the agent first starts (no saved offsets yet) are
    /// read from their end; files that appear later, from their beginning.
    #[default]
    End,
    /// Every file is read from its beginning.
    Beginning,
}

/// One group of files sharing labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileGroup {
    /// Glob patterns (`*`, `?`, `[a-z]`, `**`) of the files to tail.
    pub paths: Vec<String>,
    /// Labels of every line of these files (e.g. `job: nginx`); `filename` is added.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Glob patterns of files to leave out (e.g. `*.gz`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// A regex: a line matching it starts a new record, others are appended to
    /// the record before (stack traces). Default none: one line, one record.
    #[serde(default)]
    pub multiline_start: Option<String>,
}

/// File tailing settings. `url`, `files` and (outside `argus agent`) `state_dir` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogTailConfig {
    /// The Argus server, e.g. `http://argus:9797`; `/api/v1/logs` is appended.
    pub url: String,
    /// The file groups.
    pub files: Vec<FileGroup>,
    /// Directory of the saved offsets and the send queue. `argus agent`
    /// defaults it to `<buffer-dir>/logs`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// How often files are checked for new lines and globs re-expanded. Default `1s`.
    #[serde(default = "d_poll")]
    pub poll_interval: PromDuration,
    /// Most lines in one queued batch (one POST). Default 1000.
    #[serde(default = "d_batch")]
    pub batch_lines: usize,
    /// Longer lines are split into pieces of this many bytes. Default 256 KiB.
    #[serde(default = "d_max_line")]
    pub max_line_bytes: usize,
    /// Where files seen for the first time are read from. Default `end`.
    #[serde(default)]
    pub start_at: StartAt,
    /// Bound of the send queue in bytes; the oldest batches are dropped beyond it. Default 512 MiB.
    #[serde(default = "d_max_queue")]
    pub max_queue_bytes: u64,
    /// Queue segment file size in bytes. Default 8 MiB.
    #[serde(default = "d_segment")]
    pub segment_bytes: u64,
    /// Per-request timeout in seconds. Default 10.
    #[serde(default = "d_timeout")]
    pub timeout_secs: u64,
    /// Retry delay cap in seconds. Default 30.
    #[serde(default = "d_max_backoff")]
    pub max_backoff_secs: u64,
}

impl LogTailConfig {
    /// A config with defaults for everything but the server, the files and the state directory.
    pub fn new(
        url: impl Into<String>,
        files: Vec<FileGroup>,
        state_dir: impl Into<PathBuf>,
    ) -> Self {
        LogTailConfig {
            url: url.into(),
            files,
            state_dir: Some(state_dir.into()),
            poll_interval: d_poll(),
            batch_lines: d_batch(),
            max_line_bytes: d_max_line(),
            start_at: StartAt::End,
            max_queue_bytes: d_max_queue(),
            segment_bytes: d_segment(),
            timeout_secs: d_timeout(),
            max_backoff_secs: d_max_backoff(),
        }
    }

    /// The push endpoint: `url` with `/api/v1/logs` appended.
    pub fn endpoint(&self) -> String {
        format!("{}/api/v1/logs", self.url.trim_end_matches('/'))
    }

    /// Checks the values and compiles the patterns.
    pub(crate) fn compile(&self) -> Result<Vec<Group>, CollectError> {
        let bad = |m: String| Err(CollectError::Config(format!("logs: {m}")));
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return bad(format!("url {:?} is not an http(s) URL", self.url));
        }
        if self.state_dir.is_none() {
            return bad("state_dir is required".into());
        }
        if self.poll_interval.as_millis() <= 0 {
            return bad("poll_interval must be above 0".into());
        }
        if self.batch_lines == 0 || self.max_line_bytes < 16 {
            return bad("batch_lines must be at least 1 and max_line_bytes at least 16".into());
        }
        if self.files.is_empty() {
            return bad("files is empty".into());
        }
        let pat = |p: &String| {
            glob::Pattern::new(p)
                .map_err(|e| CollectError::Config(format!("logs: bad glob {p:?}: {e}")))
        };
        let mut out = Vec::new();
        for g in &self.files {
            if g.paths.is_empty() {
                return bad("a files entry has no paths".into());
            }
            if g.labels.contains_key("filename") {
                return bad("the `filename` label is set by the agent".into());
            }
            for p in &g.paths {
                pat(p)?;
            }
            let multiline = match &g.multiline_start {
                Some(r) => Some(regex::Regex::new(r).map_err(|e| {
                    CollectError::Config(format!("logs: bad multiline_start {r:?}: {e}"))
                })?),
                None => None,
            };
            out.push(Group {
                paths: g.paths.clone(),
                exclude: g.exclude.iter().map(pat).collect::<Result<_, _>>()?,
                labels: g.labels.clone(),
                multiline,
            });
        }
        Ok(out)
    }
}

/// A [`FileGroup`] with its patterns compiled.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub paths: Vec<String>,
    pub exclude: Vec<glob::Pattern>,
    pub labels: BTreeMap<String, String>,
    pub multiline: Option<regex::Regex>,
}
