//! Rules granting scopes to machine clients (see [`crate::tenancy::ScopeRule`]). A change
//! and its event are one transaction; the token endpoint reads a client's enabled rules
//! with the client itself ([`Db::client_with_rules`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::{EventToWrite, event_in};
use super::{Db, Result, state};
use crate::tenancy::ScopeRule;

const COLUMNS: &str = "id, label, client_id, scopes, state, created_at, updated_at";

fn rule(row: &AnyRow) -> Result<ScopeRule> {
    Ok(ScopeRule {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        client_id: row.try_get("client_id")?,
        scopes: serde_json::from_str(row.try_get("scopes")?)?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Db {
    pub async fn insert_rule(&self, tenant_id: &str, rule: &ScopeRule, event: EventToWrite<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!("INSERT INTO scope_rules (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(&rule.id)
            .bind(&rule.label)
            .bind(&rule.client_id)
            .bind(serde_json::to_string(&rule.scopes)?)
            .bind(rule.state.as_str())
            .bind(rule.created_at)
            .bind(rule.updated_at)
            .execute(&mut *tx)
            .await?;
        event_in(&mut tx, tenant_id, event, rule.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tenant's rules, oldest first.
    pub async fn rules(&self, tenant_id: &str) -> Result<Vec<ScopeRule>> {
        let sql = format!("SELECT {COLUMNS} FROM scope_rules WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(rule).collect()
    }

    pub async fn rule(&self, tenant_id: &str, id: &str) -> Result<Option<ScopeRule>> {
        let sql = format!("SELECT {COLUMNS} FROM scope_rules WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(rule).transpose()
    }

    /// Writes a rule's label, scopes and state, with the event; false if it is gone.
    pub async fn update_rule(&self, tenant_id: &str, rule: &ScopeRule, event: EventToWrite<'_>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE scope_rules SET label = $1, scopes = $2, state = $3, updated_at = $4
             WHERE tenant_id = $5 AND id = $6",
        )
        .bind(&rule.label)
        .bind(serde_json::to_string(&rule.scopes)?)
        .bind(rule.state.as_str())
        .bind(rule.updated_at)
        .bind(tenant_id)
        .bind(&rule.id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        event_in(&mut tx, tenant_id, event, rule.updated_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn delete_rule(&self, tenant_id: &str, id: &str, now: i64, event: EventToWrite<'_>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM scope_rules WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        event_in(&mut tx, tenant_id, event, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}
