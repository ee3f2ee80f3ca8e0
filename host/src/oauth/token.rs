//! `POST /t/{tenant}/oauth2/token`: the `client_credentials` grant with
//! `client_secret_basic` or `client_secret_post`, the tenant's token-issuance extension
//! (fail closed), and an RFC 9068 access token signed with the tenant's key.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::OAuthError;
use super::client_auth::{PublicClients, authenticate_client};
use super::origin::RequestOrigin;
use crate::AppState;
use crate::clock::random_id;
use crate::events::outbox::NewEvent;
use crate::extensions::dispatch::{TokenClaims, TokenHookError};
use crate::extensions::events::EventResult;
use crate::extensions::token_issuance::{Subject, TokenRequest};
use crate::jwt::SigningKey;
use crate::jwt::claims::{merge, sanitise_reason};
use crate::ratelimit::Endpoint;
use crate::tenancy::Tenant;
use crate::tenancy::controls::client_grant;

const FORM: &str = "application/x-www-form-urlencoded";

pub async fn token(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    origin: RequestOrigin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let tenant =
        state.db.tenant_by_name(&tenant_name).await.map_err(internal)?.ok_or_else(OAuthError::unknown_tenant)?;
    admit(&state, &tenant).await?;
    let params = Params::parse(&headers, &body)?;
    match params.get("grant_type")? {
        Some("client_credentials") => client_credentials(&state, tenant, &origin.issuer, &headers, &params).await,
        Some("authorization_code") => super::grants::authorization_code(&state, &tenant, &headers, &params).await,
        Some("refresh_token") => super::grants::refresh(&state, &tenant, &headers, &params).await,
        Some(other) => Err(OAuthError::unsupported_grant_type(format!("grant type {other:?} is not supported"))),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

/// The `client_credentials` grant: a confidential client's token for itself.
async fn client_credentials(
    state: &AppState,
    tenant: Tenant,
    issuer: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, OAuthError> {
    let (client, rules) = authenticate_client(state, &tenant, headers, params, PublicClients::Refused).await?;
    // What the client may obtain: its own scopes and those the tenant's rules grant it.
    let allowed = client_grant(&client.scopes, &rules, &client.client_id);
    let mut scopes = granted_scopes(&allowed, params.get("scope")?)?;
    let audience = if client.audience.is_empty() { vec![issuer.to_owned()] } else { client.audience.clone() };

    let now = state.clock.now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("sub".into(), json!(client.client_id));
    claims.insert("aud".into(), if audience.len() == 1 { json!(audience[0]) } else { json!(audience) });
    let lifetime = tenant.settings.client_access_token_seconds;
    claims.insert("exp".into(), json!(now + lifetime));
    claims.insert("iat".into(), json!(now));
    claims.insert("jti".into(), json!(random_id(state.entropy.as_ref(), "at", 16).map_err(internal)?));
    claims.insert("client_id".into(), json!(client.client_id));
    claims.insert("tenant".into(), json!(tenant.id));

    let request = TokenRequest {
        subject: Subject::Client {
            client_id: client.client_id.clone(),
            name: client.name.clone(),
            attributes: Value::Object(client.attributes.clone()),
        },
        grant_type: "client_credentials".into(),
        scopes: scopes.clone(),
        audience,
    };
    let extra = run_extensions(state, &tenant, &client.client_id, &request).await?;
    // Scope changes stay within what the client may obtain (the tenant's controls).
    extra.apply_scopes(&mut scopes, &allowed).map_err(OAuthError::server_error)?;
    // The hook's checks already refused protected claims; merging checks again.
    merge(&mut claims, extra.access_token).map_err(|e| OAuthError::server_error(e.to_string()))?;
    claims.insert("scope".into(), json!(scopes.join(" ")));

    let key = signing_key(state, &tenant.id).await?;
    let access_token = key.sign_jwt("at+jwt", &claims).map_err(internal)?;
    state.usage.active(&tenant.id, &client.client_id, now);
    emit_token_issued(state, tenant, &client.client_id, None, "client_credentials", &scopes);
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scopes.join(" "),
    });
    Ok(token_response(body))
}

/// A successful token response: JSON, never cached (RFC 6749 §5.1).
pub(super) fn token_response(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// What a token client is told when a fail-closed token-issuance extension fails: always the
/// same words, never the extension's name nor what went wrong inside it (a trap, its fuel,
/// its deadline), which stay in the extension's invocation record for the tenant's
/// administrators.
pub const EXTENSION_FAILED: &str =
    "the tenant's token-issuance extension failed; the tenant's administrators find why in its invocation log";

/// Runs the token-issuance extensions bound for this client (or tenant-wide). A denial is
/// `access_denied` with the sanitised reason; a failure of a fail-closed binding issues no
/// token (`server_error` with [`EXTENSION_FAILED`]; `temporarily_unavailable` when the
/// tenant is over its invocation limits, which are the tenant's plan, not the extension's).
pub(super) async fn run_extensions(
    state: &AppState,
    tenant: &Tenant,
    client_id: &str,
    request: &TokenRequest,
) -> Result<TokenClaims, OAuthError> {
    state.extensions.run_token_issuance(tenant, Some(client_id), request).await.map_err(|e| match e {
        TokenHookError::Denied(reason) => OAuthError::access_denied(sanitise_reason(&reason)),
        TokenHookError::Failed { error, .. } if error.is_throttled() => {
            OAuthError::temporarily_unavailable(error.to_string())
        }
        TokenHookError::Failed { extension, error } => {
            tracing::info!(tenant = %tenant.id, %extension, "token-issuance extension failed: {error}");
            OAuthError::server_error(EXTENSION_FAILED)
        }
        TokenHookError::Storage(e) => internal(e),
    })
}

/// Tells `events` bindings that want it (only then is anything written) that a token was
/// issued; off the request's path.
pub(super) fn emit_token_issued(
    state: &AppState,
    tenant: Tenant,
    client_id: &str,
    account_id: Option<&str>,
    grant_type: &str,
    scopes: &[String],
) {
    let event = NewEvent {
        category: "authorization",
        action: "token.issued",
        origin: "token-endpoint",
        result: EventResult::Success,
        reason: None,
        account_id: account_id.map(str::to_owned),
        detail: json!({"client_id": client_id, "grant_type": grant_type, "scopes": scopes}),
    };
    let runtime = state.extensions.clone();
    tokio::spawn(async move {
        if let Err(e) = runtime.emit(&tenant, event, true).await {
            tracing::warn!(tenant = %tenant.id, "cannot record token.issued: {e}");
        }
    });
}

pub(super) async fn signing_key(state: &AppState, tenant_id: &str) -> Result<Arc<SigningKey>, OAuthError> {
    if let Some(key) = state.keys.get(tenant_id) {
        return Ok(key);
    }
    let generation = state.keys.generation();
    let row = state
        .db
        .active_signing_key(tenant_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| OAuthError::server_error("the tenant has no active signing key"))?;
    let key = Arc::new(SigningKey::open(&row, state.extensions.vault()).map_err(internal)?);
    state.keys.insert(tenant_id, key.clone(), generation);
    Ok(key)
}

/// The scopes to grant: the requested ones if they are all `allowed` (what the client may
/// obtain, or what a refresh token's grant holds), else (none requested) all of them.
pub(super) fn granted_scopes(allowed: &[String], requested: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else { return Ok(allowed.to_vec()) };
    let mut granted: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|allowed| allowed == scope) {
            return Err(OAuthError::invalid_scope(format!("scope {scope:?} is not allowed for this client or grant")));
        }
        if !granted.iter().any(|s| s == scope) {
            granted.push(scope.to_owned());
        }
    }
    Ok(granted)
}

