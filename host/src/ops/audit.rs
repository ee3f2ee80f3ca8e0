//! The audit log, below HTTP: one entry for each call a surface records — who (the token,
//! session or account, and its role), what (the method and route), on which path and
//! tenant, with which status — and a successful call on a tenant counted as one of its
//! monthly API calls. The admin API records every call, the console every form post.

use crate::AppState;
use crate::clock::sortable_id;
use crate::storage::AuditEntry;

/// A call to record.
#[derive(Debug)]
pub struct Call<'a> {
    /// The tenant it acted on, if any.
    pub tenant_id: Option<String>,
    /// The token's or account's id, or `anonymous`.
    pub actor: String,
    /// `operator`, `tenant-admin`, `tenant-viewer` or `anonymous`.
    pub role: &'a str,
    /// The method and route, e.g. `POST /console/{tenant}/tokens`.
    pub action: String,
    /// The path called.
    pub target: String,
    pub status: u16,
}

/// Writes the call's audit entry (a failure to write is logged, not returned: the call
/// has happened) and counts it toward the tenant's usage when it succeeded.
pub async fn record(state: &AppState, call: Call<'_>) {
    let succeeded = (200..400).contains(&call.status);
    if succeeded && let Some(tenant_id) = &call.tenant_id {
        state.count_api_call(tenant_id);
    }
    let time = state.clock.now();
    let Ok(id) = sortable_id(state.entropy.as_ref(), "aud", time, 8) else { return };
    let entry = AuditEntry {
        id,
        on_behalf: crate::storage::audit_on_behalf(call.role, call.tenant_id.as_deref()),
        tenant_id: call.tenant_id,
        time,
        actor: call.actor,
        role: call.role.to_owned(),
        action: call.action,
        target: call.target,
        status: i64::from(call.status),
        result: if succeeded { "success" } else { "failed" }.to_owned(),
    };
    if let Err(e) = state.db.insert_audit(&entry).await {
        tracing::error!(action = %entry.action, target = %entry.target, "cannot write the audit entry: {e}");
    }
}
