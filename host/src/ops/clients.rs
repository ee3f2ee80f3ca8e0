//! Machine-client operations below HTTP, for the admin API and the console alike: the
//! checks a client's registration must pass, creating one (its secret generated here,
//! returned once and stored only as its SHA-256 digest; its `client.created` event in the
//! same transaction) and changing one (the state rules
//! of [`super::next_state`], with its `client.updated` event in the same transaction),
//! and rotating its secret without downtime (the new one shown once; the previous one
//! keeps working until it is retired).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::clock::random_id;
use crate::events::changes;
use crate::extensions::token_issuance::is_scope_token;
use crate::jwt::jws::check_client_jwks;
use crate::secrets;
use crate::tenancy::{Client, ResourceState, Tenant};
use crate::web::{ApiError, Problem};

const MAX_NAME: usize = 200;
const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;
const MAX_LIST: usize = 100;
/// The most redirect URIs a client may register, and the longest one.
const MAX_REDIRECT_URIS: usize = 20;
const MAX_REDIRECT_URI: usize = 2_000;

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    pub name: String,
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub audience: Vec<String>,
    /// Public keys for `private_key_jwt` (a JWK set).
    pub jwks: Option<Value>,
    /// Where the authorization endpoint may send people back (exact matches).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// A public client has no secret (and must use PKCE).
    #[serde(default)]
    pub public: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedClient {
    #[serde(flatten)]
    pub client: Client,
    /// Shown once; only its digest is stored. A public client has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeClient {
    pub name: Option<String>,
    pub attributes: Option<Map<String, Value>>,
    pub scopes: Option<Vec<String>>,
    pub audience: Option<Vec<String>>,
    /// A new JWK set for `private_key_jwt`; `null` removes it.
    #[serde(default, deserialize_with = "super::present")]
    pub jwks: Option<Option<Value>>,
    pub redirect_uris: Option<Vec<String>>,
    /// `ENABLED` or `DISABLED`; `LOCKED` (or lifting it) is the operator's.
    pub state: Option<ResourceState>,
}

/// A redirect URI a client may register: absolute, without a fragment, and either `https`,
/// `http` on a loopback host (RFC 8252 §7.3), or an app's private-use scheme named after a
/// domain it owns (`com.example.app:/callback`, RFC 8252 §7.1).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_REDIRECT_URI {
        return Err(format!("a redirect URI is at most {MAX_REDIRECT_URI} characters"));
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))?;
    if parsed.fragment().is_some() {
        return Err(format!("{uri:?} must not have a fragment"));
    }
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!("{uri:?}: plain http is allowed only on a loopback host")),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(format!("{uri:?}: use https, http on a loopback host, or a private-use scheme like com.example.app")),
    }
}

fn validate(body: &CreateClient) -> Result<(), ApiError> {
    let invalid = |detail: String| Err(ApiError::new(Problem::InvalidRequest, detail));
    if body.name.trim().is_empty() || body.name.chars().count() > MAX_NAME {
        return invalid(format!("name must be 1 to {MAX_NAME} characters"));
    }
    if let Some(scope) = body.scopes.iter().find(|s| !is_scope_token(s)) {
        return invalid(format!("{scope:?} is not a valid scope (RFC 6749 §3.3 scope-token)"));
    }
    if body.scopes.len() > MAX_LIST || body.audience.len() > MAX_LIST {
        return invalid(format!("at most {MAX_LIST} scopes and {MAX_LIST} audiences"));
    }
    if body.redirect_uris.len() > MAX_REDIRECT_URIS {
        return invalid(format!("at most {MAX_REDIRECT_URIS} redirect URIs"));
    }
    for uri in &body.redirect_uris {
        check_redirect_uri(uri).map_err(|e| ApiError::new(Problem::InvalidRequest, e))?;
    }
    if body.public && body.jwks.is_some() {
        return invalid("a public client has no credentials: it registers no jwks".into());
    }
    if let Some(jwks) = &body.jwks {
        check_client_jwks(jwks).map_err(|e| ApiError::new(Problem::InvalidRequest, format!("jwks: {e}")))?;
    }
    if body.audience.iter().any(|a| a.trim().is_empty()) {
        return invalid("audience entries must not be empty".into());
    }
    let attributes_size = serde_json::to_vec(&body.attributes).map(|v| v.len()).unwrap_or(usize::MAX);
    if attributes_size > MAX_ATTRIBUTES_BYTES {
        return invalid(format!("attributes must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"));
    }
    Ok(())
}

