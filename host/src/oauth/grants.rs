//! The token endpoint's grants for people: `authorization_code` (the code of
//! [`super::authorize`], once, within a minute, by the client it was issued to, with the
//! same redirect URI and the PKCE verifier of its challenge) and `refresh_token` (single
//! use: each use returns the next token of the same family; a spent token presented again
//! revokes the whole family — RFC 9700 §4.14.2). Both issue an RFC 9068 access token, an
//! OpenID Connect ID token when `openid` was granted (`nonce`, `auth_time`, `amr`, `acr`,
//! `at_hash`, `sid`, `azp`) and the next refresh token, after the tenant's token-issuance
//! extensions, exactly as machine tokens are. The account, the client and the tenant must
//! all still be usable, and the account must have accepted the current legal documents.

use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::OAuthError;
use super::authorize::OFFLINE_ACCESS;
use super::client_auth::{PublicClients, authenticate_client};
use super::token::{Params, emit_token_issued, granted_scopes, internal, run_extensions, signing_key, token_response};
use crate::AppState;
use crate::clock::random_id;
use crate::extensions::token_issuance::{Subject, TokenRequest};
use crate::jwt::claims::merge;
use crate::ops::codes;
use crate::secrets;
use crate::storage::{Grant, Redeemed, Spent};
use crate::tenancy::{Client, FactorKind, Tenant};

/// Refresh tokens start with this, so a leaked one is recognisable.
pub const REFRESH_PREFIX: &str = "khr_";

/// RFC 8176 method references of the factors passed, with `mfa` when there were several
/// kinds.
pub fn amr(factors: &[FactorKind]) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Vec::new();
    for kind in factors {
        let method = match kind {
            FactorKind::Password => "pwd",
            FactorKind::Otp | FactorKind::Totp => "otp",
        };
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    if methods.len() > 1 {
        methods.push("mfa");
    }
    methods
}

/// The authentication context class: `urn:keyhaven:aal2` after factors of two kinds of
/// method (a password and a code), `urn:keyhaven:aal1` otherwise.
pub fn acr(factors: &[FactorKind]) -> &'static str {
    if amr(factors).contains(&"mfa") { "urn:keyhaven:aal2" } else { "urn:keyhaven:aal1" }
}

