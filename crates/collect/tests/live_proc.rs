//! Gathers from this machine's real /proc and /sys and checks the node_exporter
//! core families and the exposition syntax.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use argus_collect::collectors::disk::device_ignored;
use argus_collect::{Agent, AgentConfig, Format};
use argus_model::SystemClock;

fn agent() -> Agent {
    let cfg = AgentConfig {
        services: serde_json::from_str(r#"[{"name": "self", "cmdline": "live_proc"}]"#).unwrap(),
        ..Default::default()
    };
    Agent::new(cfg, Arc::new(SystemClock)).unwrap()
}

/// One parsed sample line: name, label pairs, value.
type Line = (String, Vec<(String, String)>, f64);

/// A tiny checker: every non-comment line is `name{labels} value`.
fn parse_line(l: &str) -> Result<Line, String> {
    let name_end = l.find(['{', ' ']).ok_or("no value")?;
    let name = &l[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("bad name {name:?}"));
    }
    let mut rest = &l[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let mut r = r;
        loop {
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = r.find("=\"").ok_or("label without =\"")?;
            let lname = &r[..eq];
            r = &r[eq + 2..];
            let mut val = String::new();
            let mut chars = r.char_indices();
            let end = loop {
                match chars.next().ok_or("unterminated label value")? {
                    (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                        'n' => val.push('\n'),
                        c @ ('\\' | '"') => val.push(c),
                        c => return Err(format!("bad escape \\{c}")),
                    },
                    (i, '"') => break i,
                    (_, c) => val.push(c),
                }
            };
            labels.push((lname.to_string(), val));
            r = &r[end + 1..];
            r = r.strip_prefix(',').unwrap_or(r);
        }
    }
    let v = rest.strip_prefix(' ').ok_or("no space before value")?;
    let value = match v {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse::<f64>()
            .map_err(|e| format!("bad value {v:?}: {e}"))?,
    };
    Ok((name.to_string(), labels, value))
}

fn check_text(text: &str) -> Vec<Line> {
    let mut helped = HashMap::new();
    let mut typed = HashMap::new();
    let mut out = Vec::new();
    for l in text.lines() {
        if let Some(h) = l.strip_prefix("# HELP ") {
            helped.insert(h.split(' ').next().unwrap().to_string(), ());
        } else if let Some(t) = l.strip_prefix("# TYPE ") {
            let mut it = t.split(' ');
            let (n, ty) = (it.next().unwrap(), it.next().unwrap());
            assert!(["counter", "gauge", "untyped"].contains(&ty), "{l}");
            typed.insert(n.to_string(), ());
        } else {
            let parsed = parse_line(l).unwrap_or_else(|e| panic!("line {l:?}: {e}"));
            assert!(helped.contains_key(&parsed.0), "no HELP for {l}");
            assert!(typed.contains_key(&parsed.0), "no TYPE for {l}");
            out.push(parsed);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (n, l, _) in &out {
        assert!(
            seen.insert(format!("{n}{l:?}")),
            "duplicate series {n}{l:?}"
        );
    }
    out
}

fn values<'a>(lines: &'a [Line], name: &str) -> Vec<&'a Line> {
    lines.iter().filter(|l| l.0 == name).collect()
}

#[test]
fn live_machine_exposes_node_exporter_core_set() {
    let a = agent();
    let text = a.render(Format::Text);
    let lines = check_text(&text);

    let ncpu = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    let cpu = values(&lines, "node_cpu_seconds_total");
    assert_eq!(cpu.len(), ncpu * 8, "one series per cpu × mode");
    assert!(cpu
        .iter()
        .any(|l| l.1.contains(&("mode".into(), "idle".into())) && l.2 > 0.0));

    let total = values(&lines, "node_memory_MemTotal_bytes");
    assert!(total.len() == 1 && total[0].2 > 0.0);
    let avail = values(&lines, "node_memory_MemAvailable_bytes");
    assert!(avail.len() == 1 && avail[0].2 > 0.0 && avail[0].2 <= total[0].2);
    assert_eq!(values(&lines, "node_load1").len(), 1);
    assert!(values(&lines, "node_boot_time_seconds")[0].2 > 1e9);

    let fs = values(&lines, "node_filesystem_size_bytes");
    println!(
        "filesystems: {:?}",
        fs.iter().map(|l| &l.1).collect::<Vec<_>>()
    );
    assert!(!fs.is_empty(), "at least one filesystem");
    assert!(fs.iter().all(|l| l.2 >= 0.0));
    if fs
        .iter()
        .any(|l| l.1.contains(&("mountpoint".into(), "/".into())))
    {
        println!("root filesystem present");
    }

    let lo = values(&lines, "node_network_receive_bytes_total");
    assert!(lo
        .iter()
        .any(|l| l.1 == vec![("device".to_string(), "lo".to_string())]));

    let diskstats = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    let devs: Vec<&str> = diskstats
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let kept: Vec<&&str> = devs.iter().filter(|d| !device_ignored(d)).collect();
    println!("diskstats devices: {devs:?}; kept by the filter: {kept:?}");
    let disk = values(&lines, "node_disk_reads_completed_total");
    if kept.is_empty() {
        assert!(
            disk.is_empty(),
            "no device passes the filter, so no node_disk_* series"
        );
    } else {
        assert_eq!(disk.len(), kept.len());
        assert_eq!(
            values(&lines, "node_disk_io_time_seconds_total").len(),
            kept.len()
        );
    }

    assert_eq!(values(&lines, "node_uname_info").len(), 1);
    assert_eq!(values(&lines, "argus_node_info").len(), 1);
    assert!(values(&lines, "argus_node_cpu_cores")[0].2 >= 1.0);
    let up = values(&lines, "argus_service_process_up");
    assert_eq!(up[0].2, 1.0, "this test binary matches its own service");
    let ranked = values(&lines, "argus_process_resident_memory_bytes");
    assert!(!ranked.is_empty() && ranked.len() <= 20);
    for l in values(&lines, "argus_agent_scrape_errors_total") {
        assert_eq!(l.2, 0.0, "collector {:?} failed on this machine", l.1);
    }
    println!("{} samples, {} bytes of text", lines.len(), text.len());
}

#[test]
fn live_openmetrics_output() {
    let om = agent().render(Format::OpenMetrics);
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE node_cpu_seconds counter\n"));
    assert!(om.contains("# TYPE node_uname info\n"));
    for l in om.lines().filter(|l| !l.starts_with('#')) {
        parse_line(l).unwrap_or_else(|e| panic!("line {l:?}: {e}"));
    }
}

fn thread_cpu_us() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Prints the cost of a gather + render; speed is judged in benchmarks, not here.
#[test]
fn measure_gather_and_render() {
    let a = agent();
    let mut out = String::new();
    a.render_into(Format::Text, &mut out); // warm-up: the first process table walk
    let n = 50;
    let (t, cpu) = (Instant::now(), thread_cpu_us());
    for _ in 0..n {
        a.render_into(Format::Text, &mut out);
    }
    let wall = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let cpu = (thread_cpu_us() - cpu) / n as f64;
    println!("gather+render: {wall:.0} µs wall, {cpu:.0} µs CPU per iteration ({} bytes; process table cached between refreshes)", out.len());
    for l in out
        .lines()
        .filter(|l| l.starts_with("argus_agent_scrape_duration_seconds{"))
    {
        println!("  {l}");
    }
}
