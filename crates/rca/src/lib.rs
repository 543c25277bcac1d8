//! Root-cause localisation.
//!
//! - [`md`]: multi-dimensional localisation. A KPI that adds up over
//!   dimensions (business volume by center, cluster, process, ip) deviates
//!   from its expectation; which dimension-value combinations explain it?
//! - [`topology`]: which service of a system of services (and which of its
//!   metrics) most likely caused an incident, from the metrics around its
//!   start, a normal period and the call graph when there is one.
//!
//! This crate knows nothing of the rules engine, the alert pipeline or the
//! incidents: the server reads the data from the store and hands it here.
//!
//! ```
//! use argus_rca::md::{localize, Leaf, Settings};
//!
//! // Two dimensions; the leaves of center c2 dropped by half.
//! let mut leaves = Vec::new();
//! for c in ["c1", "c2", "c3"] {
//!     for p in ["p1", "p2", "p3", "p4"] {
//!         let expected = 100.0;
//!         let actual = if c == "c2" { 50.0 } else { 100.0 + if p == "p1" { 1.0 } else { -1.0 } };
//!         leaves.push(Leaf::new(vec![c.into(), p.into()], actual, expected));
//!     }
//! }
//! let found = localize(&["center".into(), "process".into()], &leaves, &Settings::default()).unwrap();
//! assert_eq!(found.to_string(), "center=c2");
//! ```

#![warn(missing_docs)]

pub mod md;
pub mod topology;
