//! Operations on a tenant's resources below HTTP: what the admin API (`api`), the token
//! service's login and invite pages (`oauth`) and any other surface call to change
//! accounts, factors, tenants and their signing keys ([`keys`]: rotation), with the checks,
//! extension hooks and events that belong to the change whoever asks for it. They take the
//! service's state and domain values, never a request; errors are the surfaces' shared
//! [`ApiError`].

pub mod accounts;
pub mod administrators;
pub mod audit;
pub mod clients;
pub mod codes;
pub mod console;
pub mod controls;
pub mod events;
pub mod extensions;
pub mod failures;
pub mod keys;
pub mod overview;
pub mod permissions;
pub mod rules;
pub mod security;
pub mod tenants;
pub mod tokens;

pub use keys::RotationError;

use serde::Deserialize;

use crate::AppState;
use crate::tenancy::ResourceState;
use crate::web::{ApiError, Problem};

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

/// Who changes a resource: the surface it comes through (the events' `origin`) and whether
/// a platform operator asks (only an operator locks a resource, or lifts a lock).
#[derive(Clone, Copy, Debug)]
pub struct Changer {
    pub origin: &'static str,
    pub operator: bool,
}

impl Changer {
    /// A tenant administrator in the console.
    pub const CONSOLE: Changer = Changer { origin: "console", operator: false };
}

/// The state a `what` (account, client) in state `before` may be moved to on `by`'s asking.
pub(crate) fn next_state(
    what: &str,
    before: ResourceState,
    requested: ResourceState,
    by: Changer,
) -> Result<ResourceState, ApiError> {
    match requested {
        ResourceState::Pending => {
            Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED, DISABLED or LOCKED"))
        }
        ResourceState::Locked if !by.operator => {
            Err(ApiError::new(Problem::Forbidden, format!("only a platform operator may lock {}", a(what))))
        }
        _ if before == ResourceState::Locked && !by.operator => Err(ApiError::new(
            Problem::Forbidden,
            format!("the {what} is locked; only a platform operator may lift it"),
        )),
        _ => Ok(requested),
    }
}

fn a(what: &str) -> String {
    let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{article} {what}")
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Some(Option::deserialize(deserializer)?))
}
