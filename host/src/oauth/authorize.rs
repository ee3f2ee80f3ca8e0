//! `GET /t/{tenant}/oauth2/authorize`: the authorization-code flow's front door (RFC 6749
//! §4.1, OpenID Connect Core §3.1, PKCE RFC 7636, `iss` in the response RFC 9207).
//!
//! The request is checked in two stages. Until the client and its redirect URI are known
//! to be genuine, an error is a page shown to the person (never a redirect, so the endpoint
//! is no open redirector); after that, errors go back to the client's redirect URI. Then
//! the person's browser session (a cookie holding the session token of [`super::login`])
//! decides what comes next: sign in, pass a stronger factor (the scopes' required score,
//! or the tenant's `second_factor_required`), accept due legal documents, consent to
//! scopes — each a hosted page ([`super::hosted`]) whose form posts back and returns here
//! — and finally a single-use code, sent to the redirect URI.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::hosted::{self, Browser};
use super::pages;
use crate::AppState;
use crate::clock::random_id;
use crate::ops::codes::is_pkce_value;
use crate::secrets;
use crate::storage::{CodeRow, Grant, SessionRow};
use crate::tenancy::account::score;
use crate::tenancy::controls::{LegalDue, Scope, consent_needed, legal_due, scopes_for_score};
use crate::tenancy::{Account, Client, FactorKind, Tenant};

/// How long a code may wait to be exchanged (PRODUCT.md).
pub const CODE_SECONDS: i64 = 60;
/// The score a session needs when the tenant requires a second factor: a password and a
/// one-time or authenticator code.
pub const SECOND_FACTOR_SCORE: i64 = 5;
/// The pseudo-scope a client may ask for to say it wants a refresh token; always granted
/// (every code exchange returns one), never in a catalogue.
pub const OFFLINE_ACCESS: &str = "offline_access";
const MAX_STATE: usize = 1_000;
const MAX_NONCE: usize = 500;

/// A checked authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest {
    /// The request's parameters without `prompt`, as the hosted pages carry them back here.
    pub forwarded: String,
    pub client: Client,
    pub redirect_uri: String,
    pub redirect_given: bool,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    /// The tenant's scope catalogue the scopes were checked against.
    pub catalogue: Vec<Scope>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// Why a request is refused.
#[derive(Debug)]
pub enum Refusal {
    /// Shown to the person: the client or the redirect URI cannot be trusted.
    Page(String),
    /// Sent back to the client (RFC 6749 §4.1.2.1).
    Redirect(Redirect),
}

/// An error response for the client, before it is put into the redirect URI.
#[derive(Debug)]
pub struct Redirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: String,
}

fn pairs(query: &str) -> Result<Vec<(String, String)>, Refusal> {
    serde_urlencoded::from_str(query).map_err(|_| Refusal::Page("the request's parameters cannot be read".into()))
}

fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("parameter {name} is repeated"));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Whether `uri` is the registered redirect URI: exactly, except that on a loopback host
/// any port is accepted (RFC 8252 §7.3: a native app listens on a port it gets at run time).
pub fn redirect_matches(registered: &str, uri: &str) -> bool {
    if registered == uri {
        return true;
    }
    let (Ok(registered), Ok(mut presented)) = (url::Url::parse(registered), url::Url::parse(uri)) else {
        return false;
    };
    let loopback = |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]"));
    if !(loopback(&registered) && loopback(&presented)) {
        return false;
    }
    presented.set_port(registered.port()).is_ok() && presented == registered
}

