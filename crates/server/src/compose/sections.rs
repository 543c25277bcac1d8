//! The reloadable sections, one [`Reloader`] each: `alerting:`, `health:`,
//! `scrape_configs:` (with `global`'s scrape defaults), `rule_files:` (with
//! `rules:` and `global`'s evaluation defaults), `dynamic_rules:`,
//! `exhaustion_rules:`, `health_index_rules:`, `alerting.alertmanagers`, the alert
//! labels (`global.external_labels`, `rules.external_url`), `remote_write:`
//! (with `global.external_labels`) and the text `/api/v1/status/config` serves.
//!
//! The sections that only take effect at a restart (`storage:`, `web:`,
//! `query:`, `limits:`, `agent:`, `detect:`) are compared with those in
//! force: a reload that changes one is refused, naming it, so a reload that
//! answers success always means the whole file is in force.

use crate::alerting::{AlertingError, AlertingService, IngressSink};
use crate::config::Config;
use crate::health::HealthRuntime;
use crate::lifecycle::reload::{prepared, Prepared, Reloader, SectionError};
use crate::lifecycle::{Components, Part};
use crate::rules::RuleService;
use crate::{ServerError, ServerOptions};
use argus_ingest::remote_out::RemoteWrite;
use argus_ingest::scrape::ScrapeManager;
use argus_tsdb::Storage;
use std::path::PathBuf;
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
/// applying swaps the rule groups (alert state carries over) and their
/// options (`global.evaluation_interval`, `global.rule_query_offset`,
/// `global.external_labels` and `rules.external_url` for templates,
/// `rules.resend_delay`...).
pub(crate) struct RulesSection {
    pub(crate) service: Arc<RuleService>,
    pub(crate) data_dir: PathBuf,
    pub(crate) listen: std::net::SocketAddr,
}

impl Reloader for RulesSection {
    fn name(&self) -> &'static str {
        "rules"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let opts = crate::rules::group_options(cfg, &self.data_dir, self.listen);
        let files = RuleService::prepare_reload(cfg)?.with_options(opts);
        let svc = self.service.clone();
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

/// `scrape_configs:` and `global`'s scrape defaults: every job validated and
/// its HTTP client built when preparing; applying starts new jobs and
/// targets, stops removed ones (their series get stale markers) and hands
/// kept targets their new settings (cannot fail inside the server).
pub(crate) struct ScrapeSection(pub(crate) Arc<ScrapeManager<Storage>>);

impl Reloader for ScrapeSection {
    fn name(&self) -> &'static str {
        "scrape_configs"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let jobs = ScrapeManager::<Storage>::prepare(cfg.effective_scrape_configs())?;
        let sm = self.0.clone();
        Ok(prepared(move || {
            let names: Vec<String> = jobs.job_names().iter().map(|s| s.to_string()).collect();
            sm.apply_prepared(jobs)?;
            tracing::info!(jobs = ?names, "Reloaded the scrape jobs.");
            Ok(())
        }))
    }
}

/// The configuration text `/api/v1/status/config` serves; swapped last, so
/// it shows the new file only once every section is in force.
pub(crate) struct ConfigTextSection(pub(crate) Arc<parking_lot::RwLock<String>>);

impl Reloader for ConfigTextSection {
    fn name(&self) -> &'static str {
        "status"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let (text, slot) = (crate::api::status::config_text(cfg), self.0.clone());
        Ok(prepared(move || {
            *slot.write() = text;
            Ok(())
        }))
    }
}

