//! Signing keys, one or more per tenant: the current (ENABLED) key signs; retired keys
//! (DISABLED) stay published until the tokens they signed have expired. A rotation — the
//! current key retired, a new one current, the event — is one transaction. Private keys
//! are PKCS#8 DER sealed under the node key (`sealed_private`); a key stored before sealing
//! existed has its DER in `private_der` until the node's start seals it.

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
    /// The PKCS#8 DER in the clear: only in memory, between generation and sealing, or in
    /// a row stored before keys were sealed (empty once sealed).
    pub private_der: Vec<u8>,
    /// The DER sealed under the node key (`nonce.ciphertext`), as stored.
    pub sealed_private: Option<String>,
    /// The public key as a JWK (JSON text).
    pub public_jwk: String,
    pub state: ResourceState,
    pub created_at: i64,
}

/// A key as the admin API shows it: no private material.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: String,
    /// ENABLED: the key that signs; DISABLED: retired, published until `published_until`.
    pub state: ResourceState,
    pub created_at: i64,
    pub published_until: Option<i64>,
}

fn key(row: &AnyRow) -> Result<SigningKeyRow> {
    Ok(SigningKeyRow {
        kid: row.try_get("kid")?,
        tenant_id: row.try_get("tenant_id")?,
        algorithm: row.try_get("algorithm")?,
        private_der: row.try_get("private_der")?,
        sealed_private: row.try_get("sealed_private")?,
        public_jwk: row.try_get("public_jwk")?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, key: &SigningKeyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, tenant_id, algorithm, private_der, sealed_private, public_jwk, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.kid)
    .bind(&key.tenant_id)
    .bind(&key.algorithm)
    .bind(&key.private_der)
    .bind(&key.sealed_private)
    .bind(&key.public_jwk)
    .bind(key.state.as_str())
    .bind(key.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    /// Every key, of every tenant, still stored in the clear (from before keys were sealed).
    pub async fn unsealed_signing_keys(&self) -> Result<Vec<SigningKeyRow>> {
        let rows = sqlx::query(
            "SELECT kid, tenant_id, algorithm, private_der, sealed_private, public_jwk, state, created_at
             FROM signing_keys WHERE sealed_private IS NULL",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key).collect()
    }

    /// Replaces a key's clear DER with its sealed form, unless another node sealed it first.
    pub async fn seal_signing_key(&self, tenant_id: &str, kid: &str, sealed: &str) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE signing_keys SET sealed_private = $1, private_der = $2
             WHERE tenant_id = $3 AND kid = $4 AND sealed_private IS NULL",
        )
        .bind(sealed)
        .bind(Vec::<u8>::new())
        .bind(tenant_id)
        .bind(kid)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// The tenant's newest ENABLED key: the one that signs.
    pub async fn active_signing_key(&self, tenant_id: &str) -> Result<Option<SigningKeyRow>> {
        let row = sqlx::query(
            "SELECT kid, tenant_id, algorithm, private_der, sealed_private, public_jwk, state, created_at
             FROM signing_keys WHERE tenant_id = $1 AND state = 'ENABLED'
             ORDER BY created_at DESC, kid LIMIT 1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key).transpose()
    }

    /// The public JWKs the tenant publishes: the current key, then the retired keys whose
    /// tokens may still be valid, newest first.
    pub async fn published_keys(&self, tenant_id: &str, now: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT public_jwk FROM signing_keys
             WHERE tenant_id = $1 AND (state = 'ENABLED' OR (state = 'DISABLED' AND published_until > $2))
             ORDER BY CASE WHEN state = 'ENABLED' THEN 0 ELSE 1 END, created_at DESC, kid",
        )
        .bind(tenant_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(row.try_get("public_jwk")?)).collect()
    }

    /// The tenant's keys: the current one, then the retired ones, newest first.
    pub async fn signing_keys(&self, tenant_id: &str) -> Result<Vec<KeyInfo>> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, state, created_at, published_until FROM signing_keys WHERE tenant_id = $1
             ORDER BY CASE WHEN state = 'ENABLED' THEN 0 ELSE 1 END, created_at DESC, kid",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KeyInfo {
                    kid: row.try_get("kid")?,
                    algorithm: row.try_get("algorithm")?,
                    state: state(row.try_get("state")?)?,
                    created_at: row.try_get("created_at")?,
                    published_until: row.try_get("published_until")?,
                })
            })
            .collect()
    }

    /// Retires the tenant's current key (published until `published_until`) and makes
    /// `new` current, with the event, in one transaction.
    pub async fn rotate_signing_key(
        &self,
        new: &SigningKeyRow,
        published_until: i64,
        event: super::EventToWrite<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        // Two rotations at once (maintenance and an administrator) take turns, so the
        // tenant never has two current keys (SQLite's write transactions already do).
        if self.backend == super::Backend::Postgres {
            sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
                .bind(&new.tenant_id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE signing_keys SET state = 'DISABLED', published_until = $1 WHERE tenant_id = $2 AND state = 'ENABLED'",
        )
        .bind(published_until)
        .bind(&new.tenant_id)
        .execute(&mut *tx)
        .await?;
        insert(&mut tx, new).await?;
        if let Some((event, bindings)) = event {
            super::events::insert_event_in(&mut tx, &new.tenant_id, event, bindings, new.created_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes the tenant's retired keys no longer published; returns how many.
    pub async fn remove_unpublished_keys(&self, tenant_id: &str, now: i64) -> Result<u64> {
        let removed = sqlx::query(
            "DELETE FROM signing_keys WHERE tenant_id = $1 AND state = 'DISABLED' AND published_until <= $2",
        )
        .bind(tenant_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(removed.rows_affected())
    }
}
