//! `/admin/v1/tenants/{tenant}/events`: the tenant's latest 100 events, newest first, each
//! with the state of its deliveries to `events` bindings.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::auth::Caller;
use super::error::ApiError;
use crate::AppState;
use crate::extensions::events::Event;

const LATEST: u32 = 100;

#[derive(Debug, Serialize)]
pub struct Delivery {
    binding_id: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    event: Event,
    deliveries: Vec<Delivery>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let mut views = Vec::new();
    for event in state.db.list_events(&tenant.id, LATEST).await? {
        let deliveries = state
            .db
            .event_deliveries(&tenant.id, &event.id)
            .await?
            .into_iter()
            .map(|(binding_id, state, attempts, last_error)| Delivery { binding_id, state, attempts, last_error })
            .collect();
        views.push(EventView { event, deliveries });
    }
    Ok(Json(views))
}
