//! The Zabbix JSON-RPC API client and the objects the harness builds
//! through it (hosts, checks, web scenarios, triggers, the webhook media
//! type and the action).
//!
//! ```text
//! let mut api = Api::new(port)?; api.login(limit).await?;
//! let group = configure(&api, &target, &settings).await?;
//! wait_first_values(&api, &mut running, work, &group, 2 * services, limit).await?;
//! ```

use super::super::{Running, Target};
use super::Settings;
use anyhow::Context;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The webhook script (Duktape). `{EVENT.DATE}`/`{EVENT.TIME}` are the
/// problem's start in the server's time zone (the harness runs it with
/// TZ=UTC); they become `since`, seconds since the epoch.
pub const HOOK_JS: &str = r#"var p = JSON.parse(value);
var d = p.date.split('.'), t = p.time.split(':');
var since = Date.UTC(+d[0], +d[1] - 1, +d[2], +t[0], +t[1], +t[2]) / 1000;
var req = new HttpRequest();
req.addHeader('Content-Type: application/json');
req.post(p.url, JSON.stringify({service: p.host, type: p.value === '1' ? 'PROBLEM' : 'RECOVERY',
  state: 'zabbix ' + p.severity, since: isNaN(since) ? null : since}));
if (req.getStatus() !== 200) { throw 'receiver answered ' + req.getStatus(); }
return 'ok';
"#;

/// The trigger expression of one service.
pub fn trigger_expression(name: &str, port: u16) -> String {
    format!(
        "last(/{name}/net.tcp.service[tcp,,{port}])=0 or last(/{name}/web.test.fail[health])<>0"
    )
}

/// A logged-in JSON-RPC client of the frontend's API.
pub struct Api {
    client: reqwest::Client,
    url: String,
    auth: Option<String>,
}

