//! `POST /t/{tenant}/invite`: the owner of an invited account (a new tenant's first
//! administrator, or anyone an administrator invited) sets its password with the one-time
//! invite token. The invite is used up, earlier passwords are disabled (and the sessions
//! opened with them end), and a PENDING account becomes ENABLED, with an
//! `account.invite_accepted` event, in one transaction; the account then signs in like any
//! other.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::secrets;
use crate::tenancy::ResourceState;
use crate::tenancy::account::check_password;
use crate::web::{ApiError, Problem};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    invite_token: String,
    password: String,
}

#[derive(Debug, Serialize)]
pub struct Accepted {
    account_id: String,
    username: String,
}

fn unusable() -> ApiError {
    ApiError::new(Problem::Unauthenticated, "the invite is unknown, used or expired")
}

pub async fn accept(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Result<Json<AcceptInvite>, JsonRejection>,
) -> Result<Json<Accepted>, ApiError> {
    let tenant = super::login::usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    check_password(&body.password).map_err(|e| ApiError::new(Problem::InvalidRequest, e.0))?;
    let digest = secrets::digest(body.invite_token.trim());
    let now = state.clock.now();
    let invite = state.db.invite(&tenant.id, &digest).await?.filter(|i| i.expires_at > now).ok_or_else(unusable)?;
    let account = state.db.account(&tenant.id, &invite.account_id).await?.ok_or_else(unusable)?;
    if matches!(account.state, ResourceState::Disabled | ResourceState::Locked) {
        return Err(ApiError::new(Problem::Forbidden, "the account is not enabled"));
    }
    let factor = crate::ops::accounts::password_factor(&state, &account.id, body.password, now).await?;
    let detail = match account.state {
        ResourceState::Pending => {
            json!({"added": {"password": "[redacted]", "state": "ENABLED"}, "removed": {"state": "PENDING"}})
        }
        _ => json!({"added": {"password": "[redacted]"}, "removed": {}}),
    };
    let event = crate::ops::prepare_event(
        &state,
        &tenant,
        "resource-change",
        "account.invite_accepted",
        "login",
        Some(&account.id),
        detail,
    )
    .await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    if !state.db.accept_invite(&tenant.id, &digest, &factor, now, event).await? {
        return Err(unusable());
    }
    Ok(Json(Accepted { account_id: account.id, username: account.username }))
}
