//! The server's lifecycle: the parts it starts ([`Component`]s), stopped in
//! reverse order from one place ([`Components::stop`]), and the ordered
//! configuration reload ([`reload`]).
//!
//! The composition root (`crate::compose`) starts the parts one after the
//! other, each from its own configuration section, and pushes each onto a
//! [`Components`] stack as soon as it runs. A start-up failure and a normal
//! shutdown end the same way: the stack is stopped, last started first, so
//! the store (started first) closes last.
//!
//! ```
//! # async fn f() {
//! use argus_server::lifecycle::{Components, Part};
//! let mut up = Components::default();
//! up.push(Part::new("first").on_stop(async { println!("stopped second") }));
//! up.push(Part::new("second").on_stop(async { println!("stopped first") }));
//! assert_eq!(up.names(), ["first", "second"]);
//! up.stop().await;
//! # }
//! ```

pub mod reload;

pub use reload::{Prepared, ReloadError, ReloadService, ReloadStatus, Reloader, SectionError};

pub use argus_web::parts::{Component, Components, Part, StopFuture};
