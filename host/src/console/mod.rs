//! The tenant administration console under `/console/{tenant}/`: server-rendered pages
//! ([`pages`]) over the same operations as the admin API (`ops`), a third HTTP surface
//! that imports neither of the others.
//!
//! Sign-in goes through the tenant's own hosted login as the built-in client
//! `keyhaven-console` (authorization code + PKCE, scope `admin:read`, which `admin`
//! includes: the hosted pages step the administrator up; [`crate::ops::console`]). A viewer
//! (`admin:read` only) sees the same pages without their write controls, and every post of
//! theirs but sign-out is refused. The callback keeps the login session the
//! code names in a cookie sealed with the node key (`HttpOnly`, `SameSite=Lax`, `Secure` on
//! https, path `/console/{tenant}`), and every request checks that session again as the
//! admin API checks an administrator's: ended, no longer an administrator or too weak is
//! signed out. Every form carries an anti-forgery token derived from that cookie; every
//! answer carries a strict Content-Security-Policy (no inline script or style).

mod accounts;
mod activity;
mod controls;
mod extensions;
mod factors;
mod operator;
mod pages;
mod security;
mod settings;
mod tokens;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::AppState;
use crate::clock::random_bytes;
use crate::ops::administrators::Access;
use crate::ops::codes::is_pkce_value;
use crate::ops::console::{self as sign_in, SignedIn};
use crate::tenancy::{ResourceState, Role, Tenant};
use crate::vault::SealedSecret;
use crate::web::{ApiError, Problem, cookie};

const SESSION_COOKIE: &str = "keyhaven_console";
const FLOW_COOKIE: &str = "keyhaven_console_flow";
/// How long a sign-in may take between the console and the hosted login's return.
const FLOW_SECONDS: i64 = 600;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

static STYLESHEET: &str = include_str!("console.css");

/// The stylesheet's cache-busted path: its content's digest in the name.
static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = crate::secrets::sha256_hex(STYLESHEET.as_bytes());
    format!("/console/assets/console.{}.css", &digest[..12])
});

