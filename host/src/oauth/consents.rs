//! An account's own consents, through its session: `GET /t/{tenant}/session/consents`
//! lists those in force (with `?client_id=…&scope=…`, also which of those scopes still need
//! consent for that client), `POST` consents to scopes for a client — for good or, with
//! `expires_in`, for a while — and `DELETE …/{id}` revokes one. Each change is written with
//! its event. The authorization flow asks the same question before it issues a token.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::clock::sortable_id;
use crate::storage::SessionRow;
use crate::tenancy::controls::consent_needed;
use crate::tenancy::{Account, Consent, Tenant};
use crate::web::{ApiError, Problem};

/// The longest a temporary consent may last: 400 days.
const MAX_EXPIRES_IN: i64 = 400 * 86_400;

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(Problem::InvalidRequest, detail)
}

async fn event(
    state: &AppState,
    tenant: &Tenant,
    action: &'static str,
    account_id: &str,
    detail: serde_json::Value,
) -> Result<crate::ops::PreparedEvent, ApiError> {
    crate::ops::prepare_event(state, tenant, "authorization", action, "login", Some(account_id), detail).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentQuery {
    client_id: Option<String>,
    /// Space-separated scopes.
    scope: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MyConsents {
    consents: Vec<Consent>,
    /// With `client_id` and `scope`: the scopes that still need consent for that client.
    #[serde(skip_serializing_if = "Option::is_none")]
    consent_needed: Option<Vec<String>>,
}

pub async fn list(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Result<Json<MyConsents>, ApiError> {
    let tenant = super::login::usable_tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let (_, account) = super::login::signed_in(&state, &tenant, &headers).await?;
    let now = state.clock.now();
    let consents: Vec<Consent> =
        state.db.consents_of(&tenant.id, &account.id).await?.into_iter().filter(|c| c.in_force(now)).collect();
    let consent_needed = match (query.client_id, query.scope) {
        (Some(client_id), Some(scope)) => {
            let requested: Vec<String> = scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            let catalogue = state.db.scopes(&tenant.id).await?;
            Some(consent_needed(&catalogue, &consents, &client_id, &requested, now))
        }
        (None, None) => None,
        _ => return Err(invalid("client_id and scope go together")),
    };
    Ok(Json(MyConsents { consents, consent_needed }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    client_id: String,
    scopes: Vec<String>,
    /// Seconds until the consent lapses (a temporary consent); without it, until revoked.
    expires_in: Option<i64>,
}

pub async fn grant(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Result<Json<Grant>, JsonRejection>,
) -> Result<(StatusCode, Json<Consent>), ApiError> {
    let tenant = super::login::usable_tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let (session, account) = super::login::signed_in(&state, &tenant, &headers).await?;
    let consent =
        record_consent(&state, &tenant, &session, &account, &body.client_id, body.scopes, body.expires_in).await?;
    Ok((StatusCode::CREATED, Json(consent)))
}

/// Records the account's consent to `requested` scopes for a client (until revoked, or
/// for `expires_in` seconds), with its event.
pub(super) async fn record_consent(
    state: &AppState,
    tenant: &Tenant,
    session: &SessionRow,
    account: &Account,
    client_id: &str,
    requested: Vec<String>,
    expires_in: Option<i64>,
) -> Result<Consent, ApiError> {
    if let Some(seconds) = expires_in.filter(|s| !(60..=MAX_EXPIRES_IN).contains(s)) {
        return Err(invalid(format!("expires_in must be 60 to {MAX_EXPIRES_IN} seconds, not {seconds}")));
    }
    let client = state.db.client(&tenant.id, client_id).await?;
    client.filter(|c| c.state.is_usable()).ok_or_else(|| invalid(format!("there is no client {client_id:?}")))?;
    let catalogue = state.db.scopes(&tenant.id).await?;
    let mut scopes: Vec<String> = Vec::new();
    for scope in requested {
        if !catalogue.iter().any(|s| s.value == scope) {
            return Err(invalid(format!("{scope:?} is not a scope of this tenant")));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() || scopes.len() > 100 {
        return Err(invalid("a consent covers 1 to 100 scopes"));
    }
    let now = state.clock.now();
    let consent = Consent {
        id: sortable_id(state.entropy.as_ref(), "con", now, 8)?,
        account_id: account.id.clone(),
        kind: "scope".into(),
        subject: client_id.to_owned(),
        version: None,
        scopes: Some(scopes),
        granted_at: now,
        expires_at: expires_in.map(|seconds| now + seconds),
        revoked_at: None,
    };
    let detail = json!({
        "consent_id": consent.id, "client_id": consent.subject, "scopes": consent.scopes, "expires_at": consent.expires_at,
    });
    let event = event(state, tenant, "consent.granted", &account.id, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_consent(&tenant.id, &consent, event).await?;
    state.db.touch_session(&tenant.id, &session.id, now).await?;
    state.usage.active(&tenant.id, &account.id, now);
    Ok(consent)
}

pub async fn revoke(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let tenant = super::login::usable_tenant(&state, &tenant).await?;
    let (_, account) = super::login::signed_in(&state, &tenant, &headers).await?;
    crate::ops::controls::revoke_consent(&state, &tenant, &account.id, &id, "login").await?;
    Ok(StatusCode::NO_CONTENT)
}
