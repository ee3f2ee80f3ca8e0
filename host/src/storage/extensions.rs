//! Extensions (a name per tenant, its state, active version and configuration), their
//! immutable versions (deployments: the uploaded component, its build state) and their
//! sealed secrets.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::bindings::{NewBinding, insert_binding_in};
use super::events::insert_event_in;
use super::{Db, Result, StorageError, is_unique_violation, state};
use crate::extensions::events::Event;
use crate::tenancy::ResourceState;
use crate::vault::SealedSecret;

/// A version's build and usability state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeploymentState {
    /// Uploaded; the build has not finished.
    Pending,
    /// Built; can be activated and run.
    Enabled,
    /// The build failed (see `build_error`).
    Failed,
    Disabled,
}

impl DeploymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Pending => "PENDING",
            DeploymentState::Enabled => "ENABLED",
            DeploymentState::Failed => "FAILED",
            DeploymentState::Disabled => "DISABLED",
        }
    }
}

impl FromStr for DeploymentState {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "PENDING" => Ok(DeploymentState::Pending),
            "ENABLED" => Ok(DeploymentState::Enabled),
            "FAILED" => Ok(DeploymentState::Failed),
            "DISABLED" => Ok(DeploymentState::Disabled),
            other => Err(StorageError::Corrupt(format!("deployment state {other:?}"))),
        }
    }
}

/// An extension of a tenant.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ExtensionRow {
    pub name: String,
    pub state: ResourceState,
    pub active_deployment_id: Option<String>,
    #[serde(skip)]
    pub config: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A version of an extension (without its component bytes).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeploymentRow {
    pub id: String,
    pub extension: String,
    pub version: i64,
    pub content_sha256: String,
    pub size_bytes: i64,
    /// `compiled` or `javascript` (see `extensions::Language`).
    pub language: String,
    /// `javascript` or `typescript` when the version was uploaded as source (kept, and
    /// served by `GET .../deployments/{id}/source`); absent for a component upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    pub hooks: Vec<String>,
    pub state: DeploymentState,
    pub build_error: Option<String>,
    pub created_at: i64,
    pub built_at: Option<i64>,
}

/// An upload about to be stored.
#[derive(Debug)]
pub struct NewDeployment<'a> {
    pub tenant_id: &'a str,
    pub id: &'a str,
    pub extension: &'a str,
    pub component: &'a [u8],
    pub content_sha256: &'a str,
    pub language: &'a str,
    /// A handler uploaded as source: (`javascript` or `typescript`, the text). `component`
    /// is then empty until the build makes it.
    pub source: Option<(&'a str, &'a str)>,
    pub now: i64,
    pub max_enabled_extensions: u32,
    /// Bind the hooks it exports once built (kept, so a resumed build binds too).
    pub bind_when_built: bool,
}

