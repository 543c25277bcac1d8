//! Hand-computed cases for the NAB scorer.

use super::*;

const STD: CostMatrix = CostMatrix::STANDARD;

fn ts(n: usize) -> Vec<i64> {
    (0..n as i64).map(|i| i * 300).collect()
}

/// 100 rows (probation 15), one window over rows 50..=59.
fn file<'a>(t: &'a [i64], scores: &'a [f64], windows: &'a [(i64, i64)]) -> FileInput<'a> {
    FileInput {
        name: "cat/f.csv",
        timestamps: t,
        scores,
        windows,
    }
}

const W: [(i64, i64); 1] = [(50 * 300, 59 * 300)];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn sigmoid_matches_the_paper() {
    assert!(close(
        scaled_sigmoid(-0.5),
        2.0 / (1.0 + (-2.5f64).exp()) - 1.0
    ));
    assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
    assert!((scaled_sigmoid(1.0) + 0.98661).abs() < 1e-5);
    assert_eq!(scaled_sigmoid(3.0001), -1.0);
}

#[test]
fn probation_rule() {
    assert_eq!(probationary_length(100), 15);
    assert_eq!(probationary_length(5000), 750);
    assert_eq!(probationary_length(5001), 750);
    assert_eq!(probationary_length(6), 0);
}

#[test]
fn perfect_detector_scores_100() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[50] = 1.0;
    let r = evaluate(&[file(&t, &s, &W)], &STD).unwrap();
    assert!(close(r.raw, 1.0));
    assert!(close(r.perfect, 1.0));
    assert!(close(r.normalized.unwrap(), 100.0));
    assert_eq!(r.files[0].detected_windows, 1);
}

#[test]
fn null_detector_scores_0_and_missing_everything_is_minus_fn() {
    let t = ts(100);
    let s = vec![0.5; 100];
    for (_, cost) in [
        ("std", STD),
        (
            "low_fn",
            CostMatrix {
                fn_weight: 2.0,
                ..STD
            },
        ),
    ] {
        let r = evaluate(&[file(&t, &s, &W)], &cost).unwrap();
        assert!(close(r.normalized.unwrap(), 0.0), "{r:?}");
    }
    // A detector that never fires: -fnWeight per window.
    let zero = vec![0.0; 100];
    let r = score_at(&sweep_file(&file(&t, &zero, &W), 0).unwrap(), &STD, 0.5);
    assert!(close(r.score, -1.0));
    assert_eq!((r.tp, r.fp, r.fn_, r.tn), (0, 0, 10, 75));
}

#[test]
fn one_fp_before_any_window_costs_fp_weight() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[50] = 1.0;
    s[30] = 1.0;
    let rows = sweep_file(&file(&t, &s, &W), 0).unwrap();
    let r = score_at(&rows, &STD, 1.0);
    assert!(close(r.score, 1.0 - 0.11));
    assert_eq!((r.tp, r.fp), (1, 1));
    let low_fp = CostMatrix {
        fp_weight: 0.22,
        ..STD
    };
    assert!(close(score_at(&rows, &low_fp, 1.0).score, 1.0 - 0.22));
}

#[test]
fn fp_after_a_window_is_weighted_by_distance() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[50] = 1.0;
    s[62] = 1.0; // 3 rows past the right edge; width 10 → d = 3/9
    let rows = sweep_file(&file(&t, &s, &W), 0).unwrap();
    let expected_fp = 0.11 * (2.0 / (1.0 + (5.0f64 / 3.0).exp()) - 1.0);
    assert!(close(score_at(&rows, &STD, 1.0).score, 1.0 + expected_fp));
    assert!(expected_fp < 0.0 && expected_fp > -0.11);
}

#[test]
fn only_the_earliest_detection_in_a_window_counts() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[55] = 1.0; // halfway: position -(59-55+1)/10 = -0.5
    let rows = sweep_file(&file(&t, &s, &W), 0).unwrap();
    let one = score_at(&rows, &STD, 1.0).score;
    assert!(close(one, scaled_sigmoid(-0.5) / scaled_sigmoid(-1.0)));
    s[56] = 1.0;
    s[57] = 1.0;
    let rows = sweep_file(&file(&t, &s, &W), 0).unwrap();
    assert!(close(score_at(&rows, &STD, 1.0).score, one));
}

