//! Administrators are accounts: the permissions an account holds (each the value of a
//! permission-requiring scope, `admin` among them) and the one-time invites with which an
//! account sets its first password. An invite is stored as the SHA-256 of its token, one
//! per account, and removed when it is used; its use, the new password factor and the
//! account's activation are one transaction.

use sqlx::{Any, Row, Transaction};

use super::accounts::{EventToWrite, event_in, insert_account_in, insert_factor_in};
use super::grants::{Holder, revoke_refresh_tokens_in};
use super::{Db, Result};
use crate::tenancy::{Account, Factor};

pub use crate::tenancy::controls::{ADMIN_PERMISSION, VIEWER_PERMISSION};

/// A new tenant's first administrator: a PENDING account holding the `admin` permission,
/// and the digest of its one-time invite.
#[derive(Clone, Debug)]
pub struct FirstAdministrator {
    pub account: Account,
    pub invite_sha256: String,
    pub invite_expires_at: i64,
}

/// Stores the first administrator inside the tenant's creation transaction.
pub(super) async fn insert_first_administrator(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    admin: &FirstAdministrator,
) -> Result<()> {
    insert_account_in(tx, tenant_id, &admin.account).await?;
    sqlx::query(
        "INSERT INTO account_permissions (tenant_id, account_id, permission, granted_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant_id)
    .bind(&admin.account.id)
    .bind(ADMIN_PERMISSION)
    .bind(admin.account.created_at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO invites (tenant_id, account_id, token_sha256, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(&admin.account.id)
    .bind(&admin.invite_sha256)
    .bind(admin.invite_expires_at)
    .bind(admin.account.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An invite as stored: whose it is and until when it may be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InviteRow {
    pub account_id: String,
    pub expires_at: i64,
}

impl Db {
    /// The permissions the account holds, in name order.
    pub async fn permissions_of(&self, tenant_id: &str, account_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT permission FROM account_permissions WHERE tenant_id = $1 AND account_id = $2 ORDER BY permission",
        )
        .bind(tenant_id)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("permission")?)).collect()
    }

    /// Grants a permission, with its event; false if the account held it already.
    pub async fn grant_permission(
        &self,
        tenant_id: &str,
        account_id: &str,
        permission: &str,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let granted = sqlx::query(
            "INSERT INTO account_permissions (tenant_id, account_id, permission, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, account_id, permission) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(account_id)
        .bind(permission)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if granted.rows_affected() != 1 {
            return Ok(false);
        }
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Revokes a permission, with its event; false if the account did not hold it.
    pub async fn revoke_permission(
        &self,
        tenant_id: &str,
        account_id: &str,
        permission: &str,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let revoked =
            sqlx::query("DELETE FROM account_permissions WHERE tenant_id = $1 AND account_id = $2 AND permission = $3")
                .bind(tenant_id)
                .bind(account_id)
                .bind(permission)
                .execute(&mut *tx)
                .await?;
        if revoked.rows_affected() != 1 {
            return Ok(false);
        }
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets the account's invite (replacing an earlier one, which stops working), with its
    /// event.
    pub async fn set_invite(
        &self,
        tenant_id: &str,
        account_id: &str,
        token_sha256: &str,
        expires_at: i64,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO invites (tenant_id, account_id, token_sha256, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, account_id) DO UPDATE
             SET token_sha256 = excluded.token_sha256, expires_at = excluded.expires_at, created_at = excluded.created_at",
        )
        .bind(tenant_id)
        .bind(account_id)
        .bind(token_sha256)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's invite whose token digest is `token_sha256`, if any (expired or not).
    pub async fn invite(&self, tenant_id: &str, token_sha256: &str) -> Result<Option<InviteRow>> {
        let row = sqlx::query("SELECT account_id, expires_at FROM invites WHERE tenant_id = $1 AND token_sha256 = $2")
            .bind(tenant_id)
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| Ok(InviteRow { account_id: row.try_get("account_id")?, expires_at: row.try_get("expires_at")? }))
            .transpose()
    }

    /// Uses an invite: removes it (if it is still there and unexpired), disables the
    /// account's earlier passwords, ends its sessions, stores the new password factor and
    /// enables a PENDING account, with the event, in one transaction. False (and nothing changed) if the
    /// invite was used or expired meanwhile.
    pub async fn accept_invite(
        &self,
        tenant_id: &str,
        token_sha256: &str,
        password: &Factor,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let used = sqlx::query(
            "DELETE FROM invites WHERE tenant_id = $1 AND account_id = $2 AND token_sha256 = $3 AND expires_at > $4",
        )
        .bind(tenant_id)
        .bind(&password.account_id)
        .bind(token_sha256)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE factors SET state = 'DISABLED'
             WHERE tenant_id = $1 AND account_id = $2 AND kind = 'password' AND state IN ('PENDING', 'ENABLED')",
        )
        .bind(tenant_id)
        .bind(&password.account_id)
        .execute(&mut *tx)
        .await?;
        // A new password ends every session opened with an old one, and what they granted.
        sqlx::query("UPDATE sessions SET state = 'DISABLED' WHERE tenant_id = $1 AND account_id = $2")
            .bind(tenant_id)
            .bind(&password.account_id)
            .execute(&mut *tx)
            .await?;
        revoke_refresh_tokens_in(&mut tx, tenant_id, Holder::Account(&password.account_id), now).await?;
        insert_factor_in(&mut tx, tenant_id, password).await?;
        sqlx::query("UPDATE accounts SET state = 'ENABLED', updated_at = $1 WHERE tenant_id = $2 AND id = $3 AND state = 'PENDING'")
            .bind(now)
            .bind(tenant_id)
            .bind(&password.account_id)
            .execute(&mut *tx)
            .await?;
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