impl AuthorizationRequest {
    /// Checks a request's parameters against the tenant's clients and scope catalogue.
    pub async fn parse(state: &AppState, tenant: &Tenant, query: &str) -> Result<Self, Refusal> {
        let pairs = pairs(query)?;
        let get = |name: &str| single(&pairs, name).map_err(Refusal::Page);
        let client_id = get("client_id")?.ok_or_else(|| Refusal::Page("the request names no client_id".into()))?;
        let client = crate::ops::console::client_for_authorization(state, tenant, client_id).await;
        let client = client.map_err(|e| Refusal::Page(internal(e)))?;
        let client = client
            .filter(|c| c.state.under(tenant.effective_state()).is_usable())
            .ok_or_else(|| Refusal::Page("the application that sent you here is unknown or disabled".into()))?;
        let (redirect_uri, redirect_given) = match get("redirect_uri")? {
            Some(uri) if client.redirect_uris.iter().any(|registered| redirect_matches(registered, uri)) => {
                (uri.to_owned(), true)
            }
            Some(_) => {
                return Err(Refusal::Page("the redirect_uri is not one the application registered".into()));
            }
            None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
            None => return Err(Refusal::Page("the request must name one of the application's redirect URIs".into())),
        };
        let client_state = get("state")?.map(str::to_owned);
        let refuse = |error: &'static str, description: String| {
            Refusal::Redirect(Redirect {
                redirect_uri: redirect_uri.clone(),
                state: client_state.clone(),
                error,
                description,
            })
        };
        // From here on, errors go back to the client.
        let get = |name: &str| single(&pairs, name).map_err(|e| refuse("invalid_request", e));
        if client_state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(refuse("invalid_request", format!("state is at most {MAX_STATE} characters")));
        }
        match get("response_type")? {
            Some("code") => {}
            Some(other) => {
                return Err(refuse("unsupported_response_type", format!("response_type {other:?} is not supported")));
            }
            None => return Err(refuse("invalid_request", "response_type is required".into())),
        }
        if let Some(mode) = get("response_mode")?.filter(|m| *m != "query") {
            return Err(refuse("invalid_request", format!("response_mode {mode:?} is not supported")));
        }
        if get("request")?.is_some() {
            return Err(refuse("request_not_supported", "request objects are not supported".into()));
        }
        if get("request_uri")?.is_some() {
            return Err(refuse("request_uri_not_supported", "request_uri is not supported".into()));
        }
        let code_challenge = match (get("code_challenge")?, get("code_challenge_method")?) {
            (Some(challenge), Some("S256")) if is_pkce_value(challenge) => Some(challenge.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(refuse("invalid_request", "code_challenge must be 43 to 128 unreserved characters".into()));
            }
            (Some(_), method) => {
                return Err(refuse(
                    "invalid_request",
                    format!("code_challenge_method must be S256, not {:?}", method.unwrap_or("plain")),
                ));
            }
            (None, Some(_)) => {
                return Err(refuse("invalid_request", "code_challenge_method without code_challenge".into()));
            }
            (None, None) if client.public => {
                return Err(refuse("invalid_request", "a public client must use PKCE (code_challenge, S256)".into()));
            }
            (None, None) => None,
        };
        let nonce = get("nonce")?.map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(refuse("invalid_request", format!("nonce is at most {MAX_NONCE} characters")));
        }
        let mut prompt = Prompt::default();
        for value in get("prompt")?.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => {}
                other => return Err(refuse("invalid_request", format!("prompt {other:?} is not supported"))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(refuse("invalid_request", "prompt=none goes with no other prompt".into()));
        }
        let max_age = match get("max_age")? {
            Some(value) => Some(
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| refuse("invalid_request", "max_age must be a number of seconds".into()))?,
            ),
            None => None,
        };
        // OpenID Connect Core §3.1.2.1: max_age=0 is prompt=login.
        if max_age == Some(0) {
            prompt.login = true;
        }
        let catalogue = state.db.scopes(&tenant.id).await.map_err(|e| refuse("server_error", internal(e)))?;
        let mut scopes: Vec<String> = Vec::new();
        for scope in get("scope")?.unwrap_or("openid").split(' ').filter(|s| !s.is_empty()) {
            if scope != OFFLINE_ACCESS && !catalogue.iter().any(|s| s.value == scope) {
                return Err(refuse("invalid_scope", format!("{scope:?} is not a scope of this service")));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        // The pages carry the request back without `prompt` and `max_age`: once the person
        // has signed in (or consented) on them, asking again would never end.
        let forwarded: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "prompt" && k != "max_age").collect();
        let forwarded = serde_urlencoded::to_string(forwarded).map_err(|e| refuse("server_error", internal(e)))?;
        Ok(AuthorizationRequest {
            forwarded,
            client,
            redirect_uri,
            redirect_given,
            state: client_state,
            scopes,
            nonce,
            code_challenge,
            prompt,
            max_age,
            catalogue,
        })
    }

    /// An error for the client, sent to its redirect URI.
    pub fn refuse(&self, error: &'static str, description: impl Into<String>) -> Redirect {
        Redirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description: description.into(),
        }
    }
}

