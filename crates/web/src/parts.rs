//! The parts a server starts ([`Component`]s), stopped in reverse order from
//! one place ([`Components::stop`]).
//!
//! A composition root starts the parts one after the other, each from its own
//! configuration section, and pushes each onto a [`Components`] stack as soon
//! as it runs. A start-up failure and a normal shutdown end the same way: the
//! stack is stopped, last started first, so the store (started first) closes
//! last.
//!
//! ```
//! # async fn f() {
//! use argus_web::parts::{Components, Part};
//! let mut up = Components::default();
//! up.push(Part::new("first").on_stop(async { println!("stopped second") }));
//! up.push(Part::new("second").on_stop(async { println!("stopped first") }));
//! assert_eq!(up.names(), ["first", "second"]);
//! up.stop().await;
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;

/// A future that stops a component.
pub type StopFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A started part of the server.
pub trait Component: Send {
    /// The name in logs (`"store"`, `"rules"`...).
    fn name(&self) -> &'static str;

    /// The HTTP routes it serves, merged into the server's router.
    fn routes(&self) -> Option<axum::Router> {
        None
    }

    /// Stops it and waits until it has stopped.
    fn stop(self: Box<Self>) -> StopFuture;
}

/// A [`Component`] made of a name, optional routes and a stop future.
pub struct Part {
    name: &'static str,
    routes: Option<axum::Router>,
    stop: Option<StopFuture>,
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Part").field("name", &self.name).finish()
    }
}

impl Part {
    /// A part that needs nothing to stop.
    pub fn new(name: &'static str) -> Part {
        Part {
            name,
            routes: None,
            stop: None,
        }
    }

    /// Serves `routes`.
    pub fn routes(mut self, routes: axum::Router) -> Part {
        self.routes = Some(routes);
        self
    }

    /// Runs `stop` to stop it.
    pub fn on_stop(mut self, stop: impl Future<Output = ()> + Send + 'static) -> Part {
        self.stop = Some(Box::pin(stop));
        self
    }

    /// A background task stopped by aborting it; waits until it has ended.
    pub fn task(name: &'static str, task: tokio::task::JoinHandle<()>) -> Part {
        Part::new(name).on_stop(async move {
            task.abort();
            let _ = task.await;
        })
    }

    /// A background task stopped by `stop` (it finishes the work in
    /// progress, a commit say, and returns); waits until it has ended.
    pub fn signalled_task(
        name: &'static str,
        stop: tokio::sync::watch::Sender<bool>,
        task: tokio::task::JoinHandle<()>,
    ) -> Part {
        Part::new(name).on_stop(async move {
            let _ = stop.send(true);
            if let Err(e) = task.await {
                tracing::error!(component = name, error = %e, "A background task ended abnormally.");
            }
        })
    }
}

impl Component for Part {
    fn name(&self) -> &'static str {
        self.name
    }

    fn routes(&self) -> Option<axum::Router> {
        self.routes.clone()
    }

    fn stop(self: Box<Self>) -> StopFuture {
        self.stop.unwrap_or_else(|| Box::pin(async {}))
    }
}

/// The started components, in start order.
#[derive(Default)]
pub struct Components(Vec<Box<dyn Component>>);

impl std::fmt::Debug for Components {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Components {
    /// Records a component that has started.
    pub fn push(&mut self, c: impl Component + 'static) {
        tracing::debug!(component = c.name(), "Started.");
        self.0.push(Box::new(c));
    }

    /// The names, in start order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.name()).collect()
    }

    /// Every component's routes, merged.
    pub fn routes(&self) -> axum::Router {
        self.0
            .iter()
            .filter_map(|c| c.routes())
            .fold(axum::Router::new(), axum::Router::merge)
    }

    /// Stops every component, the last started first.
    pub async fn stop(self) {
        for c in self.0.into_iter().rev() {
            let name = c.name();
            tracing::debug!(component = name, "Stopping.");
            c.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn components_stop_in_reverse_order_and_merge_routes() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut up = Components::default();
        for name in ["store", "rules", "http"] {
            let o = order.clone();
            up.push(Part::new(name).on_stop(async move { o.lock().unwrap().push(name) }));
        }
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let _ = rx.wait_for(|s| *s).await;
        });
        up.push(Part::signalled_task("loop", tx, task));
        let forever = tokio::spawn(std::future::pending::<()>());
        up.push(Part::task("forever", forever));
        up.push(
            Part::new("api")
                .routes(axum::Router::new().route("/x", axum::routing::get(|| async { "x" }))),
        );
        assert_eq!(
            up.names(),
            ["store", "rules", "http", "loop", "forever", "api"]
        );
        let _router = up.routes();
        up.stop().await;
        assert_eq!(*order.lock().unwrap(), ["http", "rules", "store"]);
    }
}
