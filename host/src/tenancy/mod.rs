//! The tenancy model: tenants, machine clients, roles and the lifecycle states every
//! resource goes through. Pure domain rules — no HTTP, no SQL — so that the API, the token
//! service and storage all agree on what a valid name or an effective state is.

pub mod account;
pub mod controls;
mod name;
mod settings;
mod state;
pub mod totp;

use std::collections::BTreeMap;

pub use account::{Account, Factor, FactorKind};
pub use controls::{Consent, LegalDocument, LegalDue, Scope, ScopeRule};
pub use name::{InvalidName, TenantName};
pub use settings::{InvalidSetting, TenantSettings, check_colour, check_tags};
pub use state::{ResourceState, UnknownState};

use serde::Serialize;

/// A tenant: an isolated issuer with its own clients, keys and extensions.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub label: String,
    /// `#rrggbb`, or empty.
    pub colour: String,
    pub tags: BTreeMap<String, String>,
    /// The parent tenant (one level of sub-tenants); `None` for a top-level tenant.
    pub parent_id: Option<String>,
    /// The tenant's own state; see [`Tenant::effective_state`].
    pub state: ResourceState,
    /// The settings in force: the defaults, with what the tenant changed.
    pub settings: TenantSettings,
    /// The fields of the settings the tenant changed (stored; the rest follow the defaults).
    #[serde(skip)]
    pub settings_changed: serde_json::Map<String, serde_json::Value>,
    /// Whether this is the platform's default tenant (at most one is).
    pub default: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The parent's own state, when there is a parent.
    #[serde(skip)]
    pub parent_state: Option<ResourceState>,
}

impl Tenant {
    /// The state that decides what the tenant may do: its own, or LOCKED while its parent
    /// is not ENABLED (no login, no token, no extension run, no administrator token).
    pub fn effective_state(&self) -> ResourceState {
        match self.parent_state {
            Some(parent) => self.state.under(parent),
            None => self.state,
        }
    }
}

/// Who may call the admin API with a personal access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A platform operator: every tenant.
    Operator,
    /// An administrator of one tenant.
    TenantAdmin { tenant_id: String },
    /// A read-only viewer of one tenant.
    TenantViewer { tenant_id: String },
}

impl Role {
    /// Whether this role may see (and, unless read-only, change) the tenant with this id.
    pub fn can_administer(&self, tenant_id: &str) -> bool {
        match self {
            Role::Operator => true,
            Role::TenantAdmin { tenant_id: own } | Role::TenantViewer { tenant_id: own } => own == tenant_id,
        }
    }

    /// Whether the role may only read.
    pub fn is_read_only(&self) -> bool {
        matches!(self, Role::TenantViewer { .. })
    }

    /// The role's name in the API and in storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::TenantAdmin { .. } => "tenant-admin",
            Role::TenantViewer { .. } => "tenant-viewer",
        }
    }

    /// The tenant a tenant role belongs to.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Role::Operator => None,
            Role::TenantAdmin { tenant_id } | Role::TenantViewer { tenant_id } => Some(tenant_id),
        }
    }
}

/// A machine client that authenticates with a client secret.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Client {
    #[serde(skip)]
    pub tenant_id: String,
    pub client_id: String,
    pub name: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The scopes the client may obtain; a token request may ask for a subset.
    pub scopes: Vec<String>,
    /// The audiences of the client's access tokens; empty means the tenant's issuer.
    pub audience: Vec<String>,
    pub state: ResourceState,
    pub created_at: i64,
    /// When the current secret was issued.
    pub secret_created_at: i64,
    #[serde(skip)]
    pub secret_sha256: String,
    /// After a rotation, until it is retired: the previous secret's digest. Shown only as
    /// `previous_secret_active`, whether it still works.
    #[serde(rename = "previous_secret_active", serialize_with = "is_some")]
    #[schema(value_type = bool)]
    pub previous_secret_sha256: Option<String>,
    /// Public keys for `private_key_jwt` client authentication (a JWK set), if registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Where the authorization endpoint may send people back with a code (exact matches).
    pub redirect_uris: Vec<String>,
    /// A public client (a browser or native app) has no secret: it authenticates with its
    /// `client_id` alone, may use only the authorization-code and refresh grants, and must
    /// use PKCE. Set at creation.
    pub public: bool,
}

fn is_some<S: serde::Serializer>(value: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(value.is_some())
}

impl Client {
    /// The fields an update may change, as events show them.
    pub fn changeable(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("name".into(), self.name.clone().into());
        fields.insert("attributes".into(), serde_json::Value::Object(self.attributes.clone()));
        fields.insert("scopes".into(), self.scopes.clone().into());
        fields.insert("audience".into(), self.audience.clone().into());
        fields.insert("jwks".into(), self.jwks.clone().unwrap_or(serde_json::Value::Null));
        fields.insert("redirect_uris".into(), self.redirect_uris.clone().into());
        fields.insert("state".into(), self.state.as_str().into());
        fields
    }
}
