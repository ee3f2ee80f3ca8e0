//! Personal access tokens for the admin API, stored as SHA-256 digests.

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
    pub token_sha256: String,
    pub state: ResourceState,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, pat: &PatRow) -> Result<()> {
    let (role, tenant_id) = match &pat.role {
        Role::Operator => ("operator", None),
        Role::TenantAdmin { tenant_id } => ("tenant-admin", Some(tenant_id.as_str())),
    };
    sqlx::query(
        "INSERT INTO personal_access_tokens (id, tenant_id, role, token_sha256, state, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&pat.id)
    .bind(tenant_id)
    .bind(role)
    .bind(&pat.token_sha256)
    .bind(pat.state.as_str())
    .bind(pat.created_at)
    .bind(pat.expires_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// The token whose digest is `token_sha256`, if any.
    pub async fn pat_by_digest(&self, token_sha256: &str) -> Result<Option<PatRow>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, role, token_sha256, state, created_at, expires_at
             FROM personal_access_tokens WHERE token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role = match (row.try_get::<&str, _>("role")?, row.try_get::<Option<String>, _>("tenant_id")?) {
            ("operator", None) => Role::Operator,
            ("tenant-admin", Some(tenant_id)) => Role::TenantAdmin { tenant_id },
            (role, _) => return Err(StorageError::Corrupt(format!("token role {role:?}"))),
        };
        Ok(Some(PatRow {
            id: row.try_get("id")?,
            role,
            token_sha256: row.try_get("token_sha256")?,
            state: state(row.try_get("state")?)?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
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
            "INSERT INTO personal_access_tokens (id, tenant_id, role, token_sha256, state, created_at)
             VALUES ($1, NULL, 'operator', $2, 'ENABLED', $3)
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
