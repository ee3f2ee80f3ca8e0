//! Deployments: an upload becomes an immutable, ENABLED version bound to the hooks it
//! exports (compiled before anything is stored, so a refused upload leaves no trace), and
//! stored deployments are compiled on first use after a restart.

use std::sync::Arc;

use super::{Compiled, DeployError, ExtensionRuntime, Hook};
use crate::clock::{Entropy, EntropyError, random_id};
use crate::storage::{Db, DeploymentRow, NewDeployment, StorageError};
use crate::tenancy::ResourceState;

/// A deployment could not be created.
#[derive(Debug, thiserror::Error)]
pub enum DeployFailure {
    #[error(transparent)]
    Rejected(#[from] DeployError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// A stored deployment could not be made ready to run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("deployment {0} has no stored component")]
    Missing(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored component no longer compiles: {0}")]
    Compile(#[from] DeployError),
}

/// An upload to deploy.
#[derive(Debug)]
pub struct Upload<'a> {
    pub tenant_id: &'a str,
    pub name: &'a str,
    pub component: Arc<[u8]>,
    pub now: i64,
}

impl ExtensionRuntime {
    /// Validates, compiles, stores and binds an uploaded component.
    pub async fn deploy(
        &self,
        db: &Db,
        entropy: &dyn Entropy,
        upload: Upload<'_>,
    ) -> Result<DeploymentRow, DeployFailure> {
        let compiled = Arc::new(self.compile(upload.component.clone()).await?);
        let row = DeploymentRow {
            id: random_id(entropy, "ext", 12)?,
            name: upload.name.to_owned(),
            content_sha256: crate::secrets::sha256_hex(&upload.component),
            size_bytes: i64::try_from(upload.component.len()).unwrap_or(i64::MAX),
            hooks: compiled.hooks.iter().map(|hook| hook.name().to_owned()).collect(),
            state: ResourceState::Enabled,
            created_at: upload.now,
        };
        db.insert_deployment_and_bind(NewDeployment {
            tenant_id: upload.tenant_id,
            row: &row,
            component: &upload.component,
        })
        .await?;
        if let Ok(mut bindings) = self.bindings.write() {
            for hook in &compiled.hooks {
                bindings.insert((upload.tenant_id.to_owned(), *hook), Some(row.id.clone()));
            }
        }
        self.cache(upload.tenant_id, &row.id, compiled);
        Ok(row)
    }

    /// The deployment bound to `hook` for the tenant, read from storage once per node and
    /// then kept in memory (a deploy on this node replaces it).
    pub async fn bound_deployment(&self, db: &Db, tenant_id: &str, hook: Hook) -> Result<Option<String>, StorageError> {
        let key = (tenant_id.to_owned(), hook);
        if let Some(bound) = self.bindings.read().ok().and_then(|bindings| bindings.get(&key).cloned()) {
            return Ok(bound);
        }
        let bound = db.bound_deployment(tenant_id, hook.name()).await?;
        if let Ok(mut bindings) = self.bindings.write() {
            // A deploy that committed meanwhile has already put the newer binding here.
            return Ok(bindings.entry(key).or_insert(bound).clone());
        }
        Ok(bound)
    }

    /// The compiled deployment, compiling it from storage if this node has not yet.
    pub async fn load(&self, db: &Db, tenant_id: &str, deployment_id: &str) -> Result<Arc<Compiled>, LoadError> {
        if let Some(compiled) = self.cached(tenant_id, deployment_id) {
            return Ok(compiled);
        }
        let bytes = db
            .deployment_component(tenant_id, deployment_id)
            .await?
            .ok_or_else(|| LoadError::Missing(deployment_id.to_owned()))?;
        let compiled = Arc::new(self.compile(bytes.into()).await?);
        self.cache(tenant_id, deployment_id, compiled.clone());
        Ok(compiled)
    }
}
