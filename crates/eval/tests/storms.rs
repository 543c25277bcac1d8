//! Generated storms through Argus's replay and the two baselines: only the
//! structure is asserted (every firing line in exactly one incident, every
//! metric in [0, 1]); the tables are printed (`--nocapture`).

use std::collections::HashMap;
use std::time::Instant;

use argus_eval::incidents::{compare, format_summary, format_table, mean_table, score_storms};
use argus_eval::storm::{generate, Preset};
use argus_incident::placement::Placement;
use argus_incident::replay::read_alerts;
use argus_incident::topology::Topology;

#[test]
fn medium_storms_group_every_firing_line_once_and_score_in_range() {
    let mut per = Vec::new();
    for seed in 1001..=1005u64 {
        let storm = generate(&Preset::Medium.config(seed));
        let alerts = read_alerts(&storm.alerts).unwrap();
        let topo = Topology::from_csv(&storm.graph).unwrap();
        let placement = Placement::from_csv(&storm.placement).unwrap();
        let (incidents, rows) =
            compare(&alerts, &topo, &placement, &storm.truth, &settings()).unwrap();
        let mut seen: HashMap<usize, usize> = HashMap::new();
        for i in &incidents {
            for &l in &i.alerts {
                *seen.entry(l).or_default() += 1;
            }
        }
        for a in &alerts {
            let n = seen.get(&a.line).copied().unwrap_or(0);
            assert_eq!(n, usize::from(a.firing), "seed {seed}, line {}", a.line);
        }
        for r in &rows {
            let s = &r.scores;
            for v in [
                s.compression,
                s.perfect_compression,
                s.precision,
                s.recall,
                s.f1,
                s.root_top1,
            ] {
                assert!((0.0..=1.0).contains(&v), "seed {seed} {}: {s:?}", r.method);
            }
            assert!(s.incidents >= 1 && s.incidents <= s.firing);
        }
        println!(
            "seed {seed}: {} lines\n{}",
            alerts.len(),
            format_table(&rows)
        );
        per.push(rows);
    }
    println!("mean of 5:\n{}", format_summary(&mean_table(&per)));
}

/// The table over a fixed set of seeds, for the record:
/// `cargo test -p argus-eval --test storms table -- --ignored --nocapture`.
#[test]
#[ignore]
fn table_over_twenty_medium_storms() {
    let seeds: Vec<u64> = (1..=20).collect();
    let (_, summary) = score_storms(&seeds, Preset::Medium, &settings(), true).unwrap();
    println!("20 medium storms:\n{}", format_summary(&summary));
}

#[test]
fn a_large_storm_replays() {
    let storm = generate(&Preset::Large.config(1009));
    let alerts = read_alerts(&storm.alerts).unwrap();
    let topo = Topology::from_csv(&storm.graph).unwrap();
    let placement = Placement::from_csv(&storm.placement).unwrap();
    let t = Instant::now();
    let (incidents, rows) = compare(&alerts, &topo, &placement, &storm.truth, &settings()).unwrap();
    println!(
        "large storm: {} lines, {} incidents, all three methods in {:.1} s\n{}",
        alerts.len(),
        incidents.len(),
        t.elapsed().as_secs_f64(),
        format_table(&rows)
    );
    assert!(alerts.len() > 5_000);
}

/// The correlator's settings: the defaults, or a JSON object of overrides in
/// `ARGUS_INCIDENT_SETTINGS` (for comparing settings by hand).
fn settings() -> argus_incident::correlate::Settings {
    match std::env::var("ARGUS_INCIDENT_SETTINGS") {
        Ok(j) => {
            serde_json::from_str(&j).expect("ARGUS_INCIDENT_SETTINGS is a Settings JSON object")
        }
        Err(_) => Default::default(),
    }
}

/// `ARGUS_STORM_SEEDS` (else `default_seeds`) and `ARGUS_STORM_PRESET`
/// (`small`, `large`, else medium), for the measuring aids below.
fn seeds_and_preset(default_seeds: &str) -> (Vec<u64>, Preset) {
    let seeds = argus_eval::incidents::parse_seeds(
        &std::env::var("ARGUS_STORM_SEEDS").unwrap_or_else(|_| default_seeds.into()),
    )
    .expect("ARGUS_STORM_SEEDS is a range A-B, a list A,B,C or a mix");
    let preset = match std::env::var("ARGUS_STORM_PRESET").as_deref() {
        Ok("small") => Preset::Small,
        Ok("large") => Preset::Large,
        _ => Preset::Medium,
    };
    (seeds, preset)
}

/// The table over seeds and a preset from the environment, for checking
/// settings on storms they were not chosen on:
/// `ARGUS_STORM_SEEDS=1001-1020 ARGUS_STORM_PRESET=large cargo test -p argus-eval --test storms table_from_env -- --ignored --nocapture`.
#[test]
#[ignore]
fn table_from_env() {
    let (seeds, preset) = seeds_and_preset("1001-1020");
    let placed = std::env::var("ARGUS_STORM_PLACEMENT").as_deref() != Ok("off");
    let (_, summary) = score_storms(&seeds, preset, &settings(), placed).unwrap();
    println!(
        "{} storms {preset:?} (placement {}):\n{}",
        seeds.len(),
        if placed { "on" } else { "off" },
        format_summary(&summary)
    );
}

/// Where the wrong pairs come from, over seeds and a preset from the
/// environment (as `table_from_env`), by fault kind and cause; with
/// `ARGUS_STORM_DETAIL=1`, every mixed or split incident line by line:
/// `ARGUS_STORM_SEEDS=1-20 cargo test -p argus-eval --test storms diagnose_from_env -- --ignored --nocapture`.
#[test]
#[ignore]
fn diagnose_from_env() {
    use argus_eval::incidents::diagnose::{details, diagnose, Diagnosis};
    let (seeds, preset) = seeds_and_preset("1-20");
    let detail = std::env::var("ARGUS_STORM_DETAIL").is_ok();
    let mut all = Diagnosis::default();
    for seed in seeds {
        let storm = generate(&preset.config(seed));
        let alerts = read_alerts(&storm.alerts).unwrap();
        let topo = Topology::from_csv(&storm.graph).unwrap();
        let placement = Placement::from_csv(&storm.placement).unwrap();
        let incidents =
            argus_incident::replay::replay_placed(&alerts, topo.clone(), &placement, &settings());
        let d = diagnose(&alerts, &storm.truth, &incidents, &topo, &placement);
        println!(
            "seed {seed}: {:.0} wrongly merged pairs, {:.0} wrongly split",
            d.merge_pairs(),
            d.split_pairs()
        );
        if detail {
            println!("{}", details(&alerts, &storm.truth, &incidents));
        }
        all.add(&d);
        for (k, v) in d.examples {
            all.examples.entry(k).or_insert(v);
        }
    }
    println!("{}", all.format());
    if std::env::var("ARGUS_STORM_EXAMPLES").is_ok() {
        for (k, v) in &all.examples {
            println!("{k}:\n  {}", v.join("\n  "));
        }
    }
}
