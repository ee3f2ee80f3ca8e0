//! `/admin/v1/tenants`: operators create, list and change tenants (state, default); a
//! tenant's administrator may read its own and change its label, colour, tags and settings.
//! Creating a tenant creates its signing key, its first administrator — an account
//! (`admin`, PENDING, holding the `admin` permission) with a one-time invite, and a token
//! for automation, both shown once — and its event in one transaction; a change and its
//! event are one transaction too.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::tenants::{Administrator, ChangeTenant, NewTenant, change_tenant, check_label, create_tenant};
use crate::tenancy::{ResourceState, Role, Tenant, TenantName, check_colour, check_tags};
use crate::web::{ApiError, Problem};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Lowercase and DNS-label safe: the tenant's path segment and subdomain.
    #[schema(pattern = "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
    name: String,
    label: Option<String>,
    #[serde(default)]
    colour: String,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    /// The parent tenant's name (one level of sub-tenants).
    parent: Option<String>,
    /// Settings that differ from the defaults.
    #[serde(default)]
    settings: Map<String, Value>,
    /// Make this the platform's default tenant.
    #[serde(default)]
    default: bool,
}

/// A tenant as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    #[serde(flatten)]
    tenant: Tenant,
    /// LOCKED while the parent is not ENABLED, else the tenant's own state.
    effective_state: ResourceState,
    issuer: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    tenant: TenantView,
    /// The tenant administrator's personal access token (for automation). Shown once.
    admin_token: String,
    /// The first administrator's account and one-time invite.
    administrator: Administrator,
}

fn view(state: &AppState, tenant: Tenant) -> TenantView {
    TenantView { issuer: state.issuer(&tenant.name), effective_state: tenant.effective_state(), tenant }
}

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(Problem::InvalidRequest, e.to_string())
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants",
    operation_id = "tenants_create",
    tag = "tenants",
    request_body = CreateTenant,
    responses((status = 201, description = "Created", body = CreatedTenant))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateTenant>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    caller.require_operator()?;
    let Json(body) = body?;
    let name = TenantName::parse(&body.name).map_err(invalid)?;
    let label = body.label.unwrap_or_else(|| name.to_string());
    check_label(&label)?;
    let parent_id = match &body.parent {
        Some(parent) => Some(
            state
                .db
                .tenant_by_name(parent)
                .await?
                .ok_or_else(|| invalid(format!("there is no tenant named {parent:?} to be the parent")))?
                .id,
        ),
        None => None,
    };
    let spec = NewTenant {
        name,
        label,
        colour: check_colour(&body.colour).map_err(invalid)?,
        tags: body.tags,
        parent_id,
        settings: body.settings,
        default: body.default,
    };
    check_tags(&spec.tags).map_err(invalid)?;
    let (tenant, admin_token, administrator) = create_tenant(&state, spec).await?;
    tracing::info!(tenant = %tenant.id, name = %tenant.name, "tenant created");
    Ok((StatusCode::CREATED, Json(CreatedTenant { tenant: view(&state, tenant), admin_token, administrator })))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants",
    operation_id = "tenants_list",
    tag = "tenants",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [TenantView]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<TenantView>, ApiError> {
    let Query(query) = query?;
    let tenants = state.db.list_tenants().await?;
    let visible = tenants.into_iter().filter(|tenant| caller.role.can_administer(&tenant.id));
    Page::of(visible.map(|tenant| view(&state, tenant)).collect(), &query, |view: &TenantView| {
        view.tenant.name.as_str().to_owned()
    })
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}",
    operation_id = "tenants_get",
    tag = "tenants",
    responses((status = 200, description = "OK", body = TenantView))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = caller.tenant(&state, &name).await?;
    Ok(Json(view(&state, tenant)))
}

/// Changes a tenant. Its administrators may change label, colour, tags and settings;
/// state and the default flag are the operator's (so a tenant's own administrators can
/// neither lift a LOCKED tenant nor lock themselves out). The change and its event
/// (`tenant.updated`, or `tenant.state_changed`) are one transaction.
#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}",
    operation_id = "tenants_change",
    tag = "tenants",
    request_body = ChangeTenant,
    responses((status = 200, description = "OK", body = TenantView))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Json<ChangeTenant>, JsonRejection>,
) -> Result<Json<TenantView>, ApiError> {
    let before = caller.tenant(&state, &name).await?;
    let Json(body) = body?;
    let tenant = change_tenant(&state, &before, body, "admin-api", caller.role == Role::Operator).await?;
    Ok(Json(view(&state, tenant)))
}
