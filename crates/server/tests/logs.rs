//! Logs through a running server, each way in tested with the real client:
//! `python-logging-loki` on the Loki push API (and a snappy protobuf push
//! built from Loki's messages), the OpenTelemetry Python SDK's OTLP/HTTP
//! exporter, and Debian's rsyslog forwarding over TCP (octet counting,
//! RFC 5424) and UDP (its forward format). Then the requests Grafana's Loki
//! data source sends (label browser, a `query_range` with line filters, a
//! `count_over_time` panel) are answered in Loki's shapes; a push with bad
//! records keeps the good ones and says what was refused.

mod common;
use argus_model::SystemClock;
use common::{free_port, get_json, start_server};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn python(script: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs (scripts/test.sh installs it and the client libraries)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !err.contains("Traceback"),
        "the client failed: {err}"
    );
}

fn enc(s: &str) -> String {
    argus_model::url::query_escape(s)
}

/// Polls a Loki `query_range` until it returns `n` lines in all streams.
async fn lines(base: &str, query: &str, n: usize) -> Value {
    let t0 = Instant::now();
    loop {
        let v = get_json(format!(
            "{base}/loki/api/v1/query_range?query={}&limit=1000&since=1h",
            enc(query)
        ))
        .await;
        let got: usize = v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| s["values"].as_array().map_or(0, Vec::len))
                    .sum()
            })
            .unwrap_or(0);
        if got == n {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{query}: wanted {n} lines, have {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const LOKI_CLIENT: &str = r#"
import logging, sys, logging_loki
h = logging_loki.LokiHandler(url=sys.argv[1] + "/loki/api/v1/push", tags={"application": "shop"}, version="1")
log = logging.getLogger("shop")
log.setLevel(logging.INFO)
log.addHandler(h)
for i in range(20):
    log.info("payment %d accepted in %d ms", i, 10 + i, extra={"tags": {"center": "bj" if i % 2 else "sh"}})
log.error("payment 99 failed: card declined", extra={"tags": {"center": "bj"}})
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_clients_and_grafana_queries() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(dir.path(), "", Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    python(LOKI_CLIENT, &[&base]);

    let v = lines(&base, r#"{application="shop"} |= "payment""#, 21).await;
    assert_eq!(v["status"], "success");
    assert_eq!(v["data"]["resultType"], "streams");
    let v = lines(&base, r#"{application="shop", severity="error"}"#, 1).await;
    let s = &v["data"]["result"][0];
    assert_eq!(s["stream"]["center"], "bj");
    assert_eq!(s["values"][0][1], "payment 99 failed: card declined");
    assert!(
        s["values"][0][0].as_str().unwrap().len() >= 19,
        "ns as a string"
    );
    lines(
        &base,
        r#"{application="shop"} |~ "accepted in 1[0-9] ms" != "payment 3 ""#,
        9,
    )
    .await;

    // Grafana's label browser.
    let l = get_json(format!("{base}/loki/api/v1/labels")).await;
    for name in ["application", "center", "severity", "logger"] {
        assert!(
            l["data"].as_array().unwrap().iter().any(|x| x == name),
            "{l}"
        );
    }
    let c = get_json(format!("{base}/loki/api/v1/label/center/values")).await;
    assert_eq!(c, json!({"status": "success", "data": ["bj", "sh"]}));
    let c = get_json(format!(
        "{base}/loki/api/v1/label/center/values?query={}",
        enc(r#"{severity="error"}"#)
    ))
    .await;
    assert_eq!(c["data"], json!(["bj"]));
    let s = get_json(format!(
        "{base}/loki/api/v1/series?match[]={}",
        enc(r#"{application="shop"}"#)
    ))
    .await;
    assert_eq!(s["data"].as_array().unwrap().len(), 3, "{s}");

    // The Patterns tab of Grafana's Logs Drilldown.
    let p = get_json(format!(
        "{base}/loki/api/v1/patterns?query={}&step=1h",
        enc(r#"{application="shop"}"#)
    ))
    .await;
    assert_eq!(p["status"], "success", "{p}");
    let data = p["data"].as_array().unwrap();
    assert_eq!(data[0]["pattern"], "payment <_> accepted in <_> ms", "{p}");
    let total = |d: &Value| -> i64 {
        let s = d["samples"].as_array().unwrap();
        assert!(s.iter().all(|x| x[0].is_i64() && x[1].is_i64()), "{d}");
        s.iter().map(|x| x[1].as_i64().unwrap()).sum()
    };
    assert_eq!(total(&data[0]), 20);
    assert_eq!(data[1]["pattern"], "payment <_> failed: card declined");
    assert_eq!(total(&data[1]), 1);
    // Drilldown filters by a pattern with `|>`; the pattern finds its lines.
    lines(
        &base,
        r#"{application="shop"} |> "payment <_> accepted in <_> ms""#,
        20,
    )
    .await;
    let r = reqwest::get(format!("{base}/loki/api/v1/patterns?query=shop"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A count_over_time panel: a matrix of [seconds, "value"] points.
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let q = r#"sum by (center) (count_over_time({application="shop"} |= "payment" [1h]))"#;
    let m = get_json(format!(
        "{base}/loki/api/v1/query_range?query={}&start={}&end={now}&step=60",
        enc(q),
        now - 600_000_000_000
    ))
    .await;
    assert_eq!(m["data"]["resultType"], "matrix", "{m}");
    let last = |center: &str| -> String {
        let r = m["data"]["result"].as_array().unwrap();
        let s = r.iter().find(|s| s["metric"]["center"] == center).unwrap();
        let pts = s["values"].as_array().unwrap();
        assert!(pts.last().unwrap()[0].is_number());
        pts.last().unwrap()[1].as_str().unwrap().to_string()
    };
    assert_eq!((last("bj").as_str(), last("sh").as_str()), ("11", "10"));
    let inst = get_json(format!(
        "{base}/loki/api/v1/query?query={}",
        enc(r#"sum(count_over_time({application="shop"} | logfmt [1h]))"#)
    ))
    .await;
    assert_eq!(inst["data"]["resultType"], "vector");
    assert_eq!(inst["data"]["result"][0]["value"][1], "21");

    // Arithmetic between metric queries and numbers, as in PromQL.
    let share = get_json(format!(
        "{base}/loki/api/v1/query?query={}",
        enc(r#"sum(count_over_time({application="shop"} | logfmt [1h])) / 3 + vector(1)"#)
    ))
    .await;
    assert_eq!(share["data"]["result"][0]["value"][1], "8", "{share}");

    // A bad query is a 400 that names the problem.
    let r = reqwest::get(format!(
        "{base}/loki/api/v1/query_range?query={}",
        enc(r#"{application="shop"} | distinct level"#)
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("distinct"));
    // So is a pairing PromQL refuses: many series to one without group_left.
    let r = reqwest::get(format!(
        "{base}/loki/api/v1/query?query={}",
        enc(r#"count_over_time({application="shop"}[1h]) / on (application) sum by (application) (count_over_time({application="shop"}[1h]))"#)
    ))
    .await
    .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(
        status == 400 && text.contains("group_left"),
        "{status}: {text}"
    );

    // Promtail's encoding: snappy protobuf of logproto.PushRequest.
    use argus_logs::push::loki::proto;
    use prost::Message;
    let req = proto::PushRequest {
        streams: vec![proto::StreamAdapter {
            labels: r#"{job="varlogs", host="web-1"}"#.into(),
            entries: vec![proto::EntryAdapter {
                timestamp: Some(proto::Timestamp {
                    seconds: now / 1_000_000_000,
                    nanos: 5,
                }),
                line: "GET /healthz 200".into(),
                structured_metadata: vec![],
            }],
            hash: 0,
        }],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/loki/api/v1/push"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    lines(&base, r#"{job="varlogs"} |= "healthz""#, 1).await;

    // A push with a bad entry keeps the good one and says why.
    let body = json!({"streams": [{"stream": {"job": "mixed"}, "values": [
        [now.to_string(), "kept"], ["yesterday-ish", "refused"]]}]});
    let r = reqwest::Client::new()
        .post(format!("{base}/loki/api/v1/push"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let msg = r.text().await.unwrap();
    assert!(
        msg.starts_with("1 accepted, 1 refused (stream 1, entry 2"),
        "{msg}"
    );
    lines(&base, r#"{job="mixed"}"#, 1).await;

    // JSON lines and plain text on Argus's own endpoint.
    let ts = chrono::Utc::now().to_rfc3339();
    let body = format!(
        "{}\nnot json\n{}\n",
        json!({"ts": ts, "labels": {"service": "pay"}, "line": "order 7 paid"}),
        json!({"ts": ts, "service": "pay", "level": "warn", "msg": "slow bank"})
    );
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/logs"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .starts_with("2 accepted, 1 refused (line 2"));
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/logs?service=pay&level=info"))
        .header("content-type", "text/plain")
        .body("first line\nsecond line\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    lines(&base, r#"{service="pay"}"#, 4).await;
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("argus_log_lines_refused_total 2"),
        "{metrics}"
    );
    srv.stop().await;
}

const OTEL_CLIENT: &str = r#"
import logging, sys
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk.resources import Resource
p = LoggerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "prod"}))
p.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=sys.argv[1] + "/v1/logs")))
log = logging.getLogger("checkout")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=p))
log.warning("stock low for item %s", "A-17", extra={"order_id": "o-1"})
log.info("order o-1 shipped")
p.shutdown()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opentelemetry_sdk_exports_to_argus() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_server(dir.path(), "", Arc::new(SystemClock), None).await;
    let base = srv.base.clone();
    python(OTEL_CLIENT, &[&base]);
    let v = lines(&base, r#"{service_name="checkout"}"#, 2).await;
    let s = &v["data"]["result"][0];
    assert_eq!(s["stream"]["deployment_environment"], "prod", "{v}");
    let all: Vec<&str> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[1].as_str().unwrap())
        })
        .collect();
    assert!(all.contains(&"stock low for item A-17"), "{all:?}");
    assert!(all.contains(&"order o-1 shipped"), "{all:?}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsyslog_forwards_over_tcp_and_udp() {
    let dir = tempfile::tempdir().unwrap();
    let (tcp, udp) = (free_port(), free_port());
    let yaml = format!("logs:\n  syslog:\n    tcp: 127.0.0.1:{tcp}\n    udp: 127.0.0.1:{udp}\n");
    let srv = start_server(&dir.path().join("data"), &yaml, Arc::new(SystemClock), None).await;
    let base = srv.base.clone();

    let work = dir.path().join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let sock = work.join("log.sock");
    let conf = work.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{w}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{s}")
*.* action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
*.* action(type="omfwd" target="127.0.0.1" port="{udp}" protocol="udp" template="RSYSLOG_ForwardFormat")
"#,
            w = work.display(),
            s = sock.display()
        ),
    )
    .unwrap();
    let mut rsyslogd = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(work.join("rsyslogd.pid"))
        .spawn()
        .expect("rsyslogd runs (scripts/test.sh installs Debian's rsyslog)");
    let t0 = Instant::now();
    while !sock.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "rsyslogd made no socket"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let st = Command::new("logger")
        .arg("-u")
        .arg(&sock)
        .args([
            "-t",
            "payd",
            "-p",
            "local3.err",
            "payment gateway timeout after 30s",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let v = lines(&base, r#"{app="payd"}"#, 2).await;
    let _ = rsyslogd.kill();
    let _ = rsyslogd.wait();
    for s in v["data"]["result"].as_array().unwrap() {
        assert_eq!(s["stream"]["facility"], "local3", "{v}");
        assert_eq!(s["stream"]["level"], "error", "{v}");
        for e in s["values"].as_array().unwrap() {
            assert_eq!(e[1], "payment gateway timeout after 30s");
        }
    }
    srv.stop().await;
}
