//! The store fails and heals with a backend that answers "no space left on device" on demand.

use super::*;
use crate::config::Config;
use crate::silence::{Silence, SilenceMatcher};
use crate::{Alert, Dispatcher};
use argus_model::{Clock, Labels, ManualClock};
use redb::backends::FileBackend;
use redb::StorageBackend;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// redb's file backend, failing every write, growth and sync with ENOSPC while `full` is set.
#[derive(Debug)]
struct Faulty {
    inner: FileBackend,
    full: Arc<AtomicBool>,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl StorageBackend for Faulty {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.inner.read(offset, len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) && len > self.inner.len()? {
            return Err(enospc());
        }
        self.inner.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.sync_data(eventual)
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.full.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.write(offset, data)
    }
}

fn faulty_opts(full: &Arc<AtomicBool>, clock: &Arc<ManualClock>) -> StoreOptions {
    let full = full.clone();
    StoreOptions {
        clock: clock.clone(),
        backend: Some(Arc::new(move |path: &std::path::Path| {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            let inner = FileBackend::new(file).map_err(io::Error::other)?;
            Ok(Box::new(Faulty {
                inner,
                full: full.clone(),
            }) as Box<dyn StorageBackend>)
        })),
    }
}

fn put(key: &str, v: i64) -> Batch {
    let mut b = Batch::default();
    b.put(Table::Alerts, key, &serde_json::json!({ "v": v }))
        .unwrap();
    b.action(Action {
        at: v,
        who: "test".into(),
        kind: "alert_firing".into(),
        target: key.into(),
        ..Default::default()
    });
    b
}

fn values(s: &Store) -> Vec<(String, i64)> {
    s.load::<serde_json::Value>(Table::Alerts)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v["v"].as_i64().unwrap_or(-1)))
        .collect()
}

#[test]
fn fails_on_a_full_disk_then_heals_and_keeps_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let clock = Arc::new(ManualClock::new(1_000));
    let store = Store::open_with(dir.path(), faulty_opts(&full, &clock)).unwrap();
    store.commit(put("a", 1)).unwrap();
    assert!(store.health().healthy);

    full.store(true, Ordering::SeqCst);
    // The pipeline's changes are kept in memory…
    assert!(!store.commit_or_defer(put("b", 2)).unwrap());
    assert!(!store.commit_or_defer(put("a", 3)).unwrap());
    let h = store.health();
    assert!(!h.healthy);
    assert_eq!(h.failing_since_ms, Some(1_000));
    assert!(
        h.last_error.as_deref().unwrap().starts_with("disk full"),
        "{h:?}"
    );
    assert_eq!(h.pending_changes, 4, "{h:?}");
    assert!(h.errors_total >= 1);
    // …and what must be on disk before it is acknowledged is refused, saying why.
    let e = store.commit(put("c", 4)).unwrap_err();
    assert!(e.is_retryable());
    assert!(
        e.to_string()
            .starts_with("alert store unavailable: disk full"),
        "{e}"
    );
    // The file still reads (what was committed before the failure).
    assert_eq!(values(&store), vec![("a".to_string(), 1)]);

    // Retries wait for the backoff; a retry while the disk is still full fails again.
    let errors = store.health().errors_total;
    assert!(!store.heal());
    assert_eq!(
        store.health().errors_total,
        errors,
        "no retry before the backoff"
    );
    clock.advance(MAX_BACKOFF_MS);
    assert!(!store.heal());
    assert!(store.health().errors_total > errors);

    // Space comes back: the next retry reopens the database and saves what waited.
    full.store(false, Ordering::SeqCst);
    clock.advance(MAX_BACKOFF_MS);
    assert!(store.heal());
    let h = store.health();
    assert!(h.healthy, "{h:?}");
    assert_eq!((h.pending_changes, h.failing_since_ms), (0, None));
    store.commit(put("c", 5)).unwrap();
    assert!(store.commit_or_defer(put("d", 6)).unwrap());
    drop(store);

    // Durable: a fresh open of the file has everything, in order, with the history.
    let store = Store::open(dir.path()).unwrap();
    let want: Vec<(String, i64)> = [("a", 3), ("b", 2), ("c", 5), ("d", 6)]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(values(&store), want);
    let history: Vec<i64> = store
        .actions(0, i64::MAX, 100)
        .unwrap()
        .iter()
        .map(|a| a.at)
        .collect();
    assert_eq!(history, vec![1, 2, 3, 5, 6]);
}

const CFG: &str = "route: {receiver: r, group_by: [alertname], group_wait: 10s}\nreceivers: [{name: r, webhook_configs: [{url: 'http://127.0.0.1:1/'}]}]\n";

