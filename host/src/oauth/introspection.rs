//! `POST /t/{tenant}/oauth2/introspect` (RFC 7662) and `POST /t/{tenant}/oauth2/revoke`
//! (RFC 7009), for the tenant's authenticated clients (resource servers are clients too).
//! A token is active when it is an access token signed by one of the tenant's published
//! keys, issued by this tenant, unexpired and not revoked, and its client is still usable
//! in a usable tenant; anything else — another tenant's token included — is
//! `{"active": false}`, with nothing said about why. A client revokes only its own tokens;
//! revoking anything else (or garbage) answers 200 and changes nothing, as RFC 7009 asks.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::OAuthError;
use super::client_auth::{PublicClients, authenticate_client};
use super::grants::REFRESH_PREFIX;
use super::token::{Params, admit, internal};
use crate::AppState;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::jwt::jws::verify_jwt;
use crate::tenancy::Tenant;

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn inactive() -> Response {
    no_store(Json(json!({"active": false})).into_response())
}

/// The claims of `token` if it is one of this tenant's access tokens, signed by a published
/// key, unexpired; revocation and the client's state are checked by the caller.
async fn verified_claims(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
    now: i64,
) -> Result<Option<Map<String, Value>>, OAuthError> {
    let published = state.db.published_keys(&tenant.id, now).await.map_err(internal)?;
    let Some((header, claims)) = verify_jwt(token, &published) else { return Ok(None) };
    let ours = header.get("typ").and_then(Value::as_str) == Some("at+jwt")
        && claims.get("iss").and_then(Value::as_str).is_some_and(|iss| state.is_issuer_of(&tenant.name, iss))
        && claims.get("tenant").and_then(Value::as_str) == Some(tenant.id.as_str())
        && claims.get("jti").and_then(Value::as_str).is_some()
        && claims.get("client_id").and_then(Value::as_str).is_some();
    let unexpired = claims.get("exp").and_then(Value::as_i64).is_some_and(|exp| exp > now);
    Ok((ours && unexpired).then_some(claims))
}

/// The claims of `token` if it is active: one of this tenant's access tokens, unexpired,
/// unrevoked, whose client — and, for a person's token, whose account — is still usable
/// in a usable tenant.
pub(super) async fn active_claims(
    state: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<Option<Map<String, Value>>, OAuthError> {
    if !tenant.effective_state().is_usable() {
        return Ok(None);
    }
    let now = state.clock.now();
    let Some(claims) = verified_claims(state, tenant, token, now).await? else { return Ok(None) };
    if state.db.is_revoked(&tenant.id, claim(&claims, "jti")).await.map_err(internal)? {
        return Ok(None);
    }
    let client = state.db.client(&tenant.id, claim(&claims, "client_id")).await.map_err(internal)?;
    if !client.is_some_and(|c| c.state.under(tenant.effective_state()).is_usable()) {
        return Ok(None);
    }
    let subject = claim(&claims, "sub");
    if subject != claim(&claims, "client_id") {
        let account = state.db.account(&tenant.id, subject).await.map_err(internal)?;
        if !account.is_some_and(|a| a.state.is_usable()) {
            return Ok(None);
        }
    }
    Ok(Some(claims))
}

/// A refresh token is active while it is unspent, unrevoked and unexpired, and its client
/// and account are usable.
async fn introspect_refresh_token(state: &AppState, tenant: &Tenant, token: &str) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    let stored = state.db.refresh_token(&tenant.id, &crate::secrets::digest(token)).await.map_err(internal)?;
    let Some(stored) = stored.filter(|r| r.used_at.is_none() && r.revoked_at.is_none() && r.expires_at > now) else {
        return Ok(inactive());
    };
    let client = state.db.client(&tenant.id, &stored.grant.client_id).await.map_err(internal)?;
    let account = state.db.account(&tenant.id, &stored.grant.account_id).await.map_err(internal)?;
    let usable = client.is_some_and(|c| c.state.under(tenant.effective_state()).is_usable())
        && account.is_some_and(|a| a.state.is_usable());
    if !usable {
        return Ok(inactive());
    }
    let body = json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": stored.grant.scopes.join(" "),
        "client_id": stored.grant.client_id,
        "sub": stored.grant.account_id,
        "iss": stored.grant.issuer,
        "exp": stored.expires_at,
        "iat": stored.created_at,
        "tenant": tenant.id,
    });
    Ok(no_store(Json(body).into_response()))
}