/// `grant_type=authorization_code`.
pub async fn authorization_code(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, OAuthError> {
    let (client, _) = authenticate_client(state, tenant, headers, params, PublicClients::Allowed).await?;
    let code = params.get("code")?.ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let presented = codes::Presented {
        code,
        client_id: &client.client_id,
        redirect_uri: params.get("redirect_uri")?,
        verifier: params.get("code_verifier")?,
    };
    let (code, digest) = codes::check(state, tenant, &presented).await.map_err(|e| match e {
        codes::CodeError::Storage(e) => internal(e),
        refused => OAuthError::invalid_grant(refused.to_string()),
    })?;
    let scopes = code.grant.scopes.clone();
    let spent = Redeemed::Code(&digest);
    issue(state, tenant, &client, code.grant, scopes, code.nonce, spent).await
}

/// `grant_type=refresh_token`.
pub async fn refresh(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Response, OAuthError> {
    let (client, _) = authenticate_client(state, tenant, headers, params, PublicClients::Allowed).await?;
    let token = params.get("refresh_token")?.ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let digest = secrets::digest(token);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid");
    // Another client's token is refused before it is spent, so it stays its owner's.
    let stored = state.db.refresh_token(&tenant.id, &digest).await.map_err(internal)?.ok_or_else(invalid)?;
    if stored.grant.client_id != client.client_id {
        return Err(invalid());
    }
    let now = state.clock.now();
    if stored.used_at.is_some() {
        codes::replayed(state, tenant, &stored.grant, REUSE, "a spent refresh token was presented again")
            .await
            .map_err(internal)?;
        return Err(reuse());
    }
    if stored.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token has been revoked"));
    }
    if stored.expires_at <= now {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    // A refresh may narrow the scopes, never widen them (RFC 6749 §6).
    let scopes = granted_scopes(&stored.grant.scopes, params.get("scope")?)?;
    issue(state, tenant, &client, stored.grant, scopes, None, Redeemed::RefreshToken(&digest)).await
}

const REUSE: &str = "token.reuse_detected";

fn reuse() -> OAuthError {
    OAuthError::invalid_grant("the refresh token has been used already; every token of its family is revoked")
}

/// Issues the access token, the ID token (with `openid`) and the next refresh token of
/// the grant's family, for `scopes` (the grant's, or fewer).
async fn issue(
    state: &AppState,
    tenant: &Tenant,
    client: &Client,
    grant: Grant,
    mut scopes: Vec<String>,
    nonce: Option<String>,
    spent: Redeemed<'_>,
) -> Result<Response, OAuthError> {
    let grant_type = match spent {
        Redeemed::Code(_) => "authorization_code",
        Redeemed::RefreshToken(_) => "refresh_token",
    };
    let account = state.db.account(&tenant.id, &grant.account_id).await.map_err(internal)?;
    let account = account
        .filter(|a| a.state.under(tenant.effective_state()).is_usable())
        .ok_or_else(|| OAuthError::invalid_grant("the account can no longer sign in"))?;
    let documents = state.db.legal_documents(&tenant.id).await.map_err(internal)?;
    if !documents.is_empty() {
        let consents = state.db.consents_of(&tenant.id, &account.id).await.map_err(internal)?;
        let now = state.clock.now();
        if !crate::tenancy::controls::legal_due(&documents, &consents, now).is_empty() {
            return Err(OAuthError::invalid_grant("the account must accept the current terms: sign in again"));
        }
    }
    if let Redeemed::RefreshToken(_) = spent {
        still_allowed(state, tenant, &account.id, &client.client_id, &scopes).await?;
    }
    let now = state.clock.now();
    // Every token of the grant names the issuer the person signed in at.
    let issuer = grant.issuer.clone();
    let audience = if client.audience.is_empty() { vec![issuer.clone()] } else { client.audience.clone() };
    let settings = &tenant.settings;
    let entropy = state.entropy.as_ref();

    let request = TokenRequest {
        subject: Subject::Account {
            account_id: account.id.clone(),
            username: account.username.clone(),
            attributes: Value::Object(account.attributes.clone()),
        },
        grant_type: grant_type.into(),
        scopes: scopes.clone(),
        audience: audience.clone(),
    };
    let extra = run_extensions(state, tenant, &client.client_id, &request).await?;
    // An extension may suppress scopes, or add back only scopes of the person's grant.
    extra.apply_scopes(&mut scopes, &grant.scopes).map_err(OAuthError::server_error)?;

    let mut access = Map::new();
    access.insert("iss".into(), json!(issuer));
    access.insert("sub".into(), json!(account.id));
    access.insert("aud".into(), if audience.len() == 1 { json!(audience[0]) } else { json!(audience) });
    access.insert("exp".into(), json!(now + settings.human_access_token_seconds));
    access.insert("iat".into(), json!(now));
    access.insert("jti".into(), json!(random_id(entropy, "at", 16).map_err(internal)?));
    access.insert("client_id".into(), json!(client.client_id));
    access.insert("tenant".into(), json!(tenant.id));
    access.insert("auth_time".into(), json!(grant.auth_time));
    access.insert("acr".into(), json!(acr(&grant.factors)));
    merge(&mut access, extra.access_token).map_err(|e| OAuthError::server_error(e.to_string()))?;
    access.insert("scope".into(), json!(scopes.join(" ")));
    let key = signing_key(state, &tenant.id).await?;
    let access_token = key.sign_jwt("at+jwt", &access).map_err(internal)?;

    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.human_access_token_seconds,
        "scope": scopes.join(" "),
    });
    if scopes.iter().any(|s| s == "openid") {
        let mut id = Map::new();
        id.insert("iss".into(), json!(issuer));
        id.insert("sub".into(), json!(account.id));
        id.insert("aud".into(), json!(client.client_id));
        id.insert("exp".into(), json!(now + settings.id_token_seconds));
        id.insert("iat".into(), json!(now));
        id.insert("auth_time".into(), json!(grant.auth_time));
        if let Some(nonce) = nonce {
            id.insert("nonce".into(), json!(nonce));
        }
        id.insert("amr".into(), json!(amr(&grant.factors)));
        id.insert("acr".into(), json!(acr(&grant.factors)));
        id.insert("azp".into(), json!(client.client_id));
        id.insert("sid".into(), json!(grant.session_id));
        id.insert("at_hash".into(), json!(key.token_hash(&access_token)));
        merge(&mut id, extra.id_token).map_err(|e| OAuthError::server_error(e.to_string()))?;
        body["id_token"] = json!(key.sign_jwt("JWT", &id).map_err(internal)?);
    }
    let refresh_token = format!("{REFRESH_PREFIX}{}", secrets::new_client_secret(entropy).map_err(internal)?);
    let expires_at = now + settings.refresh_token_idle_seconds;
    // Spend what was presented and store the next refresh token together, only now that
    // every check passed and the tokens exist: a failure before this leaves it unspent.
    let next = secrets::digest(&refresh_token);
    match state.db.redeem(&tenant.id, spent, &next, &grant, now, expires_at).await.map_err(internal)? {
        Spent::Now(()) => {}
        Spent::Replayed(()) => {
            return Err(match spent {
                Redeemed::Code(_) => OAuthError::invalid_grant("the code has been used already"),
                Redeemed::RefreshToken(_) => {
                    codes::record_replay(state, tenant, REUSE, &grant, "a refresh token was presented twice at once")
                        .await;
                    reuse()
                }
            });
        }
    }
    body["refresh_token"] = json!(refresh_token);
    state.usage.active(&tenant.id, &account.id, now);
    let issued: Vec<String> = scopes.into_iter().filter(|s| s != OFFLINE_ACCESS).collect();
    emit_token_issued(state, tenant.clone(), &client.client_id, Some(&account.id), grant_type, &issued);
    Ok(token_response(body))
}

