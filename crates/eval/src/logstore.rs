//! `argus eval logstore`: what the log store costs on disk and how fast it answers.
//!
//! 1. **Bytes per line**: every `*.log` file under a directory (one system each, such as the
//!    Loghub samples) is stored as one stream and flushed into a chunk; its chunk bytes are set
//!    beside gzip (level 6) and zstd (level 3) of the raw file.
//! 2. **A day's search**: the lines of all files are replayed into one day of `lines_per_day`
//!    lines (each system a stream, its digits varied so repeats are not free), flushed into
//!    chunks, then a day's line search (`|= "<word>"`), a regular-expression search and an hourly
//!    `count_over_time` per system are timed, each the median of five runs.
//!
//! ```no_run
//! use argus_eval::logstore::{run_logstore, LogstoreOptions};
//! let opts = LogstoreOptions { dir: "../shared/data/logs".into(), lines_per_day: 1_000_000 };
//! run_logstore(&opts, &mut std::io::stdout()).unwrap();
//! ```

use crate::EvalError;
use argus_logs::logql::{self, Direction, Limits};
use argus_logs::record::LogRecord;
use argus_logs::store::{LogStore, StoreOptions};
use argus_model::{Labels, SplitMix64};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct LogstoreOptions {
    /// A directory searched (one level of sub-directories too) for `*.log` files.
    pub dir: PathBuf,
    /// Lines in the replayed day.
    pub lines_per_day: usize,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> EvalError {
    move |source| EvalError::Io { what, source }
}

fn log_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, EvalError> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        dirs.extend(
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir()),
        );
    }
    for d in dirs {
        let rd = std::fs::read_dir(&d).map_err(io(format!("reading {}", d.display())))?;
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "log") {
                let name = p.file_stem().and_then(|s| s.to_str()).unwrap_or("log");
                let system = name.split('_').next().unwrap_or(name).to_string();
                out.push((system, p));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(EvalError::Input(format!(
            "no *.log files in {}",
            dir.display()
        )));
    }
    Ok(out)
}

fn store_error(e: impl std::fmt::Display) -> EvalError {
    EvalError::Input(format!("the log store failed: {e}"))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn gzip_len(raw: &[u8]) -> u64 {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    let _ = enc.write_all(raw);
    enc.finish().map_or(0, |v| v.len() as u64)
}

fn zstd_len(raw: &[u8]) -> u64 {
    zstd::bulk::compress(raw, 3).map_or(0, |v| v.len() as u64)
}

const NOW: i64 = 1_800_000_000_000_000_000;
const DAY: i64 = 86_400_000_000_000;

fn options() -> StoreOptions {
    StoreOptions {
        head_max_bytes: usize::MAX,
        max_read_lines: usize::MAX,
        ..StoreOptions::default()
    }
}

/// Runs both measurements and writes a report to `out`.
pub fn run_logstore(opts: &LogstoreOptions, out: &mut dyn Write) -> Result<(), EvalError> {
    let files = log_files(&opts.dir)?;
    let w = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(io("writing the report".into()))
    };
    w(
        out,
        "system      lines  raw B/line  store B/line  gzip-6 B/line  zstd-3 B/line\n".into(),
    )?;
    let mut systems = Vec::new();
    let (mut t_lines, mut t_raw, mut t_store, mut t_gz, mut t_zs) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (system, path) in &files {
        let raw = std::fs::read(path).map_err(io(format!("reading {}", path.display())))?;
        let text = String::from_utf8_lossy(&raw);
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let tmp = tempdir()?;
        let (store, _) = LogStore::open(tmp.path(), options()).map_err(store_error)?;
        let labels = Labels::from_pairs(&[("system", system.as_str())]);
        let start = NOW - DAY;
        let step = DAY / lines.len().max(1) as i64;
        let recs = lines
            .iter()
            .enumerate()
            .map(|(i, l)| LogRecord::new(labels.clone(), start + i as i64 * step, l.clone()))
            .collect();
        store.append(recs, NOW).map_err(store_error)?;
        store.flush().map_err(store_error)?;
        let bytes = dir_bytes(&tmp.path().join("chunks"));
        let n = lines.len() as u64;
        let (gz, zs) = (gzip_len(&raw), zstd_len(&raw));
        w(
            out,
            format!(
                "{system:<10} {n:>6} {:>11.1} {:>13.1} {:>14.1} {:>14.1}\n",
                raw.len() as f64 / n as f64,
                bytes as f64 / n as f64,
                gz as f64 / n as f64,
                zs as f64 / n as f64
            ),
        )?;
        t_lines += n;
        t_raw += raw.len() as u64;
        t_store += bytes;
        t_gz += gz;
        t_zs += zs;
        systems.push((system.clone(), lines));
    }
    let per = |b: u64| b as f64 / t_lines as f64;
    w(
        out,
        format!(
            "{:<10} {t_lines:>6} {:>11.1} {:>13.1} {:>14.1} {:>14.1}\n\n",
            "all",
            per(t_raw),
            per(t_store),
            per(t_gz),
            per(t_zs)
        ),
    )?;
    day_search(&systems, opts.lines_per_day, out)
}

