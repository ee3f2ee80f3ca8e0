//! The platform operator's console under `/console/_operator/`: the tenant list, a new
//! tenant or sub-tenant, a tenant's label and tags, its state changed after a typed
//! confirmation, and an account moved between tenants after one — over the same
//! operations as the admin API (`ops::tenants`, `ops::accounts::move_account`).
//!
//! Operators are not accounts of a tenant, so there is no hosted login to send them to: they
//! sign in with an operator token, as the admin API authenticates them. The console keeps
//! the token's id and digest (never the token) sealed with the node key in a cookie
//! (`HttpOnly`, `SameSite=Lax`, `Secure` on https, path `/console/_operator`) that lasts
//! 8 hours, and every request looks the token up again: a revoked token, or a root token
//! replaced, signs the console out. The sign-in form carries a one-time value also set as a
//! cookie, so a cross-site page cannot post it; every other form carries an anti-forgery
//! token derived from the session cookie. Every post is audited with the `operator` role.

use std::collections::BTreeMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::pages::operator::{self as operator_pages, BASE};
use super::{Actor, Failure, Posted, STYLESHEET_PATH, page, pages, refused};
use crate::AppState;
use crate::clock::random_bytes;
use crate::ops::tenants::{ChangeTenant, CreateTenant, change_tenant, create_named};
use crate::tenancy::{Account, ResourceState, Role, Tenant};
use crate::vault::SealedSecret;
use crate::web::{ApiError, Problem, cookie};

const SESSION_COOKIE: &str = "keyhaven_operator";
const FLOW_COOKIE: &str = "keyhaven_operator_flow";
/// How long an operator's console sign-in lasts.
const SESSION_SECONDS: i64 = 8 * 3600;
/// How long the sign-in form may stay open.
const FLOW_SECONDS: i64 = 600;
const SEAL_CONTEXT: &str = "console-operator";
/// Tenants a page of the list shows.
const PAGE_SIZE: usize = 50;

/// The signed-in operator of a request.
pub(super) struct Operator {
    token_id: String,
    token_name: String,
    csrf: String,
}

impl Operator {
    fn signed(&self) -> pages::Signed<'_> {
        pages::Signed { username: &self.token_name, csrf: &self.csrf, can_write: true }
    }

    /// The audit log's actor: this operator, acting on `tenant` if any.
    fn actor(&self, tenant: Option<&Tenant>) -> Actor {
        Actor { tenant_id: tenant.map(|t| t.id.clone()), actor: self.token_id.clone(), role: Role::Operator.as_str() }
    }
}

/// An error of the operator's console, answered with its page (or the sign-in, when not
/// signed in), the audit log naming `operator` if known.
fn failed<E: Into<ApiError>>(operator: Option<&Operator>, tenant: Option<&Tenant>) -> impl FnOnce(E) -> Failure {
    let actor = operator.map(|operator| Box::new(operator.actor(tenant)));
    move |error| Failure { actor, operator: true, ..Failure::from(error) }
}

/// The response, marked as `operator`'s doing on `tenant` for the audit log.
fn acted(mut response: Response, operator: &Operator, tenant: Option<&Tenant>) -> Response {
    response.extensions_mut().insert(operator.actor(tenant));
    response
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.public_url().starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path={BASE}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"))
        .ok()
}

fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = Option<HeaderValue>>) -> Response {
    for value in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The operator whose sealed cookie this request carries, its token looked up now.
async fn operator(state: &AppState, headers: &HeaderMap) -> Result<Operator, ApiError> {
    let signed_out = || ApiError::new(Problem::Unauthenticated, "sign in to use the operator's console");
    let sealed = cookie(headers, SESSION_COOKIE).ok_or_else(signed_out)?;
    let opened = SealedSecret::from_text(sealed)
        .and_then(|s| state.extensions.vault().open(&s, SEAL_CONTEXT).ok())
        .ok_or_else(signed_out)?;
    let mut parts = opened.split('\n');
    let (Some(token_id), Some(digest), Some(until)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(signed_out());
    };
    let now = state.clock.now();
    if until.parse::<i64>().map_or(true, |until| until <= now) {
        return Err(signed_out());
    }
    let pat = state.db.pat_by_digest(digest).await?.ok_or_else(signed_out)?;
    let valid = pat.id == token_id
        && pat.role == Role::Operator
        && pat.state.is_usable()
        && pat.expires_at.is_none_or(|at| at > now);
    if !valid {
        return Err(signed_out());
    }
    // Derived from the sealed cookie, which a cross-site page can neither read nor guess.
    let csrf = crate::secrets::sha256_hex(format!("console-operator-csrf\0{sealed}").as_bytes());
    Ok(Operator { token_id: pat.id, token_name: pat.name, csrf: csrf[..32].to_owned() })
}

/// The signed-in operator of a page; without one, the answer is the way to sign in.
async fn signed_in_page(state: &AppState, headers: &HeaderMap) -> Result<Operator, Failure> {
    let operator = operator(state, headers).await.inspect(|operator| super::viewed_by(operator.actor(None)));
    operator.map_err(|e| match e.kind {
        Problem::Unauthenticated => Failure { sign_in: Some(format!("{BASE}/signin")), ..failed(None, None)(e) },
        _ => failed(None, None)(e),
    })
}

/// The operator of a form post whose anti-forgery token matches, and its fields.
async fn posted<T: Default>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<Posted<T>>, FormRejection>,
) -> Result<(Operator, T), Failure> {
    let operator = operator(state, headers).await.map_err(failed(None, None))?;
    let (sent, fields) = match form {
        Ok(Form(posted)) => (posted.csrf, posted.fields),
        Err(_) => (None, T::default()),
    };
    if !crate::secrets::constant_time_eq(sent.unwrap_or_default().as_bytes(), operator.csrf.as_bytes()) {
        let refused =
            ApiError::new(Problem::Forbidden, "the form did not come from this console: reload and try again");
        return Err(failed(Some(&operator), None)(refused));
    }
    Ok((operator, fields))
}

/// The tenant named `name` (any state: the operator manages disabled ones too).
async fn tenant_named(state: &AppState, name: &str) -> Result<Tenant, ApiError> {
    state.db.tenant_by_name(name).await?.ok_or_else(|| ApiError::not_found("tenant"))
}

pub(super) async fn to_tenants() -> Redirect {
    Redirect::permanent(&format!("{BASE}/"))
}

/// The sign-in form, with a fresh one-time value in its field and in a cookie.
async fn sign_in_form(state: &AppState, status: StatusCode, message: Option<&str>) -> Result<Response, Failure> {
    let bytes = random_bytes(state.entropy.as_ref(), 16).map_err(failed(None, None))?;
    let form_token = URL_SAFE_NO_PAD.encode(bytes);
    let html = operator_pages::sign_in(&STYLESHEET_PATH, &form_token, message);
    Ok(with_cookies(page(status, html), [set_cookie(state, FLOW_COOKIE, &form_token, FLOW_SECONDS)]))
}

pub(super) async fn sign_in_page(State(state): State<AppState>) -> Result<Response, Failure> {
    sign_in_form(&state, StatusCode::OK, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SignIn {
    #[serde(default)]
    token: String,
}

/// Checks the pasted token: an operator's, usable and not expired. The cookie keeps its id
/// and digest sealed, with the time the sign-in ends.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Posted<SignIn>>, FormRejection>,
) -> Result<Response, Failure> {
    let (sent, token) = match form {
        Ok(Form(posted)) => (posted.csrf.unwrap_or_default(), posted.fields.token),
        Err(_) => (String::new(), String::new()),
    };
    let expected = cookie(&headers, FLOW_COOKIE).unwrap_or_default();
    if expected.is_empty() || !crate::secrets::constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        let why = "the sign-in form expired or came from another site: sign in again";
        return sign_in_form(&state, StatusCode::FORBIDDEN, Some(why)).await;
    }
    let now = state.clock.now();
    let digest = crate::secrets::digest(token.trim());
    let pat = state.db.pat_by_digest(&digest).await.map_err(failed(None, None))?;
    let Some(pat) = pat
        .filter(|pat| pat.role == Role::Operator && pat.state.is_usable() && pat.expires_at.is_none_or(|at| at > now))
    else {
        let why = "that is not an operator token, or it expired or was revoked";
        return sign_in_form(&state, StatusCode::UNAUTHORIZED, Some(why)).await;
    };
    let until = now + SESSION_SECONDS;
    let sealed =
        state.extensions.vault().seal(state.entropy.as_ref(), &format!("{}\n{digest}\n{until}", pat.id), SEAL_CONTEXT);
    let sealed = sealed.map_err(|e| failed(None, None)(ApiError::internal(e)))?.to_text();
    let actor = Actor { tenant_id: None, actor: pat.id, role: Role::Operator.as_str() };
    let mut response = with_cookies(
        Redirect::to(&format!("{BASE}/")).into_response(),
        [set_cookie(&state, SESSION_COOKIE, &sealed, SESSION_SECONDS), set_cookie(&state, FLOW_COOKIE, "", 0)],
    );
    response.extensions_mut().insert(actor);
    Ok(response)
}

