//! Sizes in bytes as configuration files write them.
//!
//! ```
//! use argus_model::size::ByteSize;
//! assert_eq!("2KiB".parse::<ByteSize>().unwrap(), ByteSize(2048));
//! assert_eq!("1.5MB".parse::<ByteSize>().unwrap(), ByteSize(1_500_000));
//! let e = "2 parsecs".parse::<ByteSize>().unwrap_err();
//! assert!(e.to_string().contains("unknown unit"));
//! ```

use serde::Deserialize;

/// A byte count: a number of bytes or a number with a unit (`B`, `KB`, `MB`,
/// `GB`, `TB`, `KiB`, `MiB`, `GiB`, `TiB`), as Prometheus's
/// `body_size_limit`: `512MiB`, `10GB`, `1024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub u64);

/// A size that is not a number followed by a known unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size {text:?}: {why}")]
pub struct SizeError {
    /// The text as written.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

impl std::str::FromStr for ByteSize {
    type Err = SizeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num.parse().map_err(|_| SizeError {
            text: s.to_string(),
            why: "expected a number and a unit like 10GB".to_string(),
        })?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            u => {
                return Err(SizeError {
                    text: s.to_string(),
                    why: format!("unknown unit {u:?}"),
                })
            }
        };
        Ok(ByteSize((n * mult as f64) as u64))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}
