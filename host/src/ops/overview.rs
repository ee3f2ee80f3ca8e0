//! A tenant at a glance, below HTTP: what the console's dashboard shows — Monthly Active
//! Accounts and Monthly API Calls for this month and the twelve before it, each
//! extension's latest invocations (count, error rate, p50/p99) and the latest events.
//! Pending counts are written first, so the figures include this node's latest.

use crate::AppState;
use crate::extensions::events::Event;
use crate::storage::{InvocationStats, MonthlyUsage};
use crate::tenancy::Tenant;
use crate::web::ApiError;

/// Months of usage shown: this one and the twelve before it.
pub const MONTHS: u32 = 13;
/// Latest events shown.
pub const EVENTS: u32 = 10;
/// Latest invocations each extension's figures are taken over (as the admin API's metrics).
pub const INVOCATIONS: u32 = 1_000;

#[derive(Debug)]
pub struct Overview {
    /// Oldest first; the last is this month.
    pub months: Vec<MonthlyUsage>,
    pub extensions: Vec<InvocationStats>,
    /// Newest first.
    pub events: Vec<Event>,
}

pub async fn overview(state: &AppState, tenant: &Tenant) -> Result<Overview, ApiError> {
    state.usage.flush(&state.db).await?;
    state.extensions.records.flush(&state.db).await?;
    let months = crate::usage::months_until(state.clock.now(), MONTHS);
    let months = state.db.usage_months(&tenant.id, &months).await?;
    let mut extensions = Vec::new();
    for extension in state.db.list_extensions(&tenant.id).await? {
        extensions.push(state.db.invocation_stats(&tenant.id, &extension.name, INVOCATIONS).await?);
    }
    let events = state.db.list_events(&tenant.id, &Default::default(), EVENTS).await?;
    Ok(Overview { months, extensions, events })
}
