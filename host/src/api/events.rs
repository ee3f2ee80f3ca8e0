//! `/admin/v1/tenants/{tenant}/events`: the tenant's latest 100 events, newest first, each
//! with the state of its deliveries to `events` bindings.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::auth::Caller;
use super::pages::{Page, PageQuery};
use crate::AppState;
use crate::extensions::events::Event;
use crate::storage::DeliveryRow;
use crate::web::ApiError;

const LATEST: u32 = 100;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    #[serde(flatten)]
    event: Event,
    deliveries: Vec<DeliveryRow>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/tenants/{tenant}/events",
    operation_id = "events_list",
    tag = "events",
    params(PageQuery),
    responses((status = 200, description = "OK", body = [EventView]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Page<EventView>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    let events = state.db.list_events(&tenant.id, LATEST).await?;
    let mut deliveries = state.db.latest_event_deliveries(&tenant.id, LATEST).await?;
    let views = events
        .into_iter()
        .map(|event| EventView { deliveries: deliveries.remove(&event.id).unwrap_or_default(), event })
        .collect();
    Page::of(views, &query, |view: &EventView| view.event.id.clone())
}
