//! Unit tests of `argus eval rca-topology`: CSV fields, a case ranked
//! through the store, and the error a broken line gives.

use super::*;

#[test]
fn csv_fields_honour_quotes() {
    assert_eq!(
        csv_fields("a,\"b,c\",\"d\"\"e\"\r"),
        vec!["a", "b,c", "d\"e"]
    );
    assert_eq!(csv_fields(""), vec![""]);
}

#[test]
fn a_case_loads_through_the_store_and_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let mut om = String::from("# TYPE cpu_usage gauge\n");
    for svc in ["a", "b"] {
        for i in 0..20 {
            let jump = if svc == "b" && i >= 15 { 5.0 } else { 0.0 };
            let v = 1.0 + (i % 3) as f64 * 0.01 + jump;
            om.push_str(&format!(
                "cpu_usage{{service=\"{svc}\"}} {v} {}\n",
                1_700_000_000 + i * 60
            ));
        }
    }
    om.push_str("# EOF\n");
    std::fs::write(dir.path().join("metrics.om"), om).unwrap();
    std::fs::write(
        dir.path().join("incident.json"),
        format!(
            "{{\"start\": {}, \"entry\": {{\"service\": \"a\"}}}}",
            1_700_000_000 + 15 * 60
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("graph.csv"), "caller,callee\na,b\n").unwrap();
    let case = load_case(dir.path(), Some(&dir.path().join("graph.csv")), None).unwrap();
    assert_eq!(case.window.len(), 2);
    assert_eq!(case.window[0].samples.len(), 20);
    assert_eq!(case.entry.as_ref().unwrap().service.as_deref(), Some("a"));
    let r = topology::rank(&case, &Settings::default()).unwrap();
    assert_eq!(r.suspects[0].service, "b");
    assert_eq!(ranking_json(&r)["ranking"][0]["kind"], "cpu");
}

#[test]
fn a_broken_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("metrics.om");
    std::fs::write(
        &p,
        "# TYPE x gauge\nx{service=\"a\"} 1 1\nx{service=\"a\" 2 2\n# EOF\n",
    )
    .unwrap();
    let e = load_series(&p).unwrap_err().to_string();
    assert!(e.contains("metrics.om") && e.contains("line 3"), "{e}");
    std::fs::write(dir.path().join("incident.json"), "{}").unwrap();
    let e = load_case(dir.path(), None, None).unwrap_err().to_string();
    assert!(e.contains("\"start\""), "{e}");
}