/// How a build ended.
#[derive(Debug)]
pub enum BuildResult<'a> {
    Succeeded { hooks: &'a [String], activate: bool, default_bindings: &'a [NewBinding<'a>] },
    Failed { error: &'a str },
}

const EXTENSION_COLUMNS: &str = "name, state, active_deployment_id, config, created_at, updated_at";
const DEPLOYMENT_COLUMNS: &str = "id, extension, version, content_sha256, size_bytes, language, source_type, hooks, state, build_error, created_at, \
     built_at";

fn extension(row: &AnyRow) -> Result<ExtensionRow> {
    Ok(ExtensionRow {
        name: row.try_get("name")?,
        state: state(row.try_get("state")?)?,
        active_deployment_id: row.try_get("active_deployment_id")?,
        config: serde_json::from_str(row.try_get("config")?)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn deployment(row: &AnyRow) -> Result<DeploymentRow> {
    Ok(DeploymentRow {
        id: row.try_get("id")?,
        extension: row.try_get("extension")?,
        version: row.try_get("version")?,
        content_sha256: row.try_get("content_sha256")?,
        size_bytes: row.try_get("size_bytes")?,
        language: row.try_get("language")?,
        source_type: row.try_get("source_type")?,
        hooks: serde_json::from_str(row.try_get("hooks")?)?,
        state: DeploymentState::from_str(row.try_get("state")?)?,
        build_error: row.try_get("build_error")?,
        created_at: row.try_get("created_at")?,
        built_at: row.try_get("built_at")?,
    })
}

/// Refuses when the tenant already has `max` ENABLED extensions.
async fn check_enabled_limit(tx: &mut Transaction<'_, Any>, tenant_id: &str, max: u32) -> Result<()> {
    let enabled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM extensions WHERE tenant_id = $1 AND state = 'ENABLED'")
        .bind(tenant_id)
        .fetch_one(&mut **tx)
        .await?;
    if enabled >= i64::from(max) {
        return Err(StorageError::Limit(format!("the tenant may have at most {max} enabled extensions")));
    }
    Ok(())
}

impl Db {
    /// Stores an upload as the extension's next version (PENDING), creating the extension
    /// (ENABLED, within the tenant's limit of enabled extensions) if it is new.
    pub async fn insert_deployment(&self, new: NewDeployment<'_>) -> Result<DeploymentRow> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM extensions WHERE tenant_id = $1 AND name = $2")
            .bind(new.tenant_id)
            .bind(new.extension)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            check_enabled_limit(&mut tx, new.tenant_id, new.max_enabled_extensions).await?;
            sqlx::query(
                "INSERT INTO extensions (tenant_id, name, state, config, created_at, updated_at)
                 VALUES ($1, $2, 'ENABLED', '{}', $3, $4)",
            )
            .bind(new.tenant_id)
            .bind(new.extension)
            .bind(new.now)
            .bind(new.now)
            .execute(&mut *tx)
            .await?;
        }
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM extension_versions WHERE tenant_id = $1 AND extension = $2",
        )
        .bind(new.tenant_id)
        .bind(new.extension)
        .fetch_one(&mut *tx)
        .await?;
        let size_bytes = i64::try_from(new.component.len()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO extension_versions
               (tenant_id, id, extension, version, component, content_sha256, size_bytes, language, source_type, source,
                hooks, state, created_at, bind_when_built)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '[]', 'PENDING', $11, $12)",
        )
        .bind(new.tenant_id)
        .bind(new.id)
        .bind(new.extension)
        .bind(version)
        .bind(new.component)
        .bind(new.content_sha256)
        .bind(size_bytes)
        .bind(new.language)
        .bind(new.source.map(|(kind, _)| kind))
        .bind(new.source.map(|(_, text)| text))
        .bind(new.now)
        .bind(i64::from(new.bind_when_built))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DeploymentRow {
            id: new.id.to_owned(),
            extension: new.extension.to_owned(),
            version,
            content_sha256: new.content_sha256.to_owned(),
            size_bytes,
            language: new.language.to_owned(),
            source_type: new.source.map(|(kind, _)| kind.to_owned()),
            hooks: Vec::new(),
            state: DeploymentState::Pending,
            build_error: None,
            created_at: new.now,
            built_at: None,
        })
    }

    /// Records a build's result: PENDING becomes ENABLED (made active if asked; default
    /// bindings added if the extension has none) or FAILED. False if it was not PENDING.
    /// `event` (with the bindings that want it) is written in the same transaction.
    pub async fn finish_build(
        &self,
        tenant_id: &str,
        id: &str,
        result: BuildResult<'_>,
        event: Option<(&Event, &[String])>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let extension: Option<String> = sqlx::query_scalar(
            "SELECT extension FROM extension_versions WHERE tenant_id = $1 AND id = $2 AND state = 'PENDING'",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(extension) = extension else { return Ok(false) };
        match result {
            BuildResult::Failed { error } => {
                sqlx::query(
                    "UPDATE extension_versions SET state = 'FAILED', build_error = $1, built_at = $2
                     WHERE tenant_id = $3 AND id = $4",
                )
                .bind(error)
                .bind(now)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            BuildResult::Succeeded { hooks, activate, default_bindings } => {
                sqlx::query(
                    "UPDATE extension_versions SET state = 'ENABLED', hooks = $1, built_at = $2
                     WHERE tenant_id = $3 AND id = $4",
                )
                .bind(serde_json::to_string(hooks)?)
                .bind(now)
                .bind(tenant_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if activate {
                    sqlx::query(
                        "UPDATE extensions SET active_deployment_id = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(tenant_id)
                    .bind(&extension)
                    .execute(&mut *tx)
                    .await?;
                }
                let bound: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM extension_bindings WHERE tenant_id = $1 AND extension = $2",
                )
                .bind(tenant_id)
                .bind(&extension)
                .fetch_one(&mut *tx)
                .await?;
                if bound == 0 {
                    for binding in default_bindings {
                        insert_binding_in(&mut tx, tenant_id, binding).await?;
                    }
                }
            }
        }
        if let Some((event, bindings)) = event {
            insert_event_in(&mut tx, tenant_id, event, bindings, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn deployment(&self, tenant_id: &str, id: &str) -> Result<Option<DeploymentRow>> {
        let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM extension_versions WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(deployment).transpose()
    }

    /// The tenant's versions (of one extension, or all), newest first.
    pub async fn list_deployments(&self, tenant_id: &str, extension: Option<&str>) -> Result<Vec<DeploymentRow>> {
        let sql = format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM extension_versions
             WHERE tenant_id = $1 AND ($2 IS NULL OR extension = $3)
             ORDER BY created_at DESC, version DESC, id"
        );
        let rows = sqlx::query(&sql).bind(tenant_id).bind(extension).bind(extension).fetch_all(&self.pool).await?;
        rows.iter().map(deployment).collect()
    }

    /// The component bytes of a version.
    pub async fn deployment_component(&self, tenant_id: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let bytes = sqlx::query_scalar("SELECT component FROM extension_versions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(bytes)
    }

    /// The source a version was uploaded as: (`javascript` or `typescript`, the text).
    pub async fn deployment_source(&self, tenant_id: &str, id: &str) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT source_type, source FROM extension_versions
             WHERE tenant_id = $1 AND id = $2 AND source IS NOT NULL AND source_type IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| Ok((row.try_get("source_type")?, row.try_get("source")?))).transpose()
    }

    /// Stores the component a PENDING source version's build made (its bytes, size and
    /// hash); false if the version is no longer PENDING.
    pub async fn store_built_component(
        &self,
        tenant_id: &str,
        id: &str,
        component: &[u8],
        content_sha256: &str,
    ) -> Result<bool> {
        let size_bytes = i64::try_from(component.len()).unwrap_or(i64::MAX);
        let mut tx = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE extension_versions SET component = $1, size_bytes = $2, content_sha256 = $3
             WHERE tenant_id = $4 AND id = $5 AND state = 'PENDING'",
        )
        .bind(component)
        .bind(size_bytes)
        .bind(content_sha256)
        .bind(tenant_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// Every PENDING version of every tenant, oldest first (the build queue at start):
    /// (tenant id, deployment id, whether its upload asked for bindings).
    pub async fn pending_builds(&self) -> Result<Vec<(String, String, bool)>> {
        let rows = sqlx::query(
            "SELECT tenant_id, id, bind_when_built FROM extension_versions WHERE state = 'PENDING' \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((row.try_get("tenant_id")?, row.try_get("id")?, row.try_get::<i64, _>("bind_when_built")? != 0))
            })
            .collect()
    }

    pub async fn extension(&self, tenant_id: &str, name: &str) -> Result<Option<ExtensionRow>> {
        let sql = format!("SELECT {EXTENSION_COLUMNS} FROM extensions WHERE tenant_id = $1 AND name = $2");
        let row = sqlx::query(&sql).bind(tenant_id).bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(extension).transpose()
    }

    pub async fn list_extensions(&self, tenant_id: &str) -> Result<Vec<ExtensionRow>> {
        let sql = format!("SELECT {EXTENSION_COLUMNS} FROM extensions WHERE tenant_id = $1 ORDER BY name");
        let rows = sqlx::query(&sql).bind(tenant_id).fetch_all(&self.pool).await?;
        rows.iter().map(extension).collect()
    }

    /// Makes a built (ENABLED) version of the extension its active one.
    pub async fn activate_deployment(
        &self,
        tenant_id: &str,
        name: &str,
        deployment_id: &str,
        now: i64,
    ) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE extensions SET active_deployment_id = $1, updated_at = $2
             WHERE tenant_id = $3 AND name = $4 AND EXISTS (
               SELECT 1 FROM extension_versions v
               WHERE v.tenant_id = $5 AND v.extension = $6 AND v.id = $7 AND v.state = 'ENABLED')",
        )
        .bind(deployment_id)
        .bind(now)
        .bind(tenant_id)
        .bind(name)
        .bind(tenant_id)
        .bind(name)
        .bind(deployment_id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Enables or disables an extension; enabling counts against `max_enabled_extensions`.
    pub async fn set_extension_state(
        &self,
        tenant_id: &str,
        name: &str,
        new_state: ResourceState,
        max_enabled_extensions: u32,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query_scalar("SELECT state FROM extensions WHERE tenant_id = $1 AND name = $2")
                .bind(tenant_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(current) = current else { return Ok(false) };
        if new_state == ResourceState::Enabled && current != "ENABLED" {
            check_enabled_limit(&mut tx, tenant_id, max_enabled_extensions).await?;
        }
        sqlx::query("UPDATE extensions SET state = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4")
            .bind(new_state.as_str())
            .bind(now)
            .bind(tenant_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an extension with its versions, bindings and secrets.
    pub async fn delete_extension(&self, tenant_id: &str, name: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM extensions WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    /// Deletes a version that is not its extension's active one.
    pub async fn delete_deployment(&self, tenant_id: &str, id: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let active: Option<i64> =
            sqlx::query_scalar("SELECT COUNT(*) FROM extensions WHERE tenant_id = $1 AND active_deployment_id = $2")
                .bind(tenant_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if active.unwrap_or(0) > 0 {
            return Err(StorageError::Refused(
                "the active version of an extension cannot be deleted; activate another first".into(),
            ));
        }
        let deleted = sqlx::query("DELETE FROM extension_versions WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() == 1)
    }

    pub async fn set_extension_config(
        &self,
        tenant_id: &str,
        name: &str,
        config: &BTreeMap<String, String>,
        now: i64,
    ) -> Result<bool> {
        let updated =
            sqlx::query("UPDATE extensions SET config = $1, updated_at = $2 WHERE tenant_id = $3 AND name = $4")
                .bind(serde_json::to_string(config)?)
                .bind(now)
                .bind(tenant_id)
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Stores (or replaces) a sealed secret; false if the extension does not exist.
    pub async fn set_extension_secret(
        &self,
        tenant_id: &str,
        extension: &str,
        name: &str,
        sealed: &SealedSecret,
        now: i64,
    ) -> Result<bool> {
        let stored = sqlx::query(
            "INSERT INTO extension_secrets (tenant_id, extension, name, nonce, ciphertext, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant_id, extension, name)
             DO UPDATE SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(extension)
        .bind(name)
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(now)
        .execute(&self.pool)
        .await;
        match stored {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(false),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_extension_secret(&self, tenant_id: &str, extension: &str, name: &str) -> Result<bool> {
        let deleted =
            sqlx::query("DELETE FROM extension_secrets WHERE tenant_id = $1 AND extension = $2 AND name = $3")
                .bind(tenant_id)
                .bind(extension)
                .bind(name)
                .execute(&self.pool)
                .await?;
        Ok(deleted.rows_affected() == 1)
    }

    pub async fn extension_secret_names(&self, tenant_id: &str, extension: &str) -> Result<Vec<String>> {
        let names = sqlx::query_scalar(
            "SELECT name FROM extension_secrets WHERE tenant_id = $1 AND extension = $2 ORDER BY name",
        )
        .bind(tenant_id)
        .bind(extension)
        .fetch_all(&self.pool)
        .await?;
        Ok(names)
    }

    pub async fn extension_secrets(&self, tenant_id: &str, extension: &str) -> Result<HashMap<String, SealedSecret>> {
        let rows = sqlx::query(
            "SELECT name, nonce, ciphertext FROM extension_secrets WHERE tenant_id = $1 AND extension = $2",
        )
        .bind(tenant_id)
        .bind(extension)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("name")?,
                    SealedSecret { nonce: row.try_get("nonce")?, ciphertext: row.try_get("ciphertext")? },
                ))
            })
            .collect()
    }
}
