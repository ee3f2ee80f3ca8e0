//! What periodic maintenance reads and removes: leases (one node runs a job at a time),
//! sessions and logins that have ended, spent one-time codes, accounts inactive for
//! longer than their tenant allows, PENDING items that were never completed (accounts whose
//! invite lapsed, unconfirmed factor enrolments), and the tenants to expire. Per-tenant removals are scoped by tenant id; the spent
//! codes are the one cross-tenant sweep (a work queue, like pending builds).

use sqlx::Row;

use super::{Db, Result};
use crate::tenancy::TenantSettings;
use crate::tenancy::account::LOGIN_SECONDS;

impl Db {
    /// Takes or renews the lease `name` for `holder` until `until`; true if `holder` holds
    /// it now (it was free, expired, or already its own).
    pub async fn take_lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE leases.until <= $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(until)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives up `holder`'s lease on `name` (if it still holds it).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets leases that lapsed more than an hour ago (a resource lock whose node stopped).
    pub async fn remove_lapsed_leases(&self, now: i64) -> Result<u64> {
        let removed = sqlx::query("DELETE FROM leases WHERE until <= $1").bind(now - 3_600).execute(&self.pool).await?;
        Ok(removed.rows_affected())
    }

    /// Removes the tenant's ended sessions and expired logins; returns how many.
    pub async fn remove_dead_sessions(&self, tenant_id: &str, settings: &TenantSettings, now: i64) -> Result<u64> {
        let removed = sqlx::query(
            "DELETE FROM sessions WHERE tenant_id = $1 AND (
                state IN ('DISABLED', 'LOCKED')
                OR (state = 'PENDING' AND created_at <= $2)
                OR (state = 'ENABLED' AND stay_signed_in = 0 AND last_seen_at <= $3)
                OR (state = 'ENABLED' AND stay_signed_in <> 0 AND created_at <= $4))",
        )
        .bind(tenant_id)
        .bind(now - LOGIN_SECONDS)
        .bind(now - settings.session_idle_seconds)
        .bind(now - settings.stay_signed_in_seconds)
        .execute(&self.pool)
        .await?;
        Ok(removed.rows_affected())
    }

    /// Removes one-time codes that expired (or were used) more than a day ago, across tenants.
    pub async fn remove_spent_codes(&self, now: i64) -> Result<u64> {
        let removed =
            sqlx::query("DELETE FROM otp_codes WHERE expires_at <= $1").bind(now - 86_400).execute(&self.pool).await?;
        Ok(removed.rows_affected())
    }

    /// The ids of the tenant's accounts (PENDING ones expire by their own rule) unused since
    /// `before` (never used: since created).
    pub async fn inactive_accounts(&self, tenant_id: &str, before: i64, limit: u32) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM accounts WHERE tenant_id = $1 AND state <> 'PENDING' AND COALESCE(last_active_at, created_at) < $2
             ORDER BY id LIMIT $3",
        )
        .bind(tenant_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// The ids of the tenant's PENDING accounts created before `before` that hold no
    /// unexpired invite (an administrator who never accepted it).
    pub async fn lapsed_pending_accounts(
        &self,
        tenant_id: &str,
        before: i64,
        now: i64,
        limit: u32,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT a.id FROM accounts a
             WHERE a.tenant_id = $1 AND a.state = 'PENDING' AND a.created_at < $2
               AND NOT EXISTS (SELECT 1 FROM invites i
                               WHERE i.tenant_id = a.tenant_id AND i.account_id = a.id AND i.expires_at > $3)
             ORDER BY a.id LIMIT $4",
        )
        .bind(tenant_id)
        .bind(before)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Removes the tenant's factor enrolments still PENDING since before `before`, and its
    /// lapsed invites; returns how many enrolments.
    pub async fn remove_lapsed_enrolments(&self, tenant_id: &str, before: i64, now: i64) -> Result<u64> {
        let removed = sqlx::query("DELETE FROM factors WHERE tenant_id = $1 AND state = 'PENDING' AND created_at < $2")
            .bind(tenant_id)
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM invites WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected())
    }
}