impl Api {
    /// A client of `http://127.0.0.1:port/api_jsonrpc.php`, not logged in.
    pub fn new(port: u16) -> anyhow::Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            url: format!("http://127.0.0.1:{port}/api_jsonrpc.php"),
            auth: None,
        })
    }

    /// Calls `method`; an API error becomes an error naming the method.
    pub async fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        let mut body = json!({"jsonrpc": "2.0", "method": method, "params": params, "id": 1});
        if let Some(a) = &self.auth {
            body["auth"] = json!(a);
        }
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json-rpc")
            .body(body.to_string())
            .send()
            .await
            .with_context(|| format!("Zabbix API {method}: no answer from {}", self.url))?;
        let text = resp.text().await?;
        let v: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "Zabbix API {method}: not JSON: {}",
                text.chars().take(300).collect::<String>()
            )
        })?;
        if let Some(e) = v.get("error") {
            anyhow::bail!("Zabbix API {method} failed: {e}");
        }
        v.get("result")
            .cloned()
            .with_context(|| format!("Zabbix API {method}: no result in {text}"))
    }

    /// Waits for the API, then logs in as Admin.
    pub async fn login(&mut self, limit: Duration) -> anyhow::Result<()> {
        let t0 = tokio::time::Instant::now();
        loop {
            match self.call("apiinfo.version", json!({})).await {
                Ok(_) => break,
                Err(e) if t0.elapsed() > limit => {
                    return Err(e.context(format!("Zabbix API not ready within {limit:?}")))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
        let token = self
            .call(
                "user.login",
                json!({"username": "Admin", "password": "zabbix"}),
            )
            .await?;
        self.auth = Some(token.as_str().context("user.login: token")?.to_string());
        Ok(())
    }
}

/// First id in `result[key]`.
fn first_id(v: &Value, key: &str) -> anyhow::Result<String> {
    v.pointer(&format!("/{key}/0"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("no {key} in the API answer {v}"))
}

/// Creates the group, hosts, checks, triggers, media type and action.
/// Returns the id of the host group.
pub async fn configure(api: &Api, t: &Target, s: &Settings) -> anyhow::Result<String> {
    // Debian's data.sql ships an enabled "Zabbix server" host with agent items
    // and no agent here: its problems would reach the action.
    let own = api
        .call("host.get", json!({"filter": {"host": "Zabbix server"}}))
        .await?;
    if let Some(id) = own.pointer("/0/hostid") {
        api.call("host.update", json!({"hostid": id, "status": 1}))
            .await?;
    }
    let group = first_id(
        &api.call("hostgroup.create", json!({"name": "argus-eval"}))
            .await?,
        "groupids",
    )?;
    let media = first_id(
        &api.call(
            "mediatype.create",
            json!({
                "name": "argus-hook", "type": 4, "script": HOOK_JS, "timeout": "10s",
                "parameters": [
                    {"name": "url", "value": format!("http://127.0.0.1:{}/nagios", t.receiver_port)},
                    {"name": "host", "value": "{HOST.HOST}"},
                    {"name": "value", "value": "{EVENT.VALUE}"},
                    {"name": "severity", "value": "{EVENT.SEVERITY}"},
                    {"name": "date", "value": "{EVENT.DATE}"},
                    {"name": "time", "value": "{EVENT.TIME}"}],
                "message_templates": [
                    {"eventsource": 0, "recovery": 0, "subject": "problem", "message": "{EVENT.NAME}"},
                    {"eventsource": 0, "recovery": 1, "subject": "resolved", "message": "{EVENT.NAME}"}]
            }),
        )
        .await?,
        "mediatypeids",
    )?;
    api.call(
        "user.update",
        json!({"userid": "1", "medias": [{"mediatypeid": media, "sendto": "harness",
               "active": 0, "severity": 63, "period": "1-7,00:00-24:00"}]}),
    )
    .await?;
    // One call per kind of object, each with every service (the API takes
    // arrays and answers ids in the same order).
    let hosts: Vec<Value> = t
        .services
        .iter()
        .map(|(name, _, _)| {
            json!({"host": name, "groups": [{"groupid": group}],
                   "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1",
                                   "dns": "", "port": "10050"}]})
        })
        .collect();
    let created = api.call("host.create", json!(hosts)).await?;
    let ids: Vec<String> = created["hostids"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    anyhow::ensure!(
        ids.len() == t.services.len(),
        "host.create made {} hosts for {} services: {created}",
        ids.len(),
        t.services.len()
    );
    let ifaces = api
        .call(
            "hostinterface.get",
            json!({"hostids": ids, "output": ["hostid", "interfaceid"]}),
        )
        .await?;
    let iface_of = |host: &str| {
        ifaces.as_array().and_then(|v| {
            v.iter()
                .find(|i| i["hostid"].as_str() == Some(host))
                .map(|i| i["interfaceid"].clone())
        })
    };
    let (mut items, mut tests, mut triggers) = (Vec::new(), Vec::new(), Vec::new());
    for ((name, port, _), host) in t.services.iter().zip(&ids) {
        let iface = iface_of(host).with_context(|| format!("host {name} has no interface"))?;
        items.push(json!({"hostid": host, "interfaceid": iface, "name": "tcp",
                          "key_": format!("net.tcp.service[tcp,,{port}]"), "type": 3,
                          "value_type": 3, "delay": s.delay}));
        tests.push(
            json!({"hostid": host, "name": "health", "delay": s.delay, "retries": 1,
                          "steps": [{"name": "health", "no": 1,
                                     "url": format!("http://127.0.0.1:{port}/health"),
                                     "timeout": s.step_timeout, "required": "ok",
                                     "status_codes": "200", "follow_redirects": 0}]}),
        );
        triggers.push(json!({"description": format!("{name} down"), "priority": 4,
                             "expression": trigger_expression(name, *port)}));
    }
    api.call("item.create", json!(items)).await?;
    api.call("httptest.create", json!(tests)).await?;
    api.call("trigger.create", json!(triggers)).await?;
    api.call(
        "action.create",
        json!({"name": "argus-hook", "eventsource": 0, "status": 0, "esc_period": "1h",
               "operations": [{"operationtype": 0,
                               "opmessage": {"default_msg": 1, "mediatypeid": media},
                               "opmessage_usr": [{"userid": "1"}]}],
               "recovery_operations": [{"operationtype": 11,
                                        "opmessage": {"default_msg": 1}}]}),
    )
    .await?;
    Ok(group)
}

/// Waits until every service's check and scenario has a first value;
/// fails early when a process of `r` exited.
pub async fn wait_first_values(
    api: &Api,
    r: &mut Running,
    work: &Path,
    group: &str,
    want: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let t0 = tokio::time::Instant::now();
    loop {
        r.check_alive(work)?;
        let items = api
            .call(
                "item.get",
                json!({"groupids": group, "webitems": true, "output": ["key_", "lastclock"],
                       "filter": {"type": [3, 9]}}),
            )
            .await?;
        let done = items.as_array().map_or(0, |v| {
            v.iter()
                .filter(|i| {
                    let key = i["key_"].as_str().unwrap_or("");
                    (key.starts_with("net.tcp.service") || key.starts_with("web.test.fail"))
                        && i["lastclock"].as_str().is_some_and(|c| c != "0")
                })
                .count()
        });
        if done >= want {
            return Ok(());
        }
        anyhow::ensure!(
            t0.elapsed() < limit,
            "Zabbix collected first values for only {done} of {want} checks within {limit:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