/// Registers a client of the tenant, ENABLED, with its `client.created` event (from
/// `origin`) in the same transaction; its secret comes back once (none for a public client).
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    origin: &'static str,
    body: CreateClient,
) -> Result<CreatedClient, ApiError> {
    validate(&body)?;
    let entropy = state.entropy.as_ref();
    let client_secret = secrets::new_client_secret(entropy)?;
    let now = state.clock.now();
    let client = Client {
        tenant_id: tenant.id.clone(),
        client_id: random_id(entropy, "cl", 12)?,
        name: body.name,
        attributes: body.attributes,
        scopes: body.scopes,
        audience: body.audience,
        state: ResourceState::Enabled,
        created_at: now,
        secret_created_at: now,
        secret_sha256: secrets::digest(&client_secret),
        previous_secret_sha256: None,
        jwks: body.jwks,
        redirect_uris: body.redirect_uris,
        public: body.public,
    };
    let detail = json!({
        "client_id": client.client_id,
        "name": client.name,
        "scopes": client.scopes,
        "public": client.public,
        "redirect_uris": client.redirect_uris,
    });
    let event = super::prepare_event(state, tenant, "resource-change", "client.created", origin, None, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_client(&client, event, now).await?;
    // A public client's random secret is stored (the column is never empty) but never shown,
    // and no authentication method accepts it.
    let client_secret = (!client.public).then_some(client_secret);
    Ok(CreatedClient { client, client_secret })
}

/// Changes the tenant's client as `by` may ([`super::Changer`]); an unchanged client is
/// written nowhere and reports no event.
pub async fn change(
    state: &AppState,
    tenant: &Tenant,
    by: super::Changer,
    client_id: &str,
    body: ChangeClient,
) -> Result<Client, ApiError> {
    let before = state.db.client(&tenant.id, client_id).await?.ok_or_else(|| ApiError::not_found("client"))?;
    let mut client = before.clone();
    let check = CreateClient {
        name: body.name.unwrap_or_else(|| client.name.clone()),
        attributes: body.attributes.unwrap_or_else(|| client.attributes.clone()),
        scopes: body.scopes.unwrap_or_else(|| client.scopes.clone()),
        audience: body.audience.unwrap_or_else(|| client.audience.clone()),
        jwks: body.jwks.unwrap_or_else(|| client.jwks.clone()),
        redirect_uris: body.redirect_uris.unwrap_or_else(|| client.redirect_uris.clone()),
        public: client.public,
    };
    validate(&check)?;
    (client.name, client.attributes, client.scopes, client.audience, client.jwks, client.redirect_uris) =
        (check.name, check.attributes, check.scopes, check.audience, check.jwks, check.redirect_uris);
    if let Some(requested) = body.state {
        client.state = super::next_state("client", before.state, requested, by)?;
    }
    let (old, new) = (before.changeable(), client.changeable());
    if old == new {
        return Ok(before);
    }
    let mut detail = changes(&old, &new);
    detail["client_id"] = json!(client.client_id);
    let event =
        super::prepare_event(state, tenant, "resource-change", "client.updated", by.origin, None, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    if !state.db.update_client(&client, event, state.clock.now()).await? {
        return Err(ApiError::not_found("client"));
    }
    Ok(client)
}

/// A new current secret for the tenant's client, returned once; the current one becomes
/// the previous (an older previous one stops working). A public client has none.
pub async fn rotate_secret(
    state: &AppState,
    tenant: &Tenant,
    by: super::Changer,
    client_id: &str,
) -> Result<String, ApiError> {
    let client = state.db.client(&tenant.id, client_id).await?.ok_or_else(|| ApiError::not_found("client"))?;
    if client.public {
        return Err(ApiError::new(Problem::Conflict, "a public client has no secret"));
    }
    let client_secret = secrets::new_client_secret(state.entropy.as_ref())?;
    let detail = json!({"client_id": client_id});
    let event =
        super::prepare_event(state, tenant, "resource-change", "client.secret_rotated", by.origin, None, detail)
            .await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    let now = state.clock.now();
    if !state.db.rotate_client_secret(&tenant.id, client_id, &secrets::digest(&client_secret), now, event).await? {
        return Err(ApiError::not_found("client"));
    }
    Ok(client_secret)
}
