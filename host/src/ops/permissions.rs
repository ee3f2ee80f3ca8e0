//! What an administrator does to another account's access, below HTTP: grant and revoke
//! a permission (the value of one of the tenant's permission-requiring scopes; `admin`
//! makes an administrator, `admin:read` a viewer), issue a one-time invite (shown once; an
//! earlier one stops working), and disable or enable one of its factors. Each change is
//! written with its event, from the surface's origin. The admin API and the console call
//! these.

use serde::Serialize;
use serde_json::json;

use crate::AppState;
use crate::secrets;
use crate::tenancy::account::INVITE_SECONDS;
use crate::tenancy::{Factor, ResourceState, Tenant};
use crate::web::{ApiError, Problem};

/// The permissions an account may be granted: the values of the tenant's
/// permission-requiring scopes, in catalogue order.
pub async fn grantable(state: &AppState, tenant: &Tenant) -> Result<Vec<String>, ApiError> {
    let catalogue = state.db.scopes(&tenant.id).await?;
    Ok(catalogue.into_iter().filter(|s| s.permission_required).map(|s| s.value).collect())
}

/// Grants `permission` to the tenant's account `account_id`; false if it held it already.
pub async fn grant(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    permission: &str,
    origin: &'static str,
) -> Result<bool, ApiError> {
    state.db.account(&tenant.id, account_id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    if !grantable(state, tenant).await?.iter().any(|p| p == permission) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("{permission:?} is not a permission: it must be the value of a scope that requires a permission"),
        ));
    }
    let detail = json!({"permission": permission});
    let event = super::accounts::event_from(state, tenant, origin, "permission.granted", account_id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    Ok(state.db.grant_permission(&tenant.id, account_id, permission, state.clock.now(), event).await?)
}

/// Revokes `permission` from the tenant's account `account_id`; an administrator
/// (`acting_for`) cannot revoke their own.
pub async fn revoke(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    permission: &str,
    acting_for: Option<&str>,
    origin: &'static str,
) -> Result<(), ApiError> {
    if acting_for == Some(account_id) {
        return Err(ApiError::new(Problem::Conflict, "an administrator cannot revoke their own permissions"));
    }
    let detail = json!({"permission": permission});
    let event = super::accounts::event_from(state, tenant, origin, "permission.revoked", account_id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.revoke_permission(&tenant.id, account_id, permission, state.clock.now(), event).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("permission held by this account")),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invite {
    pub account_id: String,
    /// The one-time invite token. Shown once.
    pub invite_token: String,
    pub expires_at: i64,
}

/// A new one-time invite for the tenant's account `account_id` (a disabled or locked one
/// is enabled first); an earlier invite stops working.
pub async fn invite(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    origin: &'static str,
) -> Result<Invite, ApiError> {
    let account = state.db.account(&tenant.id, account_id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    if matches!(account.state, ResourceState::Disabled | ResourceState::Locked) {
        return Err(ApiError::new(Problem::Conflict, "enable the account before inviting it"));
    }
    let now = state.clock.now();
    let invite_token = secrets::new_personal_access_token(state.entropy.as_ref())?;
    let expires_at = now + INVITE_SECONDS;
    let detail = json!({"expires_at": expires_at});
    let event = super::accounts::event_from(state, tenant, origin, "account.invited", account_id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.set_invite(&tenant.id, account_id, &secrets::digest(&invite_token), expires_at, now, event).await?;
    Ok(Invite { account_id: account_id.to_owned(), invite_token, expires_at })
}

/// Disables or enables factor `factor_id` of the tenant's account `account_id` (an
/// administrator's doing: the account's last factor may go, a PENDING enrolment is
/// confirmed with its first code instead).
pub async fn change_factor(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    factor_id: &str,
    new_state: ResourceState,
) -> Result<Factor, ApiError> {
    let factor = state.db.factor(&tenant.id, factor_id).await?.filter(|f| f.account_id == account_id);
    let factor = factor.ok_or_else(|| ApiError::not_found("factor"))?;
    if !matches!(new_state, ResourceState::Enabled | ResourceState::Disabled) {
        return Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED"));
    }
    if new_state == ResourceState::Enabled && factor.state == ResourceState::Pending {
        return Err(ApiError::new(Problem::Conflict, "confirm the enrolment with its first code instead"));
    }
    state.db.set_factor_state(&tenant.id, &factor.id, new_state).await?;
    state.db.factor(&tenant.id, &factor.id).await?.ok_or_else(|| ApiError::not_found("factor"))
}
