//! `/admin/v1/tenants/{tenant}/extensions`: upload a component (`application/wasm`) to
//! deploy it — validated, compiled, stored as an immutable version and bound to the hooks
//! it exports — and list or read deployments. A refused upload stores nothing.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::auth::Caller;
use super::error::{ApiError, Problem};
use crate::AppState;
use crate::extensions::{DeployError, DeployFailure, Upload};
use crate::storage::DeploymentRow;

const WASM: &str = "application/wasm";
const MAX_NAME: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployQuery {
    name: Option<String>,
}

pub async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<DeployQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DeploymentRow>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(WASM) {
        return Err(ApiError::new(
            Problem::UnsupportedMediaType,
            format!("upload the component as the request body with Content-Type: {WASM}"),
        ));
    }
    let name = query.name.unwrap_or_else(|| "extension".into());
    if name.trim().is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::new(Problem::InvalidRequest, format!("name must be 1 to {MAX_NAME} characters")));
    }
    let limit = state.extensions.limits().component_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(Problem::PayloadTooLarge, format!("the component exceeds this tenant's limit of {limit} bytes"))
    })?;
    let upload =
        Upload { tenant_id: &tenant.id, name: &name, component: bytes.as_ref().into(), now: state.clock.now() };
    let deployment = state.extensions.deploy(&state.db, state.entropy.as_ref(), upload).await.map_err(|e| match e {
        DeployFailure::Rejected(e @ DeployError::TooLarge { .. }) => {
            ApiError::new(Problem::PayloadTooLarge, e.to_string())
        }
        DeployFailure::Rejected(e @ DeployError::Interrupted(_)) => ApiError::internal(e),
        DeployFailure::Rejected(e) => ApiError::new(Problem::InvalidComponent, e.to_string()),
        DeployFailure::Storage(e) => e.into(),
        DeployFailure::Entropy(e) => e.into(),
    })?;
    tracing::info!(tenant = %tenant.id, deployment = %deployment.id, hooks = ?deployment.hooks, "extension deployed");
    Ok((StatusCode::CREATED, Json(deployment)))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<DeploymentRow>>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(state.db.list_deployments(&tenant.id).await?))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<DeploymentRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let deployment = state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(Json(deployment))
}
