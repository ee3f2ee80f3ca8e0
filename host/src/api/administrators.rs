//! Administrators are accounts: `/admin/v1/tenants/{tenant}/accounts/{id}/permissions`
//! lists, grants (`PUT …/{permission}`) and revokes (`DELETE`) the permissions an account
//! holds — each the value of a permission-requiring scope of the tenant's catalogue, `admin`
//! making it an administrator — and `POST …/accounts/{id}/invite` issues the account a
//! one-time invite (shown once; an earlier one stops working) with which its owner sets a
//! password at `POST /t/{tenant}/invite`. Each change is written with its event
//! (`ops::permissions`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::permissions::Invite;
use crate::web::ApiError;

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
    match crate::ops::permissions::grant(&state, &tenant, &id, &permission, "admin-api").await? {
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
    let acting_for = caller.acting_for.as_deref();
    crate::ops::permissions::revoke(&state, &tenant, &id, &permission, acting_for, "admin-api").await?;
    Ok(StatusCode::NO_CONTENT)
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
    Ok((StatusCode::CREATED, Json(crate::ops::permissions::invite(&state, &tenant, &id, "admin-api").await?)))
}