fn tempdir() -> Result<tempfile::TempDir, EvalError> {
    tempfile::tempdir().map_err(io("creating a temporary directory".into()))
}

/// Replaces each digit with another at random: the same shapes, other values.
fn vary(line: &str, rng: &mut SplitMix64) -> String {
    line.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from(b'0' + (rng.next_u64() % 10) as u8)
            } else {
                c
            }
        })
        .collect()
}

fn day_search(
    systems: &[(String, Vec<String>)],
    per_day: usize,
    out: &mut dyn Write,
) -> Result<(), EvalError> {
    let tmp = tempdir()?;
    let opts = StoreOptions {
        head_max_bytes: 64 << 20,
        ..options()
    };
    let (store, _) = LogStore::open(tmp.path(), opts).map_err(store_error)?;
    let mut rng = SplitMix64::new(7);
    let step = DAY / per_day.max(1) as i64;
    let labels: Vec<Labels> = systems
        .iter()
        .map(|(s, _)| Labels::from_pairs(&[("system", s.as_str())]))
        .collect();
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..per_day {
        let s = i % systems.len();
        let lines = &systems[s].1;
        let line = &lines[(i / systems.len()) % lines.len()];
        batch.push(LogRecord::new(
            labels[s].clone(),
            NOW - DAY + i as i64 * step,
            vary(line, &mut rng),
        ));
        if batch.len() == 10_000 {
            store
                .append(std::mem::take(&mut batch), NOW)
                .map_err(store_error)?;
            store.maintain(NOW).map_err(store_error)?;
        }
    }
    store.append(batch, NOW).map_err(store_error)?;
    store.flush().map_err(store_error)?;
    let ingest = t0.elapsed();
    let st = store.stats();
    let writeln = |out: &mut dyn Write, s: String| {
        out.write_all(s.as_bytes())
            .map_err(io("writing the report".into()))
    };
    writeln(
        out,
        format!(
            "A day of {per_day} lines in {} streams: stored in {:.2} s ({:.0} lines/s, one thread), {} chunks, {:.1} bytes per line on disk\n",
            systems.len(),
            ingest.as_secs_f64(),
            per_day as f64 / ingest.as_secs_f64(),
            st.chunks,
            st.chunk_bytes as f64 / per_day as f64
        ),
    )?;
    let queries = [
        (
            "line search, one system, a day",
            r#"{system="BGL"} |= "error""#,
            false,
        ),
        (
            "regex search, all systems, a day",
            r#"{system=~".+"} |~ "(?i)fail(ed|ure)""#,
            false,
        ),
        (
            "hourly counts per system, a day",
            r#"sum by (system) (count_over_time({system=~".+"} [1h]))"#,
            true,
        ),
    ];
    for (what, q, metric) in queries {
        let parsed = logql::parse(q).map_err(|e| EvalError::Input(format!("{q}: {e}")))?;
        let mut times = Vec::new();
        let mut answer = String::new();
        for _ in 0..5 {
            let t = Instant::now();
            let v = logql::query_range(
                &store,
                &parsed,
                NOW - DAY,
                NOW,
                if metric { 3_600_000_000_000 } else { 0 },
                100,
                Direction::Backward,
                &Limits {
                    max_lines_scanned: usize::MAX,
                    ..Limits::default()
                },
            )
            .map_err(|e| EvalError::Input(format!("{q}: {e}")))?;
            times.push(t.elapsed());
            let r = v["data"]["result"].as_array().map_or(0, Vec::len);
            answer = format!("{r} {}", if metric { "series" } else { "streams" });
        }
        times.sort();
        writeln(
            out,
            format!(
                "{what:<36} {:>8.1} ms  ({answer})  {q}\n",
                ms(times[times.len() / 2])
            ),
        )?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_reports_every_system_and_every_query() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("Web")).unwrap();
        let lines: String = (0..300)
            .map(|i| format!("GET /item/{i} 200 {} ms error={}\n", i % 17, i % 2))
            .collect();
        std::fs::write(dir.path().join("Web/Web_2k.log"), lines).unwrap();
        std::fs::write(
            dir.path().join("BGL_2k.log"),
            "RAS KERNEL INFO error 1\n".repeat(50),
        )
        .unwrap();
        let mut out = Vec::new();
        run_logstore(
            &LogstoreOptions {
                dir: dir.path().to_path_buf(),
                lines_per_day: 5_000,
            },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\nWeb           300"), "{text}");
        assert!(text.contains("\nBGL            50"), "{text}");
        assert!(text.contains("A day of 5000 lines in 2 streams"), "{text}");
        assert!(text.contains("(1 streams)  {system=\"BGL\"}"), "{text}");
        assert!(text.contains("(2 series)"), "{text}");
        assert!(run_logstore(
            &LogstoreOptions {
                dir: dir.path().join("none"),
                lines_per_day: 10
            },
            &mut Vec::new()
        )
        .is_err());
    }
}
