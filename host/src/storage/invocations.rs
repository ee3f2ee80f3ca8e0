//! Invocation records: written in batches, listed newest first with a cursor, summarised
//! per extension, and pruned to the newest records of each extension.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, Result};

/// One invocation, as recorded.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InvocationRow {
    pub id: String,
    pub extension: String,
    pub deployment_id: String,
    pub version: i64,
    pub hook: String,
    pub started_at: i64,
    pub duration_us: i64,
    pub fuel_used: i64,
    pub outcome: String,
    pub detail: Option<String>,
    pub output: String,
    pub dry_run: bool,
}

/// A record about to be written.
#[derive(Clone, Debug)]
pub struct NewInvocation {
    pub tenant_id: String,
    pub row: InvocationRow,
}

/// An extension's recent invocations in numbers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct InvocationStats {
    pub extension: String,
    pub count: i64,
    /// Outcomes other than `ok` and `denied`.
    pub errors: i64,
    pub denied: i64,
    pub error_rate: f64,
    pub p50_us: i64,
    pub p99_us: i64,
    pub by_outcome: BTreeMap<String, i64>,
}

const COLUMNS: &str =
    "id, extension, deployment_id, version, hook, started_at, duration_us, fuel_used, outcome, detail, output, dry_run";

fn invocation(row: &AnyRow) -> Result<InvocationRow> {
    Ok(InvocationRow {
        id: row.try_get("id")?,
        extension: row.try_get("extension")?,
        deployment_id: row.try_get("deployment_id")?,
        version: row.try_get("version")?,
        hook: row.try_get("hook")?,
        started_at: row.try_get("started_at")?,
        duration_us: row.try_get("duration_us")?,
        fuel_used: row.try_get("fuel_used")?,
        outcome: row.try_get("outcome")?,
        detail: row.try_get("detail")?,
        output: row.try_get("output")?,
        dry_run: row.try_get::<i64, _>("dry_run")? != 0,
    })
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Db {
    pub async fn insert_invocations(&self, batch: &[NewInvocation]) -> Result<()> {
        /// Rows per statement: one statement per chunk, not per record (13 parameters a
        /// row, well inside SQLite's and PostgreSQL's limits).
        const ROWS: usize = 64;
        const PARAMETERS: usize = 13;
        let mut tx = self.begin_write().await?;
        for chunk in batch.chunks(ROWS) {
            // SQLite finds a numbered parameter's name by walking a list, once per parameter
            // bound (quadratic in a statement's parameters); anonymous `?` ones need no
            // name. PostgreSQL numbers them.
            let parameter = |n: usize| match self.backend {
                Backend::Sqlite => "?".to_owned(),
                Backend::Postgres => format!("${n}"),
            };
            let rows: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let first = row * PARAMETERS + 1;
                    let parameters: Vec<String> = (first..first + PARAMETERS).map(parameter).collect();
                    format!("({})", parameters.join(", "))
                })
                .collect();
            let sql = format!("INSERT INTO extension_invocations (tenant_id, {COLUMNS}) VALUES {}", rows.join(", "));
            let mut query = sqlx::query(&sql);
            for new in chunk {
                let r = &new.row;
                query = query
                    .bind(&new.tenant_id)
                    .bind(&r.id)
                    .bind(&r.extension)
                    .bind(&r.deployment_id)
                    .bind(r.version)
                    .bind(&r.hook)
                    .bind(r.started_at)
                    .bind(r.duration_us)
                    .bind(r.fuel_used)
                    .bind(&r.outcome)
                    .bind(&r.detail)
                    .bind(&r.output)
                    .bind(i64::from(r.dry_run));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Newest first; `before` is an exclusive (started_at, id) cursor.
    pub async fn list_invocations(
        &self,
        tenant_id: &str,
        extension: Option<&str>,
        before: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<InvocationRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM extension_invocations
             WHERE tenant_id = $1 AND ($2 IS NULL OR extension = $3)
               AND ($4 IS NULL OR started_at < $5 OR (started_at = $6 AND id < $7))
             ORDER BY started_at DESC, id DESC LIMIT $8"
        );
        let (at, id) = (before.map(|b| b.0), before.map(|b| b.1));
        let rows = sqlx::query(&sql)
            .bind(tenant_id)
            .bind(extension)
            .bind(extension)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(id)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(invocation).collect()
    }

    /// Numbers over the extension's latest `window` invocations (dry runs excluded).
    pub async fn invocation_stats(&self, tenant_id: &str, extension: &str, window: u32) -> Result<InvocationStats> {
        let rows = sqlx::query(
            "SELECT outcome, duration_us FROM extension_invocations
             WHERE tenant_id = $1 AND extension = $2 AND dry_run = 0
             ORDER BY started_at DESC, id DESC LIMIT $3",
        )
        .bind(tenant_id)
        .bind(extension)
        .bind(i64::from(window))
        .fetch_all(&self.pool)
        .await?;
        let mut by_outcome = BTreeMap::new();
        let mut durations = Vec::with_capacity(rows.len());
        for row in &rows {
            *by_outcome.entry(row.try_get::<String, _>("outcome")?).or_insert(0) += 1;
            durations.push(row.try_get::<i64, _>("duration_us")?);
        }
        durations.sort_unstable();
        let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let ok = by_outcome.get("ok").copied().unwrap_or(0);
        let denied = by_outcome.get("denied").copied().unwrap_or(0);
        let errors = count - ok - denied;
        Ok(InvocationStats {
            extension: extension.to_owned(),
            count,
            errors,
            denied,
            error_rate: if count == 0 { 0.0 } else { errors as f64 / count as f64 },
            p50_us: percentile(&durations, 0.50),
            p99_us: percentile(&durations, 0.99),
            by_outcome,
        })
    }

    /// Keeps the newest `keep` records of each (tenant, extension); returns rows deleted.
    pub async fn prune_invocations(&self, keep: u32) -> Result<u64> {
        let deleted = sqlx::query(
            "DELETE FROM extension_invocations WHERE (tenant_id, id) IN (
               SELECT tenant_id, id FROM (
                 SELECT tenant_id, id, ROW_NUMBER() OVER (
                   PARTITION BY tenant_id, extension ORDER BY started_at DESC, id DESC) AS n
                 FROM extension_invocations) ranked
               WHERE n > $1)",
        )
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
    }
}
