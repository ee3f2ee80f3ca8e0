//! The accounts and clients screens: lists, searches and pages of the tenant's accounts,
//! an account's details (edited, disabled, deleted), and its clients (registered, their
//! secrets rotated and retired), over the same operations as the admin API
//! (`ops::accounts`, `ops::clients`, `ops::permissions`: permissions granted and revoked,
//! invites, an account's factors disabled or enabled and its sessions ended) with the
//! console as the events' origin. Another
//! tenant's account or client is "not found"; a refused form is shown again with why.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    Administrator, Failure, STYLESHEET_PATH, acted, answer, by, page, pages, posted, refused, signed_in_page, under,
    words,
};
use crate::AppState;
use crate::extensions::account_creation::{AccountData, Source};
use crate::ops::Changer;
use crate::ops::accounts::{ChangeAccount, change_account, create_account, delete_account, find};
use crate::ops::clients::{ChangeClient, CreateClient};
use crate::ops::permissions::Invite;
use crate::tenancy::Tenant;
use crate::web::{ApiError, Problem};

/// Accounts per page.
const PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

async fn accounts_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    query: &ListQuery,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let search = query.q.trim();
    let after = query.after.as_deref();
    let mut accounts = match search {
        "" => state.db.list_accounts(&tenant.id, after, PAGE + 1).await,
        text => state.db.search_accounts(&tenant.id, text, after, PAGE + 1).await,
    }
    .map_err(under(tenant))?;
    let more = accounts.len() > PAGE as usize;
    accounts.truncate(PAGE as usize);
    let next = if more { accounts.last().map(|a| a.username.as_str()) } else { None };
    let page_state = pages::AccountsPage { search, next, message };
    Ok(page(status, pages::accounts(&STYLESHEET_PATH, tenant, &admin.signed(), &accounts, &page_state)))
}

