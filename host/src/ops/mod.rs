//! Operations on a tenant's resources below HTTP: what the admin API (`api`), the token
//! service's login and invite pages (`oauth`) and any other surface call to change
//! accounts, factors, tenants and their signing keys ([`keys`]: rotation), with the checks,
//! extension hooks and events that belong to the change whoever asks for it. They take the
//! service's state and domain values, never a request; errors are the surfaces' shared
//! [`ApiError`].

pub mod accounts;
pub mod administrators;
pub mod audit;
pub mod codes;
pub mod console;
pub mod keys;
pub mod overview;
pub mod tenants;
pub mod tokens;

pub use keys::RotationError;

use crate::AppState;
use crate::web::ApiError;

/// An event of the tenant about to be written with the change it reports, and the
/// `events` bindings it goes to.
pub type PreparedEvent = Option<(crate::extensions::events::Event, Vec<String>)>;

/// Prepares an event written with a change (`category`, `action`, the
/// account it concerns, the detail), in the change's transaction.
pub async fn prepare_event(
    state: &AppState,
    tenant: &crate::tenancy::Tenant,
    category: &'static str,
    action: &'static str,
    origin: &'static str,
    account_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<PreparedEvent, ApiError> {
    let new = crate::events::outbox::NewEvent {
        category,
        action,
        origin,
        result: crate::extensions::events::EventResult::Success,
        reason: None,
        account_id: account_id.map(str::to_owned),
        detail,
    };
    Ok(state.extensions.prepare_event(tenant, new, false).await?)
}
