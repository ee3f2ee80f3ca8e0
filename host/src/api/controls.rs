//! `/admin/v1/tenants/{tenant}/scopes`: the scope catalogue (built-ins and the tenant's
//! own, each with the score it needs). `/admin/v1/tenants/{tenant}/legal` and consents: legal documents, each published as
//! immutable versions (a URL or a text) — publishing a new version makes acceptance due
//! again for every account — and an account's consents, listed and revoked
//! (`/accounts/{id}/consents`). Accounts accept a version themselves, through their
//! session (`POST /t/{tenant}/session/legal`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::tenancy::{Consent, LegalDocument, Scope};
use crate::web::ApiError;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    label: String,
    url: Option<String>,
    text: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/legal",
    operation_id = "controls_create",
    tag = "controls",
    request_body = CreateDocument,
    responses((status = 201, description = "Created", body = LegalDocument))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateDocument>, JsonRejection>,
) -> Result<(StatusCode, Json<LegalDocument>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let doc =
        crate::ops::controls::create_document(&state, &tenant, body.label, body.url, body.text, "admin-api").await?;
    Ok((StatusCode::CREATED, Json(doc)))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/legal",
    operation_id = "controls_list",
    tag = "controls",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [LegalDocument]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<LegalDocument>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.legal_documents(&tenant.id).await?, &query, |document: &LegalDocument| document.id.clone())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVersion {
    url: Option<String>,
    text: Option<String>,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/legal/{id}/versions",
    operation_id = "controls_publish",
    tag = "controls",
    request_body = NewVersion,
    responses((status = 200, description = "OK", body = LegalDocument))
)]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<NewVersion>, JsonRejection>,
) -> Result<Json<LegalDocument>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(crate::ops::controls::publish_version(&state, &tenant, &id, body.url, body.text, "admin-api").await?))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/consents",
    operation_id = "controls_consents",
    tag = "controls",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [Consent]))
)]
pub async fn consents(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<Consent>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    state.db.account(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("account"))?;
    Page::of(state.db.consents_of(&tenant.id, &id).await?, &query, |consent: &Consent| consent.id.clone())
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/consents/{consent_id}",
    operation_id = "controls_revoke",
    tag = "controls",
    responses((status = 204, description = "No Content"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, consent_id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    crate::ops::controls::revoke_consent(&state, &tenant, &id, &consent_id, "admin-api").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/scopes",
    operation_id = "controls_scopes",
    tag = "controls",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [Scope]))
)]
pub async fn scopes(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<Scope>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Page::of(state.db.scopes(&tenant.id).await?, &query, |scope: &Scope| scope.value.clone())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScope {
    value: String,
    label: String,
    /// The session score the scope needs (0 to 20).
    required_score: i64,
    #[serde(default)]
    consent_required: bool,
    #[serde(default)]
    permission_required: bool,
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/scopes",
    operation_id = "controls_create_scope",
    tag = "controls",
    request_body = CreateScope,
    responses((status = 201, description = "Created", body = Scope))
)]
pub async fn create_scope(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateScope>, JsonRejection>,
) -> Result<(StatusCode, Json<Scope>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let scope = Scope {
        value: body.value,
        label: body.label,
        required_score: body.required_score,
        consent_required: body.consent_required,
        permission_required: body.permission_required,
        builtin: false,
    };
    let scope = crate::ops::controls::create_scope(&state, &tenant, scope).await?;
    Ok((StatusCode::CREATED, Json(scope)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/scopes/{value}",
    operation_id = "controls_delete_scope",
    tag = "controls",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete_scope(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, value)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    crate::ops::controls::delete_scope(&state, &tenant, &value).await?;
    Ok(StatusCode::NO_CONTENT)
}
