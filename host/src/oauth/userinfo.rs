//! `GET`/`POST /t/{tenant}/userinfo` (OpenID Connect Core §5.3): the claims about the
//! person an access token was issued for. The token comes as `Authorization: Bearer`
//! (RFC 6750 §2.1) and must be active exactly as introspection sees it, issued to a
//! person (not a machine client) with the `openid` scope. `sub` always; `preferred_username`
//! with `profile`, `email` with `email`, `phone_number` with `phone`. Errors are RFC 6750's:
//! 401 `invalid_token` or 403 `insufficient_scope`, in `WWW-Authenticate`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::introspection::active_claims;
use crate::AppState;

fn refused(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!("Bearer realm=\"keyhaven\", error=\"{error}\", error_description=\"{description}\"");
    let mut response = (status, Json(json!({"error": error, "error_description": description}))).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn invalid_token() -> Response {
    refused(StatusCode::UNAUTHORIZED, "invalid_token", "the access token is not active")
}

pub async fn userinfo(State(state): State<AppState>, Path(tenant_name): Path<String>, headers: HeaderMap) -> Response {
    let Some(token) = crate::web::bearer_token(&headers) else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"keyhaven\""));
        return response;
    };
    let tenant = match state.db.tenant_by_name(&tenant_name).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return invalid_token(),
        Err(e) => {
            tracing::error!("userinfo: {e}");
            return refused(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error");
        }
    };
    // Counted against the tenant's token-endpoint rate, like introspection.
    if let Err(e) = super::token::admit(&state, &tenant).await {
        return e.into_response();
    }
    let claims = match active_claims(&state, &tenant, token).await {
        Ok(Some(claims)) => claims,
        Ok(None) => return invalid_token(),
        Err(e) => return e.into_response(),
    };
    let scopes: Vec<&str> = claims.get("scope").and_then(Value::as_str).unwrap_or_default().split(' ').collect();
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    let person = claims.get("client_id").and_then(Value::as_str) != Some(subject);
    if !person || !scopes.contains(&"openid") {
        return refused(StatusCode::FORBIDDEN, "insufficient_scope", "the token was not issued with the openid scope");
    }
    let account = match state.db.account(&tenant.id, subject).await {
        Ok(Some(account)) => account,
        Ok(None) => return invalid_token(),
        Err(e) => {
            tracing::error!("userinfo: {e}");
            return refused(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal error");
        }
    };
    let mut body = Map::new();
    body.insert("sub".into(), json!(account.id));
    if scopes.contains(&"profile") {
        body.insert("preferred_username".into(), json!(account.username));
    }
    if scopes.contains(&"email")
        && let Some(email) = &account.email
    {
        body.insert("email".into(), json!(email));
    }
    if scopes.contains(&"phone")
        && let Some(phone) = &account.phone
    {
        body.insert("phone_number".into(), json!(phone));
    }
    super::token::token_response(Value::Object(body))
}
