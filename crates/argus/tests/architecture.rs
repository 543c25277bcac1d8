//! The crate graph follows docs/ARCHITECTURE.md: reads
//! `cargo metadata --no-deps` and checks the layering rules.
//!
//! - `argus-model` depends on no other crate of ours.
//! - `argus-detect` depends on nothing of ours but `argus-model`, and on no
//!   I/O crate ([`IO_CRATES`]).
//! - The engines fed by the server ([`PEERS`]: rules, alert, dynamic and the
//!   future incident, rca, recover, logs) never depend on each other.
//! - Only the composition roots ([`ROOTS`]: `argus-server` and the binaries)
//!   depend on an engine or on `argus-server`.
//! - `argus-auth` (the HTTP edge's sign-in and roles) and `argus-eval` (the
//!   evaluation of our own detectors) depend on nothing of ours but
//!   `argus-model` (and, for `argus-eval`, `argus-detect`, the store and
//!   the text import to load a case, and the engines it replays recorded
//!   input through: [`REPLAYS`]).
//! - A service crate ([`SERVICES`]: `argus-log-service`,
//!   `argus-store-service`, `argus-alert-service`) is the HTTP and task
//!   wiring of one engine; it uses only the crates listed beside it, and
//!   only the composition roots depend on it. `argus-web`, what the
//!   server and its services share, uses only the model, the store and
//!   PromQL; the web UI (`argus-ui`) only the model ([`SHARED`]).
//! - Nothing depends on the evaluation lab ([`LAB`]): the shipped `argus`
//!   binary in particular never links its peer orchestration (ADR 0015).
//!
//! Internal rules count every kind of dependency (normal, build, dev); the
//! I/O deny list counts normal and build dependencies (tests may use a
//! temporary directory).

use serde_json::Value;
use std::collections::BTreeMap;

/// Crates of ours that never import each other; the server feeds each one
/// through functions, channels or traits the lower crate defines. Names of
/// crates that do not exist yet are listed so the rule holds when they appear.
const PEERS: &[&str] = &[
    "argus-rules",
    "argus-alert",
    "argus-dynamic",
    "argus-incident",
    "argus-rca",
    "argus-recover",
    "argus-logs",
];

/// Evaluation crates allowed to depend on an engine to replay recorded
/// input through the very code the server runs (`argus eval incidents`).
const REPLAYS: &[(&str, &str)] = &[
    ("argus-eval", "argus-incident"),
    ("argus-eval", "argus-logs"),
    ("argus-eval", "argus-rca"),
];

/// Service crates: the HTTP and task wiring of one engine, composed by the
/// server, with every crate of ours each may use. Only the composition roots
/// depend on a service.
const SERVICES: &[(&str, &[&str])] = &[
    (
        "argus-log-service",
        &["argus-model", "argus-web", "argus-tsdb", "argus-logs"],
    ),
    (
        "argus-store-service",
        &[
            "argus-model",
            "argus-web",
            "argus-tsdb",
            "argus-promql",
            "argus-ingest",
        ],
    ),
    (
        "argus-alert-service",
        &["argus-model", "argus-web", "argus-tsdb", "argus-alert"],
    ),
];

/// Crates the server composes that are no engine, and all each may use:
/// what the server and its services share (parts, the API envelope, the
/// write gate, configuration values), and the web UI, which reads only the
/// JSON API.
const SHARED: &[(&str, &[&str])] = &[
    ("argus-web", &["argus-model", "argus-tsdb", "argus-promql"]),
    ("argus-ui", &["argus-model"]),
];

/// The composition roots: the only crates that may depend on every other.
const ROOTS: &[&str] = &["argus-server", "argus", "argus-lab"];

/// The evaluation lab: a binary that starts and installs other systems.
/// No package may depend on it, in any kind of dependency.
const LAB: &str = "argus-lab";

