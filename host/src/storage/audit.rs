//! The audit log of admin API calls and the tenants' monthly usage counters. Audit entries
//! of a tenant are read by tenant id; the operator's view reads them all.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Result};

/// One admin API call.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// The tenant the call named, if it exists.
    pub tenant_id: Option<String>,
    pub time: i64,
    /// The personal access token's id, or `anonymous` when none was accepted.
    pub actor: String,
    /// `operator`, `tenant-admin`, `tenant-viewer` or `anonymous`.
    pub role: String,
    /// Method and route, e.g. `PATCH /admin/v1/tenants/{tenant}`.
    pub action: String,
    /// The path called.
    pub target: String,
    pub status: i64,
    /// `success` (2xx/3xx) or `failed`.
    pub result: String,
    /// An operator's call within a tenant: made on the tenant's behalf, not by its own
    /// administrators (derived from `role` and `tenant_id`).
    pub on_behalf: bool,
}

/// Whether a call by `role` on `tenant_id` was an operator's, on the tenant's behalf.
pub fn on_behalf(role: &str, tenant_id: Option<&str>) -> bool {
    role == "operator" && tenant_id.is_some()
}

const COLUMNS: &str = "id, tenant_id, time, actor, role, action, target, status, result";

fn entry(row: &AnyRow) -> Result<AuditEntry> {
    let (role, tenant_id): (String, Option<String>) = (row.try_get("role")?, row.try_get("tenant_id")?);
    Ok(AuditEntry {
        id: row.try_get("id")?,
        on_behalf: on_behalf(&role, tenant_id.as_deref()),
        tenant_id,
        time: row.try_get("time")?,
        actor: row.try_get("actor")?,
        role,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        status: row.try_get("status")?,
        result: row.try_get("result")?,
    })
}

/// Which audit entries a list keeps; none set keeps all.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditSearch {
    /// Found, whatever its case, in the actor, the action or the path.
    pub text: Option<String>,
    /// `success` or `failed`.
    pub result: Option<String>,
    /// `operator`, `tenant-admin`, `tenant-viewer` or `anonymous`.
    pub role: Option<String>,
}

/// A tenant's usage in one month.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MonthlyUsage {
    /// `YYYY-MM` (UTC).
    pub month: String,
    pub monthly_active_accounts: i64,
    pub monthly_api_calls: i64,
}

impl MonthlyUsage {
    /// A month with nothing counted.
    pub fn none(month: &str) -> Self {
        MonthlyUsage { month: month.to_owned(), monthly_active_accounts: 0, monthly_api_calls: 0 }
    }
}

