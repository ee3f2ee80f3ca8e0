//! The tenants' key-value stores (JSON values), bounded in keys per tenant.

use serde::Serialize;
use sqlx::Row;

use super::{Db, Result};

/// A write to a tenant's store.
#[derive(Clone, Copy, Debug)]
pub struct KvWrite<'a> {
    pub key: &'a str,
    pub value: &'a str,
    pub max_keys: u32,
    pub now: i64,
}

/// An entry as the admin API lists it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct KvEntry {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: i64,
}

impl Db {
    pub async fn kv_get(&self, tenant_id: &str, key: &str) -> Result<Option<String>> {
        let value = sqlx::query_scalar("SELECT value FROM kv_entries WHERE tenant_id = $1 AND key = $2")
            .bind(tenant_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value)
    }

    /// Inserts or replaces; a new key is refused (`false`) when the tenant already holds
    /// `max_keys` keys. One statement, so concurrent writers cannot pass the bound.
    pub async fn kv_set(&self, tenant_id: &str, write: KvWrite<'_>) -> Result<bool> {
        let written = sqlx::query(
            "INSERT INTO kv_entries (tenant_id, key, value, updated_at)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM kv_entries WHERE tenant_id = $5 AND key = $6)
                OR (SELECT COUNT(*) FROM kv_entries WHERE tenant_id = $7) < $8
             ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(write.key)
        .bind(write.value)
        .bind(write.now)
        .bind(tenant_id)
        .bind(write.key)
        .bind(tenant_id)
        .bind(i64::from(write.max_keys))
        .execute(&self.pool)
        .await?;
        Ok(written.rows_affected() == 1)
    }

    pub async fn kv_delete(&self, tenant_id: &str, key: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM kv_entries WHERE tenant_id = $1 AND key = $2")
            .bind(tenant_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Entries in key order, optionally those starting with `prefix`.
    pub async fn kv_list(
        &self,
        tenant_id: &str,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<KvEntry>> {
        let rows = sqlx::query(
            "SELECT key, value, updated_at FROM kv_entries
             WHERE tenant_id = $1 AND substr(key, 1, length($2)) = $3 AND key > $5 ORDER BY key LIMIT $4",
        )
        .bind(tenant_id)
        .bind(prefix.unwrap_or(""))
        .bind(prefix.unwrap_or(""))
        .bind(i64::from(limit))
        .bind(after.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(KvEntry {
                    key: row.try_get("key")?,
                    value: serde_json::from_str(row.try_get("value")?)?,
                    updated_at: row.try_get("updated_at")?,
                })
            })
            .collect()
    }
}
