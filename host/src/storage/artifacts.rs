//! Compiled-component artifacts, by tenant, content hash and engine fingerprint, with the
//! SHA-256 of the artifact itself (checked before it is loaded).

use sqlx::Row;

use super::{Db, Result};

impl Db {
    /// The artifact and its stored SHA-256, if this engine compiled this content before.
    pub async fn artifact(
        &self,
        tenant_id: &str,
        content_sha256: &str,
        engine: &str,
    ) -> Result<Option<(Vec<u8>, String)>> {
        let row = sqlx::query(
            "SELECT artifact, artifact_sha256 FROM compiled_artifacts
             WHERE tenant_id = $1 AND content_sha256 = $2 AND engine = $3",
        )
        .bind(tenant_id)
        .bind(content_sha256)
        .bind(engine)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.try_get("artifact")?, row.try_get("artifact_sha256")?))).transpose()
    }

    /// Stores an artifact unless one is already stored for the same key.
    pub async fn insert_artifact(
        &self,
        tenant_id: &str,
        content_sha256: &str,
        engine: &str,
        artifact: &[u8],
        artifact_sha256: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO compiled_artifacts (tenant_id, content_sha256, engine, artifact, artifact_sha256, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(tenant_id)
        .bind(content_sha256)
        .bind(engine)
        .bind(artifact)
        .bind(artifact_sha256)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
