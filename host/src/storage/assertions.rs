//! The replay cache of `private_key_jwt` client assertions: each `jti` a client presented,
//! kept until its assertion expires, so no assertion is accepted twice — on any node.

use super::{Db, Result};

impl Db {
    /// Records an assertion's `jti`; false if the client presented it before.
    pub async fn record_client_assertion(
        &self,
        tenant_id: &str,
        client_id: &str,
        jti: &str,
        expires_at: i64,
    ) -> Result<bool> {
        let recorded = sqlx::query(
            "INSERT INTO client_assertions (tenant_id, client_id, jti, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id, client_id, jti) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(recorded.rows_affected() == 1)
    }

    /// Forgets the tenant's expired assertions; returns how many.
    pub async fn remove_expired_assertions(&self, tenant_id: &str, now: i64) -> Result<u64> {
        let removed = sqlx::query("DELETE FROM client_assertions WHERE tenant_id = $1 AND expires_at <= $2")
            .bind(tenant_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(removed.rows_affected())
    }
}