/// Form parameters of a token request; each may appear at most once (RFC 6749 §3.2).
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case(FORM) {
            return Err(OAuthError::invalid_request(format!("the request body must be {FORM}")));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|_| OAuthError::invalid_request("the request body is not valid form data"))?;
        Ok(Params(pairs))
    }

    pub(super) fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(OAuthError::invalid_request(format!("parameter {name} is repeated")));
        }
        Ok(first.filter(|value| !value.is_empty()))
    }
}

/// Counts a request to the tenant's token endpoints against its rate limit.
pub(super) async fn admit(state: &AppState, tenant: &Tenant) -> Result<(), OAuthError> {
    let limits = state.extensions.tenant_limits(&tenant.id).await.map_err(internal)?;
    let (rate, burst) = (limits.token_requests_per_second, limits.token_burst);
    state
        .limiter
        .admit(&tenant.id, Endpoint::Token, rate, burst, state.clock.now_millis())
        .map_err(OAuthError::rate_limited)
}

/// A failure of the service: `temporarily_unavailable` (503) when the database cannot be
/// reached, which a client retries; `server_error` otherwise. Logged, never shown.
pub(super) fn internal<E: std::fmt::Display + 'static>(error: E) -> OAuthError {
    let any: &dyn std::any::Any = &error;
    if any.downcast_ref::<crate::storage::StorageError>().is_some_and(crate::storage::StorageError::is_unavailable) {
        tracing::warn!("token endpoint: the database is unavailable: {error}");
        return OAuthError::unavailable();
    }
    tracing::error!("token endpoint: {error}");
    OAuthError::server_error("internal error")
}
