//! Failure prediction on a filesystem that really fills. Two 16 MiB tmpfs
//! are mounted (the test runs as root, and fails, never skips, when the
//! mount fails):
//! - on `filling`, a log grows by an uneven 96–160 KiB a minute, and a
//!   2 MiB scratch file lives for five minutes in the middle;
//! - on `scratch`, nothing grows: 3 MiB scratch files come and go.
//!
//! After each write the agent's filesystem collector reads both mounts
//! (`statvfs`, as it does in production), and the value becomes one
//! sample, a simulated minute apart, so an hour of filling takes a second.
//! The samples are imported into the server, whose exhaustion rule must
//! warn about `filling` at a real webhook, with a predicted time that
//! agrees with the rate the data itself shows, and must stay silent about
//! `scratch`. The same data is put to `predict_linear(...[1h], 4*3600) < 0`
//! through the server's PromQL, and what it says is printed beside.

mod common;
use argus_collect::collectors::filesystem::{FilesystemCollector, FsOptions};
use argus_collect::collectors::Collector;
use argus_model::ManualClock;
use common::{
    alertmanager_to_webhook, import_text, query_at, start_server, wait_for_alert, webhook, Mount,
};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const KIB: usize = 1024;

/// `node_filesystem_avail_bytes` of `mountpoint`, as the collector reads it.
fn avail(c: &mut FilesystemCollector, mountpoint: &Path) -> f64 {
    let mut fams = Vec::new();
    c.collect(&mut fams)
        .expect("the filesystem collector reads the mounts");
    let mp = mountpoint.to_str().unwrap();
    fams.iter()
        .filter(|f| f.name == "node_filesystem_avail_bytes")
        .flat_map(|f| &f.samples)
        .find(|s| s.labels.iter().any(|(k, v)| *k == "mountpoint" && v == mp))
        .unwrap_or_else(|| panic!("no node_filesystem_avail_bytes for {mp}"))
        .value
}

fn append(path: &Path, bytes: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(&vec![0x5Au8; bytes]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filling_tmpfs_is_predicted_and_scratch_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let filling = dir.path().join("filling");
    let scratch = dir.path().join("scratch");
    let _m1 = Mount::tmpfs(&filling, "16m");
    let _m2 = Mount::tmpfs(&scratch, "16m");
    let mut collector = FilesystemCollector::new(
        Path::new("/proc"),
        FsOptions {
            rootfs: "/".into(),
            include_network: false,
            timeout: Duration::from_secs(2),
        },
    );

    // An hour, one sample a simulated minute, the last at T0.
    let mut body = String::new();
    let mut series = Vec::new();
    for i in 0..=60usize {
        append(&filling.join("app.log"), (96 + (i * 37) % 65) * KIB);
        match i {
            20 => append(&filling.join("sort.tmp"), 2048 * KIB),
            25 => std::fs::remove_file(filling.join("sort.tmp")).unwrap(),
            _ => {}
        }
        if i % 12 == 3 {
            append(&scratch.join("export.tmp"), 3072 * KIB);
        } else if i % 12 == 7 {
            std::fs::remove_file(scratch.join("export.tmp")).unwrap();
        }
        let t = T0 - (60 - i as i64) * MIN;
        let (a, b) = (
            avail(&mut collector, &filling),
            avail(&mut collector, &scratch),
        );
        series.push(a);
        for (mp, v) in [(&filling, a), (&scratch, b)] {
            body.push_str(&format!(
                "node_filesystem_avail_bytes{{fstype=\"tmpfs\",mountpoint=\"{}\"}} {v} {t}\n",
                mp.display()
            ));
        }
    }
    let (first, last) = (series[0], series[60]);
    assert!(first - last > 6e6, "the log grew: {first} -> {last}");

    let (hook_port, hooks) = webhook().await;
    let am = alertmanager_to_webhook(dir.path(), hook_port);
    let yaml = format!(
        "alerting: {{config_file: '{}'}}\n\
         exhaustion_rules:\n\
         \x20 - name: FilesystemFillsSoon\n\
         \x20   selector: 'node_filesystem_avail_bytes{{fstype=\"tmpfs\"}}'\n\
         \x20   trend: leaking\n\
         \x20   limit: 0\n\
         \x20   horizon: 4h\n\
         \x20   interval: 1m\n",
        am.display()
    );
    let clock = Arc::new(ManualClock::new(T0));
    let srv = start_server(&dir.path().join("data"), &yaml, clock.clone(), None).await;
    import_text(&srv.base, body).await;
    clock.advance(MIN);

    let alert = wait_for_alert(&hooks, "FilesystemFillsSoon", 20).await;
    assert_eq!(alert["status"], "firing");
    assert_eq!(
        alert["labels"]["mountpoint"],
        filling.display().to_string(),
        "{alert}"
    );
    // The rate the collected data shows over the hour (the scratch file is
    // gone by its end), and the time left at that rate.
    let rate = (first - last) / 3600.0;
    let expected = last / rate;
    let eta: f64 = alert["annotations"]["eta_seconds"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (eta - expected).abs() < 0.15 * expected,
        "predicted {eta} s, the data says {expected:.0} s: {alert}"
    );
    assert!(alert["annotations"]["predicted_at"].is_string(), "{alert}");

    // Its prediction is a series too; the scratch mount has none under the
    // horizon, and no alert named it.
    let etas = query_at(&srv.base, "argus_exhaustion_eta_seconds", T0 + MIN).await;
    let named: Vec<&str> = etas
        .iter()
        .filter_map(|r| r["metric"]["mountpoint"].as_str())
        .collect();
    assert!(named.contains(&filling.to_str().unwrap()), "{etas:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alerted_scratch = hooks.lock().unwrap().iter().any(|p| {
        p["alerts"].as_array().is_some_and(|a| {
            a.iter()
                .any(|a| a["labels"]["mountpoint"] == scratch.display().to_string())
        })
    });
    assert!(!alerted_scratch, "scratch files are not a trend");

    // predict_linear on the same samples, for comparison.
    let pl = query_at(
        &srv.base,
        "predict_linear(node_filesystem_avail_bytes[1h], 4*3600) < 0",
        T0,
    )
    .await;
    let pl_mounts: Vec<&str> = pl
        .iter()
        .filter_map(|r| r["metric"]["mountpoint"].as_str())
        .collect();
    assert!(
        pl_mounts.contains(&filling.to_str().unwrap()),
        "least squares sees the fill too: {pl:?}"
    );
    println!(
        "filling: {:.1} MiB free, {:.0} KiB a minute; Argus predicts {:.0} min (the data: {:.0} min); \
         predict_linear < 0 within 4h names: {pl_mounts:?}",
        last / 1048576.0,
        rate * 60.0 / 1024.0,
        eta / 60.0,
        expected / 60.0
    );
}
