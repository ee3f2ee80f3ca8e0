//! Plans (named limit overrides) and each tenant's plan, own overrides and allowed
//! outbound hosts.

use serde::Serialize;
use sqlx::Row;

use super::{Db, Result};

/// What decides a tenant's extension limits and outbound hosts.
#[derive(Clone, Debug)]
pub struct TenantLimitsRow {
    pub plan: String,
    pub plan_limits: serde_json::Value,
    pub overrides: serde_json::Value,
    pub allowed_hosts: Vec<String>,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PlanRow {
    pub name: String,
    pub limits: serde_json::Value,
    pub created_at: i64,
}

impl Db {
    pub async fn tenant_limits(&self, tenant_id: &str) -> Result<Option<TenantLimitsRow>> {
        let row = sqlx::query(
            "SELECT t.plan, p.limits AS plan_limits, t.limit_overrides, t.allowed_hosts
             FROM tenants t JOIN plans p ON p.name = t.plan WHERE t.id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(TenantLimitsRow {
                plan: row.try_get("plan")?,
                plan_limits: serde_json::from_str(row.try_get("plan_limits")?)?,
                overrides: serde_json::from_str(row.try_get("limit_overrides")?)?,
                allowed_hosts: serde_json::from_str(row.try_get("allowed_hosts")?)?,
            })
        })
        .transpose()
    }

    /// Puts the tenant on a plan; false if there is no such plan.
    pub async fn set_tenant_plan(&self, tenant_id: &str, plan: &str) -> Result<bool> {
        let updated =
            sqlx::query("UPDATE tenants SET plan = $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM plans WHERE name = $3)")
                .bind(plan)
                .bind(tenant_id)
                .bind(plan)
                .execute(&self.pool)
                .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn set_tenant_limit_overrides(&self, tenant_id: &str, overrides: &serde_json::Value) -> Result<bool> {
        let updated = sqlx::query("UPDATE tenants SET limit_overrides = $1 WHERE id = $2")
            .bind(overrides.to_string())
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn set_allowed_hosts(&self, tenant_id: &str, hosts: &[String]) -> Result<bool> {
        let updated = sqlx::query("UPDATE tenants SET allowed_hosts = $1 WHERE id = $2")
            .bind(serde_json::to_string(hosts)?)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn upsert_plan(&self, name: &str, limits: &serde_json::Value, now: i64) -> Result<PlanRow> {
        sqlx::query(
            "INSERT INTO plans (name, limits, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET limits = excluded.limits",
        )
        .bind(name)
        .bind(limits.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        let created_at =
            sqlx::query_scalar("SELECT created_at FROM plans WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        Ok(PlanRow { name: name.to_owned(), limits: limits.clone(), created_at })
    }

    pub async fn list_plans(&self) -> Result<Vec<PlanRow>> {
        let rows =
            sqlx::query("SELECT name, limits, created_at FROM plans ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(PlanRow {
                    name: row.try_get("name")?,
                    limits: serde_json::from_str(row.try_get("limits")?)?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
