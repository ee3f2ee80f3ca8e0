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
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::extensions::deployments::{SourceUpload, Upload, UploadError};
use crate::extensions::js_build::SourceType;
use crate::extensions::{DeployError, secret_context};
use crate::storage::{BindingRow, DeploymentRow, DeploymentState, ExtensionRow};
use crate::tenancy::ResourceState;
use crate::web::{ApiError, Problem};

const WASM: &str = "application/wasm";
const MAX_NAME: usize = 100;
const MAX_CONFIG_ENTRIES: usize = 100;
const MAX_CONFIG_BYTES: usize = 16 << 10;
const MAX_SECRET_BYTES: usize = 8 << 10;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    name: Option<String>,
    /// `auto` (default): once built, bind the hooks it exports if the extension has no
    /// binding yet; `none`: bind nothing.
    bind: Option<String>,
}

/// An extension name: 1 to 100 characters of `[a-z0-9._-]`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    match valid {
        true => Ok(()),
        false => Err(ApiError::new(
            Problem::InvalidRequest,
            format!("extension names are 1 to {MAX_NAME} characters of a-z, 0-9, '.', '_' and '-'"),
        )),
    }
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
    check_name(&name)?;
    let bind = match query.bind.as_deref() {
        None | Some("auto") => true,
        Some("none") => false,
        Some(other) => {
            return Err(ApiError::new(Problem::InvalidRequest, format!("bind must be auto or none, not {other:?}")));
        }
    };
    // Read up to the largest size any language may have; the upload's own check then holds
    // the component to its language's limit.
    let limits = state.extensions.tenant_limits(&tenant.id).await?;
    let limit = limits.component_bytes.max(limits.js_component_bytes);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(Problem::PayloadTooLarge, format!("the component exceeds this tenant's limit of {limit} bytes"))
    })?;
    let uploaded = match source_type {
        Some(source_type) if !is_component => {
            let source = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::new(Problem::InvalidRequest, "the source is not UTF-8 text"))?;
            let upload = SourceUpload { tenant_id: &tenant.id, extension: &name, source_type, source, bind };
            state.extensions.upload_source(upload).await
        }
        _ => {
            let upload = Upload { tenant_id: &tenant.id, extension: &name, component: &bytes, bind };
            state.extensions.upload(upload).await
        }
    };
    let deployment = uploaded.map_err(|e| match e {
        UploadError::Rejected(e @ DeployError::TooLarge { .. }) => {
            ApiError::new(Problem::PayloadTooLarge, e.to_string())
        }
        e @ UploadError::SourceTooLarge { .. } => ApiError::new(Problem::PayloadTooLarge, e.to_string()),
        e @ UploadError::NoJavaScriptToolchain => ApiError::new(Problem::UnsupportedMediaType, e.to_string()),
        UploadError::Rejected(e) => ApiError::new(Problem::InvalidComponent, e.to_string()),
        UploadError::Storage(e) => e.into(),
        UploadError::Entropy(e) => e.into(),
    })?;
    tracing::info!(tenant = %tenant.id, extension = %name, deployment = %deployment.id, "extension uploaded");
    let location = format!("/admin/v1/tenants/{}/deployments/{}", tenant.name, deployment.id);
    let mut response = (StatusCode::ACCEPTED, Json(deployment)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// An extension with its versions, bindings, configuration and secret names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExtensionView {
    #[serde(flatten)]
    extension: ExtensionRow,
    config: BTreeMap<String, String>,
    /// Names only: secret values are write-only.
    secrets: Vec<String>,
    deployments: Vec<DeploymentRow>,
    bindings: Vec<BindingRow>,
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
    let extension = state.db.extension(&tenant.id, &name).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    let deployments = state.db.list_deployments(&tenant.id, Some(&name)).await?;
    let bindings = state.db.list_bindings(&tenant.id).await?.into_iter().filter(|b| b.extension == name).collect();
    let secrets = state.db.extension_secret_names(&tenant.id, &name).await?;
    Ok(Json(ExtensionView { config: extension.config.clone(), extension, secrets, deployments, bindings }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeExtension {
    /// `ENABLED` or `DISABLED`.
    state: Option<ResourceState>,
    /// Make this (built) version the active one.
    active_deployment_id: Option<String>,
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
    let _change = state.extensions.change(&tenant.id);
    let Json(body) = body?;
    let now = state.clock.now();
    let extension = state.db.extension(&tenant.id, &name).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    if extension.state == ResourceState::Locked {
        return Err(ApiError::new(Problem::Forbidden, "the extension is locked"));
    }
    if let Some(deployment_id) = &body.active_deployment_id
        && !state.db.activate_deployment(&tenant.id, &name, deployment_id, now).await?
    {
        return Err(ApiError::new(
            Problem::Conflict,
            "only a successfully built (ENABLED) version of this extension can be activated",
        ));
    }
    if let Some(new_state) = body.state {
        if !matches!(new_state, ResourceState::Enabled | ResourceState::Disabled) {
            return Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED"));
        }
        let limit = state.extensions.tenant_limits(&tenant.id).await?.enabled_extensions;
        state.db.set_extension_state(&tenant.id, &name, new_state, limit, now).await?;
    }
    let extension = state.db.extension(&tenant.id, &name).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(Json(extension))
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
    let _change = state.extensions.change(&tenant.id);
    let extension = state.db.extension(&tenant.id, &name).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    let versions = state.db.list_deployments(&tenant.id, Some(&name)).await?;
    let active = versions.iter().find(|d| Some(&d.id) == extension.active_deployment_id.as_ref()).map(|d| d.version);
    let previous = versions
        .iter()
        .filter(|d| d.state == DeploymentState::Enabled && active.is_some_and(|active| d.version < active))
        .max_by_key(|d| d.version)
        .ok_or_else(|| ApiError::new(Problem::Conflict, "there is no earlier built version to roll back to"))?;
    state.db.activate_deployment(&tenant.id, &name, &previous.id, state.clock.now()).await?;
    let extension = state.db.extension(&tenant.id, &name).await?.ok_or_else(|| ApiError::not_found("extension"))?;
    Ok(Json(extension))
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
    let _change = state.extensions.change(&tenant.id);
    if !state.db.delete_extension(&tenant.id, &name).await? {
        return Err(ApiError::not_found("extension"));
    }
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
    let _change = state.extensions.change(&tenant.id);
    let Json(config) = body?;
    let size: usize = config.iter().map(|(k, v)| k.len() + v.len()).sum();
    if config.len() > MAX_CONFIG_ENTRIES || size > MAX_CONFIG_BYTES || config.keys().any(|k| k.is_empty()) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("configuration holds at most {MAX_CONFIG_ENTRIES} non-empty keys and {MAX_CONFIG_BYTES} bytes"),
        ));
    }
    if !state.db.set_extension_config(&tenant.id, &name, &config, state.clock.now()).await? {
        return Err(ApiError::not_found("extension"));
    }
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
    if secret.is_empty() || secret.len() > MAX_NAME || body.value.len() > MAX_SECRET_BYTES {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("secret names are 1 to {MAX_NAME} bytes and values at most {MAX_SECRET_BYTES} bytes"),
        ));
    }
    let context = secret_context(&tenant.id, &name, &secret);
    let sealed =
        state.extensions.vault().seal(state.entropy.as_ref(), &body.value, &context).map_err(ApiError::internal)?;
    let _change = state.extensions.change(&tenant.id);
    if !state.db.set_extension_secret(&tenant.id, &name, &secret, &sealed, state.clock.now()).await? {
        return Err(ApiError::not_found("extension"));
    }
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
    let _change = state.extensions.change(&tenant.id);
    if !state.db.delete_extension_secret(&tenant.id, &name, &secret).await? {
        return Err(ApiError::not_found("secret"));
    }
    Ok(StatusCode::NO_CONTENT)
}