#[test]
fn probationary_detections_are_ignored() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[50] = 1.0;
    s[3] = 1.0;
    let rows = sweep_file(&file(&t, &s, &W), 0).unwrap();
    assert!(close(score_at(&rows, &STD, 1.0).score, 1.0));
}

#[test]
fn sweep_picks_the_best_threshold() {
    let t = ts(100);
    let mut s = vec![0.0; 100];
    s[50] = 0.6; // TP
    s[30] = 0.9; // FP with a higher score
    let r = evaluate(&[file(&t, &s, &W)], &STD).unwrap();
    assert!(close(r.threshold, 0.6));
    assert!(close(r.raw, 0.89));
    // With a heavy FP weight, detecting nothing wins (ties go to the higher threshold).
    let heavy = CostMatrix {
        fp_weight: 5.0,
        ..STD
    };
    let r = evaluate(&[file(&t, &s, &W)], &heavy).unwrap();
    assert!(close(r.threshold, 1.1));
    assert!(close(r.raw, -1.0));
}

#[test]
fn sweep_agrees_with_direct_scoring_at_every_threshold() {
    let t = ts(400);
    let mut x: u64 = 7;
    let s: Vec<f64> = (0..400)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) % 20) as f64 / 20.0
        })
        .collect();
    let w = [
        (100 * 300, 140 * 300),
        (250 * 300, 251 * 300),
        (399 * 300, 399 * 300),
    ];
    let rows = sweep_file(&file(&t, &s, &w), 0).unwrap();
    for th in sweep_thresholds(&rows, &STD) {
        let direct = score_at(&rows, &STD, th.threshold);
        assert!(close(th.score, direct.score), "{th:?} vs {direct:?}");
        assert_eq!(
            (th.tp, th.fp, th.tn, th.fn_),
            (direct.tp, direct.fp, direct.tn, direct.fn_)
        );
    }
}

#[test]
fn windows_of_several_files_stay_separate() {
    let t = ts(100);
    let mut a = vec![0.0; 100];
    a[50] = 1.0;
    let b = vec![0.0; 100];
    let r = evaluate(&[file(&t, &a, &W), file(&t, &b, &W)], &STD).unwrap();
    assert!(close(r.raw, 0.0)); // +1 for a's window, -1 for b's
    assert!(close(r.perfect, 2.0));
    assert_eq!(r.files[0].detected_windows, 1);
    assert_eq!(r.files[1].detected_windows, 0);
}

#[test]
fn no_windows_gives_no_normalised_score() {
    let t = ts(100);
    let s = vec![0.0; 100];
    let r = evaluate(&[file(&t, &s, &[])], &STD).unwrap();
    assert_eq!(r.normalized, None);
    assert!(close(r.raw, 0.0));
}

#[test]
fn bad_inputs_are_errors_naming_the_file() {
    let t = ts(100);
    let s = vec![0.0; 99];
    let e = evaluate(&[file(&t, &s, &W)], &STD).unwrap_err();
    assert!(e.to_string().contains("cat/f.csv"), "{e}");
    let s = vec![0.0; 100];
    let e = sweep_file(&file(&t, &s, &[(10_000_000, 10_000_100)]), 0).unwrap_err();
    assert!(matches!(e, NabError::BadWindow { .. }), "{e}");
    let e = sweep_file(&file(&t, &s, &[(900, 600)]), 0).unwrap_err();
    assert!(e.to_string().contains("ends before"), "{e}");
    let mut s = vec![0.0; 100];
    s[4] = f64::NAN;
    let e = sweep_file(&file(&t, &s, &W), 0).unwrap_err();
    assert_eq!(
        e,
        NabError::NanScore {
            file: "cat/f.csv".into(),
            row: 4
        }
    );
}
