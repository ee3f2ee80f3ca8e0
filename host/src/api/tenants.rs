//! `/admin/v1/tenants`: operators create, list and change tenants (state, default); a
//! tenant's administrator may read its own and change its label, colour, tags and settings.
//! Creating a tenant creates its signing key, its first administrator — an account
//! (`admin`, PENDING, holding the `admin` permission) with a one-time invite, and a token
//! for automation, both shown once — and its event in one transaction; a change and its
//! event are one transaction too.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::tenants::{Administrator, ChangeTenant, CreateTenant, change_tenant, create_named};
use crate::tenancy::{ResourceState, Role, Tenant};
use crate::web::ApiError;

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
    let (tenant, admin_token, administrator) = create_named(&state, body, "admin-api").await?;
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
