//! Tenants: created together with their first signing key and administrator token, in one
//! transaction, so a half-made tenant never exists.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, PatRow, Result, SigningKeyRow, StorageError, is_unique_violation, state};
use crate::tenancy::Tenant;

const COLUMNS: &str = "id, name, label, state, created_at";

fn tenant(row: &AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        label: row.try_get("label")?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
    })
}

impl Db {
    /// Stores a new tenant with its signing key and its first administrator token.
    pub async fn create_tenant(&self, tenant: &Tenant, key: &SigningKeyRow, admin: &PatRow) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let inserted =
            sqlx::query("INSERT INTO tenants (id, name, label, state, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&tenant.id)
                .bind(&tenant.name)
                .bind(&tenant.label)
                .bind(tenant.state.as_str())
                .bind(tenant.created_at)
                .execute(&mut *tx)
                .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StorageError::Conflict("a tenant with this name")),
            other => other?,
        };
        super::keys::insert(&mut tx, key).await?;
        super::tokens::insert(&mut tx, admin).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {COLUMNS} FROM tenants WHERE name = $1");
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn tenant_by_id(&self, id: &str) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let sql = format!("SELECT {COLUMNS} FROM tenants ORDER BY name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(tenant).collect()
    }
}
