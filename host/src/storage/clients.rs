//! Machine clients of a tenant. Secrets are stored as SHA-256 digests only.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, Result, StorageError, is_unique_violation, state};
use crate::tenancy::Client;

const COLUMNS: &str = "tenant_id, client_id, name, secret_sha256, attributes, scopes, audience, state, created_at";

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
    })
}

impl Db {
    pub async fn insert_client(&self, client: &Client) -> Result<()> {
        let sql = format!("INSERT INTO clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
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
            .execute(&self.pool)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(StorageError::Conflict("a client with this id")),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn client(&self, tenant_id: &str, client_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND client_id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(client_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(client).transpose()
    }

    pub async fn list_clients(&self, tenant_id: &str) -> Result<Vec<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(client).collect()
    }
}
