//! `/admin/v1/me` ("your security"): who the caller is — its role, its tenant, the token or
//! session that authenticated the call — and, when the call acts for an administrator
//! account, that account with its factors; with the personal access tokens the caller
//! made (or, for a token no account made, that token itself). Changing them goes through
//! the resources' own routes (`tokens`, `accounts/{id}/factors`, the hosted
//! `session/factors`).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::accounts::AccountView;
use super::auth::Caller;
use super::tokens::TokenView;
use crate::AppState;
use crate::tenancy::Role;
use crate::web::ApiError;

/// The caller as the admin API sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `operator`, `tenant-admin` or `tenant-viewer`.
    role: &'static str,
    /// The tenant the caller acts on; none for an operator.
    tenant: Option<TenantRef>,
    /// The personal access token or administrator session that authenticated the call.
    token_id: String,
    /// The administrator account the call acts for, with its factors.
    account: Option<AccountView>,
    /// The tenant's personal access tokens the caller made (a token no account made lists
    /// itself); none for an operator.
    tokens: Vec<TokenView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantRef {
    id: String,
    name: String,
}

#[utoipa::path(
    get,
    path = "/admin/v1/me",
    operation_id = "me_get",
    tag = "me",
    responses((status = 200, description = "OK", body = Me))
)]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let tenant_id = match &caller.role {
        Role::Operator => None,
        Role::TenantAdmin { tenant_id } | Role::TenantViewer { tenant_id } => Some(tenant_id.clone()),
    };
    let (mut tenant, mut account, mut tokens) = (None, None, Vec::new());
    if let Some(tenant_id) = tenant_id {
        let found = state.db.tenant_by_id(&tenant_id).await?.ok_or_else(|| ApiError::not_found("tenant"))?;
        tenant = Some(TenantRef { id: found.id.clone(), name: found.name.as_str().to_owned() });
        if let Some(account_id) = &caller.acting_for
            && let Some(found_account) = state.db.account(&tenant_id, account_id).await?
        {
            let factors = state.db.factors(&tenant_id, account_id).await?;
            account = Some(AccountView::new(found_account, factors));
        }
        let made_by_caller = |pat: &&crate::storage::PatRow| match &caller.acting_for {
            Some(account_id) => pat.created_by_account.as_deref() == Some(account_id.as_str()),
            None => pat.id == caller.token_id,
        };
        tokens = state.db.pats_of(&tenant_id).await?.iter().filter(made_by_caller).map(TokenView::from).collect();
    }
    Ok(Json(Me { role: caller.role.as_str(), tenant, token_id: caller.token_id.clone(), account, tokens }))
}
