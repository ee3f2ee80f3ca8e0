//! The hosted login pages' side of the browser: the session cookie (the session token of
//! [`super::login`], `HttpOnly`, `SameSite=Lax`, scoped to the tenant's path), the
//! anti-forgery token (a random cookie every form must repeat), and the form posts under
//! `/t/{tenant}/authorize/`: `identify`, `password`, `otp/send`, `otp/verify`, `totp`,
//! `legal`, `consent` and `switch`. A step that succeeds returns the browser to the
//! authorization endpoint (303), which decides what comes next; one that fails shows its
//! page again with the reason. The factors themselves are checked by the same code as the
//! JSON login API, with the same lockouts and events.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::authorize::{AuthorizationRequest, Redirect, Refusal, proceed};
use super::login::{self, FactorChoice};
use super::origin::RequestOrigin;
use super::pages::{self, Choice, Context};
use crate::AppState;
use crate::storage::SessionRow;
use crate::tenancy::{Account, Tenant};
use crate::web::{ApiError, cookie};

const SESSION_COOKIE: &str = "keyhaven_session";
const CSRF_COOKIE: &str = "keyhaven_csrf";

/// One browser's request to a tenant's hosted pages.
#[derive(Debug)]
pub struct Browser {
    pub tenant: Tenant,
    prefix: String,
    issuer: String,
    secure: bool,
    session_token: Option<String>,
    csrf: String,
    /// The anti-forgery cookie is new and must be set.
    new_csrf: bool,
    /// A session cookie to set (`Some(None)`: to clear).
    set_session: Option<Option<(String, Option<i64>)>>,
}

impl Browser {
    /// The tenant (usable, and within its login rate limit) and the browser's cookies.
    pub async fn open(
        state: &AppState,
        tenant_name: &str,
        origin: RequestOrigin,
        headers: &HeaderMap,
    ) -> Result<Self, Response> {
        let tenant = login::usable_tenant(state, tenant_name).await.map_err(|e| {
            let status = e.kind.status();
            let message = match status {
                StatusCode::NOT_FOUND => "there is no such service".to_owned(),
                _ => e.detail,
            };
            html(status, pages::error("Keyhaven", &message))
        })?;
        let (csrf, new_csrf) = match cookie(headers, CSRF_COOKIE) {
            Some(value) if value.len() == 43 => (value.to_owned(), false),
            _ => {
                let fresh = crate::secrets::new_client_secret(state.entropy.as_ref()).map_err(|e| {
                    html(StatusCode::INTERNAL_SERVER_ERROR, pages::error(&tenant.label, &e.to_string()))
                })?;
                (fresh, true)
            }
        };
        Ok(Browser {
            secure: origin.issuer.starts_with("https://"),
            prefix: origin.prefix,
            issuer: origin.issuer,
            session_token: cookie(headers, SESSION_COOKIE).map(str::to_owned),
            tenant,
            csrf,
            new_csrf,
            set_session: None,
        })
    }

    /// The issuer the browser reached (the service's URL or the tenant's subdomain).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The browser's session or login in progress, if it is still usable.
    pub async fn session(&self, state: &AppState) -> Option<(SessionRow, Account)> {
        let token = self.session_token.as_deref()?;
        login::current_by_token(state, &self.tenant, token).await.ok()
    }

    /// Whether the browser holds a login token that names no session at all: the decoy
    /// of a login for an unknown account (or a session long removed). It is shown the
    /// password form again, as a real login in progress would be.
    pub async fn holds_decoy(&self, state: &AppState) -> bool {
        let Some(token) = self.session_token.as_deref() else { return false };
        let digest = crate::secrets::digest(token);
        matches!(state.db.session_by_token(&self.tenant.id, &digest).await, Ok(None))
    }

