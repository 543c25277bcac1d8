//! Tests of the templated block layout, and a measuring aid over real log files.

use super::*;
use proptest::prelude::*;

fn round_trip(lines: &[String]) -> Decoded {
    let (whole, templated) = encode(lines);
    let mut r = Reader::new(&whole);
    let a = decode(&mut r, lines.len(), whole.len(), Layout::Lines).unwrap();
    assert!(r.is_empty(), "bytes left after the lines");
    let mut r = Reader::new(&templated);
    let b = decode(&mut r, lines.len(), templated.len(), Layout::Templated).unwrap();
    assert!(r.is_empty(), "bytes left after the lines");
    assert_eq!(a.lines, b.lines);
    assert!(a.templates.is_empty() && a.template_of.is_empty());
    b
}

#[test]
fn lines_come_back_byte_for_byte_with_their_templates() {
    let lines: Vec<String> = [
        "took 15 ms",
        "took  7 ms ",
        "\tready",
        "",
        "core.2275 size=12 user=\"bob\",",
        "core.17 size=9 user=\"al\",",
        "odd \u{11} marker 3",
        "x\u{a0}y 12",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = round_trip(&lines);
    assert_eq!(d.lines, lines);
    let t = |i: usize| d.templates[d.template_of[i] as usize].as_str();
    assert_eq!(t(0), "took <*> ms");
    assert_eq!(t(0), t(1));
    assert_eq!(t(4), "core.<*> size=<*> user=\"<*>\",");
    assert_eq!(t(4), t(5));
    assert_eq!(t(3), "");
}

#[test]
fn numbers_are_written_as_to_string_writes_them() {
    for n in [0, 7, -7, 10, 1_000_000, i64::MAX, i64::MIN, -1] {
        let mut s = String::from("x");
        push_decimal(&mut s, n);
        assert_eq!(s, format!("x{n}"));
    }
    assert_eq!(decimal("0012"), None);
    assert_eq!(decimal("-0"), None);
    assert_eq!(decimal("+5"), None);
    assert_eq!(decimal("12345678901234567890"), None);
    assert_eq!(decimal("-42"), Some(-42));
}

#[test]
fn words_are_cut_along_their_template_word() {
    let fit_word = |t: &str, w: &'static str| {
        let pieces: Vec<&str> = t.split(VAR).collect();
        let mut vals = vec!["before"];
        let fits = fit(&pieces, w, &mut vals);
        assert!(fits || vals == ["before"], "{vals:?}");
        fits.then(|| vals[1..].to_vec())
    };
    assert_eq!(fit_word("core.<*>", "core.2275"), Some(vec!["2275"]));
    assert_eq!(
        fit_word("<*>:<*>", "10.0.0.1:80"),
        Some(vec!["10.0.0.1", "80"])
    );
    assert_eq!(fit_word("(<*>)::cb", "(0x0)::cb"), Some(vec!["0x0"]));
    assert_eq!(fit_word("a=<*>", "b=1"), None);
    assert_eq!(fit_word("<*>]", "x"), None);
    assert_eq!(fit_word("<*>:<*>]", "1:2"), None);
    let cut_line = |t: &str, line: &'static str| {
        let (mut s, mut v) = (String::from("old"), vec!["old"]);
        cut(&template_words(t), line, &mut s, &mut v);
        (s, v)
    };
    let (s, v) = cut_line("took <*> ms", "took  15 ms");
    assert_eq!((s.as_str(), v), ("took  \u{11} ms", vec!["15"]));
    let (s, v) = cut_line("a b", "a c");
    assert_eq!((s.as_str(), v), (WHOLE, vec!["a c"]));
    let (s, v) = cut_line("a b", "a b c");
    assert_eq!((s.as_str(), v), (WHOLE, vec!["a b c"]));
    let (s, v) = cut_line("a b c", " a b ");
    assert_eq!((s.as_str(), v), (WHOLE, vec![" a b "]));
    let (s, v) = cut_line("", "  ");
    assert_eq!((s.as_str(), v), ("  ", vec![]));
}

