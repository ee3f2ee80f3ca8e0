//! Client authentication at the token, introspection and revocation endpoints: exactly one
//! of `client_secret_basic`, `client_secret_post` (the secret's SHA-256 compared in constant
//! time, current and previous secret alike) and `private_key_jwt` (RFC 7523: an assertion
//! signed with a key the client registered — ES256, EdDSA or RS256 — whose `jti` is
//! accepted once; the replay cache is in the database, so on every node). Every failure
//! reads the same.

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::OAuthError;
use super::token::{Params, internal};
use crate::AppState;
use crate::jwt::jws::{unverified_claims, verify_with_jwks};
use crate::tenancy::{Client, ScopeRule, Tenant};

/// RFC 7523 §2.2's client assertion type.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The furthest ahead an assertion may expire.
const MAX_ASSERTION_SECONDS: i64 = 3_660;

/// Whether an endpoint serves public clients, which present only their `client_id`
/// (`token_endpoint_auth_method` `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PublicClients {
    Allowed,
    Refused,
}

/// Authenticates the client with exactly one of `client_secret_basic`,
/// `client_secret_post` and `private_key_jwt` — or, where `public` allows it, a public
/// client by its `client_id` alone; the client comes with the rules that grant it scopes.
/// Every failure looks the same to the caller. An address that keeps failing is slowed,
/// then blocked for a while (`ops::failures`).
pub(super) async fn authenticate_client(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &Params,
    public: PublicClients,
) -> Result<(Client, Vec<ScopeRule>), OAuthError> {
    if let Some(seconds) = crate::ops::failures::blocked(state, tenant).await.map_err(internal)? {
        return Err(OAuthError::blocked(seconds));
    }
    let authenticated = authenticate(state, tenant, headers, params, public).await;
    if matches!(&authenticated, Err(e) if e.code == "invalid_client") {
        crate::ops::failures::failed(state, tenant).await;
    }
    authenticated
}

async fn authenticate(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &Params,
    public: PublicClients,
) -> Result<(Client, Vec<ScopeRule>), OAuthError> {
    let basic = basic_credentials(headers)?;
    if let Some(assertion_type) = params.get("client_assertion_type")? {
        if basic.is_some() || params.get("client_secret")?.is_some() {
            return Err(OAuthError::invalid_request("use exactly one client authentication method"));
        }
        if assertion_type != JWT_BEARER {
            return Err(OAuthError::invalid_client(format!("client_assertion_type must be {JWT_BEARER}")));
        }
        let assertion = params
            .get("client_assertion")?
            .ok_or_else(|| OAuthError::invalid_request("client_assertion is required"))?;
        return authenticate_assertion(state, tenant, assertion, params.get("client_id")?).await;
    }
    let posted = match (params.get("client_id")?, params.get("client_secret")?) {
        (Some(id), Some(secret)) => Some((id.to_owned(), secret.to_owned())),
        (_, None) => None,
        (None, Some(_)) => return Err(OAuthError::invalid_request("client_secret without client_id")),
    };
    let (client_id, secret) = match (basic, posted) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request("use exactly one client authentication method"));
        }
        (Some(credentials), None) | (None, Some(credentials)) => credentials,
        (None, None) => return authenticate_public(state, tenant, params, public).await,
    };
    let rejected = || OAuthError::invalid_client("client authentication failed");
    let client = state.db.client_with_rules(&tenant.id, &client_id).await.map_err(internal)?;
    let Some((client, rules)) = client else {
        // Same work as a real check, so timing does not tell which client ids exist.
        let _ = crate::secrets::verify(&secret, &"0".repeat(64));
        return Err(rejected());
    };
    // Both secrets are checked, so the work does not tell which one matched.
    let current = crate::secrets::verify(&secret, &client.secret_sha256);
    let previous = crate::secrets::verify(&secret, client.previous_secret_sha256.as_deref().unwrap_or(""));
    if !(current || (previous && client.previous_secret_sha256.is_some())) || client.public {
        return Err(rejected());
    }
    if !client.state.under(tenant.effective_state()).is_usable() {
        return Err(rejected());
    }
    Ok((client, rules))
}

/// A public client: its `client_id` and nothing else, where the endpoint allows it.
async fn authenticate_public(
    state: &AppState,
    tenant: &Tenant,
    params: &Params,
    public: PublicClients,
) -> Result<(Client, Vec<ScopeRule>), OAuthError> {
    let required = || OAuthError::invalid_client("client authentication is required");
    let Some(client_id) = params.get("client_id")?.filter(|_| public == PublicClients::Allowed) else {
        return Err(required());
    };
    let client = state.db.client_with_rules(&tenant.id, client_id).await.map_err(internal)?;
    match client {
        Some((client, rules)) if client.public && client.state.under(tenant.effective_state()).is_usable() => {
            Ok((client, rules))
        }
        _ => Err(required()),
    }
}

