//! The Events and Audit log screens: the tenant's latest 100 events a filter keeps, with
//! their deliveries (`ops::events`), and its audit log searched and paged
//! (`ops::audit`), the same lists as the admin API's. A filter no event or entry can match
//! (an unknown result or role, a value too long) is shown again with why, with 400.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Failure, STYLESHEET_PATH, page, pages, refused, signed_in_page, under};
use crate::AppState;
use crate::ops::events::AskedFilter;

/// Audit entries per page.
const AUDIT_PAGE: u32 = 50;

/// The Events screen's filter, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct EventsQuery {
    #[serde(default)]
    category: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    account_id: String,
}

pub(super) async fn events(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let asked = AskedFilter {
        category: Some(&query.category),
        action: Some(&query.action),
        result: Some(&query.result),
        origin: Some(&query.origin),
        account_id: Some(&query.account_id),
    };
    let (status, views, message) = match crate::ops::events::filter(&asked) {
        Ok(filter) => {
            let views = crate::ops::events::latest(&state, &tenant, &filter).await.map_err(under(&tenant))?;
            (StatusCode::OK, views, None)
        }
        Err(e) if refused(&e) => (e.kind.status(), Vec::new(), Some(e.detail)),
        Err(e) => return Err(under(&tenant)(e)),
    };
    let filter = pages::EventsFilter {
        category: &query.category,
        action: &query.action,
        result: &query.result,
        origin: &query.origin,
        account_id: &query.account_id,
    };
    let html = pages::events(&STYLESHEET_PATH, &tenant, &admin.signed(), &views, &filter, message.as_deref());
    Ok(page(status, html))
}

/// The Audit log screen's search, as typed, and the page asked for.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    role: String,
    after: Option<String>,
}

pub(super) async fn audit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, Failure> {
    let (tenant, admin) = signed_in_page(&state, &name, &headers).await?;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let found = async {
        let search = crate::ops::audit::search(Some(&query.q), Some(&query.result), Some(&query.role))?;
        crate::ops::audit::entries(&state, Some(&tenant.id), &search, query.after.as_deref(), AUDIT_PAGE).await
    }
    .await;
    let (status, mut entries, message) = match found {
        Ok(entries) => (StatusCode::OK, entries, None),
        Err(e) if refused(&e) => (e.kind.status(), Vec::new(), Some(e.detail)),
        Err(e) => return Err(under(&tenant)(e)),
    };
    let more = entries.len() > AUDIT_PAGE as usize;
    entries.truncate(AUDIT_PAGE as usize);
    let next = if more { entries.last().map(crate::ops::audit::cursor) } else { None };
    let search = pages::AuditFilter {
        text: &query.q,
        result: &query.result,
        role: &query.role,
        next: next.as_deref(),
        paged: query.after.is_some(),
    };
    let html = pages::audit(&STYLESHEET_PATH, &tenant, &admin.signed(), &entries, &search, message.as_deref());
    Ok(page(status, html))
}