#[test]
fn repeated_values_compress_better_than_whole_lines() {
    let lines: Vec<String> = (0..2000)
        .map(|i| {
            format!(
                "081109 2036{:02} {} INFO dfs.DataNode: Receiving block blk_{} src: /10.250.{}.{}:{} dest: /10.250.19.102:50010",
                i % 60,
                140 + i % 7,
                (i * 7919) % 100_003,
                i % 20,
                i % 200,
                40_000 + i % 997
            )
        })
        .collect();
    let (plain, templated) = encode(&lines);
    let a = zstd::bulk::compress(&templated, 9).unwrap().len();
    let b = zstd::bulk::compress(&plain, 9).unwrap().len();
    assert!(a < b, "templated {a} bytes, plain {b}");
    assert_eq!(round_trip(&lines).lines, lines);
}

#[test]
fn damage_is_an_error_not_a_panic() {
    let lines: Vec<String> = (0..50)
        .map(|i| format!("job {i} done in {} s", i * 3))
        .collect();
    let (whole, templated) = encode(&lines);
    for (buf, layout) in [(whole, Layout::Lines), (templated, Layout::Templated)] {
        for cut in 0..buf.len() {
            let mut r = Reader::new(&buf[..cut]);
            assert!(decode(&mut r, lines.len(), cut, layout).is_err());
        }
        for i in 0..buf.len() {
            let mut b = buf.clone();
            b[i] ^= 0x5a;
            let mut r = Reader::new(&b);
            let _ = decode(&mut r, lines.len(), b.len(), layout);
        }
    }
}

proptest! {
    #[test]
    fn any_lines_round_trip(lines in proptest::collection::vec("[ a-c0-9=.:\\-\t\u{11}\u{a0}é]{0,24}", 0..40)) {
        let d = round_trip(&lines);
        prop_assert_eq!(d.lines, lines);
    }
}

/// Bytes per line of both layouts on the `*.log` files under `ARGUS_LOG_DIR` (a measuring aid,
/// not a check: `cargo test -p argus-logs --release layouts_on -- --ignored --nocapture`).
#[test]
#[ignore]
fn layouts_on_log_files() {
    let Ok(dir) = std::env::var("ARGUS_LOG_DIR") else {
        return;
    };
    let mut files = Vec::new();
    for d in std::fs::read_dir(&dir).unwrap().flatten() {
        let p = d.path();
        let inner: Vec<_> = if p.is_dir() {
            std::fs::read_dir(&p)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect()
        } else {
            vec![p]
        };
        files.extend(
            inner
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "log")),
        );
    }
    files.sort();
    let (mut tp, mut tt, mut tn) = (0, 0, 0);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let t0 = std::time::Instant::now();
        let _ = mine(&lines);
        let t_mine = t0.elapsed();
        let t0 = std::time::Instant::now();
        let (plain, t) = encode(&lines);
        let t_enc = t0.elapsed();
        let t0 = std::time::Instant::now();
        let p = zstd::bulk::compress(&plain, 9).unwrap().len();
        let q = zstd::bulk::compress(&t, 9).unwrap().len();
        let trial = |b: &[u8]| zstd::bulk::compress(b, 1).unwrap().len();
        let q = if trial(&t) <= trial(&plain) { q } else { p };
        let t_zstd = t0.elapsed();
        let t0 = std::time::Instant::now();
        for _ in 0..10 {
            let mut r = Reader::new(&t);
            decode(&mut r, lines.len(), t.len(), Layout::Templated).unwrap();
        }
        let t_dec = t0.elapsed() / 10;
        let t0 = std::time::Instant::now();
        for _ in 0..10 {
            let mut r = Reader::new(&plain);
            decode(&mut r, lines.len(), plain.len(), Layout::Lines).unwrap();
        }
        let t_dec_plain = t0.elapsed() / 10;
        println!(
            "  mine {t_mine:?} encode (with mining) {t_enc:?} zstd both {t_zstd:?} decode templated {t_dec:?} whole {t_dec_plain:?}"
        );
        println!(
            "{:<40} {:>6} lines  whole lines {:>6.2} B/line  kept {:>6.2} B/line",
            f.file_name().unwrap().to_string_lossy(),
            lines.len(),
            p as f64 / lines.len() as f64,
            q as f64 / lines.len() as f64
        );
        tp += p;
        tt += q;
        tn += lines.len();
    }
    println!(
        "all: {tn} lines, whole lines {:.2} B/line, kept (the smaller) {:.2} B/line",
        tp as f64 / tn as f64,
        tt as f64 / tn as f64
    );
}
