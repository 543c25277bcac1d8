//! Unit tests of the configuration file: unknown keys, sizes, the query
//! section, rule file paths, defaults, and the log alert names the ranking
//! relies on.

use super::*;

/// The live ranking weighs the log service's alerts by name; the two crates may not
/// import each other, so the server, which wires them, checks the names agree.
#[test]
fn the_ranking_knows_the_log_alerts_by_their_names() {
    let known = argus_incident::suspects::LOG_ALERTS;
    assert!(known.contains(&argus_log_service::ERROR_BURST_ALERT));
    assert!(known.contains(&argus_log_service::NEW_TEMPLATE_ALERT));
}

#[test]
fn unknown_key_is_named_with_its_line() {
    let e = Config::from_yaml_str(
        "storage:\n  retention: 1d\n  retension_size: 1GB\n",
        "a.yml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("retension_size"), "{e}");
    assert!(e.contains("a.yml"), "{e}");
    assert!(e.contains('3'), "line number missing: {e}");
}

#[test]
fn sizes_and_fsync_parse() {
    let c = Config::from_yaml_str(
        "storage:\n  retention_size: 512MiB\n  wal_fsync: always\n",
        "a.yml",
    )
    .unwrap();
    assert_eq!(c.storage.retention_size, Some(ByteSize(512 << 20)));
    assert_eq!(c.storage.wal_fsync, WalFsync::Always);
    assert!(Config::from_yaml_str("storage:\n  wal_fsync: sometimes\n", "a").is_err());
    let c =
        Config::from_yaml_str("storage:\n  max_future: 1h\n  min_free_space: 1GiB\n", "a").unwrap();
    let o = c.tsdb_options();
    assert_eq!((o.max_future_ms, o.min_free_bytes), (3_600_000, 1 << 30));
    let d = Config::default().tsdb_options();
    assert_eq!((d.max_future_ms, d.min_free_bytes), (600_000, 256 << 20));
    assert!(Config::from_yaml_str("storage:\n  retention_size: 5 parsecs\n", "a").is_err());
}

#[test]
fn query_section() {
    let c = Config::from_yaml_str(
        "query:\n  lookback_delta: 1m\n  max_samples: 10\n  timeout: 5s\n",
        "a.yml",
    )
    .unwrap();
    assert_eq!(c.query.lookback_delta.as_millis(), 60_000);
    assert_eq!(c.query.max_samples, 10);
    assert_eq!(c.query.timeout.as_millis(), 5_000);
    assert!(c.query.max_concurrent >= 4);
    assert!(c.source_text.unwrap().contains("max_samples"));
    let e = Config::from_yaml_str("query:\n  max_sample: 1\n", "a.yml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_sample"), "{e}");
    assert!(Config::from_yaml_str("query:\n  timeout: 0s\n", "a").is_err());
    assert!(Config::from_yaml_str("query:\n  max_concurrent: 0\n", "a").is_err());
    assert!(Config::from_yaml_str("source_text: x\n", "a").is_err());
}

#[test]
fn rule_files_resolve_against_the_config_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    for f in ["b.yml", "a.yml", "skip.txt"] {
        std::fs::write(dir.path().join("rules").join(f), "groups: []\n").unwrap();
    }
    let cfg_path = dir.path().join("argus.yml");
    std::fs::write(
        &cfg_path,
        "global:\n  evaluation_interval: 5s\nrule_files: ['rules/*.yml']\n",
    )
    .unwrap();
    let c = Config::load(&cfg_path).unwrap();
    assert_eq!(c.evaluation_interval().as_millis(), 5_000);
    let paths = c.rule_file_paths().unwrap();
    let names: Vec<_> = paths.iter().map(|p| p.file_name().unwrap()).collect();
    assert_eq!(names, ["a.yml", "b.yml"]);
    assert_eq!(c.check_rule_files().unwrap(), 0);
    std::fs::write(
        dir.path().join("rules/b.yml"),
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n",
    )
    .unwrap();
    let e = c.check_rule_files().unwrap_err().to_string();
    assert!(e.contains("b.yml:5:"), "{e}");
    assert!(Config::from_yaml_str("global:\n  evaluation_interval: 0s\n", "a").is_err());
    assert!(Config::from_yaml_str("rules:\n  stat_dir: x\n", "a").is_err());
}

#[test]
fn empty_file_gives_defaults() {
    let c = Config::from_yaml_str("", "a").unwrap();
    assert_eq!(c.storage.block_range.as_millis(), 7_200_000);
    assert!(c.agent.enabled);
    assert_eq!(c.query.lookback_delta.as_millis(), 300_000);
    assert_eq!(c.query.max_samples, 50_000_000);
    assert_eq!(c.query.timeout.as_millis(), 120_000);
    assert_eq!(c.evaluation_interval().as_millis(), 15_000);
    let fast = Config::from_yaml_str(
        "scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    static_configs: [{targets: ['127.0.0.1:1']}]\n",
        "a",
    )
    .unwrap();
    assert_eq!(fast.evaluation_interval().as_millis(), 1_000);
    assert!(c.rule_files.is_empty());
    assert_eq!(c.rules.resend_delay.as_millis(), 60_000);
}
