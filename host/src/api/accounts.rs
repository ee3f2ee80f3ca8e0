//! `/admin/v1/tenants/{tenant}/accounts`: human accounts — create (through the tenant's
//! `account-creation` extensions: `before` may change or refuse the account, `after` runs
//! once it exists), read, change (contact data, attributes, state), delete — their factors
//! (enrol a password or an OTP channel; enrolments are immutable, so a factor is disabled,
//! not edited) and their sessions (list, end). Every change writes its event in the same
//! transaction, with what was added and removed and no secret.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::pages::{Page, PageQuery, fetch_limit};
use crate::AppState;
use crate::extensions::account_creation::{AccountData, Source};
use crate::ops::accounts::{
    ChangeAccount, Confirm, EnrolFactor, EnrolledFactor, change_account, confirm, create_account, delete_account,
    enrol, find,
};
use crate::storage::SessionRow;
use crate::tenancy::{Account, Factor, ResourceState, Role};
use crate::web::{ApiError, Problem};

fn invalid(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(Problem::InvalidRequest, e.to_string())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// 1 to 100 characters, unique in the tenant whatever their case.
    #[schema(min_length = 1, max_length = 100)]
    username: String,
    email: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
    /// Enrols a password factor with the account: 15 to 100 characters.
    #[schema(min_length = 15, max_length = 100)]
    password: Option<String>,
}

/// An account with its factors.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    #[serde(flatten)]
    account: Account,
    factors: Vec<Factor>,
}

impl AccountView {
    pub(crate) fn new(account: Account, factors: Vec<Factor>) -> Self {
        AccountView { account, factors }
    }
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/accounts",
    operation_id = "accounts_create",
    tag = "accounts",
    request_body = CreateAccount,
    responses((status = 201, description = "Created", body = AccountView))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    body: Result<Json<CreateAccount>, JsonRejection>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let submitted =
        AccountData { username: body.username, email: body.email, phone: body.phone, attributes: body.attributes };
    let (account, factor) =
        create_account(&state, &tenant, Source::Admin, "admin-api", submitted, body.password).await?;
    Ok((StatusCode::CREATED, Json(AccountView { account, factors: factor.into_iter().collect() })))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/accounts",
    operation_id = "accounts_list",
    tag = "accounts",
    params(PageQuery),
    responses((status = 200, description = "OK: in username order", body = [Account]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<Account>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let accounts = state.db.list_accounts(&tenant.id, query.after.as_deref(), fetch_limit(query.limit())).await?;
    Ok(Page::fetched(accounts, query.limit(), |account: &Account| account.username.clone()))
}

/// The admin API's caller as a [`crate::ops::Changer`].
fn changer(caller: &Caller) -> crate::ops::Changer {
    crate::ops::Changer { origin: "admin-api", operator: caller.role == Role::Operator }
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}",
    operation_id = "accounts_get",
    tag = "accounts",
    responses((status = 200, description = "OK", body = AccountView))
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<AccountView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let account = find(&state, &tenant, &id).await?;
    let factors = state.db.factors(&tenant.id, &account.id).await?;
    Ok(Json(AccountView { account, factors }))
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}",
    operation_id = "accounts_change",
    tag = "accounts",
    request_body = ChangeAccount,
    responses((status = 200, description = "OK", body = Account))
)]
pub async fn change(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<ChangeAccount>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(change_account(&state, &tenant, changer(&caller), &id, body).await?))
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}",
    operation_id = "accounts_delete",
    tag = "accounts",
    responses((status = 204, description = "No Content"))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    delete_account(&state, &tenant, changer(&caller), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/factors",
    operation_id = "accounts_enrol_factor",
    tag = "accounts",
    request_body = EnrolFactor,
    responses((status = 201, description = "Created", body = EnrolledFactor))
)]
pub async fn enrol_factor(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<EnrolFactor>, JsonRejection>,
) -> Result<(StatusCode, Json<EnrolledFactor>), ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let account = find(&state, &tenant, &id).await?;
    Ok((StatusCode::CREATED, Json(enrol(&state, &tenant, &account, body, "admin-api").await?)))
}

/// `POST /accounts/{id}/factors/{factor}/confirm`: the first valid code of a TOTP
/// enrolment makes the factor ENABLED.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/factors/{factor_id}/confirm",
    operation_id = "accounts_confirm_factor",
    tag = "accounts",
    request_body = Confirm,
    responses((status = 200, description = "OK", body = Factor))
)]
pub async fn confirm_factor(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, factor_id)): Path<(String, String, String)>,
    body: Result<Json<Confirm>, JsonRejection>,
) -> Result<Json<Factor>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    Ok(Json(confirm(&state, &tenant, &id, &factor_id, &body.code).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeFactor {
    /// `ENABLED` or `DISABLED` (an enrolment itself never changes).
    state: ResourceState,
}

#[utoipa::path(
    patch,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/factors/{factor_id}",
    operation_id = "accounts_change_factor",
    tag = "accounts",
    request_body = ChangeFactor,
    responses((status = 200, description = "OK", body = Factor))
)]
pub async fn change_factor(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id, factor_id)): Path<(String, String, String)>,
    body: Result<Json<ChangeFactor>, JsonRejection>,
) -> Result<Json<Factor>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let factor = crate::ops::permissions::change_factor(&state, &tenant, &id, &factor_id, body.state).await?;
    Ok(Json(factor))
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/sessions",
    operation_id = "accounts_sessions",
    tag = "accounts",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [SessionRow]))
)]
pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<SessionRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let account = find(&state, &tenant, &id).await?;
    let now = state.clock.now();
    let sessions = state.db.sessions_of(&tenant.id, &account.id).await?;
    let live = sessions.into_iter().filter(|s| s.is_live(&tenant.settings, now)).collect();
    Page::of(live, &query, |session: &SessionRow| session.id.clone())
}

#[utoipa::path(
    delete,
    path = "/admin/v1/tenants/{tenant}/sessions/{id}",
    operation_id = "accounts_end_session",
    tag = "accounts",
    responses((status = 204, description = "No Content"))
)]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    match state.db.end_session(&tenant.id, &id, state.clock.now()).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("session")),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveAccount {
    /// The name of the tenant the account moves to.
    to: String,
}

/// `POST /accounts/{id}/move` (operators): moves the account and its factors to another
/// tenant; its sessions end and its consents stay behind (they were given to the old
/// tenant). Both tenants get an `account.moved` event; the audit log has the call.
#[utoipa::path(
    post,
    path = "/admin/v1/tenants/{tenant}/accounts/{id}/move",
    operation_id = "accounts_move_account",
    tag = "accounts",
    request_body = MoveAccount,
    responses((status = 200, description = "OK", body = Account))
)]
pub async fn move_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<MoveAccount>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    caller.require_operator()?;
    let from = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let to = state
        .db
        .tenant_by_name(&body.to)
        .await?
        .ok_or_else(|| invalid(format!("there is no tenant named {:?}", body.to)))?;
    Ok(Json(crate::ops::accounts::move_account(&state, &from, &to, &id, "admin-api").await?))
}
