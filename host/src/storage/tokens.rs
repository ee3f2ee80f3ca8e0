//! Personal access tokens for the admin API, stored as SHA-256 digests.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Db, Result, StorageError, state};
use crate::tenancy::{ResourceState, Role};

/// The id of the operator token that `KEYHAVEN_ROOT_TOKEN` (or first start) sets.
pub const ROOT_TOKEN_ID: &str = "pat_root";

/// A stored personal access token.
#[derive(Clone, Debug)]
pub struct PatRow {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub token_sha256: String,
    pub state: ResourceState,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// The administrator account whose session made the token, if one did: the token
    /// works only while that account is an administrator.
    pub created_by_account: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, role, name, token_sha256, state, created_at, expires_at, created_by_account";

fn pat(row: &AnyRow) -> Result<PatRow> {
    let role = match (row.try_get::<&str, _>("role")?, row.try_get::<Option<String>, _>("tenant_id")?) {
        ("operator", None) => Role::Operator,
        ("tenant-admin", Some(tenant_id)) => Role::TenantAdmin { tenant_id },
        ("tenant-viewer", Some(tenant_id)) => Role::TenantViewer { tenant_id },
        (role, _) => return Err(StorageError::Corrupt(format!("token role {role:?}"))),
    };
    Ok(PatRow {
        id: row.try_get("id")?,
        role,
        name: row.try_get("name")?,
        token_sha256: row.try_get("token_sha256")?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        created_by_account: row.try_get("created_by_account")?,
    })
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, pat: &PatRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO personal_access_tokens (id, tenant_id, role, name, token_sha256, state, created_at, expires_at,
                                             created_by_account)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&pat.id)
    .bind(pat.role.tenant_id())
    .bind(pat.role.as_str())
    .bind(&pat.name)
    .bind(&pat.token_sha256)
    .bind(pat.state.as_str())
    .bind(pat.created_at)
    .bind(pat.expires_at)
    .bind(&pat.created_by_account)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// The token whose digest is `token_sha256`, if any.
    pub async fn pat_by_digest(&self, token_sha256: &str) -> Result<Option<PatRow>> {
        let sql = format!("SELECT {COLUMNS} FROM personal_access_tokens WHERE token_sha256 = $1");
        let row = sqlx::query(&sql).bind(token_sha256).fetch_optional(&self.pool).await?;
        row.as_ref().map(pat).transpose()
    }

    /// A tenant's tokens, oldest first.
    pub async fn pats_of(&self, tenant_id: &str) -> Result<Vec<PatRow>> {
        let sql = format!("SELECT {COLUMNS} FROM personal_access_tokens WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(pat).collect()
    }

    pub async fn pat(&self, tenant_id: &str, id: &str) -> Result<Option<PatRow>> {
        let sql = format!("SELECT {COLUMNS} FROM personal_access_tokens WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(pat).transpose()
    }

    /// Stores a new token of a tenant, with its event.
    pub async fn insert_pat(&self, pat: &PatRow, event: super::EventToWrite<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        insert(&mut tx, pat).await?;
        if let (Some((event, bindings)), Some(tenant_id)) = (event, pat.role.tenant_id()) {
            super::events::insert_event_in(&mut tx, tenant_id, event, bindings, pat.created_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_pat_state(&self, tenant_id: &str, id: &str, new_state: ResourceState) -> Result<bool> {
        let updated = sqlx::query("UPDATE personal_access_tokens SET state = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(new_state.as_str())
            .bind(tenant_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Deletes (revokes) the tenant's token `id`, with `event` in the same transaction;
    /// false (nothing written) if there is no such token.
    pub async fn delete_pat(
        &self,
        tenant_id: &str,
        id: &str,
        event: super::EventToWrite<'_>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM personal_access_tokens WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            super::events::insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether the root operator token has been set.
    pub async fn has_root_token(&self) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM personal_access_tokens WHERE id = $1")
            .bind(ROOT_TOKEN_ID)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Sets (or replaces) the root operator token.
    pub async fn set_root_token(&self, token_sha256: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO personal_access_tokens (id, tenant_id, role, name, token_sha256, state, created_at)
             VALUES ($1, NULL, 'operator', 'root', $2, 'ENABLED', $3)
             ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256, state = 'ENABLED'",
        )
        .bind(ROOT_TOKEN_ID)
        .bind(token_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
