//! The reload: every section prepares before any applies; one bad section
//! changes nothing and is named.

use super::*;
use std::sync::Mutex;

/// A section that records what it applied; `refuse` makes prepare fail.
struct Section {
    name: &'static str,
    refuse: bool,
    fail_apply: bool,
    log: Arc<Mutex<Vec<String>>>,
}

struct Apply(&'static str, bool, Arc<Mutex<Vec<String>>>);

impl Prepared for Apply {
    fn apply(self: Box<Self>) -> Result<(), SectionError> {
        if self.1 {
            return Err("cannot start".into());
        }
        self.2.lock().unwrap().push(format!("apply {}", self.0));
        Ok(())
    }
}

impl Reloader for Section {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(&self, _: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("prepare {}", self.name));
        if self.refuse {
            return Err(format!("{} is invalid", self.name).into());
        }
        Ok(Box::new(Apply(
            self.name,
            self.fail_apply,
            self.log.clone(),
        )))
    }
}

fn sections(
    log: &Arc<Mutex<Vec<String>>>,
    spec: &[(&'static str, bool, bool)],
) -> Vec<Arc<dyn Reloader>> {
    spec.iter()
        .map(|&(name, refuse, fail_apply)| {
            Arc::new(Section {
                name,
                refuse,
                fail_apply,
                log: log.clone(),
            }) as Arc<dyn Reloader>
        })
        .collect()
}

#[test]
fn every_section_prepares_before_any_applies() {
    let log = Arc::default();
    let r = sections(&log, &[("alerting", false, false), ("rules", false, false)]);
    prepare_and_apply(&r, &Config::default()).unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "prepare alerting",
            "prepare rules",
            "apply alerting",
            "apply rules"
        ]
    );
}

#[test]
fn one_bad_section_changes_nothing_and_is_named() {
    let log = Arc::default();
    let r = sections(
        &log,
        &[
            ("alerting", false, false),
            ("health", true, false),
            ("rules", false, false),
        ],
    );
    let err = prepare_and_apply(&r, &Config::default()).unwrap_err();
    assert_eq!(err.reloader(), Some("health"));
    assert_eq!(err.to_string(), "health: health is invalid");
    assert!(matches!(err, ReloadError::Prepare { .. }));
    assert!(
        log.lock().unwrap().iter().all(|l| l.starts_with("prepare")),
        "nothing applied: {:?}",
        log.lock().unwrap()
    );
}

#[test]
fn a_failed_apply_names_the_section_and_what_was_applied() {
    let log = Arc::default();
    let r = sections(&log, &[("alerting", false, false), ("health", false, true)]);
    let err = prepare_and_apply(&r, &Config::default()).unwrap_err();
    assert_eq!(err.reloader(), Some("health"));
    assert_eq!(
        err.to_string(),
        "health: cannot start (already applied: alerting)"
    );
}

#[tokio::test]
async fn the_service_reads_the_file_and_reports_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("argus.yml");
    std::fs::write(&file, "global: {}\n").unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let clock = Arc::new(argus_model::ManualClock::new(1_000));
    let svc = ReloadService::new(
        Some(file.clone()),
        sections(
            &log,
            &[("alerting", false, false), ("dynamic_rules", true, false)],
        ),
        clock.clone(),
    );
    assert_eq!(svc.names(), ["alerting", "dynamic_rules"]);
    assert!(svc.status().success);
    clock.set(2_000);
    let err = svc.reload().await.unwrap_err();
    assert_eq!(err.reloader(), Some("dynamic_rules"));
    let st = svc.status();
    assert_eq!((st.success, st.at_ms), (false, 1_000));
    assert!(!log.lock().unwrap().iter().any(|l| l.starts_with("apply")));

    // An unreadable file is reported as such, before any section.
    std::fs::write(&file, "global: [").unwrap();
    log.lock().unwrap().clear();
    let err = svc.reload().await.unwrap_err();
    assert!(matches!(err, ReloadError::Config(_)), "{err}");
    assert!(log.lock().unwrap().is_empty());

    // Without a file there is nothing to reload.
    let none = ReloadService::new(None, Vec::new(), clock.clone());
    none.reload().await.unwrap();
    assert_eq!(none.status().at_ms, 2_000);
}
