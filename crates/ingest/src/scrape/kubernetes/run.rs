//! The discovery task of one `kubernetes_sd_configs` entry: list what the
//! role needs, publish the target groups, then watch each list from its
//! `resourceVersion` and publish every change at once, until the next list
//! (every `refresh_interval`). A failed list keeps the last targets; a watch
//! the server ends is resumed where it stopped; one whose connection fails is
//! retried a few times; one the server refuses waits for the next list.

use super::api::{Api, Event, KubernetesSdError, Listed, Query};
use super::{build, list_all, KubernetesSdConfig};
use crate::scrape::{set_sd_groups, Inner};
use crate::AppenderFactory;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// How long a burst of watch events is gathered before the targets are
/// rebuilt: at most one rebuild a second in a busy cluster (Prometheus
/// throttles its discovery updates to one every 5 seconds).
const SETTLE: Duration = Duration::from_secs(1);

/// Transport failures in a row a watch retries (after 1, 2 and 4 s)
/// before it waits for the next list. An error the API server answers
/// (an expired `resourceVersion`, a refused request) is not retried: the
/// next list starts afresh.
const WATCH_RETRIES: u32 = 3;

const YEAR: Duration = Duration::from_secs(365 * 86400);

/// Runs the discovery until `stop` turns true (or the manager is gone).
pub(in crate::scrape) async fn task<F: AppenderFactory>(
    inner: Weak<Inner<F>>,
    job_name: String,
    key: String,
    sd: KubernetesSdConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut api: Option<Api> = None;
    loop {
        // Capped at a year, so the deadline cannot overflow.
        let next_list = Instant::now() + sd.refresh_interval.0.min(YEAR);
        let listed = tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return; } continue; }
            l = list(&mut api, &sd) => l,
        };
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let keep_going = match listed {
            Err(e) => {
                let place = sd.api_server.as_deref().unwrap_or("in-cluster");
                tracing::warn!(job = %job_name, api_server = %place, role = %sd.role, error = %e, "Kubernetes service discovery failed; the last targets are kept.");
                record_error(
                    &strong,
                    &job_name,
                    format!("kubernetes_sd_configs {place}: {e}"),
                );
                drop(strong);
                sleep_until(&mut stop, next_list).await
            }
            Ok((api, mut lists)) => {
                let groups = build(&sd, &lists);
                if !set_sd_groups(&strong, &job_name, key.clone(), groups, &stop) {
                    return;
                }
                drop(strong);
                let ctx = (&inner, job_name.as_str(), key.as_str(), &sd);
                watch_until(ctx, &api, &mut lists, &mut stop, next_list).await
            }
        };
        if !keep_going {
            return;
        }
    }
}

async fn list(
    api: &mut Option<Api>,
    sd: &KubernetesSdConfig,
) -> Result<(Api, Vec<(Query, Listed)>), KubernetesSdError> {
    let a = match api {
        Some(a) => a.clone(),
        None => api.insert(Api::new(sd)?).clone(),
    };
    let lists = list_all(&a, sd).await?;
    Ok((a, lists))
}

/// Waits until `at`; false when the task should end.
async fn sleep_until(stop: &mut watch::Receiver<bool>, at: Instant) -> bool {
    loop {
        tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return false; } }
            _ = tokio::time::sleep_until(at) => return true,
        }
    }
}

type Ctx<'a, F> = (&'a Weak<Inner<F>>, &'a str, &'a str, &'a KubernetesSdConfig);

/// Watches every list until `until`, applying the events to `lists` and
/// publishing the rebuilt groups. False when the task should end.
async fn watch_until<F: AppenderFactory>(
    (inner, job_name, key, sd): Ctx<'_, F>,
    api: &Api,
    lists: &mut [(Query, Listed)],
    stop: &mut watch::Receiver<bool>,
    until: Instant,
) -> bool {
    let (tx, mut rx) = mpsc::channel::<(usize, Event)>(1024);
    // Dropping the set (on return) aborts the watches.
    let mut watches = tokio::task::JoinSet::new();
    for (i, (q, l)) in lists.iter().enumerate() {
        let (api, q, rv, tx) = (
            api.clone(),
            q.clone(),
            l.resource_version.clone(),
            tx.clone(),
        );
        let job = job_name.to_string();
        watches.spawn(async move {
            let mut rv = rv;
            // Transport failures in a row (a reused connection the server
            // had closed, a brief network fault): retried with a growing
            // pause, as client-go's reflector does, before the watch waits
            // for the next list.
            let mut failures = 0u32;
            loop {
                let started = Instant::now();
                let left = until.saturating_duration_since(started);
                if left.is_zero() {
                    return;
                }
                let mut got = false;
                let res = async {
                    let mut w = api.watch(&q, &rv, left).await?;
                    loop {
                        let ev = w.next().await;
                        // Events already read are kept: a later failure
                        // resumes after them.
                        rv = w.resource_version().to_string();
                        let Some(ev) = ev? else { break };
                        got = true;
                        if tx.send((i, ev)).await.is_err() {
                            return Ok(true);
                        }
                    }
                    Ok::<bool, KubernetesSdError>(false)
                }
                .await;
                if got {
                    failures = 0;
                }
                match res {
                    Ok(true) => return,
                    // The server ended the watch: resume where it stopped,
                    // not in a tight loop.
                    Ok(false) => {
                        failures = 0;
                        tokio::time::sleep_until(started + Duration::from_secs(1)).await
                    }
                    Err(e @ KubernetesSdError::Request { .. }) if failures < WATCH_RETRIES => {
                        failures += 1;
                        tracing::debug!(job = %job, resource = q.resource, error = %e, attempt = failures, "Kubernetes watch failed; retrying.");
                        tokio::time::sleep(Duration::from_secs(1 << (failures - 1))).await;
                    }
                    Err(e) => {
                        tracing::debug!(job = %job, resource = q.resource, error = %e, "Kubernetes watch ended; changes wait for the next list.");
                        return;
                    }
                }
            }
        });
    }
    drop(tx);
    loop {
        let first = tokio::select! {
            r = stop.changed() => { if r.is_err() || *stop.borrow() { return false; } continue; }
            _ = tokio::time::sleep_until(until) => return true,
            ev = rx.recv() => ev,
        };
        let Some((i, ev)) = first else {
            // Every watch ended.
            return sleep_until(stop, until).await;
        };
        let mut changed = apply(lists, i, ev);
        if !sleep_until(stop, (Instant::now() + SETTLE).min(until)).await {
            return false;
        }
        while let Ok((i, ev)) = rx.try_recv() {
            changed |= apply(lists, i, ev);
        }
        if !changed {
            continue;
        }
        let Some(strong) = inner.upgrade() else {
            return false;
        };
        if !set_sd_groups(&strong, job_name, key.to_string(), build(sd, lists), stop) {
            return false;
        }
    }
}

/// Applies one event to its list; true when an object changed.
fn apply(lists: &mut [(Query, Listed)], i: usize, ev: Event) -> bool {
    let Some((_, l)) = lists.get_mut(i) else {
        return false;
    };
    match ev {
        Event::Put(k, v) => l.items.insert(k, v.clone()).is_none_or(|old| old != v),
        Event::Delete(k) => l.items.remove(&k).is_some(),
        Event::Nothing => false,
    }
}

fn record_error<F: AppenderFactory>(inner: &Arc<Inner<F>>, job: &str, msg: String) {
    let mut jobs = inner.jobs.lock();
    if let Some(j) = jobs.get_mut(job) {
        if !j.errors.contains(&msg) {
            j.errors.push(msg);
        }
    }
}
