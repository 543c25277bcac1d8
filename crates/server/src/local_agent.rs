//! The in-process host agent of `argus up`: collects the local host's metrics
//! on an interval and writes them straight into the store, labelled
//! `job=<agent.job>` (default `argus-agent`) and `instance=<hostname>`, with
//! an `up` series of 1 for each collection, as a scrape would write.

use crate::config::LocalAgentConfig;
use argus_model::{Clock, Labels, STALE_NAN};
use argus_tsdb::{Appender, Db};
use std::collections::HashSet;
use std::sync::Arc;

/// Starts the agent loop. Fails only when the agent cannot be built.
pub fn spawn(
    db: Db,
    tap: crate::detect::Tap,
    clock: Arc<dyn Clock>,
    cfg: LocalAgentConfig,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let agent = Arc::new(
        argus_collect::Agent::new(cfg.collect.clone(), clock.clone()).map_err(|e| e.to_string())?,
    );
    let host = hostname();
    let extra = Labels::from_pairs(&[("job", cfg.job.as_str()), ("instance", host.as_str())]);
    let every = cfg.interval.to_std();
    Ok(tokio::spawn(async move {
        let mut previous: HashSet<Labels> = HashSet::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (a, d, c, x) = (agent.clone(), db.clone(), clock.clone(), extra.clone());
            let prev = std::mem::take(&mut previous);
            let tp = tap.clone();
            let res = tokio::task::spawn_blocking(move || {
                collect_once(&a, &d, &tp, c.as_ref(), &x, prev)
            })
            .await;
            match res {
                Ok(Ok(seen)) => previous = seen,
                Ok(Err((e, seen))) => {
                    previous = seen;
                    tracing::warn!(error = %e, "The built-in agent could not store its samples.");
                }
                Err(e) => tracing::error!(error = %e, "The built-in agent task failed."),
            }
        }
    }))
}

type CollectResult = Result<HashSet<Labels>, (String, HashSet<Labels>)>;

/// One collection: append every sample, and a stale marker for each series that
/// was there last time and is gone now (a process that left the top N, say).
fn collect_once(
    agent: &argus_collect::Agent,
    db: &Db,
    tap: &crate::detect::Tap,
    clock: &dyn Clock,
    extra: &Labels,
    previous: HashSet<Labels>,
) -> CollectResult {
    let t = clock.now_ms();
    let families = agent.gather();
    let mut samples = argus_collect::to_samples(&families, extra, t);
    samples.push(up_sample(extra, t));
    let mut app = tap.wrap(db.appender());
    let mut seen = HashSet::with_capacity(samples.len());
    let mut rejected = 0u64;
    for (labels, s) in &samples {
        if app.append(labels, s.t, s.v).is_err() {
            rejected += 1;
        }
        seen.insert(labels.clone());
    }
    for gone in previous.difference(&seen) {
        let _ = app.append(gone, t, STALE_NAN);
    }
    if rejected > 0 {
        tracing::debug!(
            rejected,
            "The built-in agent had samples refused by the store."
        );
    }
    match app.commit() {
        Ok(_) => Ok(seen),
        Err(e) => Err((e.to_string(), seen)),
    }
}

/// `up{job, instance} 1` at `t_ms`: the agent collected.
fn up_sample(extra: &Labels, t_ms: i64) -> (Labels, argus_model::Sample) {
    let mut labels = extra.clone();
    labels.set(argus_model::METRIC_NAME, "up");
    (labels, argus_model::Sample::new(t_ms, 1.0))
}

/// The host name, from the kernel.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_has_its_own_job_and_an_up_series() {
        let cfg = LocalAgentConfig::default();
        assert_eq!(cfg.job, "argus-agent");
        let extra = Labels::from_pairs(&[("job", cfg.job.as_str()), ("instance", "h1")]);
        let (labels, s) = up_sample(&extra, 5);
        assert_eq!(labels.to_string(), r#"up{instance="h1",job="argus-agent"}"#);
        assert_eq!((s.t, s.v), (5, 1.0));
    }
}
