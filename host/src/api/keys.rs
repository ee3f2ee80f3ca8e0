//! `/admin/v1/tenants/{tenant}/keys`: the tenant's signing keys (public facts only: kid,
//! algorithm, state, when a retired key leaves the JWKS), and `POST …/keys/rotate` to
//! rotate now — after a suspected compromise, say — instead of waiting for the schedule.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::storage::KeyInfo;
use crate::web::ApiError;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/keys",
    operation_id = "keys_list",
    tag = "keys",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [KeyInfo]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<KeyInfo>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.signing_keys(&tenant.id).await?, &query, |key: &KeyInfo| key.kid.clone())
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/keys/rotate",
    operation_id = "keys_rotate",
    tag = "keys",
    responses((status = 201, description = "Created", body = KeyInfo))
)]
pub async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<(StatusCode, Json<KeyInfo>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let key = state.rotate_signing_key(&tenant, "admin-api", "on-demand").await?;
    Ok((StatusCode::CREATED, Json(key)))
}
