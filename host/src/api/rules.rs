//! `/admin/v1/tenants/{tenant}/rules`: rules that grant scopes of the tenant's catalogue to
//! one machine client or (`"client_id": "*"`) to every client. A client obtains the scopes
//! of its own `scopes` list and of every enabled rule naming it; disabling or deleting a
//! rule takes its scopes away from the next token on. Changes are written with their
//! events (`rule.created`, `rule.changed`, `rule.deleted`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::rules::{ChangeRule, CreateRule};
use crate::tenancy::ScopeRule;
use crate::web::ApiError;

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/rules",
    operation_id = "rules_create",
    tag = "rules",
    request_body = CreateRule,
    responses((status = 201, description = "Created", body = ScopeRule))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateRule>, JsonRejection>,
) -> Result<(StatusCode, Json<ScopeRule>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok((StatusCode::CREATED, Json(crate::ops::rules::create(&state, &tenant, body, "admin-api").await?)))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/rules",
    operation_id = "rules_list",
    tag = "rules",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [ScopeRule]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.rules(&tenant.id).await?, &query, |rule: &ScopeRule| rule.id.clone())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_get",
    tag = "rules",
    responses((status = 200, description = "OK", body = ScopeRule))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(state.db.rule(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("rule"))?))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_change",
    tag = "rules",
    request_body = ChangeRule,
    responses((status = 200, description = "OK", body = ScopeRule))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<ChangeRule>, JsonRejection>,
) -> Result<Json<ScopeRule>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(crate::ops::rules::change(&state, &tenant, &id, body, "admin-api").await?))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/rules/{id}",
    operation_id = "rules_delete",
    tag = "rules",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    crate::ops::rules::delete(&state, &tenant, &id, "admin-api").await?;
    Ok(StatusCode::NO_CONTENT)
}
