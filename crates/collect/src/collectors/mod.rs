//! Host collectors. Each reads a few kernel files into a reused buffer,
//! parses them by hand and appends [`MetricFamily`]s.
//!
//! A collector never panics on odd input: missing fields are skipped and
//! unreadable lines ignored; only a missing or unreadable main file is an
//! error, which the agent counts without failing the scrape.
//!
//! ```
//! use argus_collect::collectors::{cpu::CpuCollector, Collector};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("stat"), "cpu0 1 2 3 4 5 6 7 8 0 0\n").unwrap();
//! std::fs::write(dir.path().join("loadavg"), "0.5 0.4 0.3 1/100 42\n").unwrap();
//! let mut c = CpuCollector::new(dir.path());
//! let mut out = Vec::new();
//! c.collect(&mut out).unwrap();
//! assert!(out.iter().any(|f| f.name == "node_cpu_seconds_total"));
//! ```

pub mod cpu;
pub mod disk;
pub mod filesystem;
pub mod gpu;
pub mod inventory;
pub mod memory;
pub mod network;
pub mod pressure;
pub mod process;

use std::io::Read;
use std::path::Path;

use crate::expose::MetricFamily;
use crate::CollectError;

/// A source of metric families.
pub trait Collector: Send {
    /// The collector's name, used as the `collector` label of the agent's self metrics.
    fn name(&self) -> &'static str;
    /// Appends this collector's families to `out`.
    fn collect(&mut self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError>;
}

/// Reads the whole of `path` into `buf` (cleared first), reusing its capacity.
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> Result<(), CollectError> {
    buf.clear();
    let mut f = std::fs::File::open(path).map_err(|e| CollectError::io(path, e))?;
    f.read_to_end(buf).map_err(|e| CollectError::io(path, e))?;
    Ok(())
}

/// Like [`read_into`], but a missing file is `Ok(false)` instead of an error.
pub fn read_optional(path: &Path, buf: &mut Vec<u8>) -> Result<bool, CollectError> {
    match read_into(path, buf) {
        Ok(()) => Ok(true),
        Err(CollectError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Parses an unsigned decimal integer; `None` on anything else (empty, sign, overflow).
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// Parses a float (as written by the kernel, e.g. `0.52`).
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Splits on ASCII whitespace, skipping empty fields.
pub fn fields(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|c| c.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
}

/// Bytes as `&str`, lossy-free: invalid UTF-8 gives `None`.
pub fn as_str(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// Splits `buf` into lines.
pub fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    buf.split(|&c| c == b'\n').filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_parsing_rejects_junk() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
        assert_eq!(parse_f64(b"0.25"), Some(0.25));
        assert_eq!(parse_f64(b"x"), None);
        let v: Vec<&[u8]> = fields(b"  a  b\tc ").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn missing_file_is_optional() {
        let d = tempfile::tempdir().unwrap();
        let mut b = Vec::new();
        assert!(!read_optional(&d.path().join("nope"), &mut b).unwrap());
        assert!(read_into(&d.path().join("nope"), &mut b).is_err());
    }
}
