//! `/admin/v1/tenants/{tenant}/tokens` ("APIs"): the tenant's personal access tokens —
//! create one for an administrator or a read-only viewer (the token is shown once, stored
//! as SHA-256), list them, disable or re-enable one, delete one. A token cannot act on the
//! token that authenticates the call, so nobody locks themselves out by accident.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::tokens::{Maker, NewToken};
use crate::storage::PatRow;
use crate::tenancy::ResourceState;
use crate::web::{ApiError, Problem};

/// A token as listed: never its value or digest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    id: String,
    name: String,
    role: &'static str,
    state: ResourceState,
    created_at: i64,
    expires_at: Option<i64>,
}

impl From<&PatRow> for TokenView {
    fn from(pat: &PatRow) -> Self {
        TokenView {
            id: pat.id.clone(),
            name: pat.name.clone(),
            role: pat.role.as_str(),
            state: pat.state,
            created_at: pat.created_at,
            expires_at: pat.expires_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    view: TokenView,
    /// Shown once.
    token: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    name: String,
    /// `tenant-admin` or `tenant-viewer`.
    #[schema(pattern = "^tenant-(admin|viewer)$")]
    role: String,
    /// Days until it expires (at most 366); without it, it does not expire.
    #[schema(minimum = 1, maximum = 366)]
    expires_in_days: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/tokens",
    operation_id = "tokens_list",
    tag = "tokens",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [TokenView]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<TokenView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let tokens = state.db.pats_of(&tenant.id).await?.iter().map(TokenView::from).collect();
    Page::of(tokens, &query, |token: &TokenView| token.id.clone())
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/tokens",
    operation_id = "tokens_create",
    tag = "tokens",
    request_body = CreateToken,
    responses((status = 201, description = "Created", body = CreatedToken))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateToken>, JsonRejection>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let new = NewToken { name: body.name, role: &body.role, expires_in_days: body.expires_in_days };
    let maker = Maker { by: &caller.token_id, acting_for: caller.acting_for.clone(), origin: "admin-api" };
    let (pat, token) = crate::ops::tokens::create(&state, &tenant, new, maker).await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: TokenView::from(&pat), token })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeToken {
    /// `ENABLED` or `DISABLED`.
    state: ResourceState,
}

fn not_self(caller: &Caller, id: &str) -> Result<(), ApiError> {
    match caller.token_id == id {
        true => Err(ApiError::new(Problem::Conflict, "a token cannot disable or delete itself; use another one")),
        false => Ok(()),
    }
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/tokens/{id}",
    operation_id = "tokens_change",
    tag = "tokens",
    request_body = ChangeToken,
    responses((status = 200, description = "OK", body = TokenView))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<ChangeToken>, JsonRejection>,
) -> Result<Json<TokenView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    not_self(&caller, &id)?;
    if !matches!(body.state, ResourceState::Enabled | ResourceState::Disabled) {
        return Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED"));
    }
    if !state.db.set_pat_state(&tenant.id, &id, body.state).await? {
        return Err(ApiError::not_found("token"));
    }
    let pat = state.db.pat(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("token"))?;
    Ok(Json(TokenView::from(&pat)))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/tokens/{id}",
    operation_id = "tokens_delete",
    tag = "tokens",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    not_self(&caller, &id)?;
    crate::ops::tokens::revoke(&state, &tenant, &id, "admin-api").await?;
    Ok(StatusCode::NO_CONTENT)
}
