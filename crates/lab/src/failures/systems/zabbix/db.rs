//! The PostgreSQL side of the Zabbix peer: Debian's schema imported once
//! into a template database, and a fresh run database copied from it.
//!
//! ```text
//! prepare_db()   # zabbix_argus_eval_schema (once, ≈ 30 s) → zabbix_argus_eval
//! psql("postgres", "select 1")
//! ```

use super::{DB, PG_HOST, PG_PORT, PG_USER};
use anyhow::Context;
use std::path::Path;
use std::process::{Command, Stdio};

const SCHEMA_DIR: &str = "/usr/share/zabbix-server-pgsql";
/// Debian's schema, images and data, imported once; runs copy it.
const TEMPLATE_DB: &str = "zabbix_argus_eval_schema";

/// Runs SQL with psql on database `db`; returns its unaligned output.
pub fn psql(db: &str, sql: &str) -> anyhow::Result<String> {
    let o = Command::new("psql")
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db])
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .context("cannot run psql")?;
    anyhow::ensure!(
        o.status.success(),
        "psql on {db} ({PG_USER}@{PG_HOST}:{PG_PORT}) failed for `{sql}`: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Pipes a gzipped SQL file into psql on `db`.
fn import_gz(db: &str, file: &Path) -> anyhow::Result<()> {
    let mut gz = Command::new("gzip")
        .arg("-dc")
        .arg(file)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run gzip")?;
    let stdin = gz.stdout.take().context("gzip stdout")?;
    let o = Command::new("psql")
        .args(["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, "-d", db])
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run psql")?;
    let gz_ok = gz.wait()?.success();
    anyhow::ensure!(
        o.status.success() && gz_ok,
        "importing {} into {db} failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr).trim()
    );
    Ok(())
}

/// Makes a fresh run database: imports Debian's schema into the template
/// database when it is missing or from another package version, then
/// copies it.
pub fn prepare_db() -> anyhow::Result<()> {
    let version = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "zabbix-server-pgsql"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let have = psql(
        "postgres",
        &format!(
            "select coalesce(shobj_description(oid, 'pg_database'), '') from pg_database where datname = '{TEMPLATE_DB}'"
        ),
    )
    .context("PostgreSQL must run on 127.0.0.1:5432 with trust for user postgres")?;
    if have != format!("zabbix-server-pgsql {version}") {
        eprintln!("[zabbix] importing Debian's schema into {TEMPLATE_DB} (once; about 30 s)");
        let tmp = format!("{TEMPLATE_DB}_tmp");
        psql("postgres", &format!("drop database if exists {tmp}"))?;
        psql("postgres", &format!("create database {tmp}"))?;
        for f in ["schema", "images", "data"] {
            import_gz(&tmp, &Path::new(SCHEMA_DIR).join(format!("{f}.sql.gz")))?;
        }
        psql(
            "postgres",
            &format!("comment on database {tmp} is 'zabbix-server-pgsql {version}'"),
        )?;
        psql(
            "postgres",
            &format!("drop database if exists {TEMPLATE_DB} with (force)"),
        )?;
        psql(
            "postgres",
            &format!("alter database {tmp} rename to {TEMPLATE_DB}"),
        )?;
    }
    psql(
        "postgres",
        &format!("drop database if exists {DB} with (force)"),
    )?;
    psql(
        "postgres",
        &format!("create database {DB} template {TEMPLATE_DB}"),
    )?;
    Ok(())
}