fn internal(error: impl std::fmt::Display) -> String {
    tracing::error!("authorization endpoint: {error}");
    "an internal error occurred; it has been logged".into()
}

/// What the person must do before the client gets a code.
#[derive(Debug)]
pub enum Next {
    /// Name the account.
    Identify,
    /// Pass one of these factors (a first factor, or a stronger one).
    Factors { session: SessionRow, account: Account, required_score: i64 },
    /// Accept these documents.
    Legal { due: Vec<LegalDue> },
    /// Consent to these scopes for the client.
    Consent { scopes: Vec<String> },
    /// Nothing: issue the code.
    Code { session: SessionRow, account: Account },
}

/// Decides the next step for a request and the browser's session.
pub async fn next_step(
    state: &AppState,
    tenant: &Tenant,
    request: &AuthorizationRequest,
    session: Option<(SessionRow, Account)>,
) -> Result<Next, Refusal> {
    let now = state.clock.now();
    let Some((session, account)) = session else { return Ok(Next::Identify) };
    let fresh = |s: &SessionRow| match (request.max_age, s.authenticated_at) {
        (Some(max_age), Some(at)) => now - at <= max_age,
        (Some(_), None) => false,
        (None, _) => true,
    };
    if request.prompt.login || !fresh(&session) {
        return Ok(Next::Identify);
    }
    let failed = |e: crate::storage::StorageError| Refusal::Redirect(request.refuse("server_error", internal(e)));
    let catalogue = &request.catalogue;
    let mut required_score = catalogue
        .iter()
        .filter(|s| request.scopes.contains(&s.value))
        .map(|s| s.required_score)
        .max()
        .unwrap_or(0)
        .max(1);
    if tenant.settings.second_factor_required {
        required_score = required_score.max(SECOND_FACTOR_SCORE);
    }
    // Nothing about the account is told before a factor has been passed.
    if session.authenticated_at.is_none() {
        return Ok(Next::Factors { session, account, required_score });
    }
    let permissions = state.db.permissions_of(&tenant.id, &account.id).await.map_err(failed)?;
    let access = scopes_for_score(catalogue, i64::MAX, &permissions);
    if let Some(scope) = request.scopes.iter().find(|s| access.needs_permission.contains(s)) {
        return Err(Refusal::Redirect(
            request.refuse("access_denied", format!("the account does not hold the permission scope {scope:?} needs")),
        ));
    }
    // The tenant's second factor means a password and a code, whatever the scores add up to.
    let password_and_code = session.factors.contains(&FactorKind::Password)
        && session.factors.iter().any(|k| matches!(k, FactorKind::Otp | FactorKind::Totp));
    if score(&session.factors) < required_score || (tenant.settings.second_factor_required && !password_and_code) {
        return Ok(Next::Factors { session, account, required_score });
    }
    // The account's consents, read once: its acceptances of legal documents and its
    // consents to scopes.
    let documents = state.db.legal_documents(&tenant.id).await.map_err(failed)?;
    let consents = state.db.consents_of(&tenant.id, &account.id).await.map_err(failed)?;
    let due = legal_due(&documents, &consents, now);
    if !due.is_empty() {
        return Ok(Next::Legal { due });
    }
    let needed = consent_needed(catalogue, &consents, &request.client.client_id, &request.scopes, now);
    if !needed.is_empty() {
        return Ok(Next::Consent { scopes: needed });
    }
    if request.prompt.consent {
        let scopes: Vec<String> = request.scopes.iter().filter(|s| *s != OFFLINE_ACCESS).cloned().collect();
        return Ok(Next::Consent { scopes });
    }
    Ok(Next::Code { session, account })
}

