//! Hook bindings: which extension runs on which hook of a tenant — tenant-wide or for one
//! client — in what order and with what failure policy, with a schedule (scheduled hook) or
//! a filter (events hook).

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Db, Result, StorageError, is_unique_violation};

/// What happens to the request when a bound extension fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// The request fails (no token, no account, no code).
    FailClosed,
    /// The request goes on without the extension's answer.
    FailOpen,
}

impl FailurePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::FailClosed => "fail-closed",
            FailurePolicy::FailOpen => "fail-open",
        }
    }
}

impl FromStr for FailurePolicy {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fail-closed" => Ok(FailurePolicy::FailClosed),
            "fail-open" => Ok(FailurePolicy::FailOpen),
            other => Err(StorageError::Corrupt(format!("failure policy {other:?}"))),
        }
    }
}

/// A stored binding.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BindingRow {
    pub id: String,
    pub hook: String,
    pub extension: String,
    pub client_id: Option<String>,
    pub failure_policy: FailurePolicy,
    pub position: i64,
    pub schedule: Option<String>,
    pub filter: Option<serde_json::Value>,
    pub last_run_at: Option<i64>,
    pub created_at: i64,
}

/// A binding about to be stored.
#[derive(Clone, Debug)]
pub struct NewBinding<'a> {
    pub id: &'a str,
    pub hook: &'a str,
    pub extension: &'a str,
    pub client_id: Option<&'a str>,
    pub failure_policy: FailurePolicy,
    pub position: i64,
    pub schedule: Option<&'a str>,
    pub filter: Option<&'a serde_json::Value>,
    pub now: i64,
}

/// A binding whose extension is ENABLED and has a built active version: what dispatch runs.
#[derive(Clone, Debug)]
pub struct ActiveBinding {
    pub binding: BindingRow,
    pub deployment_id: String,
    pub version: i64,
}

const COLUMNS: &str = "b.id, b.hook, b.extension, b.client_id, b.failure_policy, b.position, b.schedule, b.filter, \
                       b.last_run_at, b.created_at";

fn binding(row: &AnyRow) -> Result<BindingRow> {
    let client_id: String = row.try_get("client_id")?;
    let filter: Option<String> = row.try_get("filter")?;
    Ok(BindingRow {
        id: row.try_get("id")?,
        hook: row.try_get("hook")?,
        extension: row.try_get("extension")?,
        client_id: (!client_id.is_empty()).then_some(client_id),
        failure_policy: FailurePolicy::from_str(row.try_get("failure_policy")?)?,
        position: row.try_get("position")?,
        schedule: row.try_get("schedule")?,
        filter: filter.map(|f| serde_json::from_str(&f)).transpose()?,
        last_run_at: row.try_get("last_run_at")?,
        created_at: row.try_get("created_at")?,
    })
}

fn active(row: &AnyRow) -> Result<ActiveBinding> {
    Ok(ActiveBinding {
        binding: binding(row)?,
        deployment_id: row.try_get("deployment_id")?,
        version: row.try_get("version")?,
    })
}

/// Inserts a binding inside a transaction.
pub(super) async fn insert_binding_in(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    new: &NewBinding<'_>,
) -> Result<BindingRow> {
    let filter = new.filter.map(serde_json::to_string).transpose()?;
    let inserted = sqlx::query(
        "INSERT INTO extension_bindings
           (tenant_id, id, hook, extension, client_id, failure_policy, position, schedule, filter, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant_id)
    .bind(new.id)
    .bind(new.hook)
    .bind(new.extension)
    .bind(new.client_id.unwrap_or(""))
    .bind(new.failure_policy.as_str())
    .bind(new.position)
    .bind(new.schedule)
    .bind(&filter)
    .bind(new.now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StorageError::Conflict("a binding of this hook, extension and client"));
        }
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
            return Err(StorageError::NotFound("extension"));
        }
        other => other?,
    };
    Ok(BindingRow {
        id: new.id.to_owned(),
        hook: new.hook.to_owned(),
        extension: new.extension.to_owned(),
        client_id: new.client_id.map(str::to_owned),
        failure_policy: new.failure_policy,
        position: new.position,
        schedule: new.schedule.map(str::to_owned),
        filter: new.filter.cloned(),
        last_run_at: None,
        created_at: new.now,
    })
}

/// Active bindings: the extension ENABLED, its active version built.
const ACTIVE: &str = "SELECT {COLUMNS}, v.id AS deployment_id, v.version AS version
     FROM extension_bindings b
     JOIN extensions e ON e.tenant_id = b.tenant_id AND e.name = b.extension AND e.state = 'ENABLED'
     JOIN extension_versions v ON v.tenant_id = e.tenant_id AND v.id = e.active_deployment_id AND v.state = 'ENABLED'";

impl Db {
    pub async fn insert_binding(&self, tenant_id: &str, binding: NewBinding<'_>) -> Result<BindingRow> {
        let mut tx = self.begin_write().await?;
        let row = insert_binding_in(&mut tx, tenant_id, &binding).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn delete_binding(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM extension_bindings WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    pub async fn list_bindings(&self, tenant_id: &str) -> Result<Vec<BindingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM extension_bindings b WHERE b.tenant_id = $1
             ORDER BY b.hook, b.client_id, b.position, b.created_at, b.id"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(binding).collect()
    }

    /// The active bindings of `hook`: the client's own if it has any, else tenant-wide.
    pub async fn active_bindings(
        &self,
        tenant_id: &str,
        hook: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<ActiveBinding>> {
        let sql = format!(
            "{} WHERE b.tenant_id = $1 AND b.hook = $2 AND b.client_id = $3
             ORDER BY b.position, b.created_at, b.id",
            ACTIVE.replace("{COLUMNS}", COLUMNS)
        );
        if let Some(client_id) = client_id.filter(|c| !c.is_empty()) {
            let rows = sqlx::query(&sql).bind(tenant_id).bind(hook).bind(client_id).fetch_all(&self.pool).await?;
            if !rows.is_empty() {
                return rows.iter().map(active).collect();
            }
        }
        let rows = sqlx::query(&sql).bind(tenant_id).bind(hook).bind("").fetch_all(&self.pool).await?;
        rows.iter().map(active).collect()
    }

    /// Every active binding of `hook` across tenants, with its tenant id (the scheduler's scan).
    pub async fn all_active_bindings(&self, hook: &str) -> Result<Vec<(String, ActiveBinding)>> {
        let sql = format!(
            "{} WHERE b.hook = $1 ORDER BY b.tenant_id, b.position, b.id",
            ACTIVE.replace("{COLUMNS}", &format!("b.tenant_id AS tenant_id, {COLUMNS}"))
        );
        let rows = sqlx::query(&sql).bind(hook).fetch_all(&self.pool).await?;
        rows.iter().map(|row| Ok((row.try_get("tenant_id")?, active(row)?))).collect()
    }

    /// Moves a scheduled binding's last run from `previous` to `due`; true if this caller
    /// did (so exactly one node runs each due time).
    pub async fn claim_scheduled_run(
        &self,
        tenant_id: &str,
        binding_id: &str,
        previous: Option<i64>,
        due: i64,
    ) -> Result<bool> {
        let claimed = sqlx::query(
            "UPDATE extension_bindings SET last_run_at = $1
             WHERE tenant_id = $2 AND id = $3 AND last_run_at IS NOT DISTINCT FROM $4",
        )
        .bind(due)
        .bind(tenant_id)
        .bind(binding_id)
        .bind(previous)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }
}
