use super::*;

fn data() -> Value {
    let labels = Value::Map(BTreeMap::from([
        ("job".to_string(), Value::from("node")),
        ("instance".to_string(), Value::from("web-1:9100")),
    ]));
    Value::Map(BTreeMap::from([
        ("Labels".to_string(), labels),
        (
            "Items".to_string(),
            Value::List(vec![Value::from("a"), Value::from("b")]),
        ),
        ("N".to_string(), Value::Int(3)),
    ]))
}

fn funcs() -> Funcs {
    let mut f = Funcs::new().with_text_funcs();
    f.register("double", |a| {
        want(a, 1, "double")?;
        Ok(Value::Float(a[0].to_float()? * 2.0))
    });
    f.register_method("Keys", |recv, _| match recv {
        Value::Map(m) => Some(Ok(Value::List(
            m.keys().map(|k| Value::from(k.as_str())).collect(),
        ))),
        _ => None,
    });
    f.register_method("Join", |recv, args| match (recv, args) {
        (Value::List(l), [sep]) => Some(Ok(Value::Str(
            l.iter()
                .map(Value::to_go_string)
                .collect::<Vec<_>>()
                .join(&sep.to_go_string()),
        ))),
        _ => None,
    });
    f
}

fn render(text: &str) -> Result<String, Error> {
    let f = funcs();
    let t = Template::parse("t", text, &[], &f)?;
    t.execute(&data(), &[], &f)
}

#[test]
fn renders_the_supported_syntax() {
    let cases: &[(&str, &str)] = &[
        ("{{ .Labels.job }}", "node"),
        (
            "{{ range $k, $v := .Labels }}{{ $k }}={{ $v }};{{ end }}",
            "instance=web-1:9100;job=node;",
        ),
        (
            "{{ range .Items }}[{{ . }}]{{ else }}none{{ end }}",
            "[a][b]",
        ),
        ("{{ range .Missing }}x{{ else }}none{{ end }}", "none"),
        (
            "{{ range $i, $e := .Items }}{{ $i }}{{ $e }}{{ end }}",
            "0a1b",
        ),
        (
            "{{ if eq .N 1 }}one{{ else if gt .N 2 }}many{{ else }}two{{ end }}",
            "many",
        ),
        ("{{ with .Labels }}{{ .job | toUpper }}{{ end }}", "NODE"),
        ("{{ double .N }}", "6"),
        ("{{ .Labels.Keys }}", "[instance job]"),
        ("{{ .Items.Join \", \" }}", "a, b"),
        ("{{ .Labels.Keys.Join \"+\" }}", "instance+job"),
        (
            "{{ define \"x\" }}<{{ . }}>{{ end }}{{ template \"x\" .Labels.job }}",
            "<node>",
        ),
        ("{{ block \"b\" .N }}n={{ . }}{{ end }}", "n=3"),
        ("a {{- /* gone */ -}} b", "ab"),
        (
            "{{ len .Items }} {{ index .Items 1 }} {{ printf \"%03d\" .N }}",
            "2 b 003",
        ),
        ("{{ html \"<b>\" }}", "&lt;b&gt;"),
        (
            "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}",
            "2",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(render(text).as_deref(), Ok(*want), "{text}");
    }
}

#[test]
fn parse_errors_name_the_line() {
    let f = funcs();
    let e = Template::parse(
        "f.tmpl",
        "line1\n{{ if .X }}\n{{ nofunc 1 }}\n{{ end }}",
        &[],
        &f,
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::Parse {
            name: "f.tmpl".into(),
            line: 3,
            reason: "function \"nofunc\" not defined".into()
        }
    );
    let e = Template::parse("f", "{{ if 1 }}\nx", &[], &f).unwrap_err();
    assert!(e.to_string().contains("unexpected EOF"), "{e}");
    let e = Template::parse(
        "f",
        "{{ if 1 }}{{ define \"a\" }}{{ end }}{{ end }}",
        &[],
        &f,
    )
    .unwrap_err();
    assert!(e.to_string().contains("top level"), "{e}");
    let e = Template::parse("f", "{{ template x }}", &[], &f).unwrap_err();
    assert!(e.to_string().contains("quoted template name"), "{e}");
}

#[test]
fn sets_resolve_and_check_template_calls() {
    let f = funcs();
    let mut set = Templates::new();
    set.add(
        "a.tmpl",
        "{{ define \"a\" }}A{{ template \"b\" . }}{{ end }}",
        &f,
    )
    .unwrap();
    // "b" is not defined yet: the set check names the file and line.
    let e = set.check().unwrap_err();
    assert_eq!(e.to_string(), "template: a.tmpl:1: no such template \"b\"");
    set.add("b.tmpl", "\n\n{{ define \"b\" }}B{{ .N }}{{ end }}\n", &f)
        .unwrap();
    set.check().unwrap();
    assert_eq!(set.names(), vec!["a", "b"]);
    let t = Template::parse("field", "x{{ template \"a\" . }}", &[], &f).unwrap();
    set.check_refs(&t).unwrap();
    assert_eq!(set.execute(&t, &data(), &f).unwrap(), "xAB3");
    let t = Template::parse("field", "\n{{ template \"zzz\" . }}", &[], &f).unwrap();
    assert_eq!(
        set.check_refs(&t).unwrap_err().to_string(),
        "template: field:2: no such template \"zzz\""
    );
    assert_eq!(set.execute_named("b", &data(), &f).unwrap(), "B3");
}

#[test]
fn runaway_recursion_is_an_error_not_a_crash() {
    let f = funcs();
    let mut set = Templates::new();
    set.add("r", "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}", &f)
        .unwrap();
    let e = set.execute_named("r", &Value::Nil, &f).unwrap_err();
    assert!(e.to_string().contains("maximum template depth"), "{e}");
}

#[test]
fn execution_errors() {
    let e = render("{{ double \"x\" }}").unwrap_err();
    assert!(e.to_string().contains("error calling double"), "{e}");
    let e = render("{{ .N.Foo }}").unwrap_err();
    assert!(e.to_string().contains("can't evaluate field Foo"), "{e}");
    let e = render("{{ .Labels.job \"arg\" }}").unwrap_err();
    assert!(e.to_string().contains("cannot be invoked"), "{e}");
}
