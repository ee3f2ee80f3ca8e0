//! An account's own security, below HTTP: what a signed-in account does to itself — change
//! its password (the current one checked, and a wrong one counted toward the factor's
//! lock as a failed login is), disable or enable one of its factors (one enabled factor
//! always stays), end one of its sessions. Used by the hosted pages' "your security" API
//! (`oauth`) and the console's Your security screen; each acts only on the account's own
//! factors and sessions, anything else is "not found". Enrolling a factor is
//! [`super::accounts::enrol`], with the account's own origin.

use serde_json::json;

use crate::AppState;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::storage::FactorCounter;
use crate::tenancy::account::{LOCK_SECONDS, MAX_ATTEMPTS};
use crate::tenancy::{Account, Factor, FactorKind, ResourceState, Tenant};
use crate::web::{ApiError, Problem};

fn own_event(
    action: &'static str,
    origin: &'static str,
    result: EventResult,
    reason: Option<&str>,
    account: &Account,
    detail: serde_json::Value,
) -> NewEvent {
    NewEvent {
        category: "authentication",
        action,
        origin,
        result,
        reason: reason.map(str::to_owned),
        account_id: Some(account.id.clone()),
        detail,
    }
}

/// Changes the account's password: `current` must be its password now (a wrong one is a
/// failed attempt, and the factor locks after [`MAX_ATTEMPTS`]), `new` passes the password
/// rules. As every enrolment changes (PRODUCT.md), a new password factor is added and the
/// old one disabled. The account's refresh tokens are revoked; its sessions stay.
pub async fn change_password(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    current: String,
    new: String,
    origin: &'static str,
) -> Result<(), ApiError> {
    let factors = state.db.factors(&tenant.id, &account.id).await?;
    let factor = factors.into_iter().find(|f| f.kind == FactorKind::Password && f.state.is_usable());
    let factor = factor.ok_or_else(|| ApiError::new(Problem::Conflict, "this account has no password to change"))?;
    let now = state.clock.now();
    if factor.is_locked(now) {
        return Err(ApiError::new(Problem::Forbidden, "too many wrong passwords: the password is locked for a while"));
    }
    crate::tenancy::account::check_password(&new).map_err(|e| ApiError::new(Problem::InvalidRequest, e.to_string()))?;
    let stored = factor.secret_hash.clone().unwrap_or_default();
    let verified = tokio::task::spawn_blocking(move || crate::secrets::verify_password(&current, &stored))
        .await
        .map_err(ApiError::internal)?;
    if !verified {
        let counted = state
            .db
            .count_factor(&tenant.id, &factor.id, FactorCounter::FailedAttempt, MAX_ATTEMPTS, now, now + LOCK_SECONDS)
            .await?;
        let detail = json!({"factor_id": factor.id});
        let failed =
            own_event("password.change-failed", origin, EventResult::Failed, Some("bad-password"), account, detail);
        if let Err(e) = state.extensions.emit(tenant, failed, false).await {
            tracing::warn!(tenant = %tenant.id, "cannot record password.change-failed: {e}");
        }
        return Err(match counted {
            Some(factor) if factor.is_locked(now) => {
                ApiError::new(Problem::Forbidden, "too many wrong passwords: the password is locked for a while")
            }
            _ => ApiError::new(Problem::InvalidRequest, "the current password is not right"),
        });
    }
    // Enrolments never change: the new password is a new factor, the old one disabled.
    let replacement = super::accounts::password_factor(state, &account.id, new, now).await?;
    let detail = json!({"factor_id": replacement.id, "replaces": factor.id});
    let changed = own_event("password.changed", origin, EventResult::Success, None, account, detail);
    let changed = state.extensions.prepare_event(tenant, changed, false).await?;
    let changed = changed.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.change_password(&tenant.id, &factor.id, &replacement, changed, now).await? {
        true => Ok(()),
        false => Err(ApiError::new(Problem::Conflict, "the password changed meanwhile: reload and try again")),
    }
}

/// Disables or enables factor `factor_id` of the account; its last enabled factor stays,
/// and a PENDING enrolment is confirmed with its first code instead.
pub async fn change_factor(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    factor_id: &str,
    new_state: ResourceState,
    origin: &'static str,
) -> Result<Factor, ApiError> {
    let factors = state.db.factors(&tenant.id, &account.id).await?;
    let factor = factors.iter().find(|f| f.id == factor_id).ok_or_else(|| ApiError::not_found("factor"))?;
    match new_state {
        ResourceState::Disabled => {
            let others = factors.iter().filter(|f| f.id != factor.id && f.state.is_usable()).count();
            if others == 0 {
                return Err(ApiError::new(Problem::Conflict, "an account keeps at least one enabled factor"));
            }
        }
        ResourceState::Enabled if factor.state == ResourceState::Pending => {
            return Err(ApiError::new(Problem::Conflict, "confirm the enrolment with its first code instead"));
        }
        ResourceState::Enabled => {}
        _ => return Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED")),
    }
    state.db.set_factor_state(&tenant.id, &factor.id, new_state).await?;
    let detail = json!({"factor_id": factor.id, "kind": factor.kind, "state": new_state});
    let event = own_event("factor.changed", origin, EventResult::Success, None, account, detail);
    if let Err(e) = state.extensions.emit(tenant, event, false).await {
        tracing::warn!(tenant = %tenant.id, "cannot record factor.changed: {e}");
    }
    state.db.factor(&tenant.id, &factor.id).await?.ok_or_else(|| ApiError::not_found("factor"))
}

/// Where the tenant's account `account_id` is signed in: its live sessions that passed a
/// factor (a login still in progress is not one), oldest first.
pub async fn signed_in_sessions(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
) -> Result<Vec<crate::storage::SessionRow>, ApiError> {
    let now = state.clock.now();
    let sessions = state.db.sessions_of(&tenant.id, account_id).await?;
    Ok(sessions.into_iter().filter(|s| s.is_live(&tenant.settings, now) && s.authenticated_at.is_some()).collect())
}

/// Ends session `session_id` of the account (and what it granted); another account's
/// session, or one already ended, is "not found".
pub async fn end_session(
    state: &AppState,
    tenant: &Tenant,
    account: &Account,
    session_id: &str,
) -> Result<(), ApiError> {
    let session = state.db.session(&tenant.id, session_id).await?.filter(|s| s.account_id == account.id);
    if session.is_none() {
        return Err(ApiError::not_found("session"));
    }
    match state.db.end_session(&tenant.id, session_id, state.clock.now()).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("session")),
    }
}