/// The console's routes; every form post, and every page a signed-in person views, is
/// audited ([`audit`]).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console/assets/{file}", get(asset))
        .route("/console/_operator", get(operator::to_tenants))
        .route("/console/_operator/", get(operator::tenants))
        .route("/console/_operator/signin", get(operator::sign_in_page).post(operator::sign_in))
        .route("/console/_operator/signout", post(operator::sign_out))
        .route("/console/_operator/tenants", post(operator::create_tenant))
        .route("/console/_operator/tenants/{name}", get(operator::tenant).post(operator::change_details))
        .route("/console/_operator/tenants/{name}/state", get(operator::confirm_state).post(operator::change_state))
        .route("/console/_operator/tenants/{name}/move", get(operator::confirm_move).post(operator::move_account))
        .route("/console/{tenant}", get(to_dashboard))
        .route("/console/{tenant}/", get(dashboard))
        .route("/console/{tenant}/theme.css", get(theme))
        .route("/console/{tenant}/signin", get(start_sign_in))
        .route("/console/{tenant}/callback", get(callback))
        .route("/console/{tenant}/signout", post(sign_out))
        .route("/console/{tenant}/accounts", get(accounts::accounts).post(accounts::create_account_form))
        .route("/console/{tenant}/accounts/{id}", get(accounts::account).post(accounts::edit_account))
        .route("/console/{tenant}/accounts/{id}/state", post(accounts::account_state))
        .route("/console/{tenant}/accounts/{id}/delete", get(accounts::confirm_delete).post(accounts::delete))
        .route("/console/{tenant}/accounts/{id}/permissions", post(accounts::grant_permission))
        .route("/console/{tenant}/accounts/{id}/permissions/revoke", post(accounts::revoke_permission))
        .route("/console/{tenant}/accounts/{id}/invite", post(accounts::invite))
        .route("/console/{tenant}/accounts/{id}/factors/{factor}/state", post(accounts::factor_state))
        .route("/console/{tenant}/accounts/{id}/sessions/{session}/end", post(accounts::end_session))
        .route("/console/{tenant}/accounts/{id}/consents/{consent}/revoke", post(accounts::revoke_consent))
        .route("/console/{tenant}/clients", get(accounts::clients).post(accounts::create_client))
        .route("/console/{tenant}/clients/{id}", get(accounts::client).post(accounts::edit_client))
        .route("/console/{tenant}/clients/{id}/state", post(accounts::client_state))
        .route("/console/{tenant}/clients/{id}/secret", post(accounts::rotate_secret))
        .route("/console/{tenant}/clients/{id}/secret/previous", post(accounts::retire_secret))
        .route(
            "/console/{tenant}/extensions",
            // The upload's size is held to the tenant's limit as it is read.
            get(extensions::extensions).post(extensions::upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/console/{tenant}/extensions/{ext}", get(extensions::extension))
        .route("/console/{tenant}/extensions/{ext}/state", post(extensions::change_state))
        .route("/console/{tenant}/extensions/{ext}/activate", post(extensions::activate))
        .route("/console/{tenant}/extensions/{ext}/rollback", post(extensions::rollback))
        .route("/console/{tenant}/extensions/{ext}/test", post(extensions::test))
        .route("/console/{tenant}/extensions/{ext}/config", post(extensions::set_config))
        .route("/console/{tenant}/extensions/{ext}/secrets", post(extensions::set_secret))
        .route("/console/{tenant}/extensions/{ext}/secrets/delete", post(extensions::delete_secret))
        .route("/console/{tenant}/extensions/{ext}/bindings", post(extensions::add_binding))
        .route("/console/{tenant}/extensions/{ext}/bindings/delete", post(extensions::remove_binding))
        .route("/console/{tenant}/extension-settings", post(extensions::set_allowed_hosts))
        .route("/console/{tenant}/extensions/{ext}/delete", get(extensions::confirm_delete).post(extensions::delete))
        .route("/console/{tenant}/extensions/{ext}/versions/{id}", get(extensions::version))
        .route("/console/{tenant}/factors", get(factors::factors).post(factors::save_allowed))
        .route("/console/{tenant}/controls", get(controls::controls))
        .route("/console/{tenant}/controls/scopes", post(controls::add_scope))
        .route("/console/{tenant}/controls/scopes/delete", post(controls::remove_scope))
        .route("/console/{tenant}/controls/rules", post(controls::add_rule))
        .route("/console/{tenant}/controls/rules/{id}", post(controls::edit_rule))
        .route("/console/{tenant}/controls/rules/{id}/state", post(controls::rule_state))
        .route("/console/{tenant}/controls/rules/{id}/delete", post(controls::remove_rule))
        .route("/console/{tenant}/controls/legal", post(controls::add_document))
        .route("/console/{tenant}/controls/legal/{id}/versions", post(controls::publish))
        .route("/console/{tenant}/events", get(activity::events))
        .route("/console/{tenant}/audit", get(activity::audit))
        .route("/console/{tenant}/security", get(security::security))
        .route("/console/{tenant}/security/password", post(security::change_password))
        .route("/console/{tenant}/security/totp", post(security::add_totp))
        .route("/console/{tenant}/security/totp/confirm", post(security::confirm_totp))
        .route("/console/{tenant}/security/factors/{factor}/state", post(security::factor_state))
        .route("/console/{tenant}/security/sessions/{session}/end", post(security::end_session))
        .route("/console/{tenant}/settings", get(settings::settings).post(settings::save_settings))
        .route("/console/{tenant}/settings/rotate-key", post(settings::rotate_key))
        .route("/console/{tenant}/tokens", get(tokens::tokens).post(tokens::create_token))
        .route("/console/{tenant}/tokens/{id}/revoke", post(tokens::revoke_token))
        .route_layer(axum::middleware::from_fn_with_state(state, audit))
        .layer(axum::middleware::map_response(secure_headers))
}

/// `/console/{tenant}` is the dashboard's address without its slash. The name is looked up
/// first: only a tenant's own (checked) name goes into the `Location`.
async fn to_dashboard(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, Failure> {
    let tenant = usable_tenant(&state, &name).await?;
    Ok(Redirect::permanent(&format!("/console/{}/", tenant.name)).into_response())
}

/// Who acted, as a handler leaves it in its response for [`audit`]: the tenant acted on
/// (none for the operator's acts on no tenant), the administrator's account or the
/// operator's token, and the role.
#[derive(Clone, Debug)]
struct Actor {
    tenant_id: Option<String>,
    actor: String,
    role: &'static str,
}

impl Actor {
    fn of(tenant: &Tenant, admin: &Administrator) -> Self {
        let role = match admin.signed_in.access {
            Access::Administer => Role::TenantAdmin { tenant_id: tenant.id.clone() },
            Access::View => Role::TenantViewer { tenant_id: tenant.id.clone() },
        };
        Actor { tenant_id: Some(tenant.id.clone()), actor: admin.signed_in.account_id.clone(), role: role.as_str() }
    }
}

tokio::task_local! {
    /// Who is viewing the page a `GET` draws, as the page's sign-in check finds them.
    static VIEWER: std::cell::RefCell<Option<Actor>>;
}

/// Notes who views the page this request draws, for [`audit`].
fn viewed_by(actor: Actor) {
    let _ = VIEWER.try_with(|viewer| *viewer.borrow_mut() = Some(actor));
}

/// Records every form post in the audit log, as the admin API records its calls: the
/// administrator who acted (or `anonymous`), the route, the path and the status; a
/// successful one counts as one of the tenant's API calls. Pages viewed by someone signed
/// in are recorded the same way (`GET` and the route), as the admin API records its reads;
/// a request that signs nobody in (the sign-in itself, the stylesheets) is not.
async fn audit(
    State(state): State<AppState>,
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = matched.as_ref().map_or("", |m| m.as_str()).to_owned();
    if request.method() == axum::http::Method::GET {
        let target = request.uri().path().to_owned();
        let (response, viewer) = VIEWER
            .scope(std::cell::RefCell::new(None), async {
                let response = next.run(request).await;
                (response, VIEWER.with(|viewer| viewer.borrow_mut().take()))
            })
            .await;
        if let Some(actor) = viewer {
            let (tenant_id, actor, role) = (actor.tenant_id, actor.actor, actor.role);
            let action = format!("GET {route}");
            let call =
                crate::ops::audit::Call { tenant_id, actor, role, action, target, status: response.status().as_u16() };
            crate::ops::audit::record(&state, call).await;
        }
        return response;
    }
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let action = format!("POST {route}");
    let target = request.uri().path().to_owned();
    // A change runs to its end, and is recorded, even if its browser goes away meanwhile.
    let response = match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(e) => error_page(None, &ApiError::internal(format!("a console form post failed: {e}"))),
    };
    let (tenant_id, actor, role) = match response.extensions().get::<Actor>().cloned() {
        Some(actor) => (actor.tenant_id, actor.actor, actor.role),
        None => (None, "anonymous".to_owned(), "anonymous"),
    };
    let call = crate::ops::audit::Call { tenant_id, actor, role, action, target, status: response.status().as_u16() };
    crate::ops::audit::record(&state, call).await;
    response
}

/// `response`, marked as `admin`'s doing for the audit log.
fn acted(mut response: Response, tenant: &Tenant, admin: &Administrator) -> Response {
    response.extensions_mut().insert(Actor::of(tenant, admin));
    response
}

/// The signed-in administrator of a form post whose anti-forgery token matches.
async fn posting_administrator(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    sent: Option<&str>,
) -> Result<Administrator, Failure> {
    let admin = administrator(state, tenant, headers).await.map_err(under(tenant))?;
    check_csrf(tenant, &admin, sent)?;
    Ok(admin)
}

/// Refuses a form whose anti-forgery token is not `admin`'s.
fn check_csrf(tenant: &Tenant, admin: &Administrator, sent: Option<&str>) -> Result<(), Failure> {
    if !crate::secrets::constant_time_eq(sent.unwrap_or_default().as_bytes(), admin.csrf.as_bytes()) {
        let refused =
            ApiError::new(Problem::Forbidden, "the form did not come from this console: reload and try again");
        return Err(by(tenant, admin)(refused));
    }
    Ok(())
}

/// Refuses a change by a viewer: their console is read-only.
fn check_writer(tenant: &Tenant, admin: &Administrator) -> Result<(), Failure> {
    match admin.signed_in.access {
        Access::Administer => Ok(()),
        Access::View => Err(by(tenant, admin)(ApiError::new(
            Problem::Forbidden,
            "you are signed in as a viewer (admin:read): the console is read-only for you",
        ))),
    }
}

/// A form's fields with the anti-forgery token every console form carries.
#[derive(Debug, Deserialize)]
struct Posted<T> {
    csrf: Option<String>,
    #[serde(flatten)]
    fields: T,
}

/// The answer to a form that changes something: a redirect to `to` when `result` is a
/// success, the screen `again` draws (with the refusal's status and reason) when it is a
/// refusal, an error page otherwise; the audit log names `admin` either way.
async fn answer<T, Fut>(
    tenant: &Tenant,
    admin: &Administrator,
    result: Result<T, ApiError>,
    to: &str,
    again: impl FnOnce(StatusCode, String) -> Fut,
) -> Result<Response, Failure>
where
    Fut: std::future::Future<Output = Result<Response, Failure>>,
{
    let response = match result {
        Ok(_) => Redirect::to(to).into_response(),
        Err(e) if refused(&e) => again(e.kind.status(), e.detail).await?,
        Err(e) => return Err(by(tenant, admin)(e)),
    };
    Ok(acted(response, tenant, admin))
}

/// A refusal a form is shown again with, under the operation's own reason and status,
/// rather than an error page.
fn refused(error: &ApiError) -> bool {
    matches!(
        error.kind,
        Problem::InvalidRequest
            | Problem::Conflict
            | Problem::Forbidden
            | Problem::ExtensionFailed
            | Problem::PayloadTooLarge
            | Problem::UnsupportedMediaType
            | Problem::InvalidComponent
    )
}

/// The words of a field that lists them separated by spaces or lines (scopes, URIs).
fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// The form of an Enable or Disable button.
#[derive(Debug, Default, Deserialize)]
struct NewState {
    #[serde(default)]
    state: String,
}

impl NewState {
    /// ENABLED or DISABLED, as the state buttons post them.
    fn requested(&self) -> Result<ResourceState, ApiError> {
        match self.state.as_str() {
            "ENABLED" => Ok(ResourceState::Enabled),
            "DISABLED" => Ok(ResourceState::Disabled),
            _ => Err(ApiError::new(Problem::InvalidRequest, "state must be ENABLED or DISABLED")),
        }
    }
}

/// A form with no fields but its anti-forgery token.
#[derive(Debug, Default, Deserialize)]
struct Nothing {}

/// A form post's tenant, its administrator (signed in, the anti-forgery token matching, not
/// a viewer: every such form changes the tenant) and its fields; a form that cannot be
/// read has its fields' defaults.
async fn posted<T: Default>(
    state: &AppState,
    name: &str,
    headers: &HeaderMap,
    form: Result<Form<Posted<T>>, axum::extract::rejection::FormRejection>,
) -> Result<(Tenant, Administrator, T), Failure> {
    let tenant = usable_tenant(state, name).await?;
    let (sent, fields) = match form {
        Ok(Form(posted)) => (posted.csrf, posted.fields),
        Err(_) => (None, T::default()),
    };
    let admin = posting_administrator(state, &tenant, headers, sent.as_deref()).await?;
    check_writer(&tenant, &admin)?;
    Ok((tenant, admin, fields))
}

async fn secure_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn asset(Path(file): Path<String>) -> Response {
    if format!("/console/assets/{file}") != *STYLESHEET_PATH {
        return page(
            StatusCode::NOT_FOUND,
            pages::error(&STYLESHEET_PATH, None, "Not found", "There is no such file."),
        );
    }
    let mut response = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    response
}

fn page(status: StatusCode, html: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A console error as a readable page.
fn error_page(tenant: Option<&Tenant>, error: &ApiError) -> Response {
    let (status, title, detail) = explained(error);
    page(status, pages::error(&STYLESHEET_PATH, tenant, title, detail))
}

/// The same, in the operator's console.
fn operator_error_page(error: &ApiError) -> Response {
    let (status, title, detail) = explained(error);
    page(status, pages::operator::error(&STYLESHEET_PATH, title, detail))
}

/// An error's status, its page's title and what the page says of it.
fn explained(error: &ApiError) -> (StatusCode, &'static str, &str) {
    let status = error.kind.status();
    let title = match error.kind {
        Problem::NotFound => "Not found",
        Problem::Unauthenticated => "Not signed in",
        Problem::Forbidden => "Not allowed",
        _ if status.is_client_error() => "That did not work",
        _ => "Something went wrong",
    };
    let detail = if status.is_server_error() {
        tracing::error!("console: {error}");
        "The console could not answer. Try again in a moment."
    } else {
        error.detail.as_str()
    };
    (status, title, detail)
}

/// A console request that failed: answered with its error page, under the tenant's header
/// when the tenant is known.
struct Failure {
    tenant: Option<Box<Tenant>>,
    error: ApiError,
    /// The administrator whose request it was, when known, for the audit log.
    actor: Option<Box<Actor>>,
    /// Not signed in: where to sign in, instead of an error page.
    sign_in: Option<String>,
    /// A failure of the operator's console, shown on its own error page.
    operator: bool,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        if let Some(sign_in) = self.sign_in {
            return Redirect::to(&sign_in).into_response();
        }
        let mut response = match self.operator {
            true => operator_error_page(&self.error),
            false => error_page(self.tenant.as_deref(), &self.error),
        };
        if let Some(actor) = self.actor {
            response.extensions_mut().insert(*actor);
        }
        response
    }
}

impl<E: Into<ApiError>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure { tenant: None, error: error.into(), actor: None, sign_in: None, operator: false }
    }
}

