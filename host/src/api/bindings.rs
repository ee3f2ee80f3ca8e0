//! `/admin/v1/tenants/{tenant}/bindings`: which extension runs on which hook — tenant-wide
//! or for one client (token issuance; a client's own bindings replace the tenant-wide
//! ones), in what order, with what failure policy; a cron schedule for the scheduled hook
//! and a filter for the events hook.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::extensions::CreateBinding;
use crate::storage::BindingRow;
use crate::web::ApiError;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/bindings",
    operation_id = "bindings_list",
    tag = "bindings",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [BindingRow]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<BindingRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.list_bindings(&tenant.id).await?, &query, |binding: &BindingRow| binding.id.clone())
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/bindings",
    operation_id = "bindings_create",
    tag = "bindings",
    request_body = CreateBinding,
    responses((status = 201, description = "Created", body = BindingRow))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateBinding>, JsonRejection>,
) -> Result<(StatusCode, Json<BindingRow>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let row = crate::ops::extensions::create_binding(&state, &tenant, &body).await?;
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/bindings/{id}",
    operation_id = "bindings_delete",
    tag = "bindings",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    crate::ops::extensions::delete_binding(&state, &tenant, &id, None).await?;
    Ok(StatusCode::NO_CONTENT)
}
