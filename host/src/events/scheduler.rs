//! The scheduler: runs each `scheduled` binding's extension at the due times of its cron
//! expression (seconds field first, e.g. `0 0 3 * * *` for 03:00 UTC daily). Each pass takes
//! every binding whose next due time has come; times missed while no node ran are
//! coalesced into one run for the latest of them. A compare-and-set on the binding's last
//! run makes exactly one node run each due time, however many share the database.

use std::str::FromStr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::extensions::{ExtensionRuntime, Hook};
use crate::storage::{ActiveBinding, StorageError};

/// How often the scheduler looks for due runs.
pub const TICK: Duration = Duration::from_secs(1);
/// Due times examined per binding and pass (bounds the work after a long downtime).
const MAX_CATCH_UP: usize = 10_000;

/// Parses a cron expression (with a seconds field), or says why it is not one.
pub fn parse_schedule(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression).map_err(|e| {
        format!("{expression:?} is not a cron expression with a seconds field (e.g. \"0 0 3 * * *\"): {e}")
    })
}

/// The latest due time of `schedule` after `since` and no later than `now`.
pub fn latest_due(schedule: &cron::Schedule, since: i64, now: i64) -> Option<i64> {
    let since = DateTime::<Utc>::from_timestamp(since, 0)?;
    schedule.after(&since).take(MAX_CATCH_UP).map(|t| t.timestamp()).take_while(|t| *t <= now).last()
}

/// One scheduled run that a pass made.
#[derive(Debug)]
pub struct ScheduledRun {
    pub tenant_id: String,
    pub binding_id: String,
    pub due: i64,
    pub result: Result<(), String>,
}

impl ExtensionRuntime {
    /// Runs every scheduled binding that is due now; returns what ran.
    pub async fn run_due_schedules(self: &Arc<Self>) -> Result<Vec<ScheduledRun>, StorageError> {
        let now = self.clock.now();
        let mut ran = Vec::new();
        for (tenant_id, bound) in self.db.all_active_bindings(Hook::Scheduled.name()).await? {
            if let Some(run) = self.run_if_due(&tenant_id, &bound, now).await? {
                ran.push(run);
            }
        }
        Ok(ran)
    }

    async fn run_if_due(
        self: &Arc<Self>,
        tenant_id: &str,
        bound: &ActiveBinding,
        now: i64,
    ) -> Result<Option<ScheduledRun>, StorageError> {
        let binding = &bound.binding;
        let Some(expression) = &binding.schedule else { return Ok(None) };
        let Ok(schedule) = parse_schedule(expression) else { return Ok(None) };
        let since = binding.last_run_at.unwrap_or(binding.created_at);
        let Some(due) = latest_due(&schedule, since, now) else { return Ok(None) };
        if !self.db.claim_scheduled_run(tenant_id, &binding.id, binding.last_run_at, due).await? {
            return Ok(None);
        }
        let Some(tenant) = self.db.tenant_by_id(tenant_id).await? else { return Ok(None) };
        let run_id = format!("run_{}_{due}", binding.id);
        let target =
            self.target(&tenant, &binding.extension, &bound.deployment_id, bound.version, Hook::Scheduled, false).await;
        let result = match (tenant.effective_state().is_usable(), target) {
            (false, _) => Err("the tenant is not enabled".to_owned()),
            (true, Err(e)) => Err(e.to_string()),
            (true, Ok(target)) => match self.run_scheduled(&target, &run_id, expression, due).await.result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(reason),
                Err(e) => Err(e.to_string()),
            },
        };
        Ok(Some(ScheduledRun { tenant_id: tenant_id.to_owned(), binding_id: binding.id.clone(), due, result }))
    }
}

/// Runs due schedules every [`TICK`] until the runtime is dropped or the node stops.
pub fn spawn(runtime: Weak<ExtensionRuntime>, drain: Arc<crate::drain::Drain>) {
    tokio::spawn(async move {
        while drain.sleep(TICK).await {
            let Some(runtime) = runtime.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
            if let Err(e) = runtime.run_due_schedules().await {
                tracing::warn!("scheduler pass failed: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn due_times_are_coalesced_to_the_latest() {
        let hourly = parse_schedule("0 0 * * * *").unwrap();
        let start = 1_700_000_000 - 1_700_000_000 % 3600; // on the hour
        assert_eq!(latest_due(&hourly, start, start + 10), None);
        assert_eq!(latest_due(&hourly, start, start + 3600), Some(start + 3600));
        assert_eq!(latest_due(&hourly, start, start + 5 * 3600 + 59), Some(start + 5 * 3600));
        assert!(parse_schedule("every day").is_err());
    }
}
