//! A tenant's event log, below HTTP: the latest events a filter keeps (category, action,
//! result, origin, account), newest first, each with the state of its deliveries to
//! `events` bindings — what the admin API's `GET …/events` and the console's Events
//! screen show.

use serde::Serialize;

use crate::AppState;
use crate::extensions::events::{Event, EventResult};
use crate::storage::{DeliveryRow, EventFilter};
use crate::tenancy::Tenant;
use crate::web::{ApiError, Problem};

/// Events a list shows at most.
pub const LATEST: u32 = 100;
/// The longest value a filter field takes.
const MAX_FILTER: usize = 100;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    #[serde(flatten)]
    pub event: Event,
    pub deliveries: Vec<DeliveryRow>,
}

/// What a filter was asked for, as typed (empty values filter nothing).
#[derive(Debug, Default)]
pub struct AskedFilter<'a> {
    pub category: Option<&'a str>,
    pub action: Option<&'a str>,
    pub result: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub account_id: Option<&'a str>,
}

/// The filter `asked` names; a result no event has, or a value longer than 100
/// characters, is refused.
pub fn filter(asked: &AskedFilter<'_>) -> Result<EventFilter, ApiError> {
    let given = |name: &str, value: Option<&str>| -> Result<Option<String>, ApiError> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) if v.chars().count() > MAX_FILTER => {
                Err(ApiError::new(Problem::InvalidRequest, format!("{name} is longer than {MAX_FILTER} characters")))
            }
            v => Ok(v.map(str::to_owned)),
        }
    };
    let result = match given("result", asked.result)?.as_deref() {
        None => None,
        Some("success") => Some(EventResult::Success),
        Some("failed") => Some(EventResult::Failed),
        Some("pending") => Some(EventResult::Pending),
        Some(other) => {
            return Err(ApiError::new(
                Problem::InvalidRequest,
                format!("result {other:?} is not success, failed or pending"),
            ));
        }
    };
    Ok(EventFilter {
        category: given("category", asked.category)?,
        action: given("action", asked.action)?,
        result,
        origin: given("origin", asked.origin)?,
        account_id: given("account_id", asked.account_id)?,
    })
}

/// The tenant's latest [`LATEST`] events `filter` keeps, newest first, with their deliveries.
pub async fn latest(state: &AppState, tenant: &Tenant, filter: &EventFilter) -> Result<Vec<EventView>, ApiError> {
    let events = state.db.list_events(&tenant.id, filter, LATEST).await?;
    let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let mut deliveries = state.db.event_deliveries(&tenant.id, &ids).await?;
    Ok(events
        .into_iter()
        .map(|event| EventView { deliveries: deliveries.remove(&event.id).unwrap_or_default(), event })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_takes_what_was_typed_and_refuses_what_no_event_has() {
        let asked =
            AskedFilter { category: Some(" login "), result: Some("failed"), origin: Some(""), ..Default::default() };
        let filter = filter(&asked).unwrap_or_default();
        assert_eq!(filter.category.as_deref(), Some("login"));
        assert_eq!(filter.result, Some(EventResult::Failed));
        assert_eq!(filter.origin, None, "an empty field filters nothing");
        assert!(super::filter(&AskedFilter { result: Some("ok"), ..Default::default() }).is_err());
        let long = "x".repeat(101);
        assert!(super::filter(&AskedFilter { action: Some(&long), ..Default::default() }).is_err());
    }
}
