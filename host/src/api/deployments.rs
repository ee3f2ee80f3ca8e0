//! `/admin/v1/tenants/{tenant}/deployments`: the versions of the tenant's extensions —
//! read one to poll its build (PENDING, then ENABLED or FAILED with the reason), list,
//! delete an inactive one — and dry runs: invoke a built version's hook with a supplied
//! input, without side effects (key-value writes stay in the run, outbound HTTP is not
//! sent), and get back the outcome, the output, the captured log, fuel and duration.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::extensions::hook_run::HookRun;
use crate::ops::extensions;
use crate::storage::DeploymentRow;
use crate::web::ApiError;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this extension's versions.
    extension: Option<String>,
    /// The previous page's last deployment id.
    after: Option<String>,
    /// Items per page: 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/deployments",
    operation_id = "deployments_list",
    tag = "deployments",
    params(ListQuery),
    responses((status = 200, description = "OK", body = [DeploymentRow]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Page<DeploymentRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let deployments = state.db.list_deployments(&tenant.id, query.extension.as_deref()).await?;
    let page = PageQuery { after: query.after, limit: query.limit };
    Page::of(deployments, &page, |deployment: &DeploymentRow| deployment.id.clone())
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/deployments/{id}",
    operation_id = "deployments_get",
    tag = "deployments",
    responses((status = 200, description = "OK", body = DeploymentRow))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<DeploymentRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(extensions::deployment(&state, &tenant, &id).await?))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/deployments/{id}/source",
    operation_id = "deployments_source",
    tag = "deployments",
    responses((status = 200, description = "The JavaScript or TypeScript source the version was uploaded as", body = String, content_type = "text/javascript"))
)]
pub async fn source(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let (source_type, text) = extensions::source(&state, &tenant, &id).await?;
    Ok(([(header::CONTENT_TYPE, source_type.media_type())], text).into_response())
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/deployments/{id}",
    operation_id = "deployments_delete",
    tag = "deployments",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    extensions::delete_deployment(&state, &tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    hook: String,
    input: Value,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/deployments/{id}/dry-run",
    operation_id = "deployments_dry_run",
    tag = "deployments",
    request_body = DryRun,
    responses((status = 200, description = "OK", body = HookRun))
)]
pub async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<DryRun>, JsonRejection>,
) -> Result<Json<HookRun>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(extensions::dry_run(&state, &tenant, &id, &body.hook, body.input).await?))
}
