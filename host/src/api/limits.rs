//! Extension limits and settings. Operators define plans (`/admin/v1/plans/{plan}`: limit
//! overrides over the defaults) and put a tenant on a plan with its own overrides
//! (`PUT /admin/v1/tenants/{tenant}/limits`); a tenant's administrator reads the effective
//! limits and sets which hosts its extensions may reach over HTTP
//! (`/admin/v1/tenants/{tenant}/extension-settings`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::extensions::{LimitOverrides, Limits};
use crate::storage::PlanRow;
use crate::web::{ApiError, Problem};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantLimits {
    plan: String,
    /// The operator's overrides for this tenant, over its plan.
    overrides: serde_json::Value,
    /// What applies now: defaults, then plan, then overrides.
    effective: Limits,
}

async fn tenant_limits(state: &AppState, tenant_id: &str) -> Result<TenantLimits, ApiError> {
    let row = state.db.tenant_limits(tenant_id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
    let effective = state.extensions.tenant_limits(tenant_id).await?;
    Ok(TenantLimits { plan: row.plan, overrides: row.overrides, effective })
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/limits",
    operation_id = "limits_get",
    tag = "limits",
    responses((status = 200, description = "OK", body = TenantLimits))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<TenantLimits>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(tenant_limits(&state, &tenant.id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLimits {
    plan: Option<String>,
    overrides: Option<LimitOverrides>,
}

fn check(overrides: &LimitOverrides, state: &AppState) -> Result<serde_json::Value, ApiError> {
    overrides
        .validate(state.extensions.node_limits())
        .map_err(|e| ApiError::new(Problem::InvalidRequest, e.to_string()))?;
    serde_json::to_value(overrides).map_err(ApiError::internal)
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/limits",
    operation_id = "limits_set",
    tag = "limits",
    request_body = SetLimits,
    responses((status = 200, description = "OK", body = TenantLimits))
)]
pub async fn set(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<SetLimits>, JsonRejection>,
) -> Result<Json<TenantLimits>, ApiError> {
    caller.require_operator()?;
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let overrides = body.overrides.as_ref().map(|o| check(o, &state)).transpose()?;
    let change = state.extensions.change(&tenant.id);
    if let Some(plan) = &body.plan
        && !state.db.set_tenant_plan(&tenant.id, plan).await?
    {
        return Err(ApiError::not_found("plan"));
    }
    if let Some(overrides) = &overrides {
        state.db.set_tenant_limit_overrides(&tenant.id, overrides).await?;
    }
    drop(change);
    tracing::info!(tenant = %tenant.id, "tenant limits changed");
    Ok(Json(tenant_limits(&state, &tenant.id).await?))
}

#[utoipa::path(
    get,
    path = "/admin/v1/plans",
    operation_id = "limits_list_plans",
    tag = "limits",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [PlanRow]))
)]
pub async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<PlanRow>, ApiError> {
    caller.require_operator()?;
    let Query(query) = query?;
    Page::of(state.db.list_plans().await?, &query, |plan: &PlanRow| plan.name.clone())
}

#[utoipa::path(
    put,
    path = "/admin/v1/plans/{plan}",
    operation_id = "limits_put_plan",
    tag = "limits",
    request_body = LimitOverrides,
    responses((status = 200, description = "OK", body = PlanRow))
)]
pub async fn put_plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<LimitOverrides>, JsonRejection>,
) -> Result<Json<PlanRow>, ApiError> {
    caller.require_operator()?;
    let Json(overrides) = body?;
    crate::ops::extensions::check_name(&name)?;
    let limits = check(&overrides, &state)?;
    // Every tenant (any may be on the plan) sees it on its next invocation on this node.
    let tenants = state.db.list_tenants().await?;
    let changes: Vec<_> = tenants.iter().map(|tenant| state.extensions.change(&tenant.id)).collect();
    let plan = state.db.upsert_plan(&name, &limits, state.clock.now()).await?;
    drop(changes);
    Ok(Json(plan))
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionSettings {
    /// Hosts (`name`, `name:port` or `*.suffix`) the tenant's extensions may reach over HTTP.
    allowed_hosts: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/extension-settings",
    operation_id = "limits_get_settings",
    tag = "limits",
    responses((status = 200, description = "OK", body = ExtensionSettings))
)]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<ExtensionSettings>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    Ok(Json(ExtensionSettings { allowed_hosts: crate::ops::extensions::allowed_hosts(&state, &tenant).await? }))
}

#[utoipa::path(
    put,
    path = "/admin/v1/tenants/{tenant}/extension-settings",
    operation_id = "limits_put_settings",
    tag = "limits",
    request_body = ExtensionSettings,
    responses((status = 200, description = "OK", body = ExtensionSettings))
)]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<ExtensionSettings>, JsonRejection>,
) -> Result<Json<ExtensionSettings>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    crate::ops::extensions::set_allowed_hosts(&state, &tenant, &body.allowed_hosts).await?;
    Ok(Json(body))
}
