//! Helpers shared by the evaluator's unit tests.

use argus_model::Labels;

use crate::{Engine, EngineOptions, MemStorage};

/// An engine with the defaults changed by `f`.
pub(super) fn engine_with(f: impl FnOnce(&mut EngineOptions)) -> Engine {
    let mut o = EngineOptions::default();
    f(&mut o);
    Engine::new(o)
}

/// `n` series `m{i="…"}` with a sample every second from 0 for `points` seconds.
pub(super) fn store_of(n: usize, points: i64) -> MemStorage {
    let mut m = MemStorage::new();
    for i in 0..n {
        let l = Labels::from_pairs(&[("__name__", "m"), ("i", &i.to_string())]);
        for t in 0..points {
            m.add(&l, t * 1000, t as f64);
        }
    }
    m
}

/// Runs `f` on a thread with a tokio worker's stack (2 MiB).
pub(super) fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("no panic")
}
