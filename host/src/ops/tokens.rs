//! Personal access tokens, below HTTP: a new token for a tenant's administrator or
//! read-only viewer, shown once and stored as its SHA-256 digest, with its `token.created`
//! event in the same transaction. A token made by an administrator's session (the admin
//! API's or the console's) names that administrator and lasts only while they are one.

use serde_json::json;

use crate::AppState;
use crate::clock::sortable_id;
use crate::secrets;
use crate::storage::PatRow;
use crate::tenancy::{ResourceState, Role, Tenant};
use crate::web::{ApiError, Problem};

/// The longest lifetime a token may be given.
pub const MAX_DAYS: i64 = 366;

/// A token to make.
#[derive(Debug)]
pub struct NewToken<'a> {
    /// 1 to 200 characters.
    pub name: String,
    /// `tenant-admin` or `tenant-viewer`.
    pub role: &'a str,
    pub expires_in_days: Option<i64>,
}

/// Who makes it: the id of the token or session that asks, the administrator account it
/// acts for, if any, and the surface it asks through.
#[derive(Debug)]
pub struct Maker<'a> {
    pub by: &'a str,
    pub acting_for: Option<String>,
    /// Where the request came from, as its event says: `admin-api` or `console`.
    pub origin: &'static str,
}

/// Makes a token: the stored row and the token itself (to be shown once).
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    new: NewToken<'_>,
    maker: Maker<'_>,
) -> Result<(PatRow, String), ApiError> {
    let invalid = |detail: &str| ApiError::new(Problem::InvalidRequest, detail);
    if new.name.trim().is_empty() || new.name.chars().count() > 200 {
        return Err(invalid("name must be 1 to 200 characters"));
    }
    let role = match new.role {
        "tenant-admin" => Role::TenantAdmin { tenant_id: tenant.id.clone() },
        "tenant-viewer" => Role::TenantViewer { tenant_id: tenant.id.clone() },
        _ => return Err(invalid("role must be tenant-admin or tenant-viewer")),
    };
    let now = state.clock.now();
    let expires_at = match new.expires_in_days {
        Some(days) if (1..=MAX_DAYS).contains(&days) => Some(now + days * 86_400),
        Some(_) => return Err(invalid("expires_in_days must be 1 to 366")),
        None => None,
    };
    let token = secrets::new_personal_access_token(state.entropy.as_ref())?;
    let pat = PatRow {
        id: sortable_id(state.entropy.as_ref(), "pat", now, 8)?,
        role,
        name: new.name,
        token_sha256: secrets::digest(&token),
        state: ResourceState::Enabled,
        created_at: now,
        expires_at,
        created_by_account: maker.acting_for,
    };
    let detail = json!({"token_id": pat.id, "name": pat.name, "role": pat.role.as_str(), "by": maker.by});
    let created =
        super::prepare_event(state, tenant, "resource-change", "token.created", maker.origin, None, detail).await?;
    let created = created.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    state.db.insert_pat(&pat, created).await?;
    Ok((pat, token))
}

/// Revokes (deletes) the tenant's token `id`, with a `token.revoked` event from `origin`;
/// another tenant's token, or one already gone, is "not found".
pub async fn revoke(state: &AppState, tenant: &Tenant, id: &str, origin: &'static str) -> Result<(), ApiError> {
    let detail = json!({"token_id": id});
    let revoked = super::prepare_event(state, tenant, "resource-change", "token.revoked", origin, None, detail).await?;
    let revoked = revoked.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
    match state.db.delete_pat(&tenant.id, id, revoked, state.clock.now()).await? {
        true => Ok(()),
        false => Err(ApiError::not_found("token")),
    }
}
