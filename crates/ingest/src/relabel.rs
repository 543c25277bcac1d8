//! Prometheus `relabel_configs` (and `metric_relabel_configs`).
//!
//! Semantics follow Prometheus (`model/relabel/relabel.go`):
//! - the values of `source_labels` are joined with `separator` (default `;`);
//!   a missing label contributes an empty string;
//! - `regex` (default `(.*)`) is anchored at both ends and `.` matches newlines;
//! - `replace` (the default action) does nothing when the regex does not
//!   match; otherwise it expands `target_label` and `replacement` (default
//!   `$1`; Go-style `$1`, `${1}`, `$name`, `${name}`, `$$`, where `$1x` names a
//!   group `1x`), skips an invalid expanded target name, and deletes the target
//!   when the result is empty;
//! - `keep`/`drop` keep or drop the whole label set on a regex match of the
//!   joined value; `keepequal`/`dropequal` compare it with `target_label`'s value;
//! - `hashmod` sets `target_label` to the MD5 of the joined value (last 8 bytes,
//!   big endian) modulo `modulus`, so shards agree with Prometheus;
//! - `labelmap` copies every label whose name matches to the expanded
//!   `replacement` name; `labeldrop`/`labelkeep` remove labels whose name
//!   matches / does not match;
//! - `lowercase`/`uppercase` set `target_label` to the joined value, case-mapped.
//!
//! ```
//! use argus_ingest::relabel::{relabel, RelabelConfig};
//! use argus_model::Labels;
//!
//! let cfgs: Vec<RelabelConfig> = serde_json::from_str(r#"[
//!   {"source_labels": ["__address__"], "regex": "(.*):\\d+", "target_label": "host"},
//!   {"source_labels": ["env"], "regex": "dev", "action": "drop"}
//! ]"#).unwrap();
//! for c in &cfgs { c.validate().unwrap(); }
//! let mut l = Labels::from_pairs(&[("__address__", "db1:9100"), ("env", "prod")]);
//! assert!(relabel(&mut l, &cfgs));
//! assert_eq!(l.get("host"), Some("db1"));
//! ```

use argus_model::{is_valid_label_name, Labels};
use serde::{Deserialize, Deserializer};

/// A relabeling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Sets `target_label` to the expanded `replacement` (the default).
    #[default]
    Replace,
    /// Drops the set unless the joined value matches.
    Keep,
    /// Drops the set when the joined value matches.
    Drop,
    /// Drops the set unless the joined value equals `target_label`'s value.
    KeepEqual,
    /// Drops the set when the joined value equals `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to a hash of the joined value modulo `modulus`.
    HashMod,
    /// Copies matching labels to new names.
    LabelMap,
    /// Removes labels whose name matches.
    LabelDrop,
    /// Removes labels whose name does not match.
    LabelKeep,
    /// Sets `target_label` to the lowercased joined value.
    Lowercase,
    /// Sets `target_label` to the uppercased joined value.
    Uppercase,
}

/// A compiled, fully anchored relabeling regex that remembers its source.
#[derive(Debug, Clone)]
pub struct RelabelRegex {
    source: String,
    re: regex::Regex,
}

impl RelabelRegex {
    /// Compiles `s` as `^(?s:s)$`.
    pub fn new(s: &str) -> Result<Self, regex::Error> {
        Ok(RelabelRegex {
            source: s.to_string(),
            re: regex::Regex::new(&format!("^(?s:{s})$"))?,
        })
    }

    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        // Invariant: "(.*)" is a valid pattern.
        RelabelRegex::new("(.*)").expect("the default relabel regex compiles")
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelabelRegex::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("invalid relabel regex {s:?}: {e}")))
    }
}

fn default_separator() -> String {
    ";".to_string()
}

fn default_replacement() -> String {
    "$1".to_string()
}

/// One relabeling step. Keys and defaults are Prometheus's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined to form the input. Default: none.
    #[serde(default)]
    pub source_labels: Vec<String>,
    /// Joins the source values. Default `;`.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Anchored regex matched against the joined value (or label names). Default `(.*)`.
    #[serde(default)]
    pub regex: RelabelRegex,
    /// Modulus for `hashmod`. Default 0 (invalid for `hashmod`).
    #[serde(default)]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`. Default empty.
    #[serde(default)]
    pub target_label: String,
    /// Template for `replace` and `labelmap`. Default `$1`.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// The action. Default `replace`.
    #[serde(default)]
    pub action: Action,
}

