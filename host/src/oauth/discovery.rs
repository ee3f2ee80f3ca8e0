//! `GET /t/{tenant}/.well-known/openid-configuration` and `GET /t/{tenant}/jwks.json`:
//! the tenant's issuer metadata (OpenID Connect Discovery 1.0, RFC 8414) and its published
//! public keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::OAuthError;
use super::authorize::OFFLINE_ACCESS;
use super::origin::RequestOrigin;
use crate::AppState;
use crate::tenancy::Tenant;

/// How clients authenticate at the token, introspection and revocation endpoints.
const CLIENT_AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// At the token and revocation endpoints, public clients present only their `client_id`.
const TOKEN_AUTH_METHODS: [&str; 4] = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
/// The algorithms of `private_key_jwt` assertions.
const ASSERTION_ALGORITHMS: [&str; 3] = ["ES256", "EdDSA", "RS256"];

async fn usable_tenant(state: &AppState, name: &str) -> Result<Tenant, OAuthError> {
    state
        .db
        .tenant_by_name(name)
        .await
        .map_err(|e| {
            tracing::error!("discovery: {e}");
            OAuthError::server_error("internal error")
        })?
        .filter(|tenant| tenant.effective_state().is_usable())
        .ok_or_else(OAuthError::unknown_tenant)
}

pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant_name): Path<String>,
    origin: RequestOrigin,
) -> Result<Response, OAuthError> {
    let tenant = usable_tenant(&state, &tenant_name).await?;
    let issuer = origin.issuer;
    let catalogue = state.db.scopes(&tenant.id).await.map_err(|e| {
        tracing::error!("discovery: {e}");
        OAuthError::server_error("internal error")
    })?;
    let mut scopes: Vec<&str> = catalogue.iter().map(|s| s.value.as_str()).collect();
    scopes.push(OFFLINE_ACCESS);
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ["urn:keyhaven:aal1", "urn:keyhaven:aal2"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash",
            "preferred_username", "email", "phone_number",
        ],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "token_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "id_token_signing_alg_values_supported": [tenant.settings.signing_algorithm],
        "subject_types_supported": ["public"],
    });
    Ok(cacheable(Json(body)))
}

pub async fn jwks(State(state): State<AppState>, Path(tenant_name): Path<String>) -> Result<Response, OAuthError> {
    let tenant = usable_tenant(&state, &tenant_name).await?;
    let stored = state.db.published_keys(&tenant.id, state.clock.now()).await.map_err(|e| {
        tracing::error!("jwks: {e}");
        OAuthError::server_error("internal error")
    })?;
    let keys: Vec<Value> = stored.iter().filter_map(|jwk| serde_json::from_str(jwk).ok()).collect();
    Ok(cacheable(Json(json!({ "keys": keys }))))
}

fn cacheable(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