pub(super) async fn accounts(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    accounts_page(&state, &tenant, &admin, StatusCode::OK, &query, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NewAccount {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// The text of a form field, or `None` when it was left empty.
fn filled(text: String) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Creates an account (through the tenant's `account-creation` extensions) and shows it.
pub(super) async fn create_account_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<NewAccount>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let submitted = AccountData {
        username: form.username.trim().to_owned(),
        email: filled(form.email),
        phone: None,
        attributes: Default::default(),
    };
    // A password is taken as typed: its spaces are part of it.
    let password = (!form.password.is_empty()).then_some(form.password);
    let response = match create_account(&state, &tenant, Source::Admin, "console", submitted, password).await {
        Ok((account, _)) => Redirect::to(&format!("/console/{}/accounts/{}", tenant.name, account.id)).into_response(),
        Err(e) if refused(&e) => {
            accounts_page(&state, &tenant, &admin, e.kind.status(), &ListQuery::default(), Some(&e.detail)).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

async fn account_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    id: &str,
    message: Option<&str>,
) -> Result<Response, Failure> {
    account_page_with(state, tenant, admin, status, id, message, None).await
}

/// The account's page, with an invite just issued (shown once) if any.
async fn account_page_with(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    id: &str,
    message: Option<&str>,
    invite: Option<&Invite>,
) -> Result<Response, Failure> {
    let account = find(state, tenant, id).await.map_err(under(tenant))?;
    let factors = state.db.factors(&tenant.id, &account.id).await.map_err(under(tenant))?;
    let held = state.db.permissions_of(&tenant.id, &account.id).await.map_err(under(tenant))?;
    let grantable = crate::ops::permissions::grantable(state, tenant).await.map_err(under(tenant))?;
    let sessions = crate::ops::security::signed_in_sessions(state, tenant, &account.id).await.map_err(under(tenant))?;
    let consents = state.db.consents_of(&tenant.id, &account.id).await.map_err(under(tenant))?;
    let access = pages::AccountAccess {
        factors: &factors,
        permissions: &held,
        grantable: &grantable,
        sessions: &sessions,
        consents: &consents,
        now: state.clock.now(),
        own: account.id == admin.signed_in.account_id,
        invite,
    };
    let html = pages::account(&STYLESHEET_PATH, tenant, &admin.signed(), &account, &access, message);
    Ok(page(status, html))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct PermissionForm {
    #[serde(default)]
    permission: String,
}

/// Grants a permission (`admin`, `admin:read`, or one of the tenant's own) to the account.
pub(super) async fn grant_permission(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<PermissionForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let granted = crate::ops::permissions::grant(&state, &tenant, &id, form.permission.trim(), "console").await;
    account_answer(&state, &tenant, &admin, &id, granted).await
}

/// The answer to a change of account `id`: its page, again with why when refused.
async fn account_answer<T>(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    id: &str,
    result: Result<T, ApiError>,
) -> Result<Response, Failure> {
    let to = format!("/console/{}/accounts/{id}", tenant.name);
    let again = |status, why: String| async move { account_page(state, tenant, admin, status, id, Some(&why)).await };
    answer(tenant, admin, result, &to, again).await
}

/// Revokes a permission the account holds (never the signed-in administrator's own).
pub(super) async fn revoke_permission(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<PermissionForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let me = Some(admin.signed_in.account_id.as_str());
    let revoked = crate::ops::permissions::revoke(&state, &tenant, &id, &form.permission, me, "console").await;
    account_answer(&state, &tenant, &admin, &id, revoked).await
}

/// Issues the account a new one-time invite, shown once on this answer.
pub(super) async fn invite(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let response = match crate::ops::permissions::invite(&state, &tenant, &id, "console").await {
        Ok(invite) => account_page_with(&state, &tenant, &admin, StatusCode::CREATED, &id, None, Some(&invite)).await?,
        Err(e) if refused(&e) => account_page(&state, &tenant, &admin, e.kind.status(), &id, Some(&e.detail)).await?,
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// Disables or enables one of the account's factors.
pub(super) async fn factor_state(
    State(state): State<AppState>,
    Path((name, id, factor_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        let requested = form.requested()?;
        find(&state, &tenant, &id).await?;
        crate::ops::permissions::change_factor(&state, &tenant, &id, &factor_id, requested).await
    }
    .await;
    account_answer(&state, &tenant, &admin, &id, changed).await
}

/// Ends one of the account's sessions (and what it granted).
pub(super) async fn end_session(
    State(state): State<AppState>,
    Path((name, id, session_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let account = find(&state, &tenant, &id).await.map_err(by(&tenant, &admin))?;
    crate::ops::security::end_session(&state, &tenant, &account, &session_id).await.map_err(by(&tenant, &admin))?;
    Ok(acted(Redirect::to(&format!("/console/{}/accounts/{id}", tenant.name)).into_response(), &tenant, &admin))
}

/// Revokes one of the account's consents (its event from `console`); one not in force, or
/// not the account's, is "not found".
pub(super) async fn revoke_consent(
    State(state): State<AppState>,
    Path((name, id, consent_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let account = find(&state, &tenant, &id).await.map_err(by(&tenant, &admin))?;
    crate::ops::controls::revoke_consent(&state, &tenant, &account.id, &consent_id, "console")
        .await
        .map_err(by(&tenant, &admin))?;
    Ok(acted(Redirect::to(&format!("/console/{}/accounts/{id}", tenant.name)).into_response(), &tenant, &admin))
}

pub(super) async fn account(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    account_page(&state, &tenant, &admin, StatusCode::OK, &id, None).await
}

/// Enables or disables an account (disabling ends its sessions) and shows it again.
pub(super) async fn account_state(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        let change = ChangeAccount { state: Some(form.requested()?), ..ChangeAccount::default() };
        change_account(&state, &tenant, Changer::CONSOLE, &id, change).await
    }
    .await;
    account_answer(&state, &tenant, &admin, &id, changed).await
}

pub(super) async fn confirm_delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let account = find(&state, &tenant, &id).await.map_err(under(&tenant))?;
    Ok(page(StatusCode::OK, pages::confirm_delete(&STYLESHEET_PATH, &tenant, &admin.signed(), &account)))
}

/// Deletes an account, once confirmed, and goes back to the list.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    delete_account(&state, &tenant, Changer::CONSOLE, &id).await.map_err(by(&tenant, &admin))?;
    let response = Redirect::to(&format!("/console/{}/accounts", tenant.name)).into_response();
    Ok(acted(response, &tenant, &admin))
}

async fn clients_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    page_state: &pages::ClientsPage<'_>,
) -> Result<Response, Failure> {
    let clients = state.db.list_clients(&tenant.id).await.map_err(under(tenant))?;
    Ok(page(status, pages::clients(&STYLESHEET_PATH, tenant, &admin.signed(), &clients, page_state)))
}

pub(super) async fn clients(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    clients_page(&state, &tenant, &admin, StatusCode::OK, &pages::ClientsPage { created: None, message: None }).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NewClient {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    redirect_uris: String,
    /// A checkbox: present (`on`) when ticked.
    public: Option<String>,
}

/// Registers a client and shows its secret, once, on this answer.
pub(super) async fn create_client(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<NewClient>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let new = CreateClient {
        name: form.name.trim().to_owned(),
        scopes: words(&form.scopes),
        redirect_uris: words(&form.redirect_uris),
        public: form.public.is_some(),
        ..CreateClient::default()
    };
    let response = match crate::ops::clients::create(&state, &tenant, Changer::CONSOLE.origin, new).await {
        Ok(created) => {
            let shown = Some((&created.client, created.client_secret.as_deref()));
            let page_state = pages::ClientsPage { created: shown, message: None };
            clients_page(&state, &tenant, &admin, StatusCode::CREATED, &page_state).await?
        }
        Err(e) if refused(&e) => {
            let page_state = pages::ClientsPage { created: None, message: Some(&e.detail) };
            clients_page(&state, &tenant, &admin, e.kind.status(), &page_state).await?
        }
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// What a client's page shows besides the client: a secret just made, or why the last
/// form was refused.
#[derive(Clone, Copy, Debug, Default)]
struct Shown<'a> {
    secret: Option<&'a str>,
    message: Option<&'a str>,
}

async fn client_page(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    status: StatusCode,
    client_id: &str,
    shown: Shown<'_>,
) -> Result<Response, Failure> {
    let client = state.db.client(&tenant.id, client_id).await.map_err(under(tenant))?;
    let client = client.ok_or_else(|| under(tenant)(ApiError::not_found("client")))?;
    let html = pages::client(&STYLESHEET_PATH, tenant, &admin.signed(), &client, shown.secret, shown.message);
    Ok(page(status, html))
}

/// The client's page again, with why the last form was refused.
async fn client_refused(
    state: &AppState,
    tenant: &Tenant,
    admin: &Administrator,
    client_id: &str,
    error: &ApiError,
) -> Result<Response, Failure> {
    let shown = Shown { message: Some(&error.detail), ..Shown::default() };
    client_page(state, tenant, admin, error.kind.status(), client_id, shown).await
}

pub(super) async fn client(
    State(state): State<AppState>,
    Path((name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    client_page(&state, &tenant, &admin, StatusCode::OK, &client_id, Shown::default()).await
}

/// Enables or disables a client and shows it again.
pub(super) async fn client_state(
    State(state): State<AppState>,
    Path((name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::NewState>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        let change = ChangeClient { state: Some(form.requested()?), ..ChangeClient::default() };
        crate::ops::clients::change(&state, &tenant, Changer::CONSOLE, &client_id, change).await
    }
    .await;
    let response = match changed {
        Ok(_) => Redirect::to(&format!("/console/{}/clients/{client_id}", tenant.name)).into_response(),
        Err(e) if refused(&e) => client_refused(&state, &tenant, &admin, &client_id, &e).await?,
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ClientEdit {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    redirect_uris: String,
}

/// Changes a client's name, scopes and redirect URIs (the same checks as at registration);
/// a refused change writes nothing and shows the page again with why.
pub(super) async fn edit_client(
    State(state): State<AppState>,
    Path((name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<ClientEdit>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let change = ChangeClient {
        name: Some(form.name.trim().to_owned()),
        scopes: Some(words(&form.scopes)),
        redirect_uris: Some(words(&form.redirect_uris)),
        ..ChangeClient::default()
    };
    let response = match crate::ops::clients::change(&state, &tenant, Changer::CONSOLE, &client_id, change).await {
        Ok(_) => Redirect::to(&format!("/console/{}/clients/{client_id}", tenant.name)).into_response(),
        Err(e) if refused(&e) => client_refused(&state, &tenant, &admin, &client_id, &e).await?,
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// A new current secret for a client, shown once on this answer.
pub(super) async fn rotate_secret(
    State(state): State<AppState>,
    Path((name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let response = match crate::ops::clients::rotate_secret(&state, &tenant, Changer::CONSOLE, &client_id).await {
        Ok(secret) => {
            let shown = Shown { secret: Some(&secret), message: None };
            client_page(&state, &tenant, &admin, StatusCode::CREATED, &client_id, shown).await?
        }
        Err(e) if refused(&e) => client_refused(&state, &tenant, &admin, &client_id, &e).await?,
        Err(e) => return Err(by(&tenant, &admin)(e)),
    };
    Ok(acted(response, &tenant, &admin))
}

/// The previous secret of a client stops working.
pub(super) async fn retire_secret(
    State(state): State<AppState>,
    Path((name, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, _) = posted(&state, &name, &headers, form).await?;
    let retired = state.db.retire_previous_secret(&tenant.id, &client_id).await.map_err(by(&tenant, &admin))?;
    if !retired {
        return Err(by(&tenant, &admin)(ApiError::not_found("previous secret")));
    }
    let response = Redirect::to(&format!("/console/{}/clients/{client_id}", tenant.name)).into_response();
    Ok(acted(response, &tenant, &admin))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Edited {
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    attributes: String,
}

/// Changes an account's contact data and attributes (an empty field removes it) and shows
/// it again; a refused change is shown with why, and writes nothing.
pub(super) async fn edit_account(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<super::Posted<Edited>>, FormRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin, form) = posted(&state, &name, &headers, form).await?;
    let changed = async {
        let attributes = match form.attributes.trim() {
            "" => serde_json::Map::new(),
            text => serde_json::from_str(text).map_err(|e| {
                ApiError::new(Problem::InvalidRequest, format!("attributes must be a JSON object: {e}"))
            })?,
        };
        let change = ChangeAccount {
            email: Some(filled(form.email)),
            phone: Some(filled(form.phone)),
            attributes: Some(attributes),
            state: None,
        };
        change_account(&state, &tenant, Changer::CONSOLE, &id, change).await
    }
    .await;
    account_answer(&state, &tenant, &admin, &id, changed).await
}
