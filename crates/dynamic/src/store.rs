//! Model persistence: one JSON file per (rule, series) under
//! `<data-dir>/models/`, written atomically (temporary file, then rename),
//! holding the active model and the other version with their scores.
//!
//! ```
//! use argus_dynamic::store::{load_all, ModelRecord, ModelStore};
//! let dir = tempfile::tempdir().unwrap();
//! let store = ModelStore::new(dir.path().join("models"));
//! assert!(load_all(store.dir()).unwrap().0.is_empty());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argus_detect::train::TrainedModel;
use argus_model::Labels;
use serde::{Deserialize, Serialize};

/// What is stored for one series of one rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The rule's name.
    pub rule: String,
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// The model in use.
    pub active: TrainedModel,
    /// The other version: the model the active one replaced, or the last
    /// candidate that did not beat the active one.
    pub other: Option<TrainedModel>,
    /// Whether `other` is a rejected candidate (else the replaced model).
    pub other_rejected: bool,
    /// When the series was last trained (server clock, ms).
    pub last_trained_ms: i64,
}

impl ModelRecord {
    /// The labels as a label set.
    pub fn label_set(&self) -> Labels {
        let pairs: Vec<(&str, &str)> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Labels::from_pairs(&pairs)
    }
}

/// The models directory.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

/// The file name of a series' record: a hash of rule and labels.
fn file_name(rule: &str, labels: &Labels) -> String {
    let mut l = labels.clone();
    l.set("__argus_rule__", rule);
    format!("{:016x}.json", l.stable_hash())
}

impl ModelStore {
    /// A store in `dir` (created on first save).
    pub fn new(dir: PathBuf) -> Self {
        ModelStore { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a record atomically.
    pub fn save(&self, rec: &ModelRecord) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let name = file_name(&rec.rule, &rec.label_set());
        let path = self.dir.join(&name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let body = serde_json::to_vec(rec).map_err(|e| format!("cannot encode a model: {e}"))?;
        std::fs::write(&tmp, body).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| format!("cannot rename {} to {}: {e}", tmp.display(), path.display()))
    }

    /// Deletes the record of (`rule`, `labels`); a missing one is fine.
    pub fn remove(&self, rule: &str, labels: &Labels) -> Result<(), String> {
        let path = self.dir.join(file_name(rule, labels));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot delete {}: {e}", path.display())),
        }
    }
}

/// Every readable record in `dir` (a missing directory is empty), and an
/// error naming each file that could not be read.
pub fn load_all(dir: &Path) -> Result<(Vec<ModelRecord>, Vec<String>), String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let (mut out, mut bad) = (Vec::new(), Vec::new());
    for ent in rd {
        let ent = ent.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let p = ent.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&p) {
            Ok(text) => match serde_json::from_slice::<ModelRecord>(&text) {
                Ok(rec) => out.push(rec),
                Err(e) => bad.push(format!("invalid model file {}: {e}", p.display())),
            },
            Err(e) => bad.push(format!("cannot read model {}: {e}", p.display())),
        }
    }
    Ok((out, bad))
}