/// `private_key_jwt` (RFC 7523 §2.2): a JWT signed with one of the client's registered
/// keys, issued by and about the client (`iss` = `sub` = client id), for this server (`aud`:
/// the issuer or one of its OAuth endpoints), expiring within the hour, with a `jti` never
/// presented before.
async fn authenticate_assertion(
    state: &AppState,
    tenant: &Tenant,
    assertion: &str,
    client_id: Option<&str>,
) -> Result<(Client, Vec<ScopeRule>), OAuthError> {
    let rejected = || OAuthError::invalid_client("client authentication failed");
    let unverified = unverified_claims(assertion).ok_or_else(rejected)?;
    let issuer_claim = unverified.get("iss").and_then(Value::as_str).ok_or_else(rejected)?;
    if client_id.is_some_and(|id| id != issuer_claim) {
        return Err(rejected());
    }
    let client = state.db.client_with_rules(&tenant.id, issuer_claim).await.map_err(internal)?;
    let (client, rules) = client.ok_or_else(rejected)?;
    let jwks = client.jwks.as_ref().ok_or_else(rejected)?;
    let (_, claims) = verify_with_jwks(assertion, jwks).ok_or_else(rejected)?;
    let now = state.clock.now();
    // The tenant's issuer and its endpoints, on the service's URL or the tenant's subdomain.
    let issuers = [Some(state.issuer(&tenant.name)), state.subdomain_issuer(&tenant.name)];
    let audiences: Vec<String> = issuers
        .into_iter()
        .flatten()
        .flat_map(|issuer| {
            ["", "/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"].map(|path| format!("{issuer}{path}"))
        })
        .collect();
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(aud),
        Some(Value::Array(auds)) => {
            auds.iter().any(|aud| aud.as_str().is_some_and(|a| audiences.iter().any(|b| a == b)))
        }
        _ => false,
    };
    let about_itself = claims.get("iss").and_then(Value::as_str) == Some(client.client_id.as_str())
        && claims.get("sub").and_then(Value::as_str) == Some(client.client_id.as_str());
    let expires_at =
        claims.get("exp").and_then(Value::as_i64).filter(|exp| *exp > now && *exp <= now + MAX_ASSERTION_SECONDS);
    let jti = claims.get("jti").and_then(Value::as_str).filter(|jti| !jti.is_empty() && jti.len() <= 256);
    let (Some(expires_at), Some(jti), true, true) = (expires_at, jti, for_us, about_itself) else {
        return Err(rejected());
    };
    if !client.state.under(tenant.effective_state()).is_usable() {
        return Err(rejected());
    }
    if !state.db.record_client_assertion(&tenant.id, &client.client_id, jti, expires_at).await.map_err(internal)? {
        return Err(OAuthError::invalid_client("client authentication failed: the assertion was used before"));
    }
    Ok((client, rules))
}

/// `Authorization: Basic` credentials, form-url-decoded as RFC 6749 §2.3.1 requires.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err(OAuthError::invalid_client("only Basic client authentication is accepted here"));
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    Ok(Some((id, secret)))
}

fn form_decode(value: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={value}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod properties {
    //! `Authorization` headers of any shape: a client's credentials or `invalid_client`,
    //! never a panic; and what a client encodes as RFC 6749 §2.3.1 says is read back.
    #![allow(clippy::unwrap_used)]
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn headers(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.insert(header::AUTHORIZATION, value);
        }
        headers
    }

    proptest! {
        #[test]
        fn any_authorization_header_is_credentials_or_invalid_client(value in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Err(e) = basic_credentials(&headers(&value)) {
                prop_assert_eq!(e.code, "invalid_client");
            }
        }

        #[test]
        fn any_basic_payload_is_credentials_or_invalid_client(payload in proptest::collection::vec(any::<u8>(), 0..120)) {
            let value = format!("Basic {}", STANDARD.encode(&payload));
            if let Err(e) = basic_credentials(&headers(value.as_bytes())) {
                prop_assert_eq!(e.code, "invalid_client");
            }
        }

        #[test]
        fn form_encoded_credentials_are_read_back(id in "\\PC{1,30}", secret in "\\PC{0,60}") {
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let value = format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(&id), encode(&secret))));
            let read = basic_credentials(&headers(value.as_bytes())).unwrap();
            prop_assert_eq!(read, Some((id, secret)));
        }
    }
}
