//! The configuration reference cannot drift from the config structs: every
//! key the server accepts, section by section, is named in the page that
//! documents that section (in backticks, or in a commented YAML example). The accepted keys come from the
//! structs themselves: each refuses an unknown key and lists the keys it
//! expects, so a key added to a struct and not to its page fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn doc(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The keys a section accepts: the list in the error for an unknown key
/// placed at `yaml` (where `BOGUS` stands for it).
fn keys(yaml: &str) -> Vec<String> {
    let text = yaml.replace("BOGUS", "zz_not_a_key");
    let e = match argus_server::config::Config::from_yaml_str(&text, "probe.yml") {
        Ok(_) => panic!("{yaml}: an unknown key was accepted"),
        Err(e) => e.to_string(),
    };
    let list = e
        .split("expected one of ")
        .nth(1)
        .or_else(|| e.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("{yaml}: no key list in {e}"));
    let list = list.split('\n').next().unwrap_or_default();
    list.split(", ")
        .map(|k| k.trim().trim_matches('`').to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Named in backticks (`` `key` ``, `` `key: …` ``, or within a dotted
/// path such as `` `logs.anomalies.learn` ``), or as a key of a YAML
/// example (a line starting with `key:` or `- key:`).
fn documented(text: &str, key: &str) -> bool {
    text.contains(&format!("`{key}`"))
        || text.contains(&format!("`{key}:"))
        || text.contains(&format!(".{key}`"))
        || text.contains(&format!(".{key}."))
        || text.contains(&format!("`{key}."))
        || text.lines().any(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("- ").unwrap_or(l);
            l.starts_with(&format!("{key}:"))
        })
}

#[test]
fn every_accepted_key_is_documented() {
    // (where the unknown key goes, the pages that document the section)
    let sections: &[(&str, &[&str])] = &[
        (
            "BOGUS: 1\n",
            &["configuration.md", "migrate-from-prometheus.md"],
        ),
        (
            "global: {BOGUS: 1}\n",
            &["configuration.md", "migrate-from-prometheus.md"],
        ),
        ("storage: {BOGUS: 1}\n", &["configuration.md"]),
        ("agent: {BOGUS: 1}\n", &["configuration.md"]),
        ("limits: {BOGUS: 1}\n", &["configuration.md"]),
        ("web: {BOGUS: 1}\n", &["configuration.md"]),
        ("query: {BOGUS: 1}\n", &["configuration.md"]),
        ("rules: {BOGUS: 1}\n", &["configuration.md"]),
        (
            "alerting: {BOGUS: 1}\n",
            &["configuration.md", "migrate-from-prometheus.md"],
        ),
        ("health: {BOGUS: 1}\n", &["configuration.md"]),
        (
            "incidents: {BOGUS: 1}\n",
            &["configuration.md", "incidents.md"],
        ),
        (
            "recover: {BOGUS: 1}\n",
            &["configuration.md", "runbooks.md"],
        ),
        ("logs: {BOGUS: 1}\n", &["configuration.md", "logs.md"]),
        (
            "detect: {BOGUS: 1}\n",
            &["configuration.md", "dynamic-rules.md"],
        ),
        (
            "scrape_configs: [{BOGUS: 1}]\n",
            &["configuration.md", "migrate-from-prometheus.md"],
        ),
        (
            "remote_write: [{BOGUS: 1}]\n",
            &["configuration.md", "migrate-from-prometheus.md"],
        ),
        ("dynamic_rules: [{BOGUS: 1}]\n", &["dynamic-rules.md"]),
        ("exhaustion_rules: [{BOGUS: 1}]\n", &["configuration.md"]),
        ("health_index_rules: [{BOGUS: 1}]\n", &["configuration.md"]),
    ];
    let mut missing = BTreeSet::new();
    for (yaml, pages) in sections {
        let text: String = pages.iter().map(|p| doc(p)).collect();
        let ks = keys(yaml);
        assert!(!ks.is_empty(), "{yaml}: no keys parsed");
        for k in ks {
            if !documented(&text, &k) {
                missing.insert(format!(
                    "{} → `{k}` (in {})",
                    yaml.trim(),
                    pages.join(" or ")
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys the server accepts but no page documents:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
