//! Signing keys, one or more per tenant. Private keys are stored as PKCS#8 DER.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Db, Result, state};
use crate::tenancy::ResourceState;

/// A stored signing key.
#[derive(Clone, Debug)]
pub struct SigningKeyRow {
    pub kid: String,
    pub tenant_id: String,
    pub algorithm: String,
    pub private_der: Vec<u8>,
    /// The public key as a JWK (JSON text).
    pub public_jwk: String,
    pub state: ResourceState,
    pub created_at: i64,
}

fn key(row: &AnyRow) -> Result<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: row.try_get("kid")?,
        tenant_id: row.try_get("tenant_id")?,
        algorithm: row.try_get("algorithm")?,
        private_der: row.try_get("private_der")?,
        public_jwk: row.try_get("public_jwk")?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, key: &SigningKeyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, tenant_id, algorithm, private_der, public_jwk, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.kid)
    .bind(&key.tenant_id)
    .bind(&key.algorithm)
    .bind(&key.private_der)
    .bind(&key.public_jwk)
    .bind(key.state.as_str())
    .bind(key.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// The tenant's newest ENABLED key: the one that signs.
    pub async fn active_signing_key(&self, tenant_id: &str) -> Result<Option<SigningKeyRow>> {
        let row = sqlx::query(
            "SELECT kid, tenant_id, algorithm, private_der, public_jwk, state, created_at
             FROM signing_keys WHERE tenant_id = $1 AND state = 'ENABLED'
             ORDER BY created_at DESC, kid LIMIT 1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key).transpose()
    }

    /// The public JWKs the tenant publishes (every ENABLED key).
    pub async fn published_keys(&self, tenant_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT public_jwk FROM signing_keys WHERE tenant_id = $1 AND state = 'ENABLED'
             ORDER BY created_at DESC, kid",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("public_jwk")?)).collect()
    }
}
