//! Multi-dimensional localisation: which dimension-value combinations
//! explain a KPI's deviation.
//!
//! A KPI that adds up (business volume, request count) is recorded per leaf:
//! one value of every dimension (center, cluster, process, ip). Each leaf has
//! an actual value and an expected one (a forecast or a baseline). When the
//! total deviates, [`localize`] names the smallest set of *elements* (a
//! conjunction of `dimension=value` parts, such as `center=c3&process=p7`)
//! whose leaves explain the deviation, each with its share.
//!
//! How it works: every leaf gets a relative deviation
//! `2(actual − expected)/(|actual| + |expected|)`. The forecast noise of the
//! normal leaves is estimated robustly (median absolute deviation, per
//! magnitude band, so that small leaves may be noisier than large ones).
//! The search then fits a sparse model: each chosen element shifts the
//! deviation of all its leaves by one common amount (a fault that hits an
//! element moves all its leaves alike). Elements are added greedily, the one
//! that explains the most squared deviation (in units of noise) first, as
//! long as that gain beats a penalty that grows with how many elements of
//! that size could have been chosen by chance. A parent that mixes faulty
//! and healthy leaves explains less than the faulty element itself, and a
//! set of children explains no more than their parent while paying more
//! penalties, so the smallest exact description wins.
//!
//! ```
//! use argus_rca::md::{localize, Leaf, Settings};
//!
//! let dims = vec!["center".to_string(), "ip".to_string()];
//! let mut leaves = Vec::new();
//! for c in 0..4 {
//!     for ip in 0..20 {
//!         let expected = 50.0 + ip as f64;
//!         // center c1 and ip 7 of center c3 lost most of their traffic
//!         let hit = c == 1 || (c == 3 && ip == 7);
//!         let noise = if (c + ip) % 2 == 0 { 1.01 } else { 0.99 };
//!         let actual = if hit { expected * 0.3 } else { expected * noise };
//!         leaves.push(Leaf::new(vec![format!("c{c}"), format!("ip{ip}")], actual, expected));
//!     }
//! }
//! let found = localize(&dims, &leaves, &Settings::default()).unwrap();
//! let mut names: Vec<String> = found.causes.iter().map(|c| c.element.to_string()).collect();
//! names.sort();
//! assert_eq!(names, ["center=c1", "center=c3&ip=ip7"]);
//! ```

mod csv;
mod noise;
mod search;
#[cfg(test)]
mod tests;

pub use csv::{parse_case, Case};
pub use search::localize;

use serde::Serialize;
use std::fmt;

/// One leaf: a value of every dimension, and its actual and expected values.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// One value per dimension, in the dimensions' order.
    pub values: Vec<String>,
    /// What was observed.
    pub actual: f64,
    /// What was expected.
    pub expected: f64,
}

impl Leaf {
    /// A leaf.
    pub fn new(values: Vec<String>, actual: f64, expected: f64) -> Leaf {
        Leaf {
            values,
            actual,
            expected,
        }
    }
}

/// A conjunction of `dimension=value` parts, sorted by dimension name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Element {
    /// The parts, `(dimension, value)`.
    pub parts: Vec<(String, String)>,
}

impl Element {
    /// An element from its parts (sorted here).
    pub fn new(mut parts: Vec<(String, String)>) -> Element {
        parts.sort();
        Element { parts }
    }

    /// Parses `a=a1&b=b3` (and `*`, every leaf).
    pub fn parse(s: &str) -> Result<Element, MdError> {
        if s.trim() == "*" {
            return Ok(Element { parts: Vec::new() });
        }
        let mut parts = Vec::new();
        for p in s.split('&') {
            let (d, v) = p
                .split_once('=')
                .ok_or_else(|| MdError::Element(s.to_string()))?;
            if d.is_empty() {
                return Err(MdError::Element(s.to_string()));
            }
            parts.push((d.trim().to_string(), v.trim().to_string()));
        }
        Ok(Element::new(parts))
    }
}

impl fmt::Display for Element {
    /// `a=a1&b=b3`; `*` for the element of no parts (every leaf).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parts.is_empty() {
            return f.write_str("*");
        }
        for (i, (d, v)) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{d}={v}")?;
        }
        Ok(())
    }
}

/// One element of the answer, with what it explains.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cause {
    /// The element.
    pub element: Element,
    /// The sum of its leaves' actual values.
    pub actual: f64,
    /// The sum of its leaves' expected values.
    pub expected: f64,
    /// Its share of the total deviation (`actual − expected` over the
    /// total's); may exceed 1 when other leaves moved the other way.
    pub share: f64,
    /// Its leaves' common relative change (`actual/expected − 1`).
    pub change: f64,
    /// How many leaves it covers.
    pub leaves: usize,
}

/// The answer: the elements that explain the deviation, largest share first.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Found {
    /// The causes; empty when nothing stands out from the noise.
    pub causes: Vec<Cause>,
    /// The total actual value.
    pub total_actual: f64,
    /// The total expected value.
    pub total_expected: f64,
    /// The estimated relative forecast noise of the normal leaves.
    pub noise: f64,
}

impl fmt::Display for Found {
    /// `a=a1&b=b3;c=c2`: the notation of root-cause sets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.causes.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{}", c.element)?;
        }
        Ok(())
    }
}

/// How the search runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The most parts an element may have (0: as many as there are
    /// dimensions).
    pub max_layer: usize,
    /// The most elements in an answer.
    pub max_causes: usize,
    /// What each element pays to be chosen, beyond what the number of
    /// elements that could have been chosen costs (in units of
    /// log-likelihood); higher finds fewer, surer elements.
    pub penalty: f64,
    /// The smallest relative shift an element must show to be named (the
    /// search also ignores shifts under half the typical leaf's noise).
    pub min_change: f64,
    /// A floor on the estimated relative noise, so that a perfect forecast
    /// does not turn every rounding difference into a cause.
    pub min_noise: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_layer: 0,
            max_causes: 20,
            penalty: 6.0,
            min_change: 0.01,
            min_noise: 0.002,
        }
    }
}

/// Why a case cannot be localised.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MdError {
    /// No dimension given.
    #[error("no dimensions: a case needs at least one dimension column besides the values")]
    NoDimensions,
    /// More dimensions than the search takes.
    #[error("{got} dimensions: at most {} are searched", search::MAX_DIMS)]
    TooManyDimensions {
        /// How many there were.
        got: usize,
    },
    /// A leaf's number of values differs from the number of dimensions.
    #[error("leaf {leaf} has {got} values for {want} dimensions")]
    Arity {
        /// The leaf's index.
        leaf: usize,
        /// Its number of values.
        got: usize,
        /// The number of dimensions.
        want: usize,
    },
    /// A leaf's number is not finite.
    #[error("leaf {leaf}: {what} is not a finite number")]
    NotFinite {
        /// The leaf's index.
        leaf: usize,
        /// `actual` or `expected`.
        what: &'static str,
    },
    /// A malformed element.
    #[error("malformed element {0:?}: expected dimension=value parts joined by '&'")]
    Element(String),
    /// Bad CSV input.
    #[error("line {line}: {message}")]
    Csv {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}