    /// A factor was passed: the session gets a new token, so one planted in the browser
    /// before the sign-in (session fixation) is worth nothing after it.
    async fn renew_session(&mut self, state: &AppState, session: &SessionRow) {
        let Ok(token) = crate::secrets::new_client_secret(state.entropy.as_ref()) else { return };
        let digest = crate::secrets::digest(&token);
        match state.db.replace_session_token(&self.tenant.id, &session.id, &digest).await {
            Ok(true) => {
                let max_age = session.stay_signed_in.then_some(self.tenant.settings.stay_signed_in_seconds);
                self.set_session = Some(Some((token, max_age)));
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("cannot renew a session token: {e}"),
        }
    }

    pub fn context<'a>(&'a self, request: &'a AuthorizationRequest, message: Option<&'a str>) -> Context<'a> {
        Context {
            prefix: &self.prefix,
            tenant_label: &self.tenant.label,
            csrf: &self.csrf,
            request: &request.forwarded,
            message,
        }
    }

    fn cookie_header(&self, name: &str, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        let max_age = max_age.map(|seconds| format!("; Max-Age={seconds}")).unwrap_or_default();
        let secure = if self.secure { "; Secure" } else { "" };
        let path = if self.prefix.is_empty() { "/" } else { &self.prefix };
        let cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax{max_age}{secure}");
        HeaderValue::from_str(&cookie).ok()
    }

    fn finish(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                // No `form-action`: browsers apply it to the redirects after a form post,
                // and the last one goes to the client.
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
        if self.new_csrf
            && let Some(value) = self.cookie_header(CSRF_COOKIE, &self.csrf, None)
        {
            headers.append(header::SET_COOKIE, value);
        }
        let set = match &self.set_session {
            Some(Some((token, max_age))) => self.cookie_header(SESSION_COOKIE, token, *max_age),
            Some(None) => self.cookie_header(SESSION_COOKIE, "", Some(0)),
            None => None,
        };
        if let Some(value) = set {
            headers.append(header::SET_COOKIE, value);
        }
        response
    }

    /// A page, 200.
    pub fn page(&self, body: String) -> Response {
        self.finish(html(StatusCode::OK, body))
    }

    /// A refused request: a page, or the error sent to the client's redirect URI.
    pub fn refusal(&self, refusal: Refusal) -> Response {
        match refusal {
            Refusal::Page(message) => {
                self.finish(html(StatusCode::BAD_REQUEST, pages::error(&self.tenant.label, &message)))
            }
            Refusal::Redirect(redirect) => self.redirect_error(redirect),
        }
    }

    fn redirect_error(&self, redirect: Redirect) -> Response {
        let mut params = vec![("error", redirect.error.to_owned()), ("error_description", redirect.description)];
        if let Some(state) = redirect.state {
            params.push(("state", state));
        }
        self.to_client(&redirect.redirect_uri, params)
    }

    /// The code, sent to the client's redirect URI with `state` and `iss`.
    pub fn send_code(&self, request: &AuthorizationRequest, code: &str) -> Response {
        let mut params = vec![("code", code.to_owned())];
        if let Some(state) = &request.state {
            params.push(("state", state.clone()));
        }
        self.to_client(&request.redirect_uri, params)
    }

    fn to_client(&self, redirect_uri: &str, mut params: Vec<(&str, String)>) -> Response {
        params.push(("iss", self.issuer.clone()));
        let Ok(mut url) = url::Url::parse(redirect_uri) else {
            return self.refusal(Refusal::Page("the application's redirect URI is invalid".into()));
        };
        url.query_pairs_mut().extend_pairs(params);
        see_other(url.as_str()).map(|r| self.finish(r)).unwrap_or_else(|| {
            self.finish(html(StatusCode::BAD_REQUEST, pages::error(&self.tenant.label, "the redirect URI is invalid")))
        })
    }

    /// Back to the authorization endpoint with the request (after a step succeeded).
    fn back(&self, request: &AuthorizationRequest) -> Response {
        let location = format!("{}/oauth2/authorize?{}", self.prefix, request.forwarded);
        see_other(&location)
            .map(|r| self.finish(r))
            .unwrap_or_else(|| self.refusal(Refusal::Page("invalid request".into())))
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn see_other(location: &str) -> Option<Response> {
    let value = HeaderValue::from_str(location).ok()?;
    Some((StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response())
}

/// A posted form: its fields, checked against the anti-forgery cookie, and the
/// authorization request it carries. As an extractor, a form that fails its checks is
/// answered with its page.
pub struct Posted {
    browser: Browser,
    fields: Vec<(String, String)>,
    request: AuthorizationRequest,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let Path(tenant) =
            Path::<String>::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let origin = match RequestOrigin::from_request_parts(&mut parts, state).await {
            Ok(origin) => origin,
            Err(never) => match never {},
        };
        let headers = parts.headers.clone();
        let body =
            Bytes::from_request(Request::from_parts(parts, body), state).await.map_err(IntoResponse::into_response)?;
        Posted::read(state, &tenant, origin, &headers, &body).await
    }
}

impl Posted {
    async fn read(
        state: &AppState,
        tenant_name: &str,
        origin: RequestOrigin,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self, Response> {
        let browser = Browser::open(state, tenant_name, origin, headers).await?;
        let forbidden =
            |message: &str| browser.finish(html(StatusCode::FORBIDDEN, pages::error(&browser.tenant.label, message)));
        let Ok(fields) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) else {
            return Err(forbidden("the form cannot be read"));
        };
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let presented = field("csrf").unwrap_or_default();
        if browser.new_csrf || !crate::secrets::constant_time_eq(presented.as_bytes(), browser.csrf.as_bytes()) {
            return Err(forbidden("this form has expired or did not come from this site; go back and try again"));
        }
        let request = match AuthorizationRequest::parse(state, &browser.tenant, field("request").unwrap_or("")).await {
            Ok(request) => request,
            Err(refusal) => return Err(browser.refusal(refusal)),
        };
        Ok(Posted { browser, fields, request })
    }

    fn field(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    /// A factor passed: a new session token, and back to the authorization endpoint.
    async fn passed(&mut self, state: &AppState, session: &SessionRow) -> Response {
        self.browser.renew_session(state, session).await;
        self.browser.back(&self.request)
    }

    fn page(&self, message: Option<&str>, render: impl Fn(&Context<'_>) -> String) -> Response {
        self.browser.page(render(&self.browser.context(&self.request, message)))
    }
}

fn choices(factors: &[FactorChoice]) -> Vec<Choice<'_>> {
    factors.iter().map(|f| Choice { id: &f.id, kind: f.kind.as_str(), channel: f.channel.as_deref() }).collect()
}

/// The page listing the factors the login may pass next: all of the account's usable
/// factors while signing in, those of kinds not yet passed when stepping up.
pub async fn factors_page(
    state: &AppState,
    browser: &Browser,
    request: &AuthorizationRequest,
    session: &SessionRow,
    account: &Account,
    required_score: i64,
    message: Option<&str>,
) -> Response {
    let factors = match state.db.factors(&browser.tenant.id, &account.id).await {
        Ok(factors) => factors,
        Err(e) => return browser.refusal(Refusal::Redirect(request.refuse("server_error", ApiError::from(e).detail))),
    };
    let step_up = session.authenticated_at.is_some();
    let open: Vec<FactorChoice> = factors
        .into_iter()
        .filter(|f| f.state.is_usable() && browser.tenant.settings.allows(f.kind) && !session.factors.contains(&f.kind))
        .map(|f| FactorChoice { id: f.id, kind: f.kind, channel: f.channel })
        .collect();
    // Only once a factor has been passed may the page say the account cannot reach the
    // score: before, it would tell what factors the account has.
    let reachable = session.score + open.iter().map(|f| f.kind.score()).sum::<i64>();
    if step_up && (reachable < required_score || open.is_empty()) {
        let description = "the account has no factor strong enough for this request; enrol a second factor first";
        return browser.refusal(Refusal::Redirect(request.refuse("access_denied", description)));
    }
    browser.page(pages::factors(&browser.context(request, message), &choices(&open), step_up))
}

/// After a factor failed: the factors page again, with the reason; a decoy login (an
/// unknown account) sees the password form, as it did before.
async fn factor_failed(state: &AppState, posted: &Posted, message: &str) -> Response {
    match posted.browser.session(state).await {
        Some((session, account)) => {
            factors_page(state, &posted.browser, &posted.request, &session, &account, 0, Some(message)).await
        }
        None => {
            let decoy = [Choice { id: posted.field("factor_id"), kind: "password", channel: None }];
            posted.page(Some(message), |ctx| pages::factors(ctx, &decoy, false))
        }
    }
}

/// `POST /t/{tenant}/authorize/identify`: opens a login for the account named.
pub async fn identify(State(state): State<AppState>, mut posted: Posted) -> Response {
    let stay_signed_in = posted.field("stay_signed_in") == "on";
    let started =
        match login::open_login(&state, &posted.browser.tenant, posted.field("username"), stay_signed_in).await {
            Ok(started) => started,
            Err(e) => return posted.page(Some(&e.detail), pages::identify),
        };
    let max_age = stay_signed_in.then_some(posted.browser.tenant.settings.stay_signed_in_seconds);
    posted.browser.set_session = Some(Some((started.login_token.clone(), max_age)));
    posted.page(None, |ctx| pages::factors(ctx, &choices(&started.factors), false))
}

/// `POST /t/{tenant}/authorize/password`.
pub async fn password(State(state): State<AppState>, mut posted: Posted) -> Response {
    let password = posted.field("password").to_owned();
    let Some((session, account)) = posted.browser.session(&state).await else {
        if posted.browser.holds_decoy(&state).await {
            login::decoy_password_check(&state, password).await;
        }
        return factor_failed(&state, &posted, "authentication failed").await;
    };
    match login::check_password(&state, &posted.browser.tenant, session, &account, password).await {
        Ok(session) => posted.passed(&state, &session).await,
        Err(e) => factor_failed(&state, &posted, &e.detail).await,
    }
}

/// `POST /t/{tenant}/authorize/otp/send`: sends a code (once) and asks for it.
pub async fn send_code(State(state): State<AppState>, posted: Posted) -> Response {
    let Some((session, account)) = posted.browser.session(&state).await else {
        return factor_failed(&state, &posted, "the login has ended; start again").await;
    };
    let factor_id = posted.field("factor_id");
    match login::send_otp(&state, &posted.browser.tenant, &session, &account, factor_id, None).await {
        Ok(_) => posted.page(Some("We sent you a code."), |ctx| pages::otp_code(ctx, factor_id)),
        Err(e) => factor_failed(&state, &posted, &e.detail).await,
    }
}

/// `POST /t/{tenant}/authorize/otp/verify`.
pub async fn verify_code(State(state): State<AppState>, mut posted: Posted) -> Response {
    let Some((session, account)) = posted.browser.session(&state).await else {
        return factor_failed(&state, &posted, "the login has ended; start again").await;
    };
    let factor_id = posted.field("factor_id").to_owned();
    match login::check_otp(&state, &posted.browser.tenant, session, &account, &factor_id, posted.field("code")).await {
        Ok(session) => posted.passed(&state, &session).await,
        Err(e) => posted.page(Some(&e.detail), |ctx| pages::otp_code(ctx, &factor_id)),
    }
}

/// `POST /t/{tenant}/authorize/totp`.
pub async fn totp(State(state): State<AppState>, mut posted: Posted) -> Response {
    let Some((session, account)) = posted.browser.session(&state).await else {
        return factor_failed(&state, &posted, "the login has ended; start again").await;
    };
    let (factor_id, code) = (posted.field("factor_id"), posted.field("code"));
    match login::check_totp(&state, &posted.browser.tenant, session, &account, factor_id, code).await {
        Ok(session) => posted.passed(&state, &session).await,
        Err(e) => factor_failed(&state, &posted, &e.detail).await,
    }
}

/// The signed-in session of a posted form (a factor passed), or the way back to sign in.
async fn signed_in(state: &AppState, posted: &Posted) -> Result<(SessionRow, Account), Response> {
    match posted.browser.session(state).await {
        Some((session, account)) if session.authenticated_at.is_some() => Ok((session, account)),
        _ => Err(posted.browser.back(&posted.request)),
    }
}

/// `POST /t/{tenant}/authorize/legal`: accepts the documents listed (`document` =
/// `{id}:{version}`, repeated).
pub async fn legal(State(state): State<AppState>, posted: Posted) -> Response {
    let (session, account) = match signed_in(&state, &posted).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    for document in posted.all("document") {
        let (id, version) = document.split_once(':').unwrap_or((&document, ""));
        let version = version.parse().unwrap_or(-1);
        if let Err(e) = login::accept_document(&state, &posted.browser.tenant, &session, &account, id, version).await {
            // A document changed meanwhile: the endpoint shows the current list again.
            tracing::debug!("legal acceptance refused: {}", e.detail);
        }
    }
    posted.browser.back(&posted.request)
}

/// `POST /t/{tenant}/authorize/consent`: `decision=allow` records the consent to the scopes
/// listed; `decision=deny` tells the client `access_denied`.
pub async fn consent(State(state): State<AppState>, posted: Posted) -> Response {
    let (session, account) = match signed_in(&state, &posted).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    if posted.field("decision") != "allow" {
        let refused = posted.request.refuse("access_denied", "the person did not allow access");
        return posted.browser.refusal(Refusal::Redirect(refused));
    }
    let client_id = posted.request.client.client_id.clone();
    let scopes = posted.all("scope");
    match super::consents::record_consent(&state, &posted.browser.tenant, &session, &account, &client_id, scopes, None)
        .await
    {
        Ok(_) => posted.browser.back(&posted.request),
        Err(e) => proceed(&state, &posted.browser, &posted.request, Some((session, account)), Some(&e.detail)).await,
    }
}

/// `POST /t/{tenant}/authorize/switch`: leaves the current login or session and starts
/// again with another account.
pub async fn switch(State(state): State<AppState>, mut posted: Posted) -> Response {
    if let Some((session, _)) = posted.browser.session(&state).await
        && let Err(e) = state.db.end_session(&posted.browser.tenant.id, &session.id, state.clock.now()).await
    {
        tracing::warn!("cannot end a session: {e}");
    }
    posted.browser.set_session = Some(None);
    posted.browser.back(&posted.request)
}