/// Turns an error into a [`Failure`] shown under `tenant`'s header.
fn under<E: Into<ApiError>>(tenant: &Tenant) -> impl FnOnce(E) -> Failure + '_ {
    move |error| Failure { tenant: Some(Box::new(tenant.clone())), ..Failure::from(error) }
}

/// The same, for a request of `admin`'s: the audit log names them.
fn by<'a, E: Into<ApiError>>(tenant: &'a Tenant, admin: &'a Administrator) -> impl FnOnce(E) -> Failure + 'a {
    move |error| Failure { actor: Some(Box::new(Actor::of(tenant, admin))), ..under(tenant)(error) }
}

/// The tenant the path names, if it exists and is usable; otherwise "not found".
async fn usable_tenant(state: &AppState, name: &str) -> Result<Tenant, ApiError> {
    let tenant = state.db.tenant_by_name(name).await?;
    tenant.filter(|t| t.effective_state().is_usable()).ok_or_else(|| ApiError::not_found("tenant"))
}

fn set_cookie(state: &AppState, tenant: &Tenant, name: &str, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
    let max_age = max_age.map(|seconds| format!("; Max-Age={seconds}")).unwrap_or_default();
    let secure = if state.public_url().starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/console/{}; HttpOnly; SameSite=Lax{max_age}{secure}", tenant.name);
    HeaderValue::from_str(&cookie).ok()
}

