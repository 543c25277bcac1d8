//! The errors at this crate's seams: a configuration that does not compile
//! ([`ConfigError`]) and a service that cannot start or replay
//! ([`DynamicError`]). Messages name the rule (by index and name) and the key.

/// Why the `dynamic_rules:` or `detect:` section is invalid.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// More rules than the tap can index.
    #[error("dynamic_rules: at most {max} rules, got {got}")]
    TooManyRules {
        /// The limit.
        max: usize,
        /// How many were configured.
        got: usize,
    },
    /// A rule without a name.
    #[error("dynamic_rules[{index}]: name must not be empty")]
    EmptyName {
        /// The rule's index in the list.
        index: usize,
    },
    /// A name used twice.
    #[error("{at}: the name is used by an earlier rule")]
    DuplicateName {
        /// `dynamic_rules[i] (name)`.
        at: String,
    },
    /// The selector is not a usable series selector.
    #[error("{at}: selector: {source}")]
    Selector {
        /// `dynamic_rules[i] (name)`.
        at: String,
        /// Why.
        source: argus_promql::SelectorError,
    },
    /// The `detector:` settings are invalid.
    #[error("{at}: detector: {source}")]
    Detector {
        /// `dynamic_rules[i] (name)`.
        at: String,
        /// Why.
        source: argus_detect::DetectError,
    },
    /// A duration out of range (`for`, `retrain_interval`, `training_window`).
    #[error("{at}: {problem}")]
    Duration {
        /// `dynamic_rules[i] (name)`.
        at: String,
        /// For example `retrain_interval must be positive`.
        problem: &'static str,
    },
    /// A `localize:` key that cannot be used.
    #[error("{at}: {problem}")]
    Localize {
        /// `dynamic_rules[i] (name)`.
        at: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A key of `labels` or `annotations` that is not a valid label name.
    #[error("{at}: {what}: {name:?} is not a valid label name")]
    LabelName {
        /// `dynamic_rules[i] (name)`.
        at: String,
        /// `labels` or `annotations`.
        what: &'static str,
        /// The key.
        name: String,
    },
    /// `detect.training_concurrency` is 0.
    #[error("detect.training_concurrency must be at least 1")]
    TrainingConcurrency,
}

/// Why the service could not start, or a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum DynamicError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The model directory could not be listed.
    #[error("{0}")]
    Models(String),
    /// A detector could not be built from a rule's settings.
    #[error("{0}")]
    Detector(#[from] argus_detect::DetectError),
    /// The input is inconsistent (for example, as many timestamps as values).
    #[error("{0}")]
    Input(String),
}
