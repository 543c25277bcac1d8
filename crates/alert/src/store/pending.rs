//! Changes that wait in memory while the store cannot write: the last value of every key (a
//! later put or delete replaces an earlier one) and the history records in order, each with
//! its key fixed when it was made, so writing them again after a partial failure is harmless.

use super::{Batch, StoreError, Table};
use std::collections::BTreeMap;

/// At most this many history records wait; older ones are dropped first (the history is
/// advisory, alert state is not).
pub(crate) const MAX_ACTIONS: usize = 100_000;

/// Encoded changes, ready for a write transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    pub(crate) ops: BTreeMap<(usize, String), Option<Vec<u8>>>,
    pub(crate) actions: Vec<(String, Vec<u8>)>,
    pub(crate) dropped_actions: u64,
}

impl Pending {
    /// Encodes a batch; history keys take sequence numbers from `seq`.
    pub(crate) fn from_batch(b: Batch, seq: &mut u64) -> Result<Pending, StoreError> {
        let mut p = Pending::default();
        for (t, k, v) in b.ops {
            p.ops.insert((t.index(), k), v);
        }
        for a in b.actions {
            let key = format!("{:020}{:010}", a.at.max(0), *seq);
            *seq += 1;
            let v = serde_json::to_vec(&a).map_err(|source| StoreError::Codec {
                table: Table::Actions.name(),
                key: key.clone(),
                source,
            })?;
            p.actions.push((key, v));
        }
        Ok(p)
    }

    /// Adds later changes on top.
    pub(crate) fn absorb(&mut self, later: Pending) {
        self.ops.extend(later.ops);
        self.actions.extend(later.actions);
        if self.actions.len() > MAX_ACTIONS {
            let excess = self.actions.len() - MAX_ACTIONS;
            self.actions.drain(..excess);
            self.dropped_actions += excess as u64;
        }
        self.dropped_actions += later.dropped_actions;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.actions.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.ops.len() + self.actions.len()
    }
}
