//! The tenant's controls, below HTTP: its scope catalogue (the tenant's own scopes added,
//! each with the score it needs, and removed; built-ins stay) and its legal documents
//! (created at version 1; each new version a URL or a text, which makes acceptance due
//! again for every account) and the revocation of an account's consent, each change
//! written with its event from the surface's origin. The admin API and the console call these.

use serde_json::json;

use crate::AppState;
use crate::clock::sortable_id;
use crate::extensions::token_issuance::is_scope_token;
use crate::tenancy::{LegalDocument, ResourceState, Scope, Tenant};
use crate::web::{ApiError, Problem};

/// The longest text a legal document's version holds.
pub const MAX_TEXT: usize = 64 << 10;

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(Problem::InvalidRequest, detail)
}

/// A document's version is a URL or a text, not both, and bounded.
pub fn check_version(url: &Option<String>, text: &Option<String>) -> Result<(), ApiError> {
    match (url, text) {
        (Some(url), None) if (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 => Ok(()),
        (None, Some(text)) if !text.trim().is_empty() && text.len() <= MAX_TEXT => Ok(()),
        _ => Err(invalid(format!(
            "a version is either a url (http(s), at most 2048 bytes) or a text (at most {MAX_TEXT} bytes)"
        ))),
    }
}

async fn legal_event(
    state: &AppState,
    tenant: &Tenant,
    origin: &'static str,
    detail: serde_json::Value,
) -> Result<super::PreparedEvent, ApiError> {
    super::prepare_event(state, tenant, "authorization", "legal.published", origin, None, detail).await
}

/// A new legal document at version 1.
pub async fn create_document(
    state: &AppState,
    tenant: &Tenant,
    label: String,
    url: Option<String>,
    text: Option<String>,
    origin: &'static str,
) -> Result<LegalDocument, ApiError> {
    super::tenants::check_label(&label)?;
    check_version(&url, &text)?;
    let now = state.clock.now();
    let doc = LegalDocument {
        id: sortable_id(state.entropy.as_ref(), "legal", now, 8)?,
        label,
        version: 1,
        url,
        text,
        state: ResourceState::Enabled,
        created_at: now,
        updated_at: now,
    };
    let event = legal_event(state, tenant, origin, json!({"document_id": doc.id, "version": 1})).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_legal_document(&tenant.id, &doc, event).await?;
    Ok(doc)
}

/// Publishes the next version of legal document `id`.
pub async fn publish_version(
    state: &AppState,
    tenant: &Tenant,
    id: &str,
    url: Option<String>,
    text: Option<String>,
    origin: &'static str,
) -> Result<LegalDocument, ApiError> {
    check_version(&url, &text)?;
    let current =
        state.db.legal_document(&tenant.id, id).await?.ok_or_else(|| ApiError::not_found("legal document"))?;
    let detail = json!({"document_id": id, "version": current.version + 1});
    let event = legal_event(state, tenant, origin, detail).await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    let now = state.clock.now();
    let doc = state.db.publish_legal_version(&tenant.id, id, url.as_deref(), text.as_deref(), now, event).await?;
    doc.ok_or_else(|| ApiError::not_found("legal document"))
}

/// Adds one of the tenant's own scopes: a scope-token (RFC 6749 §3.3) that is not built in,
/// with a label and a required score of 0 to 20.
pub async fn create_scope(state: &AppState, tenant: &Tenant, scope: Scope) -> Result<Scope, ApiError> {
    if !is_scope_token(&scope.value) || scope.value.len() > 200 {
        return Err(invalid(format!(
            "{:?} is not a scope (RFC 6749 §3.3 scope-token, at most 200 bytes)",
            scope.value
        )));
    }
    super::tenants::check_label(&scope.label)?;
    if !(0..=20).contains(&scope.required_score) {
        return Err(invalid("required_score must be 0 to 20"));
    }
    if crate::tenancy::controls::builtin_scopes().iter().any(|s| s.value == scope.value) {
        return Err(ApiError::new(Problem::Conflict, format!("{} is a built-in scope", scope.value)));
    }
    let scope = Scope { builtin: false, ..scope };
    state.db.insert_scope(&tenant.id, &scope, state.clock.now()).await?;
    Ok(scope)
}

/// Removes one of the tenant's own scopes (a built-in one stays).
pub async fn delete_scope(state: &AppState, tenant: &Tenant, value: &str) -> Result<(), ApiError> {
    if crate::tenancy::controls::builtin_scopes().iter().any(|s| s.value == value) {
        return Err(ApiError::new(Problem::Conflict, format!("{value} is a built-in scope")));
    }
    match state.db.delete_scope(&tenant.id, value).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("scope")),
    }
}

/// Revokes consent `consent_id` of the tenant's account `account_id` (a scope consent to a
/// client, or the acceptance of a legal document), with its `consent.revoked` event from
/// `origin`; "not found" unless it is in force.
pub async fn revoke_consent(
    state: &AppState,
    tenant: &Tenant,
    account_id: &str,
    consent_id: &str,
    origin: &'static str,
) -> Result<(), ApiError> {
    let detail = json!({"consent_id": consent_id});
    let event =
        super::prepare_event(state, tenant, "authorization", "consent.revoked", origin, Some(account_id), detail)
            .await?;
    let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.revoke_consent(&tenant.id, account_id, consent_id, state.clock.now(), event).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("consent in force")),
    }
}
