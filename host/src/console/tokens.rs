//! The APIs screen: the tenant's endpoints and its personal access tokens, made through
//! `ops::tokens` (shown once, on the answer that made them) and revoked.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    Administrator, Failure, Nothing, Posted, STYLESHEET_PATH, acted, by, page, pages, posted, signed_in_page, under,
};
use crate::AppState;
use crate::tenancy::Tenant;
use crate::web::{ApiError, Problem};

/// The tenant's APIs and tokens, signed-in administrators only.
async fn apis_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    page_state: &pages::ApisPage<'_>,
) -> Result<Response, Failure> {
    let tokens = state.db.pats_of(&tenant.id).await.map_err(under(tenant))?;
    Ok(page(status, pages::apis(&STYLESHEET_PATH, tenant, &admin.signed(), &tokens, page_state)))
}

pub(super) async fn tokens(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let issuer = state.issuer(&tenant.name);
    let page_state = pages::ApisPage { issuer: &issuer, created: None, message: None };
    apis_page(&state, &tenant, &admin, StatusCode::OK, &page_state).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    expires_in_days: String,
}

/// Makes a token and shows it once, on this answer; a refused form is shown again with
/// the reason.
pub(super) async fn create_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<TokenForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let issuer = state.issuer(&tenant.name);
    let days = match form.expires_in_days.trim() {
        "" => Ok(None),
        days => days.parse::<i64>().map(Some).map_err(|_| "expires after must be a number of days"),
    };
    let made = match days {
        Ok(expires_in_days) => {
            let new = crate::ops::tokens::NewToken { name: form.name, role: &form.role, expires_in_days };
            let maker = crate::ops::tokens::Maker {
                by: &admin.signed_in.session_id,
                acting_for: Some(admin.signed_in.account_id.clone()),
                origin: "console",
            };
            crate::ops::tokens::create(&state, &tenant, new, maker).await
        }
        Err(detail) => Err(ApiError::new(Problem::InvalidRequest, detail)),
    };
    let response = match made {
        Ok((pat, token)) => {
            let page_state = pages::ApisPage { issuer: &issuer, created: Some((&pat, &token)), message: None };
            apis_page(&state, &tenant, &admin, StatusCode::CREATED, &page_state).await?
        }
        Err(e) if e.kind == Problem::InvalidRequest => {
            let page_state = pages::ApisPage { issuer: &issuer, created: None, message: Some(&e.detail) };
            apis_page(&state, &tenant, &admin, StatusCode::BAD_REQUEST, &page_state).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// Revokes (deletes) a token of the tenant; another tenant's is not found.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    crate::ops::tokens::revoke(&state, &tenant, &id, "console").await.map_err(by(&tenant, &admin))?;
    let response = Redirect::to(&format!("/console/{}/tokens", tenant.name)).into_response();
    Ok(acted(response, &tenant, &admin))
}
