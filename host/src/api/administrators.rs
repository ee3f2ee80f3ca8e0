//! Administrators are accounts: `/admin/v1/tenants/{tenant}/accounts/{id}/permissions`
//! lists, grants (`PUT …/{permission}`) and revokes (`DELETE`) the permissions an account
//! holds — each the value of a permission-requiring scope of the tenant's catalogue, `admin`
//! making it an administrator — and `POST …/accounts/{id}/invite` issues the account a
//! one-time invite (shown once; an earlier one stops working) with which its owner sets a
//! password at `POST /t/{tenant}/invite`. Each change is written with its event.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::secrets;
use crate::tenancy::ResourceState;
use crate::tenancy::account::INVITE_SECONDS;
use crate::web::{ApiError, Problem};

/// A permission is the value of one of the tenant's permission-requiring scopes.
async fn check_permission(state: &AppState, tenant_id: &str, permission: &str) -> Result<(), ApiError> {
    let catalogue = state.db.scopes(tenant_id).await?;
    match catalogue.iter().any(|s| s.permission_required && s.value == permission) {
        true => Ok(()),
        false => Err(ApiError::new(
            Problem::InvalidRequest,
            format!("{permission:?} is not a permission: it must be the value of a scope that requires a permission"),
        )),
    }
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/permissions",
    operation_id = "administrators_list",
    tag = "administrators",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [String]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<String>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    state.db.account(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    Page::of(state.db.permissions_of(&tenant.id, &id).await?, &query, String::clone)
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/permissions/{permission}",
    operation_id = "administrators_grant",
    tag = "administrators",
    responses((status = 201, description = "Created"), (status = 204, description = "No Content"))
)]
pub async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, permission)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    state.db.account(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    check_permission(&state, &tenant.id, &permission).await?;
    let detail = json!({"permission": permission});
    let event = super::accounts::event(&state, &tenant, "permission.granted", &id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.grant_permission(&tenant.id, &id, &permission, state.clock.now(), event).await? {
        true => Ok(StatusCode::CREATED),
        false => Ok(StatusCode::NO_CONTENT),
    }
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/permissions/{permission}",
    operation_id = "administrators_revoke",
    tag = "administrators",
    responses((status = 204, description = "No Content"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, permission)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    if caller.acting_for.as_deref() == Some(id.as_str()) {
        return Err(ApiError::new(Problem::Conflict, "an administrator cannot revoke their own permissions"));
    }
    let detail = json!({"permission": permission});
    let event = super::accounts::event(&state, &tenant, "permission.revoked", &id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.revoke_permission(&tenant.id, &id, &permission, state.clock.now(), event).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("permission held by this account")),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invite {
    account_id: String,
    /// The one-time invite token. Shown once.
    invite_token: String,
    expires_at: i64,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/invite",
    operation_id = "administrators_invite",
    tag = "administrators",
    responses((status = 201, description = "Created", body = Invite))
)]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Invite>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let account = state.db.account(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    if matches!(account.state, ResourceState::Disabled | ResourceState::Locked) {
        return Err(ApiError::new(Problem::Conflict, "enable the account before inviting it"));
    }
    let now = state.clock.now();
    let invite_token = secrets::new_personal_access_token(state.entropy.as_ref())?;
    let expires_at = now + INVITE_SECONDS;
    let event =
        super::accounts::event(&state, &tenant, "account.invited", &id, json!({"expires_at": expires_at})).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.set_invite(&tenant.id, &id, &secrets::digest(&invite_token), expires_at, now, event).await?;
    Ok((StatusCode::CREATED, Json(Invite { account_id: id, invite_token, expires_at })))
}
