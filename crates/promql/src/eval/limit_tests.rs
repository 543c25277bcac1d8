//! Tests of the evaluator's resource limits: subquery steps, samples and
//! memory held, deep trees on small stacks. Each query here allocated
//! gigabytes or overflowed the stack before the limits existed.

use super::tests_support::{engine_with, small_stack, store_of};
use crate::{Engine, EngineOptions, MemStorage, PromqlError, Value};

#[test]
fn a_subquery_of_billions_of_steps_is_refused_before_it_allocates() {
    let m = MemStorage::new();
    // 30 days at 1 ms: 2.6 billion steps, 21 GB of values.
    let err = Engine::new(EngineOptions::default())
        .instant_query(&m, "count_over_time(vector(1)[30d:1ms])", 30 * 86_400_000)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("subquery would evaluate 2592000000 steps"),
        "{msg}"
    );
    assert_eq!(err.http_status(), 422);
}

#[test]
fn subquery_points_count_against_max_samples() {
    let m = MemStorage::new();
    let e = engine_with(|o| {
        o.max_samples = 1000;
        o.max_subquery_points = 0;
    });
    // 3 days at 1 s: 259,200 points per series, within no subquery limit,
    // but far past 1000 samples held.
    let err = e
        .instant_query(&m, "count_over_time(vector(1)[3d:1s])", 3 * 86_400_000)
        .unwrap_err();
    assert_eq!(err, PromqlError::TooManySamples);
    // 600 points fit.
    let v = e
        .instant_query(&m, "count_over_time(vector(1)[10m:1s])", 3 * 86_400_000)
        .unwrap();
    let Value::Vector(v) = v else {
        panic!("vector")
    };
    assert_eq!(v[0].v, 600.0);
}

#[test]
fn output_points_count_against_max_samples() {
    // 20 series over 100 steps: 2,000 points produced, each series' raw data
    // small. A limit of 1,500 must refuse it; 5,000 must not.
    let m = store_of(20, 100);
    let q = "m * 2";
    let tight = engine_with(|o| o.max_samples = 1500);
    let err = tight.range_query(&m, q, 0, 99_000, 1000).unwrap_err();
    assert_eq!(err, PromqlError::TooManySamples);
    let loose = engine_with(|o| o.max_samples = 5000);
    assert!(loose.range_query(&m, q, 0, 99_000, 1000).is_ok());
}

#[test]
fn memory_is_limited_per_query() {
    let m = store_of(20, 100);
    let e = engine_with(|o| o.max_memory_bytes = 16 << 10);
    let err = e.range_query(&m, "m + m", 0, 99_000, 1000).unwrap_err();
    assert!(
        matches!(err, PromqlError::TooMuchMemory { limit } if limit == 16 << 10),
        "{err:?}"
    );
    assert_eq!(err.http_status(), 422);
    let e = engine_with(|o| o.max_memory_bytes = 1 << 20);
    assert!(e.range_query(&m, "m + m", 0, 99_000, 1000).is_ok());
}

#[test]
fn queries_share_the_pool_and_give_it_back_when_they_end() {
    let m = store_of(20, 100);
    let pool = crate::MemoryPool::new(1 << 20);
    let e = engine_with(|o| o.memory_pool = Some(pool.clone()));
    // Alone, the query fits the pool, and holds nothing once it ends.
    assert!(e.range_query(&m, "m + m", 0, 99_000, 1000).is_ok());
    assert_eq!(pool.used(), 0);
    // Another query holds most of the pool: this one is refused as busy
    // (retryable, 503), not as too large for its own limit.
    let mut other = pool.reservation();
    other.resize((1 << 20) - (8 << 10)).unwrap();
    let err = e.range_query(&m, "m + m", 0, 99_000, 1000).unwrap_err();
    assert!(
        matches!(err, PromqlError::Busy { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert_eq!((err.http_status(), err.is_retryable()), (503, true));
    assert_eq!(
        pool.used(),
        (1 << 20) - (8 << 10),
        "the refused query gave back its part"
    );
    // Once the other query ends, the same query runs again.
    drop(other);
    assert!(e.range_query(&m, "m + m", 0, 99_000, 1000).is_ok());
    assert_eq!(pool.used(), 0);
}

#[test]
fn a_range_query_past_11000_points_is_refused() {
    let m = MemStorage::new();
    let err = Engine::new(EngineOptions::default())
        .range_query(&m, "vector(1)", 0, 11_001_000, 1000)
        .unwrap_err();
    assert!(
        err.to_string().contains("exceeded maximum resolution"),
        "{err}"
    );
}

#[test]
fn a_deep_query_evaluates_on_a_small_stack() {
    // 256 levels: the most the default limits let through, evaluated on a
    // thread with a tokio worker's 2 MiB stack.
    let v = small_stack(|| {
        let m = MemStorage::new();
        let q = vec!["1"; 256].join(" + ");
        Engine::new(EngineOptions::default())
            .instant_query(&m, &q, 0)
            .unwrap()
    });
    let Value::Scalar { v, .. } = v else {
        panic!("scalar")
    };
    assert_eq!(v, 256.0);
}

#[test]
fn extreme_times_do_not_overflow() {
    let m = store_of(1, 10);
    let e = Engine::new(EngineOptions::default());
    for q in [
        "m offset -292y",
        "m @ 9223372036854.775",
        "max_over_time(m[5m] @ -9223372036854.775)",
        "max_over_time(m[10y:1y] offset 290y)",
    ] {
        // Any answer or a clean error, never a panic.
        let _ = e.instant_query(&m, q, i64::MAX / 2);
        let _ = e.instant_query(&m, q, i64::MIN / 2);
    }
}

#[test]
fn a_huge_offset_is_an_error_or_an_answer_never_a_panic() {
    let m = store_of(1, 10);
    let e = Engine::new(EngineOptions::default());
    for q in [
        "metric @ 100 offset 999999999999999999999999950",
        "metric offset 999999999999999999999999950s",
        "max_over_time(metric[999999999999999999999999950])",
        "metric offset Inf",
        "metric offset -NaN",
        "max_over_time(metric[1e400])",
        "max_over_time(metric[5m:1e30])",
        "metric offset 0x7fffffffffffffff",
    ] {
        let _ = e.instant_query(&m, q, 300_000);
        let _ = e.range_query(&m, q, 0, 600_000, 60_000);
    }
}