/// Signs out: the cookie goes (the token itself stays valid: it is the operator's).
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Posted<super::Nothing>>, FormRejection>,
) -> Result<Response, Failure> {
    let (operator, _) = posted(&state, &headers, form).await?;
    let response = page(StatusCode::OK, operator_pages::signed_out(&STYLESHEET_PATH));
    Ok(acted(with_cookies(response, [set_cookie(&state, SESSION_COOKIE, "", 0)]), &operator, None))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct TenantsQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    after: Option<String>,
}

/// Whether `tenant` matches the search text: in its name, its label (any case) or a tag
/// written `key=value`.
fn matches(tenant: &Tenant, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    q.is_empty()
        || tenant.name.contains(&q)
        || tenant.label.to_lowercase().contains(&q)
        || tenant.tags.iter().any(|(key, value)| format!("{key}={}", value.to_lowercase()).contains(&q))
}

/// The tenant list page: `query`'s page of it, and what a form left to show.
async fn tenants_page(
    state: &AppState,
    operator: &Operator,
    query: &TenantsQuery,
    status: StatusCode,
    created: Option<operator_pages::Created<'_>>,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let wanted = match query.state.as_str() {
        "" => None,
        text => Some(
            text.parse::<ResourceState>()
                .map_err(|e| failed(Some(operator), None)(ApiError::new(Problem::InvalidRequest, e.to_string())))?,
        ),
    };
    let all = state.db.list_tenants().await.map_err(failed(Some(operator), None))?;
    let names: BTreeMap<&str, &str> = all.iter().map(|t| (t.id.as_str(), t.name.as_str())).collect();
    let matching: Vec<&Tenant> =
        all.iter().filter(|t| matches(t, &query.q) && wanted.is_none_or(|wanted| t.state == wanted)).collect();
    // By name, as the database lists them; the page starts after the cursor.
    let after = query.after.as_deref().unwrap_or_default();
    let rest: Vec<&Tenant> = matching.iter().copied().filter(|t| t.name.as_str() > after).collect();
    let shown = &rest[..rest.len().min(PAGE_SIZE)];
    let next = (rest.len() > PAGE_SIZE).then(|| shown.last().map(|t| t.name.as_str())).flatten();
    let page_state = operator_pages::TenantsPage {
        tenants: shown.iter().map(|t| (*t, t.parent_id.as_deref().and_then(|id| names.get(id).copied()))).collect(),
        matching: matching.len(),
        q: &query.q,
        state: &query.state,
        next,
        parents: all.iter().filter(|t| t.parent_id.is_none()).collect(),
        created,
        message,
    };
    Ok(page(status, operator_pages::tenants(&STYLESHEET_PATH, &operator.signed(), &page_state)))
}

pub(super) async fn tenants(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<TenantsQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let operator = signed_in_page(&state, &headers).await?;
    let Query(query) = query.map_err(failed(Some(&operator), None))?;
    tenants_page(&state, &operator, &query, StatusCode::OK, None, None).await
}

/// Tags typed one `key=value` a line.
pub(super) fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut tags = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(ApiError::new(Problem::InvalidRequest, format!("tag {line:?} is not key=value")));
        };
        tags.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(tags)
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct NewTenantForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    tags: String,
}

/// Creates a tenant (a sub-tenant when the form names a parent); the list then shows its
/// first administrator's token and invitation, once.
pub(super) async fn create_tenant(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Posted<NewTenantForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (operator, form) = posted(&state, &headers, form).await?;
    let label = form.label.trim();
    let parent = form.parent.trim();
    let created = match parse_tags(&form.tags) {
        Ok(tags) => {
            let body = CreateTenant {
                name: form.name.trim().to_owned(),
                label: (!label.is_empty()).then(|| label.to_owned()),
                tags,
                parent: (!parent.is_empty()).then(|| parent.to_owned()),
                ..CreateTenant::default()
            };
            create_named(&state, body, "console").await
        }
        Err(e) => Err(e),
    };
    let query = TenantsQuery::default();
    let response = match created {
        Ok((tenant, admin_token, administrator)) => {
            let issuer = state.issuer(&tenant.name);
            let shown = operator_pages::Created {
                tenant: &tenant,
                admin_token: &admin_token,
                administrator: &administrator,
                issuer: &issuer,
            };
            let response = tenants_page(&state, &operator, &query, StatusCode::CREATED, Some(shown), None).await?;
            return Ok(acted(response, &operator, Some(&tenant)));
        }
        Err(e) if refused(&e) => {
            tenants_page(&state, &operator, &query, e.kind.status(), None, Some(&e.detail)).await?
        }
        Err(e) => return Err(failed(Some(&operator), None)(e)),
    };
    Ok(acted(response, &operator, None))
}

