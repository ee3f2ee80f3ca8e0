//! `/admin/v1/tenants/{tenant}/events`: the tenant's latest 100 events a filter keeps
//! (`?category=&action=&result=&origin=&account_id=`), newest first, each with the state of
//! its deliveries to `events` bindings (`ops::events`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::ops::events::{AskedFilter, EventView};
use crate::web::ApiError;

/// `?after=&limit=` (as every list) and the filter; each value given must match exactly.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// The cursor of the previous page's last item, as its `Link: rel="next"` named it.
    after: Option<String>,
    /// Items per page: 1 to 1,000 (100 by default).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The event's type, e.g. `authentication` or `resource-change`.
    category: Option<String>,
    /// e.g. `login.succeeded` or `account.created`.
    action: Option<String>,
    /// `success`, `failed` or `pending`.
    result: Option<String>,
    /// Where the change came from: `admin-api`, `console`, `login`, …
    origin: Option<String>,
    /// The account the event concerns.
    account_id: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/events",
    operation_id = "events_list",
    tag = "events",
    params(EventsQuery),
    responses((status = 200, description = "OK", body = [EventView]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Page<EventView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let filter = crate::ops::events::filter(&AskedFilter {
        category: query.category.as_deref(),
        action: query.action.as_deref(),
        result: query.result.as_deref(),
        origin: query.origin.as_deref(),
        account_id: query.account_id.as_deref(),
    })?;
    let views = crate::ops::events::latest(&state, &tenant, &filter).await?;
    let page = PageQuery { after: query.after, limit: query.limit };
    Page::of(views, &page, |view: &EventView| view.event.id.clone())
}