/// Crates that do network, disk or async I/O, refused in the pure layers.
const IO_CRATES: &[&str] = &[
    "tokio",
    "tokio-util",
    "async-std",
    "smol",
    "futures-io",
    "mio",
    "socket2",
    "reqwest",
    "ureq",
    "hyper",
    "hyper-util",
    "h2",
    "axum",
    "tower",
    "tower-http",
    "tonic",
    "redb",
    "fjall",
    "rocksdb",
    "sled",
    "memmap2",
    "redis",
    "async-nats",
    "tokio-postgres",
    "deadpool-postgres",
    "lettre",
    "rustls",
    "native-tls",
];

/// One package's dependencies: (name, kind), kind `normal`, `build` or `dev`.
type Graph = BTreeMap<String, Vec<(String, String)>>;

/// The workspace's packages and their direct dependencies, from
/// `cargo metadata --format-version 1 --no-deps` output.
fn graph(metadata: &Value) -> Result<Graph, String> {
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no \"packages\" array")?;
    let mut g = Graph::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .ok_or("cargo metadata: a package has no name")?;
        let deps = p["dependencies"]
            .as_array()
            .ok_or_else(|| format!("cargo metadata: {name} has no \"dependencies\" array"))?;
        let deps = deps
            .iter()
            .filter_map(|d| {
                let n = d["name"].as_str()?;
                let kind = d["kind"].as_str().unwrap_or("normal");
                Some((n.to_string(), kind.to_string()))
            })
            .collect();
        g.insert(name.to_string(), deps);
    }
    Ok(g)
}

fn ours(name: &str) -> bool {
    name == "argus" || name.starts_with("argus-")
}