/// The sections that take effect only at a restart, as they were at start.
/// A reload that changes any is refused before anything applies.
pub(crate) struct RestartOnlySection(Vec<(&'static str, String)>);

/// What a restart-only section looks like, for comparison. `Debug` prints
/// every field of these structs, and none holds an unordered map.
fn restart_only(cfg: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("storage", format!("{:?}", cfg.storage)),
        ("web", format!("{:?}", cfg.web)),
        ("query", format!("{:?}", cfg.query)),
        ("limits", format!("{:?}", cfg.limits)),
        ("agent", format!("{:?}", cfg.agent)),
        ("detect", format!("{:?}", cfg.detect)),
        // `logs.metrics` is reloaded (LogMetricsSection); the rest of `logs:` is not.
        (
            "logs",
            format!(
                "{:?}",
                crate::config::LogsConfig {
                    metrics: Vec::new(),
                    ..cfg.logs.clone()
                }
            ),
        ),
    ]
}

/// `logs.metrics`: the rules are compiled when preparing and swapped in when
/// applying; unchanged rules keep their place.
pub(crate) struct LogMetricsSection(pub(crate) Option<Arc<crate::logs::LogsRuntime>>);

impl Reloader for LogMetricsSection {
    fn name(&self) -> &'static str {
        "logs.metrics"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let rules = crate::logs::metrics::compile(&cfg.logs.metrics).map_err(|e| e.0)?;
        let rt = self.0.clone();
        Ok(prepared(move || {
            if let Some(rt) = rt {
                rt.set_metric_rules(rules);
            }
            Ok(())
        }))
    }
}

/// A reload that would change sections which apply only at a restart.
#[derive(Debug, thiserror::Error)]
#[error("changed sections that take effect only at a restart: {}. Restart Argus to apply the new file, or undo those changes to reload the rest", .0.join(", "))]
pub(crate) struct NeedsRestart(Vec<&'static str>);

impl RestartOnlySection {
    pub(crate) fn new(in_force: &Config) -> RestartOnlySection {
        RestartOnlySection(restart_only(in_force))
    }
}

impl Reloader for RestartOnlySection {
    fn name(&self) -> &'static str {
        "restart_only"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let changed: Vec<&'static str> = self
            .0
            .iter()
            .zip(restart_only(cfg))
            .filter(|((_, a), (_, b))| a != b)
            .map(|((name, _), _)| *name)
            .collect();
        if changed.is_empty() {
            Ok(prepared(|| Ok(())))
        } else {
            Err(Box::new(NeedsRestart(changed)))
        }
    }
}

/// `alerting.alertmanagers` and `alerting.alert_relabel_configs`: every
/// entry checked and its client built when preparing; applying swaps them
/// (cannot fail), and the active alerts go to the new Alertmanagers.
pub(crate) struct ForwardSection(pub(crate) argus_forward::Forwarder);

impl Reloader for ForwardSection {
    fn name(&self) -> &'static str {
        "alertmanagers"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let settings = cfg.forward_settings().prepare()?;
        let fwd = self.0.clone();
        Ok(prepared(move || {
            fwd.apply(settings);
            Ok(())
        }))
    }
}

/// `exhaustion_rules:`: compiled when preparing; applying swaps the rules
/// (the alerts of dropped or changed rules resolve; cannot fail).
pub(crate) struct ExhaustionSection(pub(crate) argus_predict::PredictService);

impl Reloader for ExhaustionSection {
    fn name(&self) -> &'static str {
        "exhaustion_rules"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        let rules = argus_predict::compile_rules(&cfg.exhaustion_rules)?;
        let svc = self.0.clone();
        Ok(prepared(move || {
            svc.apply(rules);
            Ok(())
        }))
    }
}

/// `health_index_rules:`: checked when preparing; applying swaps the rules
/// (the alerts of dropped or changed rules resolve; cannot fail).
pub(crate) struct HealthIndexSection(pub(crate) argus_predict::HealthIndexService);

impl Reloader for HealthIndexSection {
    fn name(&self) -> &'static str {
        "health_index_rules"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        argus_predict::check_health_index_rules(&cfg.health_index_rules)?;
        let (svc, rules) = (self.0.clone(), cfg.health_index_rules.clone());
        Ok(prepared(move || {
            svc.apply(rules);
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

/// `incidents:`: validated when preparing; applying swaps the grouping
/// switch, the settings, the configured service graph and the retention
/// (cannot fail).
pub(crate) struct IncidentsSection(pub(crate) argus_incident::service::IncidentService);

impl Reloader for IncidentsSection {
    fn name(&self) -> &'static str {
        "incidents"
    }

    fn prepare(&self, cfg: &Config) -> Result<Box<dyn Prepared>, SectionError> {
        cfg.incidents.validate()?;
        let (svc, c) = (self.0.clone(), cfg.incidents.clone());
        Ok(prepared(move || {
            svc.reconfigure(&c);
            Ok(())
        }))
    }
}
