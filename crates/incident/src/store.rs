//! Incidents on disk: one embedded redb file, `incidents.redb`, a record per
//! incident, written in one transaction (with fsync) per batch of changes.
//! A change is acknowledged to nobody before it is committed, so `kill -9`
//! loses at most the batch in flight, which the alert sources resend.
//!
//! ```
//! use argus_incident::correlate::{Correlator, Settings, Signal};
//! use argus_incident::store::Store;
//! use argus_incident::topology::Topology;
//! use argus_model::Labels;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path()).unwrap();
//! let mut c = Correlator::new(Settings::default(), Topology::default());
//! c.observe(Signal::firing(Labels::from_pairs(&[("alertname", "Down")]), 1_000));
//! let dirty = c.take_dirty();
//! store.save(dirty.iter().filter_map(|id| c.incident(*id)), &[]).unwrap();
//! drop(store);
//! let back = Store::open(dir.path()).unwrap().load().unwrap();
//! assert_eq!(back.len(), 1);
//! assert_eq!(back[0].alerts.len(), 1);
//! ```

use crate::model::Incident;
use redb::{Database, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};

const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");

/// The file name inside the store's directory.
pub const FILE: &str = "incidents.redb";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or file could not be created or opened.
    #[error("cannot open the incident store {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A read or write failed (a full disk, an I/O error).
    #[error("incident store: {0}")]
    Io(String),
    /// A record could not be decoded (written by a newer version, or damaged).
    #[error("incident store: record {id} cannot be read: {reason}")]
    Decode {
        /// The incident's id.
        id: u64,
        /// Why.
        reason: String,
    },
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

/// The open store. After a failed write (a full disk) redb refuses every
/// later one, so the file is closed then and opened again at the next save.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    db: parking_lot::Mutex<Option<Database>>,
}

fn create(path: &Path) -> Result<Database, String> {
    let db = Database::create(path).map_err(|e| e.to_string())?;
    let tx = db.begin_write().map_err(|e| e.to_string())?;
    tx.open_table(INCIDENTS).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    Ok(db)
}

impl Store {
    /// Opens (or creates) `dir/incidents.redb`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(FILE);
        let fail = |reason: String| StoreError::Open {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let db = create(&path).map_err(fail)?;
        Ok(Store {
            path,
            db: parking_lot::Mutex::new(Some(db)),
        })
    }

    /// Every stored incident, by id. A record that cannot be decoded is
    /// skipped with a warning, so one damaged record does not hide the rest.
    pub fn load(&self) -> Result<Vec<Incident>, StoreError> {
        let guard = self.db.lock();
        let db = guard
            .as_ref()
            .ok_or_else(|| StoreError::Io("the store is closed after a failed write".into()))?;
        let tx = db.begin_read().map_err(io)?;
        let t = tx.open_table(INCIDENTS).map_err(io)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(io)? {
            let (k, v) = row.map_err(io)?;
            match serde_json::from_slice::<Incident>(v.value()) {
                Ok(i) => out.push(i),
                Err(e) => {
                    let err = StoreError::Decode {
                        id: k.value(),
                        reason: e.to_string(),
                    };
                    tracing::warn!(error = %err, "Skipped an incident record that cannot be read.");
                }
            }
        }
        Ok(out)
    }

    /// Writes `incidents` and deletes the ids in `delete`, in one
    /// transaction.
    pub fn save<'a>(
        &self,
        incidents: impl IntoIterator<Item = &'a Incident>,
        delete: &[u64],
    ) -> Result<(), StoreError> {
        let mut guard = self.db.lock();
        if guard.is_none() {
            *guard = Some(create(&self.path).map_err(StoreError::Io)?);
        }
        let db = guard.as_ref().expect("opened just above");
        let res = (|| {
            let tx = db.begin_write().map_err(io)?;
            {
                let mut t = tx.open_table(INCIDENTS).map_err(io)?;
                for inc in incidents {
                    let bytes = serde_json::to_vec(inc).map_err(io)?;
                    t.insert(inc.id, bytes.as_slice()).map_err(io)?;
                }
                for id in delete {
                    t.remove(*id).map_err(io)?;
                }
            }
            tx.commit().map_err(io)
        })();
        if res.is_err() {
            // Closed now, opened again at the next save.
            *guard = None;
        }
        res
    }
}
