//! The in-process host agent of `argus up`: collects the local host's metrics
//! on an interval and writes them through the store's write path, labelled
//! `job=<agent.job>` and `instance=<hostname>`.

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
    let samples = argus_collect::to_samples(&families, extra, t);
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