/// Every broken rule, one sentence each; empty when the graph is as designed.
fn violations(metadata: &Value) -> Result<Vec<String>, String> {
    let g = graph(metadata)?;
    let mut out = Vec::new();
    for (pkg, deps) in &g {
        for (dep, kind) in deps {
            let shipped = kind != "dev";
            if pkg == "argus-model" && ours(dep) {
                out.push(format!(
                    "argus-model depends on {dep} ({kind}); the model crate is at the bottom and depends on no other argus crate."
                ));
            }
            if pkg == "argus-detect" && ours(dep) && dep != "argus-model" {
                out.push(format!(
                    "argus-detect depends on {dep} ({kind}); it may use only argus-model."
                ));
            }
            if pkg == "argus-auth" && ours(dep) && dep != "argus-model" {
                out.push(format!(
                    "argus-auth depends on {dep} ({kind}); it may use only argus-model: the server composes it."
                ));
            }
            if pkg == "argus-predict"
                && ours(dep)
                && !["argus-model", "argus-tsdb", "argus-promql", "argus-detect"]
                    .contains(&dep.as_str())
            {
                out.push(format!(
                    "argus-predict depends on {dep} ({kind}); it may use only argus-model, argus-tsdb, argus-promql and argus-detect: its alerts leave through a sink the server provides."
                ));
            }
            if pkg == "argus-forward"
                && ours(dep)
                && !["argus-model", "argus-ingest"].contains(&dep.as_str())
            {
                out.push(format!(
                    "argus-forward depends on {dep} ({kind}); it may use only argus-model and argus-ingest (HTTP client settings, relabeling, file discovery): the server hands it the alerts."
                ));
            }
            if pkg == "argus-rca" && ours(dep) && dep != "argus-model" {
                out.push(format!(
                    "argus-rca depends on {dep} ({kind}); it may use only argus-model: the server reads the data and hands it over."
                ));
            }
            if pkg == "argus-recover"
                && ours(dep)
                && !["argus-model", "argus-gotmpl"].contains(&dep.as_str())
            {
                out.push(format!(
                    "argus-recover depends on {dep} ({kind}); it may use only argus-model and argus-gotmpl (step templates): the server hands it each incident and answers its questions through the Host trait."
                ));
            }
            if pkg == "argus-logs"
                && ours(dep)
                && !["argus-model", "argus-gotmpl"].contains(&dep.as_str())
            {
                out.push(format!(
                    "argus-logs depends on {dep} ({kind}); it may use only argus-model and argus-gotmpl (LogQL line_format/label_format templates)."
                ));
            }
            if pkg == "argus-incident" && ours(dep) && dep != "argus-model" {
                out.push(format!(
                    "argus-incident depends on {dep} ({kind}); it may use only argus-model: the server turns alerts from rules, the pipeline and the detectors into its signals."
                ));
            }
            if pkg == "argus-eval"
                && shipped
                && ours(dep)
                && ![
                    "argus-model",
                    "argus-detect",
                    "argus-incident",
                    "argus-logs",
                    "argus-rca",
                    "argus-tsdb",
                    "argus-ingest",
                ]
                .contains(&dep.as_str())
            {
                out.push(format!(
                    "argus-eval depends on {dep} ({kind}); it may use only argus-model, argus-detect, argus-incident (the replay of an alert file), argus-logs (template mining), argus-rca (localisation), and argus-tsdb and argus-ingest (a case loaded through the text import into a temporary store)."
                ));
            }
            if (pkg == "argus-detect" || pkg == "argus-model")
                && shipped
                && IO_CRATES.contains(&dep.as_str())
            {
                out.push(format!(
                    "{pkg} depends on the I/O crate {dep} ({kind}); it must stay pure computation."
                ));
            }
            let service = SERVICES.iter().find(|(name, _)| name == pkg);
            for (name, allowed) in service.into_iter().chain(SHARED) {
                if pkg == *name && ours(dep) && !allowed.contains(&dep.as_str()) {
                    out.push(format!(
                        "{pkg} depends on {dep} ({kind}); it may use only {}.",
                        allowed.join(", ")
                    ));
                }
            }
            if SERVICES.iter().any(|(name, _)| name == dep) && !ROOTS.contains(&pkg.as_str()) {
                out.push(format!(
                    "{pkg} depends on the service {dep} ({kind}); only the composition roots ({}) compose services.",
                    ROOTS.join(", ")
                ));
            }
            if PEERS.contains(&pkg.as_str()) && PEERS.contains(&dep.as_str()) {
                out.push(format!(
                    "{pkg} depends on {dep} ({kind}); the engines never import each other: have the server connect them through a function, channel or trait that the lower crate defines."
                ));
            } else if !ROOTS.contains(&pkg.as_str())
                && !PEERS.contains(&pkg.as_str())
                && service.is_none()
                && (PEERS.contains(&dep.as_str()) || ROOTS.contains(&dep.as_str()))
                && !REPLAYS.contains(&(pkg.as_str(), dep.as_str()))
            {
                out.push(format!(
                    "{pkg} depends on {dep} ({kind}); only the composition roots ({}) may depend on it.",
                    ROOTS.join(", ")
                ));
            }
            if dep == LAB {
                let why = if pkg == "argus" {
                    "the shipped argus binary never contains the evaluation lab"
                } else {
                    "nothing depends on the evaluation lab"
                };
                out.push(format!("{pkg} depends on {LAB} ({kind}); {why}."));
            }
            if PEERS.contains(&pkg.as_str()) && ROOTS.contains(&dep.as_str()) {
                out.push(format!(
                    "{pkg} depends on {dep} ({kind}); an engine never imports the composition root."
                ));
            }
        }
    }
    Ok(out)
}

#[test]
fn crate_graph_follows_the_architecture() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let g = graph(&metadata).unwrap();
    for name in [
        "argus-model",
        "argus-detect",
        "argus-dynamic",
        "argus-server",
        "argus-eval",
        "argus-lab",
        "argus-web",
        "argus-log-service",
        "argus-store-service",
        "argus-alert-service",
        "argus",
    ] {
        assert!(g.contains_key(name), "{name} is not in the workspace");
    }
    let v = violations(&metadata).unwrap();
    assert!(
        v.is_empty(),
        "The crate graph breaks docs/ARCHITECTURE.md:\n- {}",
        v.join("\n- ")
    );
}

/// A fake package: its name and its dependencies as (name, kind; `None` is normal).
type FakePackage<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)]);