fn firing(name: &str, at: i64) -> Alert {
    Alert::firing(Labels::from_pairs(&[("alertname", name)]), at)
}

fn silence(clock: &ManualClock, name: &str) -> Silence {
    let now = clock.now_ms();
    Silence::new(
        vec![SilenceMatcher::equal("alertname", name)],
        now,
        now + 3_600_000,
        "me",
        "",
    )
}

#[test]
fn alerts_flow_while_the_store_fails_and_are_saved_when_it_heals() {
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(false));
    let clock = Arc::new(ManualClock::new(0));
    let store = Store::open_with(dir.path(), faulty_opts(&full, &clock)).unwrap();
    let cfg = Config::parse(CFG, "am.yml").unwrap();
    let mut d = Dispatcher::new(cfg.clone(), clock.clone(), Some(store)).unwrap();

    full.store(true, Ordering::SeqCst);
    d.put_alerts(vec![firing("Down", 0)]).unwrap();
    clock.set(10_000);
    let out = d.tick(10_000);
    assert_eq!(
        out.len(),
        1,
        "the alert is dispatched while the store fails"
    );
    d.complete(&out[0], true).unwrap();
    let h = d.store().unwrap().health();
    assert!(!h.healthy && h.pending_changes > 0, "{h:?}");
    // A silence cannot be acknowledged: it would be lost on restart.
    let e = d.set_silence(silence(&clock, "Down")).unwrap_err();
    assert!(e.is_retryable(), "{e}");
    let labels = Labels::from_pairs(&[("alertname", "Down")]);
    assert!(
        !d.silences().is_muted(&labels, clock.now_ms()),
        "nothing half-done in memory"
    );

    full.store(false, Ordering::SeqCst);
    clock.set(20_000);
    assert!(d.tick(20_000).is_empty(), "the notification log kept it");
    assert!(d.store().unwrap().health().healthy);
    let id = d.set_silence(silence(&clock, "Down")).unwrap();
    drop(d);

    // A restart sees the alert, the delivery and the silence: nothing is sent twice.
    let cfg = Config::parse(CFG, "am.yml").unwrap();
    let mut d =
        Dispatcher::new(cfg, clock.clone(), Some(Store::open(dir.path()).unwrap())).unwrap();
    assert_eq!(d.alerts().len(), 1);
    assert!(d.silences().get(&id).is_some());
    clock.set(80_000);
    assert!(d.tick(80_000).is_empty());
}

#[test]
fn starts_on_a_full_disk_from_what_the_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(0));
    let cfg = Config::parse(CFG, "am.yml").unwrap();
    let id = {
        let mut d = Dispatcher::new(
            cfg.clone(),
            clock.clone(),
            Some(Store::open(dir.path()).unwrap()),
        )
        .unwrap();
        d.put_alerts(vec![firing("Down", 0)]).unwrap();
        d.set_silence(silence(&clock, "Other")).unwrap()
    };

    let full = Arc::new(AtomicBool::new(true));
    let store = Store::open_with(dir.path(), faulty_opts(&full, &clock)).unwrap();
    let h = store.health();
    assert!(!h.healthy && h.read_only, "{h:?}");
    let mut d = Dispatcher::new(cfg.clone(), clock.clone(), Some(store)).unwrap();
    assert_eq!(d.alerts().len(), 1, "alerts loaded from the full disk");
    assert!(d.silences().get(&id).is_some(), "silences loaded");
    d.put_alerts(vec![firing("Late", 1_000)]).unwrap();

    full.store(false, Ordering::SeqCst);
    clock.set(MAX_BACKOFF_MS * 2);
    d.tick(MAX_BACKOFF_MS * 2);
    assert!(d.store().unwrap().health().healthy);
    drop(d);
    let d = Dispatcher::new(cfg, clock.clone(), Some(Store::open(dir.path()).unwrap())).unwrap();
    assert_eq!(
        d.alerts().len(),
        2,
        "the alert taken while read-only was saved"
    );
}

#[test]
fn starts_on_a_full_disk_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let full = Arc::new(AtomicBool::new(true));
    let clock = Arc::new(ManualClock::new(0));
    let store = Store::open_with(dir.path(), faulty_opts(&full, &clock)).unwrap();
    assert!(!store.health().healthy);
    assert!(store
        .load::<serde_json::Value>(Table::Alerts)
        .unwrap()
        .is_empty());
    assert!(!store.commit_or_defer(put("a", 1)).unwrap());
    full.store(false, Ordering::SeqCst);
    clock.set(MAX_BACKOFF_MS);
    assert!(store.heal());
    assert_eq!(values(&store), vec![("a".to_string(), 1)]);
}