fn session_context(tenant: &Tenant) -> String {
    format!("console-session\0{}", tenant.id)
}

/// The signed-in administrator of this request: the console cookie opened and its login
/// session checked now, with the anti-forgery token its forms carry.
struct Administrator {
    signed_in: SignedIn,
    username: String,
    csrf: String,
}

impl Administrator {
    /// What the pages show of them.
    fn signed(&self) -> pages::Signed<'_> {
        let can_write = self.signed_in.access == Access::Administer;
        pages::Signed { username: &self.username, csrf: &self.csrf, can_write }
    }
}

async fn administrator(state: &AppState, tenant: &Tenant, headers: &HeaderMap) -> Result<Administrator, ApiError> {
    let signed_out = || ApiError::new(Problem::Unauthenticated, "sign in to use the console");
    let sealed = cookie(headers, SESSION_COOKIE).ok_or_else(signed_out)?;
    let opened = SealedSecret::from_text(sealed)
        .and_then(|s| state.extensions.vault().open(&s, &session_context(tenant)).ok())
        .ok_or_else(signed_out)?;
    let now = state.clock.now();
    let (account_id, access) = crate::ops::administrators::administrator_session_by_id(state, tenant, &opened, now)
        .await
        .map_err(|e| match e.kind {
            Problem::Unauthenticated | Problem::Forbidden => signed_out(),
            _ => e,
        })?;
    let account = state.db.account(&tenant.id, &account_id).await?.ok_or_else(signed_out)?;
    // Derived from the sealed cookie, which a cross-site page can neither read nor guess.
    let digest = crate::secrets::sha256_hex(format!("console-csrf\0{sealed}").as_bytes());
    Ok(Administrator {
        signed_in: SignedIn { session_id: opened, account_id, access },
        username: account.username,
        csrf: digest[..32].to_owned(),
    })
}

