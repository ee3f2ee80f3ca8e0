//! Failed authentications counted by tenant and client address, in one upsert each, so
//! every node counts into the same row and sees the same block.

use sqlx::Row;

use super::{Db, Result};

impl Db {
    /// Until when `ip` is blocked from authenticating to the tenant, if it is at `now`.
    pub async fn auth_blocked_until(&self, tenant_id: &str, ip: &str, now: i64) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT blocked_until FROM auth_failures WHERE tenant_id = $1 AND ip = $2")
            .bind(tenant_id)
            .bind(ip)
            .fetch_optional(&self.pool)
            .await?;
        let until: Option<i64> = match row {
            Some(row) => row.try_get("blocked_until")?,
            None => None,
        };
        Ok(until.filter(|until| *until > now))
    }

    /// Counts one failure of `ip` at `now` in a window of `window` seconds (a window that
    /// has run out starts again at 1); beyond `max` failures in the window the address is
    /// blocked until `now + block`. Returns the failures counted in this window.
    pub async fn count_auth_failure(
        &self,
        tenant_id: &str,
        ip: &str,
        now: i64,
        window: i64,
        max: i64,
        block: i64,
    ) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO auth_failures (tenant_id, ip, window_start, failures, blocked_until)
             VALUES ($1, $2, $3, 1, NULL)
             ON CONFLICT (tenant_id, ip) DO UPDATE SET
               failures = CASE WHEN auth_failures.window_start <= $3 - $4 THEN 1 ELSE auth_failures.failures + 1 END,
               window_start = CASE WHEN auth_failures.window_start <= $3 - $4 THEN $3 ELSE auth_failures.window_start END,
               blocked_until = CASE
                 WHEN auth_failures.window_start > $3 - $4 AND auth_failures.failures + 1 > $5 THEN $3 + $6
                 ELSE auth_failures.blocked_until END
             RETURNING failures",
        )
        .bind(tenant_id)
        .bind(ip)
        .bind(now)
        .bind(window)
        .bind(max)
        .bind(block)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("failures")?)
    }

    /// Forgets counts whose window and block are both over (maintenance).
    pub async fn prune_auth_failures(&self, now: i64, window: i64) -> Result<u64> {
        let pruned = sqlx::query(
            "DELETE FROM auth_failures WHERE window_start <= $1 - $2 AND (blocked_until IS NULL OR blocked_until <= $1)",
        )
        .bind(now)
        .bind(window)
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }
}
