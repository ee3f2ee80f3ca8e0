//! Tenant operations below HTTP: creating a tenant with everything it starts with — its
//! signing key, its first administrator (an account, PENDING, with a one-time invite), a
//! token for automation, and its `tenant.created` event, in one transaction — and the
//! settings a tenant's changed values put in force.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::clock::{random_id, sortable_id};
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::jwt::keys;
use crate::secrets;
use crate::storage::{FirstAdministrator, PatRow};
use crate::tenancy::account::INVITE_SECONDS;
use crate::tenancy::{Account, ResourceState, Role, Tenant, TenantName, TenantSettings};
use crate::web::{ApiError, Problem};

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(Problem::InvalidRequest, e.to_string())
}

/// A new tenant's first administrator: the account, and the invite with which its owner
/// sets a password (`POST /t/{tenant}/invite`). Shown once.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Administrator {
    pub account_id: String,
    pub username: String,
    pub invite_token: String,
    pub invite_expires_at: i64,
}

/// The username of a new tenant's first administrator account.
pub const FIRST_ADMINISTRATOR: &str = "admin";

/// The settings in force when `changed` is what differs from the defaults.
pub(crate) fn settings(changed: &Map<String, Value>) -> Result<TenantSettings, ApiError> {
    let settings: TenantSettings =
        serde_json::from_value(Value::Object(changed.clone())).map_err(|e| invalid(format!("settings: {e}")))?;
    settings.validate().map_err(invalid)?;
    Ok(settings)
}

/// What a new tenant is made of.
#[derive(Debug)]
pub struct NewTenant {
    pub name: TenantName,
    pub label: String,
    pub colour: String,
    pub tags: BTreeMap<String, String>,
    pub parent_id: Option<String>,
    /// Settings that differ from the defaults.
    pub settings: Map<String, Value>,
    pub default: bool,
}

impl NewTenant {
    /// A top-level tenant with default settings.
    pub fn named(name: TenantName, label: String) -> Self {
        NewTenant {
            name,
            label,
            colour: String::new(),
            tags: BTreeMap::new(),
            parent_id: None,
            settings: Map::new(),
            default: false,
        }
    }
}

/// Creates a tenant, its signing key, its administrator's token and account with an invite
/// (returned, to be shown once) and its `tenant.created` event, in one transaction.
pub async fn create_tenant(state: &AppState, new: NewTenant) -> Result<(Tenant, String, Administrator), ApiError> {
    let now = state.clock.now();
    let entropy = state.entropy.as_ref();
    let tenant = Tenant {
        id: random_id(entropy, "tn", 12)?,
        name: new.name.to_string(),
        label: new.label,
        colour: new.colour,
        tags: new.tags,
        parent_id: new.parent_id,
        state: ResourceState::Enabled,
        settings: settings(&new.settings)?,
        settings_changed: new.settings,
        default: new.default,
        created_at: now,
        updated_at: now,
        parent_state: None,
    };
    let key = keys::generate_off_executor(&tenant.id, &tenant.settings.signing_algorithm, now)
        .await
        .map_err(ApiError::internal)?;
    let admin_token = secrets::new_personal_access_token(entropy)?;
    let pat = PatRow {
        id: sortable_id(entropy, "pat", now, 8)?,
        role: Role::TenantAdmin { tenant_id: tenant.id.clone() },
        name: "first administrator".into(),
        token_sha256: secrets::digest(&admin_token),
        state: ResourceState::Enabled,
        created_at: now,
        expires_at: None,
        created_by_account: None,
    };
    let invite_token = secrets::new_personal_access_token(entropy)?;
    let first_administrator = FirstAdministrator {
        account: Account {
            id: sortable_id(entropy, "acc", now, 8)?,
            username: FIRST_ADMINISTRATOR.into(),
            email: None,
            phone: None,
            attributes: Map::new(),
            state: ResourceState::Pending,
            created_at: now,
            updated_at: now,
            last_active_at: None,
        },
        invite_sha256: secrets::digest(&invite_token),
        invite_expires_at: now + INVITE_SECONDS,
    };
    let administrator = Administrator {
        account_id: first_administrator.account.id.clone(),
        username: FIRST_ADMINISTRATOR.into(),
        invite_token,
        invite_expires_at: first_administrator.invite_expires_at,
    };
    let created = NewEvent {
        category: "resource-change",
        action: "tenant.created",
        origin: "admin-api",
        result: EventResult::Success,
        reason: None,
        account_id: None,
        detail: json!({"name": tenant.name, "parent_id": tenant.parent_id, "administrator": administrator.account_id}),
    };
    let event = state.extensions.prepare_event(&tenant, created, false).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.create_tenant(&tenant, &key, &pat, &first_administrator, event).await?;
    let tenant = state.db.tenant_by_id(&tenant.id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok((tenant, admin_token, administrator))
}
