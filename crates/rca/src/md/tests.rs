use super::*;

fn grid(hit: impl Fn(usize, usize, usize) -> Option<f64>) -> (Vec<String>, Vec<Leaf>) {
    let dims = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let mut leaves = Vec::new();
    let mut k = 0u64;
    for a in 0..5 {
        for b in 0..8 {
            for c in 0..6 {
                k = k
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((k >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.04;
                let expected = 20.0 + ((a * 7 + b * 3 + c) % 11) as f64 * 10.0;
                let actual = match hit(a, b, c) {
                    Some(f) => expected * f,
                    None => expected * (1.0 + noise),
                };
                leaves.push(Leaf::new(
                    vec![format!("a{a}"), format!("b{b}"), format!("c{c}")],
                    actual,
                    expected,
                ));
            }
        }
    }
    (dims, leaves)
}

fn answer(dims: &[String], leaves: &[Leaf]) -> Vec<String> {
    let f = localize(dims, leaves, &Settings::default()).unwrap();
    let mut v: Vec<String> = f.causes.iter().map(|c| c.element.to_string()).collect();
    v.sort();
    v
}

#[test]
fn a_whole_value_of_one_dimension() {
    let (d, l) = grid(|_, b, _| (b == 3).then_some(0.5));
    assert_eq!(answer(&d, &l), ["b=b3"]);
}

#[test]
fn two_elements_of_a_deeper_layer_and_a_rise() {
    let (d, l) = grid(|a, _, c| ((a == 1 && c == 2) || (a == 4 && c == 5)).then_some(1.8));
    assert_eq!(answer(&d, &l), ["a=a1&c=c2", "a=a4&c=c5"]);
}

#[test]
fn one_leaf() {
    let (d, l) = grid(|a, b, c| (a == 2 && b == 7 && c == 0).then_some(0.1));
    assert_eq!(answer(&d, &l), ["a=a2&b=b7&c=c0"]);
}

#[test]
fn noise_alone_finds_nothing() {
    let (d, l) = grid(|_, _, _| None);
    assert!(answer(&d, &l).is_empty());
}

#[test]
fn shares_add_up_and_zero_leaves_are_ignored() {
    let (d, mut l) = grid(|a, _, _| (a == 0).then_some(0.0));
    l.push(Leaf::new(
        vec!["a9".into(), "b9".into(), "c9".into()],
        0.0,
        0.0,
    ));
    let f = localize(&d, &l, &Settings::default()).unwrap();
    assert_eq!(f.to_string(), "a=a0");
    assert!((f.causes[0].share - 1.0).abs() < 0.05, "{f:?}");
    assert!((f.causes[0].change + 1.0).abs() < 1e-9);
}

#[test]
fn bad_input_is_named() {
    let d = vec!["a".to_string()];
    let e = localize(&d, &[Leaf::new(vec![], 1.0, 1.0)], &Settings::default()).unwrap_err();
    assert_eq!(e.to_string(), "leaf 0 has 0 values for 1 dimensions");
    let e = localize(
        &d,
        &[Leaf::new(vec!["x".into()], f64::NAN, 1.0)],
        &Settings::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "leaf 0: actual is not a finite number");
    let e = parse_case("a,real,predict\nx,1,zz\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 2: predict: \"zz\" is not a finite number"
    );
    let e = parse_case("a,real,predict\nx,1\n").unwrap_err();
    assert_eq!(e.to_string(), "line 2: 2 fields where the header has 3");
    let e = parse_case("a,b\n").unwrap_err();
    assert!(e.to_string().contains("no `real` column"), "{e}");
    assert!(Element::parse("a=1&b").is_err());
    assert_eq!(Element::parse("b=2&a=1").unwrap().to_string(), "a=1&b=2");
}

#[test]
fn columns_in_any_order() {
    let c = parse_case("predict,x,real,y\n1,x1,2,y1\n").unwrap();
    assert_eq!(c.dims, ["x", "y"]);
    assert_eq!((c.leaves[0].actual, c.leaves[0].expected), (2.0, 1.0));
}

proptest::proptest! {
    #[test]
    fn never_panics(rows in proptest::collection::vec((0u8..4, 0u8..4, -5.0f64..100.0, -5.0f64..100.0), 0..60)) {
        let dims = vec!["p".to_string(), "q".to_string()];
        let leaves: Vec<Leaf> = rows.iter().map(|&(p, q, a, e)| Leaf::new(vec![p.to_string(), q.to_string()], a, e)).collect();
        let f = localize(&dims, &leaves, &Settings::default()).unwrap();
        proptest::prop_assert!(f.causes.len() <= Settings::default().max_causes);
    }
}

#[test]
fn every_leaf_alike_is_one_element() {
    let (d, l) = grid(|_, _, _| Some(0.8));
    assert_eq!(answer(&d, &l), ["*"]);
    let f = localize(&d, &l, &Settings::default()).unwrap();
    assert!((f.causes[0].change + 0.2).abs() < 1e-9);
}

#[test]
fn many_dimensions_are_bounded_and_too_many_refused() {
    // 40 dimensions: only the shallow layers are searched, quickly.
    let dims: Vec<String> = (0..40).map(|j| format!("d{j}")).collect();
    let leaves: Vec<Leaf> = (0..200)
        .map(|i| {
            let values = (0..40).map(|j| format!("v{}", (i * (j + 1)) % 5)).collect();
            let hit = i % 5 == 2;
            Leaf::new(
                values,
                if hit { 10.0 } else { 100.0 + (i % 3) as f64 },
                100.0,
            )
        })
        .collect();
    let f = localize(&dims, &leaves, &Settings::default()).unwrap();
    assert_eq!(f.causes[0].element.to_string(), "d0=v2", "{f:?}");
    let dims: Vec<String> = (0..65).map(|j| format!("d{j}")).collect();
    let leaf = Leaf::new(vec!["x".to_string(); 65], 1.0, 1.0);
    assert_eq!(
        localize(&dims, &[leaf], &Settings::default()).unwrap_err(),
        MdError::TooManyDimensions { got: 65 }
    );
}
