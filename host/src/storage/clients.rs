//! Machine clients of a tenant. Secrets are stored as SHA-256 digests only. The token
//! endpoint reads a client together with the rules that grant it scopes, in one query.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::EventToWrite;
use super::events::insert_event_in;
use super::{Db, Result, StorageError, is_unique_violation, state};
use crate::tenancy::controls::EVERY_CLIENT;
use crate::tenancy::{Client, ResourceState, ScopeRule};

const COLUMNS: &str = "tenant_id, client_id, name, secret_sha256, attributes, scopes, audience, state, created_at,
     previous_secret_sha256, secret_created_at, jwks, redirect_uris, public";

/// [`COLUMNS`] of the client aliased `c`, and the columns of a scope rule aliased `r`.
const CLIENT_WITH_RULE: &str = "c.tenant_id, c.client_id, c.name, c.secret_sha256, c.attributes, c.scopes, c.audience,
     c.state, c.created_at, c.previous_secret_sha256, c.secret_created_at, c.jwks, c.redirect_uris, c.public, r.id AS rule_id, r.label AS rule_label,
     r.client_id AS rule_client_id, r.scopes AS rule_scopes, r.created_at AS rule_created_at,
     r.updated_at AS rule_updated_at";

fn client(row: &AnyRow) -> Result<Client> {
    Ok(Client {
        tenant_id: row.try_get("tenant_id")?,
        client_id: row.try_get("client_id")?,
        name: row.try_get("name")?,
        secret_sha256: row.try_get("secret_sha256")?,
        attributes: serde_json::from_str(row.try_get("attributes")?)?,
        scopes: serde_json::from_str(row.try_get("scopes")?)?,
        audience: serde_json::from_str(row.try_get("audience")?)?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
        secret_created_at: row.try_get::<Option<i64>, _>("secret_created_at")?.unwrap_or_default(),
        previous_secret_sha256: row.try_get("previous_secret_sha256")?,
        jwks: row.try_get::<Option<&str>, _>("jwks")?.map(serde_json::from_str).transpose()?,
        redirect_uris: serde_json::from_str(row.try_get("redirect_uris")?)?,
        public: row.try_get::<i64, _>("public")? != 0,
    })
}

impl Db {
    /// Stores a new client and the event that reports it, in one transaction.
    pub async fn insert_client(&self, client: &Client, event: EventToWrite<'_>, now: i64) -> Result<()> {
        let sql = format!(
            "INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        );
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(&sql)
            .bind(&client.tenant_id)
            .bind(&client.client_id)
            .bind(&client.name)
            .bind(&client.secret_sha256)
            .bind(serde_json::to_string(&client.attributes)?)
            .bind(serde_json::to_string(&client.scopes)?)
            .bind(serde_json::to_string(&client.audience)?)
            .bind(client.state.as_str())
            .bind(client.created_at)
            .bind(&client.previous_secret_sha256)
            .bind(client.secret_created_at)
            .bind(client.jwks.as_ref().map(serde_json::Value::to_string))
            .bind(serde_json::to_string(&client.redirect_uris)?)
            .bind(i64::from(client.public))
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(StorageError::Conflict("a client with this id")),
            other => other?,
        };
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, &client.tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND client_id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(client_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(client).transpose()
    }

    /// The client with the enabled rules that grant it scopes (naming it or every client),
    /// in one query: the token endpoint's read of a client.
    pub async fn client_with_rules(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Option<(Client, Vec<ScopeRule>)>> {
        let sql = format!(
            "SELECT {CLIENT_WITH_RULE} FROM clients c
             LEFT JOIN scope_rules r ON r.tenant_id = c.tenant_id AND r.client_id IN (c.client_id, $3)
                                    AND r.state = 'ENABLED'
             WHERE c.tenant_id = $1 AND c.client_id = $2"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).bind(client_id).bind(EVERY_CLIENT).fetch_all(&self.pool).await?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut rules = Vec::new();
        for row in &rows {
            let Some(id) = row.try_get::<Option<String>, _>("rule_id")? else { continue };
            rules.push(ScopeRule {
                id,
                label: row.try_get("rule_label")?,
                client_id: row.try_get("rule_client_id")?,
                scopes: serde_json::from_str(row.try_get("rule_scopes")?)?,
                state: ResourceState::Enabled,
                created_at: row.try_get("rule_created_at")?,
                updated_at: row.try_get("rule_updated_at")?,
            });
        }
        // Oldest rule first, so a token's scopes come in a stable order.
        rules.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(Some((client(first)?, rules)))
    }

    pub async fn list_clients(&self, tenant_id: &str) -> Result<Vec<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(client).collect()
    }

    /// Writes a client's changeable fields and its event.
    pub async fn update_client(&self, client: &Client, event: EventToWrite<'_>, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE clients SET name = $1, attributes = $2, scopes = $3, audience = $4, state = $5, jwks = $6,
                 redirect_uris = $7
             WHERE tenant_id = $8 AND client_id = $9",
        )
        .bind(&client.name)
        .bind(serde_json::to_string(&client.attributes)?)
        .bind(serde_json::to_string(&client.scopes)?)
        .bind(serde_json::to_string(&client.audience)?)
        .bind(client.state.as_str())
        .bind(client.jwks.as_ref().map(serde_json::Value::to_string))
        .bind(serde_json::to_string(&client.redirect_uris)?)
        .bind(&client.tenant_id)
        .bind(&client.client_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, &client.tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Makes `new_sha256` the client's current secret and keeps the current one as the
    /// previous (dropping an older previous one), with the event, in one transaction.
    pub async fn rotate_client_secret(
        &self,
        tenant_id: &str,
        client_id: &str,
        new_sha256: &str,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let rotated = sqlx::query(
            "UPDATE clients SET previous_secret_sha256 = secret_sha256, secret_sha256 = $1, secret_created_at = $2
             WHERE tenant_id = $3 AND client_id = $4",
        )
        .bind(new_sha256)
        .bind(now)
        .bind(tenant_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        if rotated.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Retires the previous secret; false if there was none.
    pub async fn retire_previous_secret(&self, tenant_id: &str, client_id: &str) -> Result<bool> {
        let retired = sqlx::query(
            "UPDATE clients SET previous_secret_sha256 = NULL
             WHERE tenant_id = $1 AND client_id = $2 AND previous_secret_sha256 IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(client_id)
        .execute(&self.pool)
        .await?;
        Ok(retired.rows_affected() == 1)
    }
}
