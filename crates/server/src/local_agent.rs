//! The in-process host agent of `argus up`: collects the local host's metrics
//! on an interval and writes them through the store's write path, labelled
//! `job=<agent.job>` (default `argus-agent`) and `instance=<hostname>`, with
//! an `up` series of 1 for each collection, as a scrape would write.

use crate::config::LocalAgentConfig;
use argus_collect::CollectError;
use argus_model::host::hostname;
use argus_model::{Clock, Labels, STALE_NAN};
use argus_tsdb::Storage;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::watch;

/// Starts the agent loop; it ends when `stop` turns true (after the
/// collection in progress). Fails only when the agent cannot be built.
pub fn spawn(
    storage: Storage,
    clock: Arc<dyn Clock>,
    cfg: LocalAgentConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, CollectError> {
    let agent = Arc::new(argus_collect::Agent::new(
        cfg.collect.clone(),
        clock.clone(),
    )?);
    let host = hostname();
    let extra = Labels::from_pairs(&[("job", cfg.job.as_str()), ("instance", host.as_str())]);
    let every = cfg.interval.to_std();
    Ok(tokio::spawn(async move {
        let mut previous: HashSet<Labels> = HashSet::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let (a, st, c, x) = (agent.clone(), storage.clone(), clock.clone(), extra.clone());
            let prev = std::mem::take(&mut previous);
            // Collecting reads /proc and committing writes the WAL: off the
            // async workers.
            let res =
                tokio::task::spawn_blocking(move || collect_once(&a, &st, c.as_ref(), &x, prev))
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

type CollectResult = Result<HashSet<Labels>, (argus_tsdb::TsdbError, HashSet<Labels>)>;

/// One collection: append every sample, and a stale marker for each series that
/// was there last time and is gone now (a process that left the top N, say).
fn collect_once(
    agent: &argus_collect::Agent,
    storage: &Storage,
    clock: &dyn Clock,
    extra: &Labels,
    previous: HashSet<Labels>,
) -> CollectResult {
    let t = clock.now_ms();
    let families = agent.gather();
    let mut samples = argus_collect::to_samples(&families, extra, t);
    samples.push(up_sample(extra, t));
    let seen: HashSet<Labels> = samples.iter().map(|(l, _)| l.clone()).collect();
    let batch = samples
        .iter()
        .map(|(l, s)| (l, s.t, s.v))
        .chain(previous.difference(&seen).map(|gone| (gone, t, STALE_NAN)));
    match storage.append_batch(batch) {
        Ok(report) => {
            report.log_refused("built-in agent");
            Ok(seen)
        }
        Err(e) => Err((e, seen)),
    }
}

/// `up{job, instance} 1` at `t_ms`: the agent collected.
fn up_sample(extra: &Labels, t_ms: i64) -> (Labels, argus_model::Sample) {
    let mut labels = extra.clone();
    labels.set(argus_model::METRIC_NAME, "up");
    (labels, argus_model::Sample::new(t_ms, 1.0))
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
