use super::*;

const W: i64 = DEFAULT_WINDOW_NS;

/// Two days of a steady mix with a little deterministic jitter.
fn history() -> Vec<MixWindow> {
    (0..576)
        .map(|i| {
            let j = (i * 7 % 5) as u64;
            MixWindow::from_counts(
                i * W,
                [
                    ("order.created", 38 + j),
                    ("payment.accepted", 30 + (j + 2) % 5),
                    ("payment.refused", 2 + j % 2),
                    ("io.k8s.event.Pulled", j % 3),
                ],
            )
        })
        .collect()
}

fn normal_window(start: i64) -> Vec<(&'static str, u64)> {
    let _ = start;
    vec![
        ("order.created", 40),
        ("payment.accepted", 31),
        ("payment.refused", 2),
        ("io.k8s.event.Pulled", 1),
    ]
}

fn feed(d: &mut MixDetector, start: i64, counts: &[(&str, u64)]) {
    for (t, n) in counts {
        d.observe_n(t, start + 1000, *n);
    }
}

#[test]
fn a_normal_window_passes_and_the_explanation_names_the_injected_type() {
    let m = MixModel::train(&history()).unwrap();
    assert_eq!(m.trained_windows(), 576);
    assert!(m.threshold() >= 4.0);
    let mut d = MixDetector::new(m);
    let t0 = 576 * W;
    feed(&mut d, t0, &normal_window(t0));
    let v = d.close_windows_until(t0 + W);
    assert_eq!(v.len(), 1);
    assert!(!v[0].above && !v[0].abnormal, "{v:?}");
    assert_eq!(v[0].total, 74);
    // Refusals jump at the same total: payments accepted fall as refused rise.
    for k in 1..4 {
        let s = t0 + k * W;
        feed(
            &mut d,
            s,
            &[
                ("order.created", 40),
                ("payment.accepted", 21),
                ("payment.refused", 12),
                ("io.k8s.event.Pulled", 1),
            ],
        );
    }
    let v = d.close_windows_until(t0 + 4 * W);
    assert_eq!(v.len(), 3);
    assert!(
        v[0].above && !v[0].abnormal,
        "one window is not yet an alert"
    );
    assert!(v[1].abnormal && v[2].abnormal);
    let e = &v[1].explanation;
    assert_eq!(e[0].event_type, "payment.refused");
    assert_eq!(e[0].direction, Direction::High);
    assert_eq!(e[0].observed, 12);
    assert!((e[0].expected - 2.5).abs() < 0.6, "{}", e[0].expected);
    assert!(e
        .iter()
        .any(|t| t.event_type == "payment.accepted" && t.direction == Direction::Low));
    // Back to normal: the alert clears after two quiet windows.
    for k in 4..12 {
        feed(&mut d, t0 + k * W, &normal_window(0));
    }
    let v = d.close_windows_until(t0 + 12 * W);
    assert!(!v.last().unwrap().abnormal);
}

#[test]
fn vanished_and_new_types_are_named() {
    let m = MixModel::train(&history()).unwrap();
    let mut d = MixDetector::new(m);
    let t0 = 576 * W;
    for k in 0..3 {
        feed(
            &mut d,
            t0 + k * W,
            &[
                ("order.created", 40),
                ("payment.refused", 2),
                ("io.k8s.event.Pulled", 1),
                ("io.k8s.event.OOMKilled", 6),
            ],
        );
    }
    let v = d.close_windows_until(t0 + 3 * W);
    assert!(v[2].abnormal);
    let mut names: Vec<(&str, Direction)> = v[2]
        .explanation
        .iter()
        .map(|t| (t.event_type.as_str(), t.direction))
        .collect();
    names.truncate(2);
    names.sort();
    assert_eq!(
        names,
        [
            ("io.k8s.event.OOMKilled", Direction::New),
            ("payment.accepted", Direction::Low)
        ]
    );
}