/// A relabel config that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relabel config (action {action:?}): {reason}")]
pub struct RelabelError {
    /// The action of the bad step.
    pub action: Action,
    /// What is wrong.
    pub reason: String,
}

impl RelabelConfig {
    /// Checks the combination of fields, as Prometheus does when loading.
    pub fn validate(&self) -> Result<(), RelabelError> {
        let bad = |reason: &str| {
            Err(RelabelError {
                action: self.action,
                reason: reason.to_string(),
            })
        };
        use Action::*;
        match self.action {
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual if self.target_label.is_empty() => {
                bad("target_label is required")
            }
            Replace
                if !self
                    .target_label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '{' | '}')) =>
            {
                bad("target_label must be a label name, optionally with $-references to regex groups")
            }
            HashMod | Lowercase | Uppercase | KeepEqual | DropEqual if !is_valid_label_name(&self.target_label) => {
                bad("target_label must be a valid label name")
            }
            HashMod if self.modulus == 0 => bad("modulus must be greater than 0"),
            LabelDrop | LabelKeep
                if !self.source_labels.is_empty()
                    || !self.target_label.is_empty()
                    || self.modulus != 0
                    || self.separator != ";"
                    || self.replacement != "$1" =>
            {
                bad("labeldrop and labelkeep take only 'regex'")
            }
            _ => Ok(()),
        }
    }
}

/// Applies `cfgs` in order to `labels`. Returns false when the set is dropped
/// (the labels are then in an unspecified state).
pub fn relabel(labels: &mut Labels, cfgs: &[RelabelConfig]) -> bool {
    cfgs.iter().all(|c| step(labels, c))
}

fn step(labels: &mut Labels, c: &RelabelConfig) -> bool {
    let mut val = String::new();
    for (i, s) in c.source_labels.iter().enumerate() {
        if i > 0 {
            val.push_str(&c.separator);
        }
        val.push_str(labels.get(s).unwrap_or(""));
    }
    let re = &c.regex.re;
    match c.action {
        Action::Drop => return !re.is_match(&val),
        Action::Keep => return re.is_match(&val),
        Action::DropEqual => return labels.get(&c.target_label).unwrap_or("") != val,
        Action::KeepEqual => return labels.get(&c.target_label).unwrap_or("") == val,
        Action::Replace => {
            let Some(caps) = re.captures(&val) else {
                return true;
            };
            let mut target = String::new();
            caps.expand(&c.target_label, &mut target);
            if !is_valid_label_name(&target) {
                return true;
            }
            let mut res = String::new();
            caps.expand(&c.replacement, &mut res);
            labels.set(&target, &res);
        }
        Action::Lowercase => labels.set(&c.target_label, &val.to_lowercase()),
        Action::Uppercase => labels.set(&c.target_label, &val.to_uppercase()),
        Action::HashMod => {
            let d = md5(val.as_bytes());
            let mut last = [0u8; 8];
            last.copy_from_slice(&d[8..]);
            let m = u64::from_be_bytes(last) % c.modulus.max(1);
            labels.set(&c.target_label, &m.to_string());
        }
        Action::LabelMap => {
            let snapshot: Vec<(String, String)> = labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            for (n, v) in snapshot {
                if let Some(caps) = re.captures(&n) {
                    let mut res = String::new();
                    caps.expand(&c.replacement, &mut res);
                    labels.set(&res, &v);
                }
            }
        }
        Action::LabelDrop | Action::LabelKeep => {
            let keep_on_match = c.action == Action::LabelKeep;
            let names: Vec<String> = labels.iter().map(|l| l.name.clone()).collect();
            for n in names {
                if re.is_match(&n) != keep_on_match {
                    labels.remove(&n);
                }
            }
        }
    }
    true
}

/// MD5 (RFC 1321), for `hashmod` compatibility with Prometheus.
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut msg = input.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for chunk in msg.chunks_exact(64) {
        let m: Vec<u32> = chunk
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (h[0], h[1], h[2], h[3]);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        h = [
            h[0].wrapping_add(a),
            h[1].wrapping_add(b),
            h[2].wrapping_add(c),
            h[3].wrapping_add(d),
        ];
    }
    let mut out = [0u8; 16];
    for (i, w) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_vectors() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(hex(md5(&[b'a'; 100])), "36a92cc94a9e0fa21f625f8bfb007adf");
    }
}
