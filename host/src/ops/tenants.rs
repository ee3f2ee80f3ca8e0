//! Tenant operations below HTTP: creating a tenant with everything it starts with — its
//! signing key, its first administrator (an account, PENDING, with a one-time invite), a
//! token for automation, and its `tenant.created` event, in one transaction — the settings a
//! tenant's changed values put in force, and a change of a tenant (label, colour, tags,
//! settings; state and default for the operator) with its event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::clock::{random_id, sortable_id};
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::jwt::keys;
use crate::secrets;
use crate::storage::{FirstAdministrator, PatRow};
use crate::tenancy::account::INVITE_SECONDS;
use crate::tenancy::{Account, ResourceState, Role, Tenant, TenantName, TenantSettings, check_colour, check_tags};
use crate::web::{ApiError, Problem};

const MAX_LABEL: usize = 200;

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(Problem::InvalidRequest, e.to_string())
}

/// A label (of a tenant, a rule, a scope, a legal document): 1 to 200 characters.
pub fn check_label(label: &str) -> Result<(), ApiError> {
    match label.trim().is_empty() || label.chars().count() > MAX_LABEL {
        true => Err(invalid(format!("label must be 1 to {MAX_LABEL} characters"))),
        false => Ok(()),
    }
}

/// A change to a tenant; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTenant {
    pub label: Option<String>,
    pub colour: Option<String>,
    /// Replaces the tags.
    pub tags: Option<BTreeMap<String, String>>,
    /// Settings to change; a field set to `null` returns to its default.
    pub settings: Option<Map<String, Value>>,
    /// `ENABLED`, `DISABLED` or `LOCKED`; operators only.
    pub state: Option<ResourceState>,
    /// Make this the default tenant; operators only.
    pub default: Option<bool>,
}

/// The fields of a tenant an update may change, as events show them.
fn changeable(tenant: &Tenant) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("label".into(), json!(tenant.label));
    fields.insert("colour".into(), json!(tenant.colour));
    fields.insert("tags".into(), json!(tenant.tags));
    fields.insert("settings".into(), Value::Object(tenant.settings_changed.clone()));
    fields.insert("state".into(), json!(tenant.state));
    fields.insert("default".into(), json!(tenant.default));
    fields
}

