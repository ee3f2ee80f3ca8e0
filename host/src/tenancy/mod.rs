//! The tenancy model: tenants, machine clients, roles and the lifecycle states every
//! resource goes through. Pure domain rules — no HTTP, no SQL — so that the API, the token
//! service and storage all agree on what a valid name or an effective state is.

mod name;
mod state;

pub use name::{InvalidName, TenantName};
pub use state::{ResourceState, UnknownState};

use serde::Serialize;

/// A tenant: an isolated issuer with its own clients, keys and extensions.
#[derive(Clone, Debug, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub label: String,
    pub state: ResourceState,
    pub created_at: i64,
}

/// Who may call the admin API with a personal access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// A platform operator: every tenant.
    Operator,
    /// An administrator of one tenant.
    TenantAdmin { tenant_id: String },
}

impl Role {
    /// Whether this role may act on the tenant with this id.
    pub fn can_administer(&self, tenant_id: &str) -> bool {
        match self {
            Role::Operator => true,
            Role::TenantAdmin { tenant_id: own } => own == tenant_id,
        }
    }
}

/// A machine client that authenticates with a client secret.
#[derive(Clone, Debug, Serialize)]
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
    #[serde(skip)]
    pub secret_sha256: String,
}
