//! `/admin/v1/tenants`: operators create and list tenants; a tenant's administrator may
//! read its own. Creating a tenant creates its signing key and its first administrator
//! token (shown once) in the same transaction.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, Problem};
use crate::AppState;
use crate::clock::random_id;
use crate::oauth::keys;
use crate::secrets;
use crate::storage::PatRow;
use crate::tenancy::{ResourceState, Role, Tenant, TenantName};

const MAX_LABEL: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    label: Option<String>,
}

/// A tenant as the API shows it.
#[derive(Debug, Serialize)]
pub struct TenantView {
    #[serde(flatten)]
    tenant: Tenant,
    issuer: String,
}

#[derive(Debug, Serialize)]
pub struct CreatedTenant {
    tenant: TenantView,
    /// The tenant administrator's personal access token. Shown once.
    admin_token: String,
}

fn view(state: &AppState, tenant: Tenant) -> TenantView {
    TenantView { issuer: state.issuer(&tenant.name), tenant }
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateTenant>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedTenant>), ApiError> {
    caller.require_operator()?;
    let Json(body) = body?;
    let name = TenantName::parse(&body.name).map_err(|e| ApiError::new(Problem::InvalidRequest, e.to_string()))?;
    let label = body.label.unwrap_or_else(|| name.to_string());
    if label.trim().is_empty() || label.chars().count() > MAX_LABEL {
        return Err(ApiError::new(Problem::InvalidRequest, format!("label must be 1 to {MAX_LABEL} characters")));
    }

    let (tenant, admin_token) = create_tenant(&state, &name, label).await?;
    tracing::info!(tenant = %tenant.id, name = %tenant.name, "tenant created");
    Ok((StatusCode::CREATED, Json(CreatedTenant { tenant: view(&state, tenant), admin_token })))
}

/// Creates a tenant, its signing key and its administrator's token (returned, to be shown
/// once), in one transaction.
pub async fn create_tenant(state: &AppState, name: &TenantName, label: String) -> Result<(Tenant, String), ApiError> {
    let now = state.clock.now();
    let entropy = state.entropy.as_ref();
    let tenant = Tenant {
        id: random_id(entropy, "tn", 12)?,
        name: name.to_string(),
        label,
        state: ResourceState::Enabled,
        created_at: now,
    };
    let key = keys::generate(&tenant.id, now).map_err(ApiError::internal)?;
    let admin_token = secrets::new_personal_access_token(entropy)?;
    let pat = PatRow {
        id: random_id(entropy, "pat", 12)?,
        role: Role::TenantAdmin { tenant_id: tenant.id.clone() },
        token_sha256: secrets::digest(&admin_token),
        state: ResourceState::Enabled,
        created_at: now,
        expires_at: None,
    };
    state.db.create_tenant(&tenant, &key, &pat).await?;
    Ok((tenant, admin_token))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<TenantView>>, ApiError> {
    let tenants = state.db.list_tenants().await?;
    let visible = tenants.into_iter().filter(|tenant| caller.role.can_administer(&tenant.id));
    Ok(Json(visible.map(|tenant| view(&state, tenant)).collect()))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = caller.tenant(&state, &name).await?;
    Ok(Json(view(&state, tenant)))
}
