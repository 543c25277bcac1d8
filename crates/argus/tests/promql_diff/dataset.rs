//! The differential test's data set: about 57 series over 2.5 hours at 15 s, each kind of
//! series a PromQL function or operator needs (counters with resets, gauges, histograms, stale
//! markers, series starting late, a series exactly on the grid).

use super::{POINTS, STALE_NAN_BITS, STEP_MS};

/// One series: (label pairs, samples).
pub type SeriesData = (Vec<(&'static str, String)>, Vec<(i64, f64)>);

fn l(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

/// The data set: `t0` is a whole minute; sample k of series i is at `t0 + k*15s + 1234ms + 37ms*i`
/// (except `boundary_gauge`, exactly on the 15 s grid).
pub fn dataset(t0: i64) -> Vec<SeriesData> {
    let mut out: Vec<SeriesData> = Vec::new();
    let mut rng = argus_model::SplitMix64::new(42);
    let targets = [
        ("api", "a:80"),
        ("api", "b:80"),
        ("api", "c:80"),
        ("web", "a:80"),
        ("web", "b:80"),
    ];
    // Counters; b:80 resets twice.
    for (ti, (job, inst)) in targets.iter().enumerate() {
        for method in ["get", "post"] {
            let mut v = (rng.below(1000) * 10 + ti as u64) as f64;
            let mut s = Vec::new();
            for k in 0..=POINTS {
                if *inst == "b:80" && (k == 200 || k == 450) {
                    v = rng.below(5) as f64;
                } else {
                    // The fraction is unique per series, so no two rates tie (topk, sort).
                    let frac = (2 * ti + usize::from(method == "post") + 1) as f64 * 1e-4;
                    v += (rng.below(20) + if method == "get" { 7 } else { 1 }) as f64 + frac;
                }
                s.push((k, v));
            }
            out.push((
                l(&[
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", inst),
                    ("method", method),
                ]),
                s,
            ));
        }
    }
    // Decimal gauges, made distinct per series by the third decimal (no ties for topk/sort).
    for (ti, (job, inst)) in targets.iter().enumerate() {
        let s = (0..=POINTS)
            .map(|k| {
                let base = 40.0 + 8.0 * ((k as f64) / 25.0 + ti as f64).sin() + rng.unit() * 0.5;
                (k, (base * 100.0).round() / 100.0 + ti as f64 * 0.001)
            })
            .collect();
        out.push((
            l(&[
                ("__name__", "cpu_temp_celsius"),
                ("job", job),
                ("instance", inst),
            ]),
            s,
        ));
    }
    // Gauges around zero: (3n + j) / 10, so only account x reaches exactly 0 and no two are equal.
    for (j, acct) in ["x", "y", "z"].iter().enumerate() {
        let mut n: i64 = [-1, 0, 2][j];
        let s = (0..=POINTS)
            .map(|k| {
                n += rng.below(5) as i64 - 2;
                (k, (3 * n + j as i64) as f64 / 10.0)
            })
            .collect();
        out.push((l(&[("__name__", "balance"), ("account", acct)]), s));
    }
    // Gauges with gaps longer than the 5 minute lookback.
    for (inst, gap) in [("w1", 100..140), ("w2", 300..330)] {
        let s = (0..=POINTS)
            .filter(|k| !gap.contains(k))
            .map(|k| (k, rng.below(11) as f64))
            .collect();
        out.push((
            l(&[
                ("__name__", "queue_depth"),
                ("job", "worker"),
                ("instance", inst),
            ]),
            s,
        ));
    }
    // A series that just ends, one that ends with a stale marker, one that starts late.
    out.push((
        l(&[("__name__", "ephemeral_gauge"), ("job", "batch")]),
        (0..=400).map(|k| (k, k as f64 * 0.5)).collect(),
    ));
    let mut st: Vec<(i64, f64)> = (0..=380).map(|k| (k, 100.0 - k as f64 * 0.25)).collect();
    st.push((381, f64::from_bits(STALE_NAN_BITS)));
    out.push((l(&[("__name__", "stale_gauge"), ("job", "batch")]), st));
    out.push((
        l(&[("__name__", "late_counter_total"), ("job", "batch")]),
        (200..=POINTS)
            .map(|k| (k, ((k - 200) * 3) as f64 + rng.below(3) as f64))
            .collect(),
    ));
    // A classic histogram with _sum and _count.
    let les = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, f64::INFINITY];
    let le_s = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for inst in ["a:80", "b:80"] {
        // A long-running process: the buckets start well above zero.
        let mut counts = [0u64; 7];
        for c in counts.iter_mut() {
            *c = 5000;
        }
        let mut sum = 2000.0;
        let mut per_bucket: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 7];
        let mut sums = Vec::new();
        for k in 0..=POINTS {
            for _ in 0..(5 + rng.below(11)) {
                let x = rng.unit().powi(2) * if inst == "a:80" { 1.5 } else { 3.0 };
                sum += x;
                for (b, le) in les.iter().enumerate() {
                    if x <= *le {
                        counts[b] += 1;
                    }
                }
            }
            for b in 0..7 {
                per_bucket[b].push((k, counts[b] as f64));
            }
            sums.push((k, (sum * 1000.0).round() / 1000.0));
        }
        for b in 0..7 {
            out.push((
                l(&[
                    ("__name__", "request_duration_seconds_bucket"),
                    ("job", "api"),
                    ("instance", inst),
                    ("le", le_s[b]),
                ]),
                per_bucket[b].clone(),
            ));
        }
        out.push((
            l(&[
                ("__name__", "request_duration_seconds_count"),
                ("job", "api"),
                ("instance", inst),
            ]),
            per_bucket[6].clone(),
        ));
        out.push((
            l(&[
                ("__name__", "request_duration_seconds_sum"),
                ("job", "api"),
                ("instance", inst),
            ]),
            sums,
        ));
    }
    // Info metric and up.
    for (job, inst) in targets {
        let version = if inst == "a:80" { "1.0" } else { "1.1" };
        out.push((
            l(&[
                ("__name__", "build_info"),
                ("job", job),
                ("instance", inst),
                ("version", version),
            ]),
            (0..=POINTS).map(|k| (k, 1.0)).collect(),
        ));
        out.push((
            l(&[("__name__", "up"), ("job", job), ("instance", inst)]),
            (0..=POINTS)
                .map(|k| {
                    let down = inst == "c:80" && (250..300).contains(&k)
                        || (job, inst) == ("web", "b:80") && k % 97 == 0;
                    (k, if down { 0.0 } else { 1.0 })
                })
                .collect(),
        ));
    }
    // NaN and infinities.
    let cycle = [1.0, f64::NAN, -2.0, f64::INFINITY, 3.0, f64::NEG_INFINITY];
    for (kind, f) in [
        ("nan", Box::new(|_| f64::NAN) as Box<dyn Fn(i64) -> f64>),
        ("inf", Box::new(|_| f64::INFINITY)),
        ("ninf", Box::new(|_| f64::NEG_INFINITY)),
        ("mixed", Box::new(move |k| cycle[(k % 6) as usize])),
    ] {
        out.push((
            l(&[("__name__", "weird_gauge"), ("kind", kind)]),
            (0..=POINTS).map(|k| (k, f(k))).collect(),
        ));
    }
    out.push((
        l(&[("__name__", "zero_gauge"), ("job", "api")]),
        (0..=POINTS).map(|k| (k, 0.0)).collect(),
    ));
    // Apply the timestamps: k -> t0 + k*15s + per-series offset.
    let n = out.len();
    for (i, (labels, samples)) in out.iter_mut().enumerate() {
        let off = 1234 + 37 * i as i64;
        assert!(off % 1000 != 321 && off % 1000 != 0 && off < STEP_MS);
        let _ = labels;
        for s in samples.iter_mut() {
            s.0 = t0 + s.0 * STEP_MS + off;
        }
    }
    assert!(n < 100);
    out.push((
        l(&[("__name__", "boundary_gauge")]),
        (0..=POINTS)
            .map(|k| (t0 + k * STEP_MS, 1000.0 - k as f64))
            .collect(),
    ));
    out
}
