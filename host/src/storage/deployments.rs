//! Extension deployments (immutable versions, component bytes included) and the hook
//! bindings that say which deployment serves each hook of a tenant.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Db, Result, state};
use crate::tenancy::ResourceState;

/// A deployment as listed (without its component bytes).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeploymentRow {
    pub id: String,
    pub name: String,
    pub content_sha256: String,
    pub size_bytes: i64,
    pub hooks: Vec<String>,
    pub state: ResourceState,
    pub created_at: i64,
}

/// A deployment about to be stored.
#[derive(Debug)]
pub struct NewDeployment<'a> {
    pub tenant_id: &'a str,
    pub row: &'a DeploymentRow,
    pub component: &'a [u8],
}

const COLUMNS: &str = "id, name, content_sha256, size_bytes, hooks, state, created_at";

fn deployment(row: &SqliteRow) -> Result<DeploymentRow> {
    Ok(DeploymentRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        content_sha256: row.try_get("content_sha256")?,
        size_bytes: row.try_get("size_bytes")?,
        hooks: serde_json::from_str(row.try_get("hooks")?)?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Stores a deployment and binds it to every hook it exports, replacing earlier bindings
    /// of those hooks, in one transaction.
    pub async fn insert_deployment_and_bind(&self, new: NewDeployment<'_>) -> Result<()> {
        let NewDeployment { tenant_id, row, component } = new;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO extension_deployments
               (tenant_id, id, name, component, content_sha256, size_bytes, hooks, state, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant_id)
        .bind(&row.id)
        .bind(&row.name)
        .bind(component)
        .bind(&row.content_sha256)
        .bind(row.size_bytes)
        .bind(serde_json::to_string(&row.hooks)?)
        .bind(row.state.as_str())
        .bind(row.created_at)
        .execute(&mut *tx)
        .await?;
        for hook in &row.hooks {
            sqlx::query(
                "INSERT INTO hook_bindings (tenant_id, hook, deployment_id, bound_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (tenant_id, hook)
                 DO UPDATE SET deployment_id = excluded.deployment_id, bound_at = excluded.bound_at",
            )
            .bind(tenant_id)
            .bind(hook)
            .bind(&row.id)
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn deployment(&self, tenant_id: &str, id: &str) -> Result<Option<DeploymentRow>> {
        let sql = format!("SELECT {COLUMNS} FROM extension_deployments WHERE tenant_id = ? AND id = ?");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(deployment).transpose()
    }

    pub async fn list_deployments(&self, tenant_id: &str) -> Result<Vec<DeploymentRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM extension_deployments WHERE tenant_id = ? ORDER BY created_at DESC, id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(deployment).collect()
    }

    /// The component bytes of a deployment.
    pub async fn deployment_component(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT component FROM extension_deployments WHERE tenant_id = ? AND id = ?")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(row.try_get("component")?)).transpose()
    }

    /// The ENABLED deployment bound to `hook` for the tenant, if any.
    pub async fn bound_deployment(&self, tenant_id: &str, hook: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT b.deployment_id FROM hook_bindings b
             JOIN extension_deployments d ON d.tenant_id = b.tenant_id AND d.id = b.deployment_id
             WHERE b.tenant_id = ? AND b.hook = ? AND d.state = 'ENABLED'",
        )
        .bind(tenant_id)
        .bind(hook)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok(row.try_get("deployment_id")?)).transpose()
    }
}