async fn tenant_page(
    state: &AppState,
    operator: &Operator,
    tenant: &Tenant,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let all = state.db.list_tenants().await.map_err(failed(Some(operator), Some(tenant)))?;
    let parent = tenant.parent_id.as_deref().and_then(|id| all.iter().find(|t| t.id == id));
    let issuer = state.issuer(&tenant.name);
    let page_state = operator_pages::TenantPage {
        tenant,
        parent,
        children: all.iter().filter(|t| t.parent_id.as_deref() == Some(tenant.id.as_str())).collect(),
        destinations: all.iter().filter(|t| t.id != tenant.id).collect(),
        issuer: &issuer,
        message,
    };
    Ok(page(status, operator_pages::tenant(&STYLESHEET_PATH, &operator.signed(), &page_state)))
}

pub(super) async fn tenant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let operator = signed_in_page(&state, &headers).await?;
    let tenant = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    tenant_page(&state, &operator, &tenant, StatusCode::OK, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DetailsForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    tags: String,
}

/// Changes a tenant's label and tags (its event from `console`).
pub(super) async fn change_details(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<DetailsForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (operator, form) = posted(&state, &headers, form).await?;
    let tenant = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    let changed = match parse_tags(&form.tags) {
        Ok(tags) => {
            let change =
                ChangeTenant { label: Some(form.label.trim().to_owned()), tags: Some(tags), ..ChangeTenant::default() };
            change_tenant(&state, &tenant, change, "console", true).await
        }
        Err(e) => Err(e),
    };
    let response = match changed {
        Ok(_) => Redirect::to(&format!("{BASE}/tenants/{}", tenant.name)).into_response(),
        Err(e) if refused(&e) => tenant_page(&state, &operator, &tenant, e.kind.status(), Some(&e.detail)).await?,
        Err(e) => return Err(failed(Some(&operator), Some(&tenant))(e)),
    };
    Ok(acted(response, &operator, Some(&tenant)))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct StateQuery {
    #[serde(default)]
    to: String,
}

fn requested_state(text: &str) -> Result<ResourceState, ApiError> {
    match text {
        "ENABLED" => Ok(ResourceState::Enabled),
        "DISABLED" => Ok(ResourceState::Disabled),
        "LOCKED" => Ok(ResourceState::Locked),
        _ => Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED, DISABLED or LOCKED")),
    }
}

async fn confirm_state_page(
    state: &AppState,
    operator: &Operator,
    tenant: &Tenant,
    to: ResourceState,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Failure> {
    let all = state.db.list_tenants().await.map_err(failed(Some(operator), Some(tenant)))?;
    let children: Vec<&Tenant> = all.iter().filter(|t| t.parent_id.as_deref() == Some(tenant.id.as_str())).collect();
    let html = operator_pages::confirm_state(&STYLESHEET_PATH, &operator.signed(), tenant, to, &children, message);
    Ok(page(status, html))
}

/// What a state change would do, and the form that confirms it.
pub(super) async fn confirm_state(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<StateQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let operator = signed_in_page(&state, &headers).await?;
    let tenant = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    let to = query.map_err(ApiError::from).and_then(|Query(query)| requested_state(&query.to));
    let to = to.map_err(failed(Some(&operator), Some(&tenant)))?;
    confirm_state_page(&state, &operator, &tenant, to, StatusCode::OK, None).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct StateForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    confirm: String,
}

/// Changes a tenant's state once its name was typed to confirm; otherwise the confirmation
/// again, nothing changed.
pub(super) async fn change_state(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<StateForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (operator, form) = posted(&state, &headers, form).await?;
    let tenant = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    let to = requested_state(&form.state).map_err(failed(Some(&operator), Some(&tenant)))?;
    if form.confirm.trim() != tenant.name {
        let why = format!("type the tenant's name, {}, to confirm: nothing was changed", tenant.name);
        let response = confirm_state_page(&state, &operator, &tenant, to, StatusCode::BAD_REQUEST, Some(&why)).await?;
        return Ok(acted(response, &operator, Some(&tenant)));
    }
    let change = ChangeTenant { state: Some(to), ..ChangeTenant::default() };
    let response = match change_tenant(&state, &tenant, change, "console", true).await {
        Ok(_) => Redirect::to(&format!("{BASE}/tenants/{}", tenant.name)).into_response(),
        Err(e) if refused(&e) => {
            confirm_state_page(&state, &operator, &tenant, to, e.kind.status(), Some(&e.detail)).await?
        }
        Err(e) => return Err(failed(Some(&operator), Some(&tenant))(e)),
    };
    Ok(acted(response, &operator, Some(&tenant)))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct MoveQuery {
    #[serde(default)]
    account: String,
    #[serde(default)]
    to: String,
}

/// The account `typed` names in `tenant`: by its id, else by its username.
async fn account_named(state: &AppState, tenant: &Tenant, typed: &str) -> Result<Account, ApiError> {
    let typed = typed.trim();
    if let Some(account) = state.db.account(&tenant.id, typed).await? {
        return Ok(account);
    }
    let username = crate::tenancy::account::normalise_username(typed).unwrap_or_default();
    state.db.account_by_username(&tenant.id, &username).await?.ok_or_else(|| {
        ApiError::new(
            Problem::InvalidRequest,
            format!("{} has no account with the id or username {typed:?}", tenant.name),
        )
    })
}

/// The destination of a move: another tenant, by name.
async fn destination(state: &AppState, from: &Tenant, name: &str) -> Result<Tenant, ApiError> {
    let to = state.db.tenant_by_name(name.trim()).await?;
    let to = to.ok_or_else(|| ApiError::new(Problem::InvalidRequest, format!("there is no tenant named {name:?}")))?;
    if to.id == from.id {
        return Err(ApiError::new(Problem::InvalidRequest, "the account is already in that tenant"));
    }
    Ok(to)
}

/// What moving the account would do, and the form that confirms it; a typo in the account
/// or the tenant shows the tenant's page again with why.
pub(super) async fn confirm_move(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<MoveQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let operator = signed_in_page(&state, &headers).await?;
    let from = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    let Query(query) = query.map_err(failed(Some(&operator), Some(&from)))?;
    let found = match destination(&state, &from, &query.to).await {
        Ok(to) => account_named(&state, &from, &query.account).await.map(|account| (account, to)),
        Err(e) => Err(e),
    };
    match found {
        Ok((account, to)) => {
            let html = operator_pages::confirm_move(&STYLESHEET_PATH, &operator.signed(), &from, &account, &to, None);
            Ok(page(StatusCode::OK, html))
        }
        Err(e) if refused(&e) => tenant_page(&state, &operator, &from, e.kind.status(), Some(&e.detail)).await,
        Err(e) => Err(failed(Some(&operator), Some(&from))(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct MoveForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    confirm: String,
}

/// Moves the account once its username was typed to confirm; the destination's page follows.
pub(super) async fn move_account(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<MoveForm>>, FormRejection>,
) -> Result<Response, Failure> {
    let (operator, form) = posted(&state, &headers, form).await?;
    let from = tenant_named(&state, &name).await.map_err(failed(Some(&operator), None))?;
    let (state, operator, from) = (&state, &operator, &from);
    let refusal = |e: ApiError| async move {
        match refused(&e) {
            true => tenant_page(state, operator, from, e.kind.status(), Some(&e.detail)).await,
            false => Err(failed(Some(operator), Some(from))(e)),
        }
    };
    let to = match destination(state, from, &form.to).await {
        Ok(to) => to,
        Err(e) => return refusal(e).await.map(|r| acted(r, operator, Some(from))),
    };
    let account = state.db.account(&from.id, form.account.trim()).await.map_err(failed(Some(operator), Some(from)))?;
    let Some(account) = account else {
        return Err(failed(Some(operator), Some(from))(ApiError::not_found("account")));
    };
    if form.confirm.trim().to_lowercase() != account.username {
        let why = format!("type the account's username, {}, to confirm: nothing was moved", account.username);
        let html = operator_pages::confirm_move(&STYLESHEET_PATH, &operator.signed(), from, &account, &to, Some(&why));
        return Ok(acted(page(StatusCode::BAD_REQUEST, html), operator, Some(from)));
    }
    let response = match crate::ops::accounts::move_account(state, from, &to, &account.id, "console").await {
        Ok(_) => Redirect::to(&format!("{BASE}/tenants/{}", to.name)).into_response(),
        Err(e) => refusal(e).await?,
    };
    Ok(acted(response, operator, Some(from)))
}
