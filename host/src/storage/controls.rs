//! Legal documents (with their immutable versions) and consents. A new version and its
//! event are one transaction; consents are inserted and revoked, never edited.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::accounts::EventToWrite;
use super::events::insert_event_in;
use super::{Db, Result, StorageError, state};
use crate::tenancy::controls::builtin_scopes;
use crate::tenancy::{Consent, LegalDocument, Scope};

const DOCUMENT: &str = "SELECT d.id, d.label, d.current_version, d.state, d.created_at, d.updated_at, v.url, v.text
     FROM legal_documents d
     JOIN legal_versions v ON v.tenant_id = d.tenant_id AND v.document_id = d.id AND v.version = d.current_version";
const CONSENT_COLUMNS: &str = "id, account_id, kind, subject, version, granted_at, expires_at, revoked_at, scopes";

fn document(row: &AnyRow) -> Result<LegalDocument> {
    Ok(LegalDocument {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        version: row.try_get("current_version")?,
        url: row.try_get("url")?,
        text: row.try_get("text")?,
        state: state(row.try_get("state")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn consent(row: &AnyRow) -> Result<Consent> {
    Ok(Consent {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        version: row.try_get("version")?,
        scopes: row.try_get::<Option<&str>, _>("scopes")?.map(serde_json::from_str).transpose()?,
        granted_at: row.try_get("granted_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

impl Db {
    /// Stores a new document at version 1.
    pub async fn insert_legal_document(
        &self,
        tenant_id: &str,
        doc: &LegalDocument,
        event: EventToWrite<'_>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO legal_documents (tenant_id, id, label, current_version, state, created_at, updated_at)
             VALUES ($1, $2, $3, 1, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(&doc.id)
        .bind(&doc.label)
        .bind(doc.state.as_str())
        .bind(doc.created_at)
        .bind(doc.updated_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO legal_versions (tenant_id, document_id, version, url, text, created_at)
             VALUES ($1, $2, 1, $3, $4, $5)",
        )
        .bind(tenant_id)
        .bind(&doc.id)
        .bind(&doc.url)
        .bind(&doc.text)
        .bind(doc.created_at)
        .execute(&mut *tx)
        .await?;
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, doc.created_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Publishes the next version of a document; returns the document as it now is.
    pub async fn publish_legal_version(
        &self,
        tenant_id: &str,
        id: &str,
        url: Option<&str>,
        text: Option<&str>,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<Option<LegalDocument>> {
        let mut tx = self.begin_write().await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT current_version FROM legal_documents WHERE tenant_id = $1 AND id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else { return Ok(None) };
        let next = current + 1;
        sqlx::query(
            "INSERT INTO legal_versions (tenant_id, document_id, version, url, text, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant_id)
        .bind(id)
        .bind(next)
        .bind(url)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let moved = sqlx::query(
            "UPDATE legal_documents SET current_version = $1, updated_at = $2
             WHERE tenant_id = $3 AND id = $4 AND current_version = $5",
        )
        .bind(next)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .bind(current)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() != 1 {
            return Err(StorageError::Refused("another version was published meanwhile; try again".into()));
        }
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        self.legal_document(tenant_id, id).await
    }

    pub async fn legal_document(&self, tenant_id: &str, id: &str) -> Result<Option<LegalDocument>> {
        let sql = format!("{DOCUMENT} WHERE d.tenant_id = $1 AND d.id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(document).transpose()
    }

    pub async fn legal_documents(&self, tenant_id: &str) -> Result<Vec<LegalDocument>> {
        let sql = format!("{DOCUMENT} WHERE d.tenant_id = $1 ORDER BY d.created_at, d.id");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(document).collect()
    }

    pub async fn insert_consent(&self, tenant_id: &str, consent: &Consent, event: EventToWrite<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "INSERT INTO consents (tenant_id, {CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        sqlx::query(&sql)
            .bind(tenant_id)
            .bind(&consent.id)
            .bind(&consent.account_id)
            .bind(&consent.kind)
            .bind(&consent.subject)
            .bind(consent.version)
            .bind(consent.granted_at)
            .bind(consent.expires_at)
            .bind(consent.revoked_at)
            .bind(consent.scopes.as_ref().map(serde_json::to_string).transpose()?)
            .execute(&mut *tx)
            .await?;
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, consent.granted_at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn consents_of(&self, tenant_id: &str, account_id: &str) -> Result<Vec<Consent>> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM consents WHERE tenant_id = $1 AND account_id = $2 ORDER BY granted_at, id"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(consent).collect()
    }

    /// Revokes a consent in force; false if there was none.
    pub async fn revoke_consent(
        &self,
        tenant_id: &str,
        account_id: &str,
        id: &str,
        now: i64,
        event: EventToWrite<'_>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query(
            "UPDATE consents SET revoked_at = $1
             WHERE tenant_id = $2 AND account_id = $3 AND id = $4 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(tenant_id)
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if revoked.rows_affected() != 1 {
            return Ok(false);
        }
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The tenant's catalogue: the built-in scopes, then its own in value order.
    pub async fn scopes(&self, tenant_id: &str) -> Result<Vec<Scope>> {
        let rows = sqlx::query(
            "SELECT value, label, required_score, consent_required, permission_required FROM scopes
             WHERE tenant_id = $1 ORDER BY value",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        let mut scopes = builtin_scopes();
        for row in &rows {
            scopes.push(Scope {
                value: row.try_get("value")?,
                label: row.try_get("label")?,
                required_score: row.try_get("required_score")?,
                consent_required: row.try_get::<i64, _>("consent_required")? != 0,
                permission_required: row.try_get::<i64, _>("permission_required")? != 0,
                builtin: false,
            });
        }
        Ok(scopes)
    }

    pub async fn insert_scope(&self, tenant_id: &str, scope: &Scope, now: i64) -> Result<()> {
        let inserted = sqlx::query(
            "INSERT INTO scopes (tenant_id, value, label, required_score, consent_required, permission_required, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant_id)
        .bind(&scope.value)
        .bind(&scope.label)
        .bind(scope.required_score)
        .bind(i64::from(scope.consent_required))
        .bind(i64::from(scope.permission_required))
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Err(e) if super::is_unique_violation(&e) => Err(StorageError::Conflict("a scope with this value")),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    pub async fn delete_scope(&self, tenant_id: &str, value: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM scopes WHERE tenant_id = $1 AND value = $2")
            .bind(tenant_id)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }
}
