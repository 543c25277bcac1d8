//! The reloadable sections, one [`Reloader`] each: `alerting:`, `health:`,
//! `rule_files:`, `dynamic_rules:`, the alert labels (`global.external_labels`,
//! `rules.external_url`) and `remote_write:` (with `global.external_labels`). Other sections (`storage:`,
//! `scrape_configs:`, `query:`, `global.evaluation_interval`...) take effect
//! at the next restart.

use crate::alerting::{AlertingError, AlertingService, IngressSink};
use crate::config::Config;
use crate::health::HealthRuntime;
use crate::lifecycle::reload::{prepared, Prepared, Reloader, SectionError};
use crate::lifecycle::{Components, Part};
use crate::rules::RuleService;
use crate::{ServerError, ServerOptions};
use argus_ingest::remote_out::RemoteWrite;
use std::sync::Arc;

type AlertingReload =
    dyn Fn(argus_alert::config::Config) -> Result<(), AlertingError> + Send + Sync;

/// `alerting:`: the file is parsed when preparing; applying builds the
/// notification channels and swaps the configuration (it can still fail).
pub(crate) struct AlertingSection(Arc<AlertingReload>);

impl AlertingSection {
    pub(crate) fn new(alerting: &AlertingService) -> AlertingSection {
        AlertingSection(Arc::new(alerting.reloader()))
    }
}

impl Reloader for AlertingSection {
    fn name(&self) -> &'static str {
        "alerting"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let am = cfg.alerting_config()?;
        let reload = self.0.clone();
        Ok(prepared(move || reload(am).map_err(Into::into)))
    }
}

/// `health:`: validated when preparing; applying restarts the checks if the
/// section changed (starting a probe can still fail).
pub(crate) struct HealthSection(pub(crate) Arc<HealthRuntime>);

impl Reloader for HealthSection {
    fn name(&self) -> &'static str {
        "health"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        cfg.health.validate()?;
        let (rt, section) = (self.0.clone(), cfg.health.clone());
        Ok(prepared(move || rt.apply(&section).map_err(Into::into)))
    }
}

/// `rule_files:`: every rule file read and validated when preparing;
/// applying swaps the rule groups (alert state carries over).
pub(crate) struct RulesSection(pub(crate) Arc<RuleService>);

impl Reloader for RulesSection {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let files = RuleService::prepare_reload(cfg)?;
        let svc = self.0.clone();
        Ok(prepared(move || {
            let groups = svc.apply_reload(files)?;
            tracing::info!(groups, "Reloaded the rule files.");
            Ok(())
        }))
    }
}

/// `dynamic_rules:`: compiled when preparing; applying swaps the rules
/// (cannot fail).
pub(crate) struct DynamicRulesSection(pub(crate) argus_dynamic::DetectReloader);

impl Reloader for DynamicRulesSection {
    fn name(&self) -> &'static str {
        "dynamic_rules"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let rules = self.0.prepare(&cfg.dynamic_rules)?;
        let r = self.0.clone();
        Ok(prepared(move || {
            r.apply(rules);
            Ok(())
        }))
    }
}

/// `global.external_labels` and `rules.external_url` as the alert ingress
/// stamps them on every alert; applying cannot fail.
pub(crate) struct AlertLabelsSection(pub(crate) IngressSink, pub(crate) std::net::SocketAddr);

impl Reloader for AlertLabelsSection {
    fn name(&self) -> &'static str {
        "alert_labels"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let (sink, listen, cfg) = (self.0.clone(), self.1, cfg.clone());
        Ok(prepared(move || {
            sink.configure(&cfg, listen);
            Ok(())
        }))
    }
}

/// Starts the `remote_write:` queues over the store's WAL (none when the
/// list is empty; a reload can add them). Their WAL holds are taken before
/// this returns.
pub(crate) fn start_remote_write(
    opts: &ServerOptions,
    db: &argus_tsdb::Db,
    clock: Arc<dyn argus_model::Clock>,
    up: &mut Components,
) -> Result<Arc<RemoteWrite>, ServerError> {
    let rw = Arc::new(RemoteWrite::new(
        db.clone(),
        opts.data_dir.join("remote_write"),
        clock,
    ));
    let cfg = &opts.config;
    rw.apply(&cfg.remote_write, &cfg.global.external_labels)
        .map_err(ServerError::RemoteWrite)?;
    let r = rw.clone();
    up.push(Part::new("remote_write").on_stop(async move { r.shutdown().await }));
    Ok(rw)
}

/// `remote_write:` and `global.external_labels`: the list is checked and
/// its clients built when preparing; applying starts, stops and restarts
/// queues (each resumes from its saved position).
pub(crate) struct RemoteWriteSection(pub(crate) Arc<RemoteWrite>);

impl Reloader for RemoteWriteSection {
    fn name(&self) -> &'static str {
        "remote_write"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        RemoteWrite::prepare(&cfg.remote_write)?;
        let (rw, list, ext) = (
            self.0.clone(),
            cfg.remote_write.clone(),
            cfg.global.external_labels.clone(),
        );
        Ok(prepared(move || {
            rw.apply(&list, &ext)?;
            Ok(())
        }))
    }
}
