//! Signing-key rotation, on a schedule (maintenance, after the tenant's
//! `signing_key_rotation_days`) or on demand (`POST /admin/v1/tenants/{tenant}/keys/rotate`):
//! a new key becomes current and the previous one stays published in the JWKS until every
//! token it signed has expired (the tenant's longest token lifetime from the rotation on),
//! after which maintenance removes it. The rotation and its `key.rotated` event are one
//! transaction; this node forgets its cached key at once and other nodes are told through
//! the change channel.

use serde_json::json;

use crate::AppState;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::storage::{KeyInfo, StorageError};
use crate::tenancy::Tenant;

/// A rotation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Key(#[from] crate::jwt::keys::KeyError),
}

impl From<RotationError> for crate::web::ApiError {
    fn from(error: RotationError) -> Self {
        match error {
            RotationError::Storage(e) => e.into(),
            RotationError::Key(e) => crate::web::ApiError::internal(e),
        }
    }
}

impl AppState {
    /// Rotates the tenant's signing key now; `origin` (`admin-api`, `maintenance`) and
    /// `reason` (`on-demand`, `scheduled`) go into the event. Returns the new key.
    pub async fn rotate_signing_key(
        &self,
        tenant: &Tenant,
        origin: &'static str,
        reason: &str,
    ) -> Result<KeyInfo, RotationError> {
        let now = self.clock.now();
        let previous = self.db.active_signing_key(&tenant.id).await?.map(|key| key.kid);
        let new = crate::jwt::keys::generate_off_executor(&tenant.id, &tenant.settings.signing_algorithm, now).await?;
        let new = crate::jwt::keys::seal(new, self.extensions.vault(), self.entropy.as_ref())?;
        let published_until = now + tenant.settings.longest_token_seconds();
        let rotated = NewEvent {
            category: "resource-change",
            action: "key.rotated",
            origin,
            result: EventResult::Success,
            reason: Some(reason.to_owned()),
            account_id: None,
            detail: json!({"kid": new.kid, "previous_kid": previous, "previous_published_until": published_until}),
        };
        let event = self.extensions.prepare_event(tenant, rotated, false).await?;
        let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
        self.db.rotate_signing_key(&new, published_until, event).await?;
        self.keys.invalidate(&tenant.id);
        self.db.publish_change(&crate::storage::Change::Tenant(tenant.id.clone())).await?;
        tracing::info!(tenant = %tenant.id, kid = %new.kid, reason, "signing key rotated");
        Ok(KeyInfo {
            kid: new.kid,
            algorithm: new.algorithm,
            state: new.state,
            created_at: new.created_at,
            published_until: None,
        })
    }

    /// Rotates the tenant's key if it is older than the tenant's rotation period or not of
    /// its signing algorithm, and removes retired keys no longer published. Returns
    /// (rotated, removed).
    pub async fn rotate_signing_key_if_due(&self, tenant: &Tenant, now: i64) -> Result<(bool, u64), RotationError> {
        let removed = self.db.remove_unpublished_keys(&tenant.id, now).await?;
        // Due when old, or not of the tenant's algorithm (a change of setting whose rotation
        // did not complete is finished here).
        let due = match self.db.active_signing_key(&tenant.id).await? {
            Some(key) => {
                key.created_at <= now - tenant.settings.signing_key_rotation_days * 86_400
                    || key.algorithm != tenant.settings.signing_algorithm
            }
            None => true,
        };
        let rotate = due && tenant.effective_state().is_usable();
        if rotate {
            self.rotate_signing_key(tenant, "maintenance", "scheduled").await?;
        }
        Ok((rotate, removed))
    }
}
