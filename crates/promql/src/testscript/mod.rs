//! A runner for Prometheus's PromQL `.test` scripts (`FORMAT.md` in the
//! shared data directory): `load`, `clear`, `eval instant|range` with `expect`
//! lines and the legacy `eval_fail`/`eval_warn`/`eval_info`/`eval_ordered` forms.
//!
//! Values compare with Prometheus's `almost.Equal` and epsilon 1e-6 (relative
//! difference `|a-b| / (|a|+|b|) < 1e-6`; NaN equals NaN; near zero the
//! difference must be below `1e-6 * f64::MIN_POSITIVE`).
//!
//! Cases are counted per `eval` command. Skipped (never failed) are: every
//! case of `native_histograms.test`, cases whose expected result or input
//! series hold native histograms (`{{...}}`, `load_with_nhcb` conversions),
//! and expressions `promql-parser` cannot parse.
//!
//! ```
//! use argus_promql::testscript::run_script;
//! let r = run_script("demo.test", "load 1m\n  m 1 2\n\neval instant at 1m m * 2\n  {} 4\n");
//! assert_eq!((r.passed, r.failed, r.skipped), (1, 0, 0));
//! ```

pub mod parse;
pub mod run;

use std::path::Path;

use run::{Outcome, Runner};

/// The summary of one script.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// File name.
    pub name: String,
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases skipped (with reasons in `skips`).
    pub skipped: usize,
    /// `line: expr: reason` per failure.
    pub failures: Vec<String>,
    /// `line: expr: reason` per skip.
    pub skips: Vec<String>,
}

/// Runs a script given as text.
pub fn run_script(name: &str, text: &str) -> FileReport {
    let mut rep = FileReport {
        name: name.to_string(),
        ..FileReport::default()
    };
    let cmds = match parse::parse_script(text) {
        Ok(c) => c,
        Err(e) => {
            rep.failed = 1;
            rep.failures.push(format!("script does not parse: {e}"));
            return rep;
        }
    };
    let mut runner = Runner::new(name == "native_histograms.test");
    for c in &cmds {
        let Some(out) = runner.step(c) else { continue };
        let parse::Command::Eval(e) = c else { continue };
        match out {
            Outcome::Pass => rep.passed += 1,
            Outcome::Fail(m) => {
                rep.failed += 1;
                rep.failures
                    .push(format!("line {}: {}: {m}", e.line, e.expr));
            }
            Outcome::Skip(m) => {
                rep.skipped += 1;
                rep.skips.push(format!("line {}: {}: {m}", e.line, e.expr));
            }
        }
    }
    rep
}

/// Runs one script file.
pub fn run_file(path: &Path) -> std::io::Result<FileReport> {
    let text = std::fs::read_to_string(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(run_script(&name, &text))
}
