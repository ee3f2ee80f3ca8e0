//! The audit log, below HTTP: one entry for each call a surface records — who (the token,
//! session or account, and its role), what (the method and route), on which path and
//! tenant, with which status — and a successful call on a tenant counted as one of its
//! monthly API calls. The admin API records every call, the console every form post.
//! Both list the entries the same way ([`entries`]): newest first, searched, paged by a
//! `time.id` cursor.

use crate::AppState;
use crate::clock::sortable_id;
use crate::storage::{AuditEntry, AuditSearch};
use crate::web::{ApiError, Problem};

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

/// Roles an audit entry names.
pub const ROLES: [&str; 4] = ["operator", "tenant-admin", "tenant-viewer", "anonymous"];
/// Results an audit entry names.
pub const RESULTS: [&str; 2] = ["success", "failed"];
/// The longest search text.
pub const MAX_SEARCH: usize = 100;

/// A search of the audit log from what a surface was asked: empty values search nothing;
/// a result or role no entry can have, or a text longer than [`MAX_SEARCH`], is refused.
pub fn search(text: Option<&str>, result: Option<&str>, role: Option<&str>) -> Result<AuditSearch, ApiError> {
    let given = |value: Option<&str>| value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let (text, result, role) = (given(text), given(result), given(role));
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_SEARCH) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("the search text is longer than {MAX_SEARCH} characters"),
        ));
    }
    if let Some(result) = result.as_deref().filter(|r| !RESULTS.contains(r)) {
        return Err(ApiError::new(Problem::InvalidRequest, format!("result {result:?} is not success or failed")));
    }
    if let Some(role) = role.as_deref().filter(|r| !ROLES.contains(r)) {
        return Err(ApiError::new(
            Problem::InvalidRequest,
            format!("role {role:?} is not one of {}", ROLES.join(", ")),
        ));
    }
    Ok(AuditSearch { text, result, role })
}

/// The audit entries `search` keeps (of one tenant, or with none every tenant's: the
/// operator's view), newest first, after the `time.id` cursor `after`: up to `limit` + 1,
/// the extra one telling that a page follows ([`cursor`] names the page's last).
pub async fn entries(
    state: &AppState,
    tenant_id: Option<&str>,
    search: &AuditSearch,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, ApiError> {
    let after = after.map(parse_time_cursor).transpose()?;
    Ok(state.db.list_audit(tenant_id, search, after, limit.saturating_add(1)).await?)
}

/// Where a list after `entry` starts.
pub fn cursor(entry: &AuditEntry) -> String {
    time_cursor(entry.time, &entry.id)
}

/// A `time.id` cursor (lists newest first) as its parts.
pub fn parse_time_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    cursor
        .split_once('.')
        .and_then(|(time, id)| Some((time.parse().ok()?, id.to_owned())))
        .ok_or_else(|| ApiError::new(Problem::InvalidRequest, "after is not a cursor this API returned"))
}

/// The `time.id` cursor of an item.
pub fn time_cursor(time: i64, id: &str) -> String {
    // Zero-padded, so cursors compare as strings the way (time, id) pairs do.
    format!("{time:020}.{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_cursors_sort_as_times_and_read_back() {
        assert!(time_cursor(9, "b") < time_cursor(10, "a"), "time cursors sort as times");
        assert!(parse_time_cursor(&time_cursor(12, "ab")).is_ok_and(|(t, id)| t == 12 && id == "ab"));
        assert!(parse_time_cursor("nope").is_err());
    }

    #[test]
    fn a_search_takes_what_was_typed_and_refuses_what_no_entry_has() {
        let search = search(Some(" Tokens "), Some("failed"), Some(""));
        let expected = AuditSearch { text: Some("Tokens".into()), result: Some("failed".into()), role: None };
        assert!(search.is_ok_and(|s| s == expected));
        assert!(super::search(None, Some("ok"), None).is_err());
        assert!(super::search(None, None, Some("root")).is_err());
        assert!(super::search(Some(&"x".repeat(101)), None, None).is_err());
    }
}