/// Changes `before` as `change` says, by an operator or not, with `origin` as its event's.
/// Its administrators may change label, colour, tags and settings; state and the default
/// flag are the operator's (so a tenant's own administrators can neither lift a LOCKED
/// tenant nor lock themselves out). Every field is checked before anything is written; the
/// change and its event (`tenant.updated`, or `tenant.state_changed`) are one transaction.
/// A new signing algorithm rotates the key at once. Returns the tenant as it is now.
pub async fn change_tenant(
    state: &AppState,
    before: &Tenant,
    change: ChangeTenant,
    origin: &'static str,
    operator: bool,
) -> Result<Tenant, ApiError> {
    if (change.state.is_some() || change.default.is_some()) && !operator {
        return Err(ApiError::new(
            Problem::Forbidden,
            "only a platform operator may change a tenant's state or default",
        ));
    }
    let mut tenant = before.clone();
    if let Some(label) = change.label {
        check_label(&label)?;
        tenant.label = label;
    }
    if let Some(colour) = change.colour {
        tenant.colour = check_colour(&colour).map_err(invalid)?;
    }
    if let Some(tags) = change.tags {
        check_tags(&tags).map_err(invalid)?;
        tenant.tags = tags;
    }
    if let Some(changes) = change.settings {
        for (field, value) in changes {
            match value {
                Value::Null => tenant.settings_changed.remove(&field),
                value => tenant.settings_changed.insert(field, value),
            };
        }
        tenant.settings = settings(&tenant.settings_changed)?;
    }
    if let Some(new_state) = change.state {
        if new_state == ResourceState::Pending {
            return Err(invalid("state must be ENABLED, DISABLED or LOCKED"));
        }
        tenant.state = new_state;
    }
    if let Some(default) = change.default {
        tenant.default = default;
    }
    let (old, new) = (changeable(before), changeable(&tenant));
    if old == new {
        return Ok(before.clone());
    }
    tenant.updated_at = state.clock.now();
    let state_changed = before.state != tenant.state;
    let updated = NewEvent {
        category: "resource-change",
        action: if state_changed { "tenant.state_changed" } else { "tenant.updated" },
        origin,
        result: EventResult::Success,
        reason: None,
        account_id: None,
        detail: crate::events::changes(&old, &new),
    };
    let event = state.extensions.prepare_event(&tenant, updated, false).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    if !state.db.update_tenant(&tenant, event).await? {
        return Err(ApiError::not_found("tenant"));
    }
    // Nothing to invalidate: tenants (with their parent's state) are read afresh by every
    // request, so the change and its cascade apply at once on every node.
    if state_changed {
        tracing::info!(tenant = %tenant.id, from = %before.state, to = %tenant.state, "tenant state changed");
    }
    let tenant = state.db.tenant_by_id(&tenant.id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    // A new signing algorithm takes effect at once: the key rotates to one of that kind
    // (the previous key stays published until its tokens expire).
    if tenant.settings.signing_algorithm != before.settings.signing_algorithm {
        // The change is committed: should the rotation fail, maintenance finishes it (a key
        // not of the tenant's algorithm is due), so the answer is still the changed tenant.
        if let Err(e) = state.rotate_signing_key(&tenant, origin, "algorithm-changed").await {
            tracing::warn!(tenant = %tenant.id, "the algorithm changed but the key did not rotate yet: {e}");
        }
    }
    Ok(tenant)
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

/// A new tenant as an operator asks for it, by the admin API or the console.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Lowercase and DNS-label safe: the tenant's path segment and subdomain.
    #[schema(pattern = "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    pub label: Option<String>,
    #[serde(default)]
    pub colour: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The parent tenant's name (one level of sub-tenants).
    pub parent: Option<String>,
    /// Settings that differ from the defaults.
    #[serde(default)]
    pub settings: Map<String, Value>,
    /// Make this the platform's default tenant.
    #[serde(default)]
    pub default: bool,
}

/// Checks `body` (name, label, colour, tags, the parent it names) and creates the tenant
/// as [`create_tenant`] does, its `tenant.created` event from `origin`.
pub async fn create_named(
    state: &AppState,
    body: CreateTenant,
    origin: &'static str,
) -> Result<(Tenant, String, Administrator), ApiError> {
    let name = TenantName::parse(&body.name).map_err(invalid)?;
    let label = body.label.unwrap_or_else(|| name.to_string());
    check_label(&label)?;
    check_tags(&body.tags).map_err(invalid)?;
    let parent_id = match &body.parent {
        Some(parent) => Some(
            state
                .db
                .tenant_by_name(parent)
                .await?
                .ok_or_else(|| invalid(format!("there is no tenant named {parent:?} to be the parent")))?
                .id,
        ),
        None => None,
    };
    let spec = NewTenant {
        name,
        label,
        colour: check_colour(&body.colour).map_err(invalid)?,
        tags: body.tags,
        parent_id,
        settings: body.settings,
        default: body.default,
    };
    let created = create_tenant(state, spec, origin).await?;
    tracing::info!(tenant = %created.0.id, name = %created.0.name, "tenant created");
    Ok(created)
}

/// Creates a tenant, its signing key, its administrator's token and account with an invite
/// (returned, to be shown once) and its `tenant.created` event from `origin`, in one
/// transaction.
pub async fn create_tenant(
    state: &AppState,
    new: NewTenant,
    origin: &'static str,
) -> Result<(Tenant, String, Administrator), ApiError> {
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
    let key = keys::seal(key, state.extensions.vault(), entropy).map_err(ApiError::internal)?;
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
        origin,
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
