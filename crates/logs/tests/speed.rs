//! How long the header split and the mining take on the labelled samples
//! (printed, never asserted: speed is measured in benchmarks).
//! `cargo test --release -p argus-logs --test speed -- --ignored --nocapture`

use argus_logs::{format::Format, miner::mine};

#[test]
#[ignore]
fn split_and_mine_times() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/logs");
    for (sys, fmt) in [
        ("Spark", "<Date> <Time> <Level> <Component>: <Content>"),
        ("BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>"),
        ("Mac", r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>"),
    ] {
        let text = std::fs::read_to_string(dir.join(sys).join(format!("{sys}_2k.log"))).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let lines: Vec<&str> = (0..25).flat_map(|_| lines.iter().copied()).collect();
        let f = Format::parse(fmt).unwrap();
        let t0 = std::time::Instant::now();
        let contents: Vec<&str> = lines.iter().map(|l| f.content(l)).collect();
        let split = t0.elapsed().as_secs_f64();
        let t1 = std::time::Instant::now();
        let t = mine(&contents);
        let mined = t1.elapsed().as_secs_f64();
        println!("{sys}: {} lines, split {:.0} lines/s, mine {:.0} lines/s", t.len(), lines.len() as f64 / split, lines.len() as f64 / mined);
    }
}
