//! Access tokens revoked before their expiry (RFC 7009), by `jti`, per tenant. A row lives
//! only until the token would have expired; maintenance removes it then.

use super::{Db, Result};

impl Db {
    /// Records a revocation; false if the token was revoked already.
    pub async fn revoke_token(
        &self,
        tenant_id: &str,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool> {
        let revoked = sqlx::query(
            "INSERT INTO revoked_tokens (tenant_id, jti, client_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, jti) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(jti)
        .bind(client_id)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected() == 1)
    }

    pub async fn is_revoked(&self, tenant_id: &str, jti: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM revoked_tokens WHERE tenant_id = $1 AND jti = $2")
            .bind(tenant_id)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Forgets the tenant's revocations of tokens that have expired; returns how many.
    pub async fn remove_expired_revocations(&self, tenant_id: &str, now: i64) -> Result<u64> {
        let removed = sqlx::query("DELETE FROM revoked_tokens WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected())
    }
}
