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
use crate::extensions::Hook;
use crate::extensions::hook_run::HookRun;
use crate::extensions::js_build::SourceType;
use crate::storage::{DeploymentRow, DeploymentState};
use crate::web::{ApiError, Problem};

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
    let deployment = state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(Json(deployment))
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
    state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    let (kind, text) = state.db.deployment_source(&tenant.id, &id).await?.ok_or_else(|| {
        ApiError::new(Problem::NotFound, "this version was uploaded as a component: it has no source")
    })?;
    let media_type = SourceType::parse(&kind).unwrap_or(SourceType::JavaScript).media_type();
    Ok(([(header::CONTENT_TYPE, media_type)], text).into_response())
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
    let _change = state.extensions.change(&tenant.id);
    if !state.db.delete_deployment(&tenant.id, &id).await? {
        return Err(ApiError::not_found("deployment"));
    }
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
    let hook = Hook::from_name(&body.hook).ok_or_else(|| {
        let known: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
        ApiError::new(Problem::InvalidRequest, format!("hook must be one of {}", known.join(", ")))
    })?;
    let deployment = state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    if deployment.state != DeploymentState::Enabled {
        return Err(ApiError::new(
            Problem::Conflict,
            format!("the deployment is {}; only a built (ENABLED) version can run", deployment.state.as_str()),
        ));
    }
    if !deployment.hooks.iter().any(|h| h == hook.name()) {
        return Err(ApiError::new(Problem::InvalidRequest, format!("the deployment does not export {}", hook.name())));
    }
    let runtime = &state.extensions;
    let target = runtime
        .target(&tenant, &deployment.extension, &deployment.id, deployment.version, hook, true)
        .await
        .map_err(ApiError::internal)?;
    let answer = runtime
        .run_hook(&target, hook, body.input)
        .await
        .map_err(|e| ApiError::new(Problem::InvalidRequest, e.to_string()))?;
    Ok(Json(answer))
}
