use super::*;
use argus_model::Labels;

fn ns(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap()
}

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn now() -> i64 {
    ns("2026-12-06T12:00:00Z")
}

#[test]
fn rsyslog_rfc5424() {
    let r = parse_syslog(
        b"<13>1 2026-12-06T10:00:00.123456+00:00 host app - - - msg\n",
        now(),
    )
    .unwrap();
    assert_eq!(
        r,
        LogRecord {
            labels: Labels::from_pairs(&[
                ("app", "app"),
                ("facility", "user"),
                ("host", "host"),
                ("level", "notice"),
            ]),
            ts_ns: ns("2026-12-06T10:00:00.123456Z"),
            line: "msg".into(),
            metadata: vec![],
        }
    );
}

#[test]
fn rfc5424_examples_with_structured_data() {
    // The examples of RFC 5424 section 6.5.
    let r = parse_syslog(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 \
         [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]\
         [examplePriority@32473 class=\"high\"] \u{feff}An application event log entry..."
            .as_bytes(),
        now(),
    )
    .unwrap();
    assert_eq!(
        r.labels,
        Labels::from_pairs(&[
            ("app", "evntslog"),
            ("facility", "local4"),
            ("host", "mymachine.example.com"),
            ("level", "notice"),
        ])
    );
    assert_eq!(r.ts_ns, ns("2003-10-11T22:14:15.003Z"));
    assert_eq!(r.line, "An application event log entry...");
    assert_eq!(
        r.metadata,
        meta(&[
            ("msgid", "ID47"),
            ("exampleSDID_32473_iut", "3"),
            ("exampleSDID_32473_eventSource", "Application"),
            ("exampleSDID_32473_eventID", "1011"),
            ("examplePriority_32473_class", "high"),
        ])
    );

    let r = parse_syslog(
        b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8",
        now(),
    )
    .unwrap();
    assert_eq!(r.labels.get("facility"), Some("auth"));
    assert_eq!(r.labels.get("level"), Some("crit"));
    assert_eq!(r.line, "'su root' failed for lonvick on /dev/pts/8");

    // Escapes inside a parameter value; SD with nothing after it.
    let r = parse_syslog(br#"<14>1 - h a 42 - [x@1 v="q\"uo\]te\\ \n"]"#, now()).unwrap();
    assert_eq!(
        r.metadata,
        meta(&[("procid", "42"), ("x_1_v", r#"q"uo]te\ \n"#)])
    );
    assert_eq!((r.line.as_str(), r.ts_ns), ("", now()));

    // All nil: only facility and level.
    let r = parse_syslog(b"<13>1 - - - - - -", now()).unwrap();
    assert_eq!(
        r.labels,
        Labels::from_pairs(&[("facility", "user"), ("level", "notice")])
    );
}

#[test]
fn rfc3164_as_rsyslog_and_sshd_send_it() {
    let r = parse_syslog(
        b"<30>Dec  6 10:00:00 host sshd[123]: Accepted publickey for root from 10.0.0.5 port 50000 ssh2",
        now(),
    )
    .unwrap();
    assert_eq!(
        r,
        LogRecord {
            labels: Labels::from_pairs(&[
                ("app", "sshd"),
                ("facility", "daemon"),
                ("host", "host"),
                ("level", "info"),
            ]),
            ts_ns: ns("2026-12-06T10:00:00Z"),
            line: "Accepted publickey for root from 10.0.0.5 port 50000 ssh2".into(),
            metadata: meta(&[("procid", "123")]),
        }
    );
}

#[test]
fn rfc3164_variants() {
    // December's message read on New Year's Day is last year's.
    let r = parse_syslog(b"<13>Dec 31 23:59:59 h app: x", ns("2027-01-01T00:00:10Z")).unwrap();
    assert_eq!(r.ts_ns, ns("2026-12-31T23:59:59Z"));
    assert_eq!(r.labels.get("app"), Some("app"));
    assert_eq!(r.line, "x");
    // Earlier this year stays this year; a zero-padded day and fractions are read too.
    let r = parse_syslog(b"<13>Jan 01 00:00:00.25 h cron: y", now()).unwrap();
    assert_eq!(r.ts_ns, ns("2026-01-01T00:00:00.25Z"));
    // No host (a local sender): the first field is the tag.
    let r = parse_syslog(b"<13>Dec  6 10:00:00 sshd[1]: hi", now()).unwrap();
    assert_eq!(r.labels.get("host"), None);
    assert_eq!(r.labels.get("app"), Some("sshd"));
    assert_eq!(r.line, "hi");
    // No tag: the rest is the line.
    let r = parse_syslog(b"<13>Dec  6 10:00:00 host just some text", now()).unwrap();
    assert_eq!(r.labels.get("app"), None);
    assert_eq!(r.labels.get("host"), Some("host"));
    assert_eq!(r.line, "just some text");
    // rsyslog's forwarding format: an RFC 3339 time.
    let r = parse_syslog(
        b"<86>2026-12-06T10:00:00.5+01:00 web1 sudo: pam_unix(sudo:session): session opened",
        now(),
    )
    .unwrap();
    assert_eq!(r.ts_ns, ns("2026-12-06T09:00:00.5Z"));
    assert_eq!(
        r.labels,
        Labels::from_pairs(&[
            ("app", "sudo"),
            ("facility", "authpriv"),
            ("host", "web1"),
            ("level", "info"),
        ])
    );
    assert_eq!(r.line, "pam_unix(sudo:session): session opened");
    // No header at all: the text is the line, at now.
    let r = parse_syslog(b"<0>kernel panic\r\n", now()).unwrap();
    assert_eq!(
        (r.line.as_str(), r.ts_ns, r.labels.get("level")),
        ("kernel panic", now(), Some("emerg"))
    );
    assert_eq!(r.labels.get("facility"), Some("kern"));
    // Bytes that are not UTF-8 are replaced.
    let r = parse_syslog(b"<13>Dec  6 10:00:00 h a: caf\xe9", now()).unwrap();
    assert_eq!(r.line, "caf\u{fffd}");
}

#[test]
fn errors_name_the_problem() {
    let e = |b: &[u8]| parse_syslog(b, now()).unwrap_err().reason;
    assert_eq!(
        e(b"hello"),
        "the message does not start with a <PRI> such as <13>"
    );
    assert_eq!(
        e(b"<1a>x"),
        "the message does not start with a <PRI> such as <13>"
    );
    assert_eq!(
        e(b"<>x"),
        "the message does not start with a <PRI> such as <13>"
    );
    assert_eq!(
        e(b"<192>x"),
        "the priority <192> is over 191 (facility 23, severity 7)"
    );
    assert_eq!(
        e(b"<13>1 yesterday h a - - - m"),
        "the timestamp \"yesterday\" is not an RFC 3339 time"
    );
    assert_eq!(
        e(b"<13>1 - h a - - [x a=b] m"),
        "the structured data has a parameter value without quotes"
    );
    assert_eq!(
        e(b"<13>1 - h a - - [x a=\"b] m"),
        "the structured data has a parameter value without its closing quote"
    );
    assert_eq!(
        e(b"<13>1 - h a - - oops"),
        "the structured data is neither '-' nor [elements]"
    );
    let limits = DecodeLimits {
        max_line_bytes: 4,
        ..DecodeLimits::default()
    };
    assert_eq!(
        parse_syslog_with(b"<13>1 - h a - - - hello", now(), &limits)
            .unwrap_err()
            .reason,
        "the line is 5 bytes, over the limit of 4"
    );
}

fn drain(f: &mut SyslogFramer) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut out = Vec::new();
    while let Some(x) = f.next_frame() {
        out.push(x);
    }
    out
}

#[test]
fn octet_counting_across_chunk_boundaries() {
    let frames: [&[u8]; 3] = [
        b"<13>1 2026-12-06T10:00:00Z h a - - - one",
        b"<14>1 - h a - - - two\nwith a newline inside",
        b"<30>Dec  6 10:00:00 host sshd[123]: three",
    ];
    let mut stream = Vec::new();
    for f in frames {
        stream.extend_from_slice(format!("{} ", f.len()).as_bytes());
        stream.extend_from_slice(f);
    }
    // Every split point of the stream, and byte by byte.
    for cut in 0..=stream.len() {
        let mut fr = SyslogFramer::new(1000);
        fr.push(&stream[..cut]);
        let mut got = drain(&mut fr);
        fr.push(&stream[cut..]);
        got.extend(drain(&mut fr));
        assert_eq!(fr.finish(), None);
        let want: Vec<_> = frames.iter().map(|f| Ok(f.to_vec())).collect();
        assert_eq!(got, want, "cut at {cut}");
    }
    let mut fr = SyslogFramer::new(1000);
    let mut got = Vec::new();
    for b in &stream {
        fr.push(std::slice::from_ref(b));
        got.extend(drain(&mut fr));
    }
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], Ok(frames[1].to_vec()));
}

#[test]
fn newline_framing_and_limits() {
    let mut fr = SyslogFramer::new(16);
    fr.push(b"<13>first\r\n\n<13>second\n");
    assert_eq!(
        drain(&mut fr),
        [Ok(b"<13>first".to_vec()), Ok(b"<13>second".to_vec())]
    );
    // An octet-counted frame over the limit is skipped, the one after it is kept.
    fr.push(b"30 ");
    fr.push(&[b'x'; 30]);
    fr.push(b"5 <13>a");
    assert_eq!(
        drain(&mut fr),
        [
            Err(FrameError::TooLarge { len: 30, max: 16 }),
            Ok(b"<13>a".to_vec())
        ]
    );
    // A line over the limit, in pieces: skipped up to its newline.
    fr.push(b"<13>aaaaaaaaaaaaaaaa");
    fr.push(b"aaaa");
    assert_eq!(drain(&mut fr), [Err(FrameError::LineTooLarge { max: 16 })]);
    fr.push(b"aaaa\n<13>b\n");
    assert_eq!(drain(&mut fr), [Ok(b"<13>b".to_vec())]);
    // Digits that are not a count: skipped to the next line.
    fr.push(b"12x <13>c\n<13>d\n");
    assert_eq!(
        drain(&mut fr),
        [
            Err(FrameError::BadLength {
                found: "12x".into()
            }),
            Ok(b"<13>d".to_vec())
        ]
    );
    // The end of the stream: a last line without newline, or a frame cut short.
    fr.push(b"<13>last");
    assert_eq!(drain(&mut fr), []);
    assert_eq!(fr.finish(), Some(Ok(b"<13>last".to_vec())));
    fr.push(b"10 <13>");
    assert_eq!(drain(&mut fr), []);
    assert_eq!(fr.finish(), Some(Err(FrameError::Truncated { missing: 6 })));
    assert_eq!(fr.finish(), None);
}

#[test]
fn decode_a_body_of_frames() {
    let body = b"<13>1 - h a - - - good\nno pri here\n<30>Dec  6 10:00:00 h b: fine\n";
    let d = decode_syslog(body, now(), &DecodeLimits::default());
    let lines: Vec<&str> = d.records.iter().map(|r| r.line.as_str()).collect();
    assert_eq!(lines, ["good", "fine"]);
    assert_eq!(
        d.summary(),
        "2 accepted, 1 refused (frame 2: the message does not start with a <PRI> such as <13>)"
    );
}
