//! Argus's PromQL engine: Prometheus 3.x float semantics over the store's
//! [`Querier`](argus_tsdb::Querier), parsed by the `promql-parser` crate, plus a
//! runner for Prometheus's own `.test` scripts ([`testscript`]).
//!
//! ```
//! use argus_model::Labels;
//! use argus_promql::{Engine, EngineOptions, MemStorage, Value};
//!
//! let mut store = MemStorage::new();
//! let l = Labels::from_pairs(&[("__name__", "up"), ("job", "api")]);
//! store.add(&l, 0, 1.0);
//! let engine = Engine::new(EngineOptions::default());
//! let v = engine.instant_query(&store, "sum by (job) (up)", 60_000).unwrap();
//! let Value::Vector(v) = v else { panic!("vector expected") };
//! assert_eq!(v[0].v, 1.0);
//! ```
//!
//! Range queries select each selector's data once for the whole range and step
//! through it with moving indices; every expression is evaluated once over the
//! whole step grid.

#![warn(missing_docs)]

mod engine;
mod error;
mod eval;
mod locate;
mod memory;
mod parse;
mod selector;
mod storage;
pub mod testscript;
mod value;

pub use engine::{
    Engine, EngineOptions, QueryRequest, QueryResult, DEFAULT_MAX_MEMORY_BYTES,
    DEFAULT_MAX_SUBQUERY_POINTS, MAX_POINTS,
};
pub use error::PromqlError;
pub use eval::util::almost_equal;
pub use eval::Annotations;
pub use memory::{MemoryPool, Reservation};
pub use parse::{
    parse, tree_depth, with_stack, ParseLimits, DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH,
};
pub use selector::{parse_selector, Selector, SelectorError};
pub use storage::MemStorage;
pub use value::{Series, Value, VectorSample};