fn claim<'a>(claims: &'a Map<String, Value>, name: &str) -> &'a str {
    claims.get(name).and_then(Value::as_str).unwrap_or_default()
}

pub async fn introspect(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let tenant =
        state.db.tenant_by_name(&tenant_name).await.map_err(internal)?.ok_or_else(OAuthError::unknown_tenant)?;
    admit(&state, &tenant).await?;
    let params = Params::parse(&headers, &body)?;
    let token = params.get("token")?.ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // A tenant that is not usable has no active token (and no client that can authenticate).
    if !tenant.effective_state().is_usable() {
        return Ok(inactive());
    }
    authenticate_client(&state, &tenant, &headers, &params, PublicClients::Refused).await?;
    if token.starts_with(REFRESH_PREFIX) {
        return introspect_refresh_token(&state, &tenant, token).await;
    }
    let Some(claims) = active_claims(&state, &tenant, token).await? else { return Ok(inactive()) };
    let mut body = Map::new();
    body.insert("active".into(), json!(true));
    body.insert("token_type".into(), json!("Bearer"));
    for name in ["scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "tenant", "auth_time", "acr"] {
        if let Some(value) = claims.get(name) {
            body.insert(name.into(), value.clone());
        }
    }
    Ok(no_store(Json(Value::Object(body)).into_response()))
}

pub async fn revoke(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let tenant = state
        .db
        .tenant_by_name(&tenant_name)
        .await
        .map_err(internal)?
        .filter(|t| t.effective_state().is_usable())
        .ok_or_else(OAuthError::unknown_tenant)?;
    admit(&state, &tenant).await?;
    let params = Params::parse(&headers, &body)?;
    let token = params.get("token")?.ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    match params.get("token_type_hint")? {
        None | Some("access_token") | Some("refresh_token") => {}
        Some(other) => {
            return Err(OAuthError::unsupported_token_type(format!("token type {other:?} is not supported")));
        }
    }
    let (client, _) = authenticate_client(&state, &tenant, &headers, &params, PublicClients::Allowed).await?;
    let now = state.clock.now();
    if token.starts_with(REFRESH_PREFIX) {
        // The whole family goes: the token and every later one of the same grant.
        let stored = state.db.refresh_token(&tenant.id, &crate::secrets::digest(token)).await.map_err(internal)?;
        if let Some(stored) = stored.filter(|r| r.grant.client_id == client.client_id) {
            state.db.revoke_refresh_family(&tenant.id, &stored.grant.family_id, now).await.map_err(internal)?;
        }
        return Ok(no_store(StatusCode::OK.into_response()));
    }
    let claims = verified_claims(&state, &tenant, token, now).await?;
    let Some(claims) = claims.filter(|c| claim(c, "client_id") == client.client_id) else {
        return Ok(no_store(StatusCode::OK.into_response()));
    };
    let jti = claim(&claims, "jti");
    let expires_at = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
    if state.db.revoke_token(&tenant.id, jti, &client.client_id, expires_at, now).await.map_err(internal)? {
        let revoked = NewEvent {
            category: "authorization",
            action: "token.revoked",
            origin: "token-endpoint",
            result: EventResult::Success,
            reason: None,
            account_id: None,
            detail: json!({"client_id": client.client_id, "jti": jti}),
        };
        if let Err(e) = state.extensions.emit(&tenant, revoked, false).await {
            tracing::warn!(tenant = %tenant.id, "cannot record token.revoked: {e}");
        }
    }
    Ok(no_store(StatusCode::OK.into_response()))
}
