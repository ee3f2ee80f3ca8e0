//! `/admin/v1/tenants/{tenant}/extensions`: upload a component (`application/wasm`) as the
//! next version of a named extension — checked at once, built in the background (poll the
//! deployment for its state) — and manage extensions: activate a version, roll back,
//! disable, enable, delete; their configuration and their write-only secrets.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::extensions::js_build::SourceType;
use crate::ops::extensions::{self, ChangeExtension, ExtensionView, Uploaded};
use crate::storage::{DeploymentRow, ExtensionRow};
use crate::web::{ApiError, Problem};

const WASM: &str = "application/wasm";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    name: Option<String>,
    /// `auto` (default): once built, bind the hooks it exports if the extension has no
    /// binding yet; `none`: bind nothing.
    bind: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/extensions",
    operation_id = "extensions_upload",
    tag = "extensions",
    params(UploadQuery),
    request_body(
        content = Vec<u8>,
        content_type = "application/wasm",
        description = "The component; or, with Content-Type application/javascript or application/typescript, \
                       a handler module (npm dependencies bundled in) that the node's JavaScript toolchain \
                       builds in the background (the source is kept: GET /deployments/{id}/source)"
    ),
    responses((
        status = 202,
        description = "Accepted: checked, building in the background",
        body = DeploymentRow,
        headers(("Location" = String, description = "The deployment, to poll for its state"))
    ))
)]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let is_component = content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(WASM);
    let source_type = SourceType::from_media_type(content_type);
    if !is_component && source_type.is_none() {
        return Err(ApiError::new(
            Problem::UnsupportedMediaType,
            format!(
                "upload the component as the request body with Content-Type: {WASM}, or a JavaScript or \
                 TypeScript handler module (its npm dependencies bundled in) with Content-Type: \
                 application/javascript or application/typescript"
            ),
        ));
    }
    let name = query.name.unwrap_or_else(|| "extension".into());
    extensions::check_name(&name)?;
    let bind = match query.bind.as_deref() {
        None | Some("auto") => true,
        Some("none") => false,
        Some(other) => {
            return Err(ApiError::new(Problem::InvalidRequest, format!("bind must be auto or none, not {other:?}")));
        }
    };
    let limit = extensions::upload_limit(&state, &tenant).await?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(Problem::PayloadTooLarge, format!("the component exceeds this tenant's limit of {limit} bytes"))
    })?;
    let uploaded = match source_type {
        Some(source_type) if !is_component => Uploaded::Source(source_type, &bytes),
        _ => Uploaded::Component(&bytes),
    };
    let deployment = extensions::upload(&state, &tenant, &name, uploaded, bind).await?;
    let location = format!("/admin/v1/tenants/{}/deployments/{}", tenant.name, deployment.id);
    let mut response = (StatusCode::ACCEPTED, Json(deployment)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/extensions",
    operation_id = "extensions_list",
    tag = "extensions",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [ExtensionRow]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<ExtensionRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.list_extensions(&tenant.id).await?, &query, |extension: &ExtensionRow| extension.name.clone())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}",
    operation_id = "extensions_get",
    tag = "extensions",
    responses((status = 200, description = "OK", body = ExtensionView))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<ExtensionView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(extensions::view(&state, &tenant, &name).await?))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}",
    operation_id = "extensions_change",
    tag = "extensions",
    request_body = ChangeExtension,
    responses((status = 200, description = "OK", body = ExtensionRow))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    body: Result<Json<ChangeExtension>, JsonRejection>,
) -> Result<Json<ExtensionRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(extensions::change(&state, &tenant, &name, &body).await?))
}

/// Activates the newest built version older than the active one.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/rollback",
    operation_id = "extensions_rollback",
    tag = "extensions",
    responses((status = 200, description = "OK", body = ExtensionRow))
)]
pub async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<Json<ExtensionRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(extensions::rollback(&state, &tenant, &name).await?))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}",
    operation_id = "extensions_delete",
    tag = "extensions",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    extensions::delete(&state, &tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/config",
    operation_id = "extensions_set_config",
    tag = "extensions",
    responses((status = 200, description = "OK", body = BTreeMap<String, String>))
)]
pub async fn set_config(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    body: Result<Json<BTreeMap<String, String>>, JsonRejection>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(config) = body?;
    extensions::set_config(&state, &tenant, &name, &config).await?;
    Ok(Json(config))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecret {
    value: String,
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/secrets/{secret}",
    operation_id = "extensions_set_secret",
    tag = "extensions",
    request_body = SetSecret,
    responses((status = 204, description = "No Content"))
)]
pub async fn set_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name, secret)): Path<(String, String, String)>,
    body: Result<Json<SetSecret>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    extensions::set_secret(&state, &tenant, &name, &secret, &body.value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/extensions/{name}/secrets/{secret}",
    operation_id = "extensions_delete_secret",
    tag = "extensions",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete_secret(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name, secret)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    extensions::delete_secret(&state, &tenant, &name, &secret).await?;
    Ok(StatusCode::NO_CONTENT)
}