/// The single-use code for the request, stored as its digest; returns the code.
pub async fn issue_code(
    state: &AppState,
    tenant: &Tenant,
    request: &AuthorizationRequest,
    session: &SessionRow,
    account: &Account,
    issuer: &str,
) -> Result<String, Refusal> {
    let now = state.clock.now();
    let failed = |e: String| Refusal::Redirect(request.refuse("server_error", e));
    let code = secrets::new_client_secret(state.entropy.as_ref()).map_err(|e| failed(internal(e)))?;
    let family_id = random_id(state.entropy.as_ref(), "rtf", 12).map_err(|e| failed(internal(e)))?;
    let row = CodeRow {
        grant: Grant {
            client_id: request.client.client_id.clone(),
            account_id: account.id.clone(),
            session_id: session.id.clone(),
            scopes: request.scopes.clone(),
            auth_time: session.authenticated_at.unwrap_or(now),
            factors: session.factors.clone(),
            family_id,
            issuer: issuer.to_owned(),
        },
        redirect_uri: request.redirect_uri.clone(),
        redirect_given: request.redirect_given,
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        created_at: now,
        expires_at: now + CODE_SECONDS,
    };
    state.db.insert_code(&tenant.id, &secrets::digest(&code), &row).await.map_err(|e| failed(internal(e)))?;
    state.db.touch_session(&tenant.id, &session.id, now).await.map_err(|e| failed(internal(e)))?;
    Ok(code)
}

/// `GET /t/{tenant}/oauth2/authorize`.
pub async fn authorize(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    origin: super::origin::RequestOrigin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let browser = match Browser::open(&state, &tenant_name, origin, &headers).await {
        Ok(browser) => browser,
        Err(response) => return response,
    };
    let request = match AuthorizationRequest::parse(&state, &browser.tenant, query.as_deref().unwrap_or("")).await {
        Ok(request) => request,
        Err(refusal) => return browser.refusal(refusal),
    };
    let session = browser.session(&state).await;
    proceed(&state, &browser, &request, session, None).await
}

/// Shows the page for the request's next step, or sends the code.
pub async fn proceed(
    state: &AppState,
    browser: &Browser,
    request: &AuthorizationRequest,
    session: Option<(SessionRow, Account)>,
    message: Option<&str>,
) -> Response {
    let tenant = &browser.tenant;
    let next = match next_step(state, tenant, request, session).await {
        Ok(next) => next,
        Err(refusal) => return browser.refusal(refusal),
    };
    let interaction =
        |error: &'static str, description: &str| browser.refusal(Refusal::Redirect(request.refuse(error, description)));
    match next {
        Next::Code { session, account } => {
            match issue_code(state, tenant, request, &session, &account, browser.issuer()).await {
                Ok(code) => browser.send_code(request, &code),
                Err(refusal) => browser.refusal(refusal),
            }
        }
        _ if request.prompt.none => match next {
            Next::Identify => interaction("login_required", "the person is not signed in"),
            Next::Consent { .. } => interaction("consent_required", "the person has not consented to these scopes"),
            _ => interaction("interaction_required", "the person must sign in again or accept documents"),
        },
        Next::Identify if !request.prompt.login && browser.holds_decoy(state).await => {
            let decoy = [pages::Choice { id: "", kind: "password", channel: None }];
            browser.page(pages::factors(&browser.context(request, message), &decoy, false))
        }
        Next::Identify => browser.page(pages::identify(&browser.context(request, message))),
        Next::Factors { session, account, required_score } => {
            hosted::factors_page(state, browser, request, &session, &account, required_score, message).await
        }
        Next::Legal { due } => browser.page(pages::legal(&browser.context(request, message), &due)),
        Next::Consent { scopes } => {
            browser.page(pages::consent(&browser.context(request, message), &request.client.name, &scopes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_and_nothing_else_does() {
        assert!(redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(redirect_matches("http://127.0.0.1:9/cb", "http://127.0.0.1:8080/cb"));
        assert!(!redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/other"));
        assert!(!redirect_matches("https://app.example/cb", "https://app.example:444/cb"));
        assert!(!redirect_matches("http://localhost/cb", "http://localhost:8080/cb"));
        assert!(redirect_matches("https://app.example/cb", "https://app.example/cb"));
    }
}
