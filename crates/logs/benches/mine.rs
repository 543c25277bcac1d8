//! Header split and template mining over the labelled samples, 50 000 lines
//! a system (the 2 000-line file 25 times).
//!
//! ```text
//! cargo bench -p argus-logs --bench mine
//! ```
//!
//! After divan's wall-clock table it prints lines per CPU-second (Linux).
//!
//! Skipped with a message when `../shared/data/logs` is not beside the
//! project.

use argus_logs::{format::Format, miner::mine};

fn main() {
    divan::main();
    per_cpu_second();
}

/// The calling thread's CPU time so far in nanoseconds (Linux only).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Lines per CPU-second of the same work, which load elsewhere on the
/// machine does not change as it changes divan's wall-clock times: the best
/// of five samples of four runs each.
fn per_cpu_second() {
    if thread_cpu_ns().is_none() {
        return;
    }
    println!("split_and_mine, million lines per CPU-second:");
    for (system, fmt) in SYSTEMS {
        let Some(lines) = lines(system) else {
            continue;
        };
        let format = Format::parse(fmt).expect("the format compiles");
        let mut best = u64::MAX;
        for _ in 0..5 {
            let t0 = thread_cpu_ns().unwrap_or(0);
            for _ in 0..4 {
                let contents: Vec<&str> = lines.iter().map(|l| format.content(l)).collect();
                divan::black_box(mine(&contents));
            }
            best = best.min(thread_cpu_ns().unwrap_or(0).saturating_sub(t0) / 4);
        }
        println!(
            "  {system:10} {:.2}",
            lines.len() as f64 / best.max(1) as f64 * 1e3
        );
    }
}

/// The labelled systems and their formats (as in the data set's FORMAT.md).
const SYSTEMS: &[(&str, &str)] = &[
    (
        "Android",
        "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
    ),
    ("Apache", r"\[<Time>\] \[<Level>\] <Content>"),
    (
        "BGL",
        "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    ),
    (
        "HPC",
        "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
    ),
    ("HealthApp", r"<Time>\|<Component>\|<Pid>\|<Content>"),
    (
        "Mac",
        r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
    ),
    (
        "OpenStack",
        r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
    ),
    ("Spark", "<Date> <Time> <Level> <Component>: <Content>"),
    (
        "Windows",
        "<Date> <Time>, <Level>                  <Component>    <Content>",
    ),
];

fn lines(system: &str) -> Option<Vec<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs");
    let text = std::fs::read_to_string(dir.join(system).join(format!("{system}_2k.log"))).ok()?;
    let one: Vec<String> = text.lines().map(str::to_string).collect();
    Some((0..25).flat_map(|_| one.iter().cloned()).collect())
}

#[divan::bench(args = [
    "Android", "Apache", "BGL", "HPC", "HealthApp", "Mac", "OpenStack", "Spark", "Windows",
])]
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