#[test]
fn silence_closes_empty_windows_and_late_events_are_dropped() {
    let m = MixModel::train(&history()).unwrap();
    let mut d = MixDetector::new(m);
    assert!(
        d.close_windows_until(i64::MAX).is_empty(),
        "nothing before the first event"
    );
    let t0 = 576 * W;
    feed(&mut d, t0, &normal_window(0));
    let v = d.close_windows_until(t0 + 5 * W);
    assert_eq!(v.len(), 5);
    assert_eq!(v[1].total, 0);
    assert!(v[2].abnormal, "everything vanished");
    d.observe("order.created", t0);
    assert_eq!(d.late_events(), 1);
    // A jump far ahead closes at most a week of windows and does not panic.
    let v = d.close_windows_until(i64::MAX);
    assert_eq!(v.len(), 7 * 288);
    d.observe("x", i64::MIN);
    assert_eq!(d.late_events(), 2);
}

#[test]
fn the_model_survives_a_json_round_trip() {
    let m = MixModel::train(&history()).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    let back: MixModel = serde_json::from_str(&json).unwrap();
    // JSON may move a float by its last bit; what was learned and what it says stay put.
    assert_eq!(
        back.event_types().collect::<Vec<_>>(),
        m.event_types().collect::<Vec<_>>()
    );
    assert_eq!(back.config(), m.config());
    assert!((back.threshold() - m.threshold()).abs() < 1e-9);
    let again: MixModel = serde_json::from_str(&serde_json::to_string(&back).unwrap()).unwrap();
    assert!((again.expected("order.created", 0) - m.expected("order.created", 0)).abs() < 1e-9);
    let (mut a, mut b) = (MixDetector::new(m), MixDetector::new(back));
    let t0 = 576 * W;
    for k in 0..4 {
        let c = [("order.created", 20 + k as u64), ("payment.refused", 9)];
        feed(&mut a, t0 + k * W, &c);
        feed(&mut b, t0 + k * W, &c);
    }
    let (va, vb) = (
        a.close_windows_until(t0 + 4 * W),
        b.close_windows_until(t0 + 4 * W),
    );
    assert_eq!(va.len(), 4);
    for (x, y) in va.iter().zip(&vb) {
        assert_eq!((x.above, x.abnormal), (y.above, y.abnormal));
        assert!((x.score - y.score).abs() < 1e-6);
        let names = |v: &MixVerdict| {
            v.explanation
                .iter()
                .map(|t| t.event_type.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(x), names(y));
    }
    assert!(va[3].abnormal);
}

#[test]
fn training_refuses_short_history_and_bad_settings() {
    let h = history();
    assert_eq!(
        MixModel::train(&h[..5]).unwrap_err().to_string(),
        "training needs at least 12 windows of history, got 5"
    );
    let c = MixConfig {
        drift_alpha: 1.5,
        ..MixConfig::default()
    };
    assert_eq!(
        MixModel::train_with(&h, c).unwrap_err().to_string(),
        "the setting drift_alpha is out of range (0 to below 1)"
    );
}

#[test]
fn windows_are_counted_with_the_gaps() {
    let ev = [
        ("a", 10 * W + 5),
        ("b", 10 * W + 7),
        ("a", 12 * W),
        ("a", 10 * W),
    ];
    let w = MixWindow::count(ev.iter().map(|(t, ts)| (*t, *ts)), W);
    assert_eq!(w.len(), 3);
    assert_eq!(w[0], MixWindow::from_counts(10 * W, [("a", 2), ("b", 1)]));
    assert_eq!(w[1].total(), 0);
    assert_eq!(w[2].start_ns, 12 * W);
    assert!(MixWindow::count(std::iter::empty(), W).is_empty());
}

#[test]
fn deviance_is_zero_at_the_mean_and_grows_both_ways() {
    assert!(deviance(5.0, 5.0, 0.0).abs() < 1e-12);
    assert!((deviance(0.0, 4.0, 0.0) - 8.0).abs() < 1e-12);
    assert!(deviance(20.0, 5.0, 0.5) < deviance(20.0, 5.0, 0.0));
    assert!(deviance(0.0, 5.0, 0.5) > 0.0);
}
