//! `/admin/v1/tenants/{tenant}/keys`: the tenant's signing keys (public facts only: kid,
//! algorithm, state, when a retired key leaves the JWKS), and `POST …/keys/rotate` to
//! rotate now — after a suspected compromise, say — instead of waiting for the schedule.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::Caller;
use super::error::ApiError;
use crate::AppState;
use crate::storage::KeyInfo;

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/keys",
    operation_id = "keys_list",
    tag = "keys",
    responses((status = 200, description = "OK", body = [KeyInfo]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<KeyInfo>>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(state.db.signing_keys(&tenant.id).await?))
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