impl Db {
    pub async fn insert_audit(&self, entry: &AuditEntry) -> Result<()> {
        let sql = format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(&sql)
            .bind(&entry.id)
            .bind(&entry.tenant_id)
            .bind(entry.time)
            .bind(&entry.actor)
            .bind(&entry.role)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(entry.status)
            .bind(&entry.result)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The tenant's latest audit entries that `search` keeps, newest first.
    /// With no tenant, every tenant's and the platform's entries (the operator's view).
    /// `before` is an exclusive (time, id) cursor.
    pub async fn list_audit(
        &self,
        tenant_id: Option<&str>,
        search: &AuditSearch,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        // Text is found in the actor, the action or the path, whatever its case; `%`, `_`
        // and `\` in it are themselves. Each optional value is bound twice, as elsewhere.
        let page = "($4 IS NULL OR LOWER(actor) LIKE $5 ESCAPE '\\' OR LOWER(action) LIKE $6 ESCAPE '\\'
                        OR LOWER(target) LIKE $7 ESCAPE '\\')
                    AND ($8 IS NULL OR result = $9) AND ($10 IS NULL OR role = $11)
                    AND (time < $1 OR (time = $1 AND id < $2)) ORDER BY time DESC, id DESC LIMIT $3";
        let sql = match tenant_id {
            Some(_) => format!("SELECT {COLUMNS} FROM audit_log WHERE tenant_id = $12 AND {page}"),
            None => format!("SELECT {COLUMNS} FROM audit_log WHERE {page}"),
        };
        let (time, id) = before.unwrap_or((i64::MAX, String::new()));
        let pattern = search.text.as_deref().map(|text| {
            let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        let mut query = sqlx::query(&sql).bind(time).bind(id).bind(i64::from(limit));
        query =
            query.bind(pattern.as_deref()).bind(pattern.as_deref()).bind(pattern.as_deref()).bind(pattern.as_deref());
        query = query.bind(search.result.as_deref()).bind(search.result.as_deref());
        query = query.bind(search.role.as_deref()).bind(search.role.as_deref());
        if let Some(tenant_id) = tenant_id {
            query = query.bind(tenant_id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(entry).collect()
    }

    /// Adds counted API calls and active accounts of several tenants and months, and moves
    /// each tenant's last use forward, in one transaction.
    pub async fn add_usage(
        &self,
        calls: &[(String, String, i64)],
        accounts: &[(String, String, String)],
        last_active: &[(String, i64)],
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (tenant_id, month, count) in calls {
            sqlx::query(
                "INSERT INTO usage_monthly (tenant_id, month, api_calls) VALUES ($1, $2, $3)
                 ON CONFLICT (tenant_id, month) DO UPDATE SET api_calls = usage_monthly.api_calls + excluded.api_calls",
            )
            .bind(tenant_id)
            .bind(month)
            .bind(*count)
            .execute(&mut *tx)
            .await?;
        }
        for (tenant_id, month, account_id) in accounts {
            sqlx::query(
                "INSERT INTO usage_active_accounts (tenant_id, month, account_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(tenant_id)
            .bind(month)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        }
        for (tenant_id, at) in last_active {
            sqlx::query(
                "UPDATE tenants SET last_active_at = $1 WHERE id = $2 AND (last_active_at IS NULL OR last_active_at < $1)",
            )
            .bind(*at)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn usage(&self, tenant_id: &str, month: &str) -> Result<MonthlyUsage> {
        let mut months = self.usage_months(tenant_id, &[month.to_owned()]).await?;
        Ok(months.pop().unwrap_or_else(|| MonthlyUsage::none(month)))
    }

    /// The tenant's usage in each of `months` (`YYYY-MM`), in their order: two grouped
    /// queries over the range they span, however many months are asked for.
    pub async fn usage_months(&self, tenant_id: &str, months: &[String]) -> Result<Vec<MonthlyUsage>> {
        let (Some(first), Some(last)) = (months.iter().min(), months.iter().max()) else { return Ok(Vec::new()) };
        let calls = sqlx::query(
            "SELECT month, api_calls AS n FROM usage_monthly WHERE tenant_id = $1 AND month >= $2 AND month <= $3",
        );
        let accounts = sqlx::query(
            "SELECT month, COUNT(*) AS n FROM usage_active_accounts
             WHERE tenant_id = $1 AND month >= $2 AND month <= $3 GROUP BY month",
        );
        let mut counted = Vec::with_capacity(2);
        for query in [calls, accounts] {
            let rows = query.bind(tenant_id).bind(first).bind(last).fetch_all(&self.pool).await?;
            let by_month = rows
                .iter()
                .map(|row| Ok((row.try_get::<String, _>("month")?, row.try_get::<i64, _>("n")?)))
                .collect::<Result<std::collections::HashMap<_, _>>>()?;
            counted.push(by_month);
        }
        let count = |of: usize, month: &String| counted[of].get(month).copied().unwrap_or(0);
        Ok(months
            .iter()
            .map(|month| MonthlyUsage {
                month: month.clone(),
                monthly_api_calls: count(0, month),
                monthly_active_accounts: count(1, month),
            })
            .collect())
    }
}