/// The tenant a page is of and its signed-in administrator; without a sign-in, the answer
/// is the way to sign in.
async fn signed_in_page(state: &AppState, name: &str, headers: &HeaderMap) -> Result<(Tenant, Administrator), Failure> {
    let tenant = usable_tenant(state, name).await?;
    match administrator(state, &tenant, headers).await {
        Ok(admin) => {
            viewed_by(Actor::of(&tenant, &admin));
            Ok((tenant, admin))
        }
        Err(e) if e.kind == Problem::Unauthenticated => {
            let sign_in = Some(format!("/console/{}/signin", tenant.name));
            Err(Failure { sign_in, ..under(&tenant)(e) })
        }
        Err(e) => Err(under(&tenant)(e)),
    }
}

async fn dashboard(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let overview = crate::ops::overview::overview(&state, &tenant).await.map_err(under(&tenant))?;
    Ok(page(StatusCode::OK, pages::dashboard(&STYLESHEET_PATH, &tenant, &admin.signed(), &overview)))
}

async fn theme(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, Failure> {
    let tenant = usable_tenant(&state, &name).await?;
    // The colour was checked (`#rrggbb`) when it was set.
    let colour = if tenant.colour.is_empty() { pages::DEFAULT_COLOUR } else { tenant.colour.as_str() };
    let css = format!(":root {{ --brand: {colour}; }}\n");
    Ok(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response())
}

/// Starts a sign-in: a PKCE verifier and a state kept in a short-lived cookie, and the
/// browser sent to the tenant's hosted login.
async fn start_sign_in(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response, Failure> {
    let tenant = usable_tenant(&state, &name).await?;
    let random = |n| {
        let bytes = random_bytes(state.entropy.as_ref(), n).map_err(under(&tenant))?;
        Ok::<_, Failure>(URL_SAFE_NO_PAD.encode(bytes))
    };
    let (verifier, flow_state) = (random(32)?, random(16)?);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", sign_in::CLIENT_ID),
        ("redirect_uri", &sign_in::callback_url(&state, &tenant.name)),
        ("scope", sign_in::SCOPES),
        ("state", &flow_state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ])
    .map_err(|e| under(&tenant)(ApiError::internal(e)))?;
    let mut response =
        Redirect::to(&format!("{}/oauth2/authorize?{query}", state.issuer(&tenant.name))).into_response();
    if let Some(value) =
        set_cookie(&state, &tenant, FLOW_COOKIE, &format!("{flow_state}.{verifier}"), Some(FLOW_SECONDS))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The hosted login's return: the code redeemed for the login session it names.
async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let tenant = usable_tenant(&state, &name).await?;
    let refused = |detail: String| under(&tenant)(ApiError::new(Problem::Unauthenticated, detail));
    let Ok(Query(query)) = query else { return Err(refused("the sign-in's answer is malformed".into())) };
    let flow = cookie(&headers, FLOW_COOKIE).and_then(|value| value.split_once('.'));
    let Some((expected, verifier)) = flow.filter(|(_, verifier)| is_pkce_value(verifier)) else {
        return Err(refused("the sign-in started too long ago, or in another browser: sign in again".into()));
    };
    // Only an answer to this browser's own sign-in is read, its error text included: a
    // link made elsewhere cannot put words on the tenant's console.
    let matches =
        query.state.as_deref().is_some_and(|s| crate::secrets::constant_time_eq(s.as_bytes(), expected.as_bytes()));
    if !matches {
        return Err(refused("the sign-in's answer does not belong to this browser's sign-in".into()));
    }
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        return Err(refused(format!("the sign-in did not finish: {error} {description}")));
    }
    let Some(code) = query.code else { return Err(refused("the sign-in's answer has no code".into())) };
    let signed_in = sign_in::sign_in(&state, &tenant, &code, verifier).await.map_err(under(&tenant))?;
    let sealed =
        state.extensions.vault().seal(state.entropy.as_ref(), &signed_in.session_id, &session_context(&tenant));
    let sealed = sealed.map_err(|e| under(&tenant)(ApiError::internal(e)))?.to_text();
    let mut response = Redirect::to(&format!("/console/{}/", tenant.name)).into_response();
    let cookies = [
        set_cookie(&state, &tenant, SESSION_COOKIE, &sealed, None),
        set_cookie(&state, &tenant, FLOW_COOKIE, "", Some(0)),
    ];
    for value in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Signs out: the login session ends (here and in the hosted login) and the cookie goes.
async fn sign_out(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    form: Result<Form<Posted<Nothing>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, Failure> {
    // A viewer signs out too: it ends their own session, no change to the tenant.
    let tenant = usable_tenant(&state, &name).await?;
    let sent = form.ok().and_then(|Form(posted)| posted.csrf);
    let admin = posting_administrator(&state, &tenant, &headers, sent.as_deref()).await?;
    let now = state.clock.now();
    state.db.end_session(&tenant.id, &admin.signed_in.session_id, now).await.map_err(by(&tenant, &admin))?;
    let mut response = page(StatusCode::OK, pages::signed_out(&STYLESHEET_PATH, &tenant));
    if let Some(value) = set_cookie(&state, &tenant, SESSION_COOKIE, "", Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(acted(response, &tenant, &admin))
}