/// On refresh: the scopes still need no consent the account has withdrawn, and no
/// permission it has lost since it signed in.
async fn still_allowed(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    client_id: &str,
    scopes: &[String],
) -> Result<(), OAuthError> {
    let catalogue = state.db.scopes(&tenant.id).await.map_err(internal)?;
    let permissions = state.db.permissions_of(&tenant.id, account_id).await.map_err(internal)?;
    let access = crate::tenancy::controls::scopes_for_score(&catalogue, i64::MAX, &permissions);
    if scopes.iter().any(|s| access.needs_permission.contains(s)) {
        return Err(OAuthError::invalid_grant("the account no longer holds a permission these scopes need"));
    }
    if catalogue.iter().any(|s| s.consent_required && scopes.contains(&s.value)) {
        let consents = state.db.consents_of(&tenant.id, account_id).await.map_err(internal)?;
        let now = state.clock.now();
        if !crate::tenancy::controls::consent_needed(&catalogue, &consents, client_id, scopes, now).is_empty() {
            return Err(OAuthError::invalid_grant("the consent to these scopes has been withdrawn: sign in again"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_assurance_follow_the_factors_passed() {
        assert_eq!(amr(&[FactorKind::Password]), ["pwd"]);
        assert_eq!(acr(&[FactorKind::Password]), "urn:keyhaven:aal1");
        assert_eq!(amr(&[FactorKind::Password, FactorKind::Totp]), ["pwd", "otp", "mfa"]);
        assert_eq!(acr(&[FactorKind::Password, FactorKind::Totp]), "urn:keyhaven:aal2");
        assert_eq!(amr(&[FactorKind::Otp, FactorKind::Totp]), ["otp"]);
        assert_eq!(acr(&[FactorKind::Otp]), "urn:keyhaven:aal1");
    }
}