/// A fake metadata document with these packages.
fn fake(packages: &[FakePackage]) -> Value {
    let packages: Vec<Value> = packages
        .iter()
        .map(|(name, deps)| {
            let deps: Vec<Value> = deps
                .iter()
                .map(|(d, k)| serde_json::json!({"name": d, "kind": k}))
                .collect();
            serde_json::json!({"name": name, "dependencies": deps})
        })
        .collect();
    serde_json::json!({ "packages": packages })
}

#[test]
fn the_rules_catch_a_broken_graph() {
    let good = fake(&[
        ("argus-model", &[("thiserror", None)]),
        (
            "argus-detect",
            &[("argus-model", Some("dev")), ("tempfile", Some("dev"))],
        ),
        ("argus-dynamic", &[("argus-detect", None), ("tokio", None)]),
        ("argus-rules", &[("argus-model", None)]),
        (
            "argus-server",
            &[("argus-rules", None), ("argus-dynamic", None)],
        ),
        (
            "argus-eval",
            &[("argus-detect", None), ("tempfile", Some("dev"))],
        ),
        (
            "argus",
            &[
                ("argus-server", None),
                ("argus-rules", None),
                ("argus-eval", None),
            ],
        ),
        ("argus-lab", &[("argus-model", None), ("tokio", None)]),
        (
            "argus-log-service",
            &[("argus-logs", None), ("argus-web", None), ("axum", None)],
        ),
        ("argus-web", &[("argus-promql", None), ("axum", None)]),
    ]);
    assert_eq!(violations(&good).unwrap(), Vec::<String>::new());

    let bad = fake(&[
        ("argus-model", &[("argus-tsdb", None)]),
        ("argus-detect", &[("argus-tsdb", None), ("tokio", None)]),
        (
            "argus-dynamic",
            &[("argus-alert", None), ("argus-server", None)],
        ),
        ("argus-incident", &[("argus-logs", Some("dev"))]),
        (
            "argus-tsdb",
            &[("argus-rules", None), ("argus-log-service", Some("dev"))],
        ),
        ("argus", &[("argus-lab", None)]),
        ("argus-log-service", &[("argus-rules", None)]),
        ("argus-web", &[("argus-logs", None)]),
        ("argus-ui", &[("argus-incident", None)]),
        ("argus-eval", &[("argus-lab", Some("dev"))]),
    ]);
    let v = violations(&bad).unwrap();
    let has = |s: &str| v.iter().any(|x| x.contains(s));
    assert!(has("argus-model depends on argus-tsdb"), "{v:#?}");
    assert!(has("argus-detect depends on argus-tsdb"), "{v:#?}");
    assert!(has("argus-detect depends on the I/O crate tokio"), "{v:#?}");
    assert!(has("argus-dynamic depends on argus-alert"), "{v:#?}");
    assert!(has("argus-dynamic depends on argus-server"), "{v:#?}");
    assert!(has("argus-incident depends on argus-logs (dev)"), "{v:#?}");
    assert!(
        has("argus-incident depends on argus-logs (dev); it may use only argus-model"),
        "{v:#?}"
    );
    assert!(has("argus-tsdb depends on argus-rules"), "{v:#?}");
    assert!(
        has("argus depends on argus-lab (normal); the shipped argus binary"),
        "{v:#?}"
    );
    // A non-root on the lab also breaks the composition-root rule.
    assert!(
        has("argus-eval depends on argus-lab (dev); nothing"),
        "{v:#?}"
    );
    assert!(has("argus-eval depends on argus-lab (dev); only"), "{v:#?}");
    assert!(
        has("argus-log-service depends on argus-rules (normal); it may use only"),
        "{v:#?}"
    );
    assert!(
        has("argus-web depends on argus-logs (normal); it may use only"),
        "{v:#?}"
    );
    assert!(
        has("argus-tsdb depends on the service argus-log-service (dev)"),
        "{v:#?}"
    );
    assert!(
        has("argus-ui depends on argus-incident (normal); it may use only argus-model"),
        "{v:#?}"
    );
    assert_eq!(v.len(), 17, "{v:#?}");

    assert!(violations(&serde_json::json!({})).is_err());
}
