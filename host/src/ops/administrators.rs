//! Who administers a tenant, below HTTP: an account that is usable and holds the `admin`
//! permission (or, read-only, `admin:read`: a viewer), and a session that may act for one —
//! live, its account an administrator or viewer, its score at least the `admin` scope's (a
//! step-up). The admin API authenticates its
//! callers' sessions with these checks, and every other surface an administrator signs in
//! to must use the same ones.

use crate::AppState;
use crate::storage::{ADMIN_PERMISSION, SessionRow, VIEWER_PERMISSION};
use crate::tenancy::controls::{ADMIN_REQUIRED_SCORE, holds_permission};
use crate::tenancy::{ResourceState, Tenant};
use crate::web::{ApiError, Problem};

/// Whether the tenant's account is usable and holds the `admin` permission.
pub async fn is_administrator(state: &AppState, tenant_id: &str, account_id: &str) -> Result<bool, ApiError> {
    let usable = state.db.account(tenant_id, account_id).await?.is_some_and(|a| a.state.is_usable());
    Ok(usable && holds_admin(state, tenant_id, account_id).await?)
}

async fn holds_admin(state: &AppState, tenant_id: &str, account_id: &str) -> Result<bool, ApiError> {
    Ok(access_of(&state.db.permissions_of(tenant_id, account_id).await?) == Some(Access::Administer))
}

/// What an administrator's session may do to its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything an administrator may (`admin`).
    Administer,
    /// Read, and change nothing (`admin:read`: a viewer).
    View,
}

/// The access `permissions` give, if any.
fn access_of(permissions: &[String]) -> Option<Access> {
    if holds_permission(permissions, ADMIN_PERMISSION) {
        Some(Access::Administer)
    } else if holds_permission(permissions, VIEWER_PERMISSION) {
        Some(Access::View)
    } else {
        None
    }
}

/// The session whose token digest is `digest`, if it is an administrator's: live, its
/// account usable and holding the `admin` permission, its score at least the `admin`
/// scope's. Returns the session's id, the account's, the tenant's and what it may do (a
/// viewer's session, holding `admin:read`, only reads); `None` if no session
/// has this token; an error if the session cannot administer (ended, not an administrator,
/// or too weak: the answer says which score a step-up must reach).
pub async fn administrator_session(
    state: &AppState,
    digest: &str,
    now: i64,
) -> Result<Option<(String, String, String, Access)>, ApiError> {
    let Some((tenant_id, session)) = state.db.session_by_token_digest(digest).await? else { return Ok(None) };
    let ended = || ApiError::new(Problem::Unauthenticated, "the session has ended");
    let tenant = state.db.tenant_by_id(&tenant_id).await?.ok_or_else(ended)?;
    let (account_id, access) = administering(state, &tenant, &session, now).await?;
    Ok(Some((session.id, account_id, tenant.id, access)))
}

/// The session of `tenant` with this id, if it may administer the tenant now (as
/// [`administrator_session`] checks): the account's id and its access. Another tenant's
/// session is "ended".
pub async fn administrator_session_by_id(
    state: &AppState,
    tenant: &Tenant,
    session_id: &str,
    now: i64,
) -> Result<(String, Access), ApiError> {
    let ended = || ApiError::new(Problem::Unauthenticated, "the session has ended");
    let session = state.db.session(&tenant.id, session_id).await?.ok_or_else(ended)?;
    administering(state, tenant, &session, now).await
}

/// Whether `session` of `tenant` may administer (or view) it now; the account's id and its
/// access. The session is touched (its idle time starts again).
async fn administering(
    state: &AppState,
    tenant: &Tenant,
    session: &SessionRow,
    now: i64,
) -> Result<(String, Access), ApiError> {
    let ended = || ApiError::new(Problem::Unauthenticated, "the session has ended");
    if !session.is_live(&tenant.settings, now) || session.state != ResourceState::Enabled {
        return Err(ended());
    }
    let account = state.db.account(&tenant.id, &session.account_id).await?.filter(|a| a.state.is_usable());
    let account = account.ok_or_else(ended)?;
    let permissions = state.db.permissions_of(&tenant.id, &account.id).await?;
    let Some(access) = access_of(&permissions) else {
        return Err(ApiError::new(
            Problem::Forbidden,
            "this account holds neither the admin permission nor the read-only admin:read",
        ));
    };
    let required = ADMIN_REQUIRED_SCORE;
    if session.score < required {
        return Err(ApiError::new(
            Problem::Forbidden,
            format!(
                "administrator access needs a session of score {required}; this one has {} (step up with a stronger factor)",
                session.score
            ),
        ));
    }
    state.db.touch_session(&tenant.id, &session.id, now).await?;
    Ok((account.id, access))
}
