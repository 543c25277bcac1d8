//! Header split and template mining over the labelled samples, 50 000 lines
//! a system (the 2 000-line file 25 times).
//!
//! ```text
//! cargo bench -p argus-logs --bench mine
//! ```
//!
//! Skipped with a message when `../shared/data/logs` is not beside the
//! project.

use argus_logs::{format::Format, miner::mine};

fn main() {
    divan::main();
}

const SYSTEMS: &[(&str, &str)] = &[
    ("Spark", "<Date> <Time> <Level> <Component>: <Content>"),
    (
        "BGL",
        "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    ),
    (
        "Mac",
        r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
    ),
];

fn lines(system: &str) -> Option<Vec<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs");
    let text = std::fs::read_to_string(dir.join(system).join(format!("{system}_2k.log"))).ok()?;
    let one: Vec<String> = text.lines().map(str::to_string).collect();
    Some((0..25).flat_map(|_| one.iter().cloned()).collect())
}

#[divan::bench(args = ["Spark", "BGL", "Mac"])]
fn split_and_mine(bencher: divan::Bencher, system: &str) {
    let Some(lines) = lines(system) else {
        eprintln!("no labelled logs for {system}; skipped");
        return;
    };
    let fmt = SYSTEMS
        .iter()
        .find(|(s, _)| *s == system)
        .map(|(_, f)| *f)
        .unwrap_or("<Content>");
    let format = Format::parse(fmt).expect("the format compiles");
    bencher
        .counter(divan::counter::ItemsCount::new(lines.len()))
        .bench(|| {
            let contents: Vec<&str> = lines.iter().map(|l| format.content(l)).collect();
            mine(&contents)
        });
}
