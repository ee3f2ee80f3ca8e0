//! Tenants: created together with their first signing key, administrator token and
//! administrator account, in one transaction, so a half-made tenant never exists; and the
//! last time each was used, for the expiry of inactive tenants.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, FirstAdministrator, PatRow, Result, SigningKeyRow, StorageError, is_unique_violation, state};
use crate::extensions::events::Event;
use crate::tenancy::{Tenant, TenantSettings};

/// A tenant with its parent's state (for the effective state).
const SELECT: &str = "SELECT t.id, t.name, t.label, t.colour, t.tags, t.parent_id, t.state, t.settings,
       t.is_default, t.created_at, t.updated_at, p.state AS parent_state
     FROM tenants t LEFT JOIN tenants p ON p.id = t.parent_id";

fn tenant(row: &AnyRow) -> Result<Tenant> {
    let settings_changed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(row.try_get("settings")?)?;
    let settings: TenantSettings = serde_json::from_value(settings_changed.clone().into())?;
    let parent_state: Option<&str> = row.try_get("parent_state")?;
    Ok(Tenant {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        label: row.try_get("label")?,
        colour: row.try_get("colour")?,
        tags: serde_json::from_str(row.try_get("tags")?)?,
        parent_id: row.try_get("parent_id")?,
        state: state(row.try_get("state")?)?,
        settings,
        settings_changed,
        default: row.try_get::<i64, _>("is_default")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        parent_state: parent_state.map(state).transpose()?,
    })
}

impl Db {
    /// Stores a new tenant with its signing key, its first administrator token, its first
    /// administrator account (with the `admin` permission and an invite) and the event that
    /// reports it. A parent must exist and be a top-level tenant; a new default
    /// tenant takes the flag from the previous one.
    pub async fn create_tenant(
        &self,
        tenant: &Tenant,
        key: &SigningKeyRow,
        admin: &PatRow,
        first_administrator: &FirstAdministrator,
        event: Option<(&Event, &[String])>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        if let Some(parent_id) = &tenant.parent_id {
            let parent: Option<Option<String>> = sqlx::query_scalar("SELECT parent_id FROM tenants WHERE id = $1")
                .bind(parent_id)
                .fetch_optional(&mut *tx)
                .await?;
            match parent {
                None => return Err(StorageError::NotFound("parent tenant")),
                Some(Some(_)) => {
                    return Err(StorageError::Refused("a sub-tenant cannot have sub-tenants of its own".into()));
                }
                Some(None) => {}
            }
        }
        if tenant.default {
            sqlx::query("UPDATE tenants SET is_default = 0 WHERE is_default = 1").execute(&mut *tx).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO tenants (id, name, label, colour, tags, parent_id, state, settings, is_default, created_at,
                                  updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&tenant.id)
        .bind(&tenant.name)
        .bind(&tenant.label)
        .bind(&tenant.colour)
        .bind(serde_json::to_string(&tenant.tags)?)
        .bind(&tenant.parent_id)
        .bind(tenant.state.as_str())
        .bind(serde_json::Value::from(tenant.settings_changed.clone()).to_string())
        .bind(i64::from(tenant.default))
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StorageError::Conflict("a tenant with this name")),
            other => other?,
        };
        super::keys::insert(&mut tx, key).await?;
        super::tokens::insert(&mut tx, admin).await?;
        super::administrators::insert_first_administrator(&mut tx, &tenant.id, first_administrator).await?;
        if let Some((event, bindings)) = event {
            super::events::insert_event_in(&mut tx, &tenant.id, event, bindings, tenant.created_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let sql = format!("{SELECT} WHERE t.name = $1");
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant).transpose()
    }

    pub async fn tenant_by_id(&self, id: &str) -> Result<Option<Tenant>> {
        let sql = format!("{SELECT} WHERE t.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant).transpose()
    }

    /// The sub-tenants of the tenant `parent_id`, by name.
    pub async fn sub_tenants(&self, parent_id: &str) -> Result<Vec<Tenant>> {
        let sql = format!("{SELECT} WHERE t.parent_id = $1 ORDER BY t.name");
        let rows = sqlx::query(&sql).bind(parent_id).fetch_all(&self.pool).await?;
        rows.iter().map(tenant).collect()
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let sql = format!("{SELECT} ORDER BY t.name");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(tenant).collect()
    }

    /// Writes a tenant's changed fields (label, colour, tags, settings, state, default
    /// flag) and the event that reports the change, in one transaction. `tenant` is the
    /// tenant as it is to be; `false` when it no longer exists.
    pub async fn update_tenant(&self, tenant: &Tenant, event: Option<(&Event, &[String])>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if tenant.default {
            sqlx::query("UPDATE tenants SET is_default = 0 WHERE is_default = 1 AND id <> $1")
                .bind(&tenant.id)
                .execute(&mut *tx)
                .await?;
        }
        let updated = sqlx::query(
            "UPDATE tenants SET label = $1, colour = $2, tags = $3, settings = $4, state = $5, is_default = $6,
                                updated_at = $7
             WHERE id = $8",
        )
        .bind(&tenant.label)
        .bind(&tenant.colour)
        .bind(serde_json::to_string(&tenant.tags)?)
        .bind(serde_json::Value::from(tenant.settings_changed.clone()).to_string())
        .bind(tenant.state.as_str())
        .bind(i64::from(tenant.default))
        .bind(tenant.updated_at)
        .bind(&tenant.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            super::events::insert_event_in(&mut tx, &tenant.id, event, bindings, tenant.updated_at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Disables an ENABLED tenant unused (never used: since its creation) before `before`,
    /// with the event, in one transaction; false if it was used since, or is not ENABLED.
    pub async fn expire_tenant(
        &self,
        id: &str,
        before: i64,
        now: i64,
        event: Option<(&Event, &[String])>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let expired = sqlx::query(
            "UPDATE tenants SET state = 'DISABLED', updated_at = $1
             WHERE id = $2 AND state = 'ENABLED' AND is_default = 0 AND COALESCE(last_active_at, created_at) < $3",
        )
        .bind(now)
        .bind(id)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        if expired.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            super::events::insert_event_in(&mut tx, id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
