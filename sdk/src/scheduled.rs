//! The scheduled hook: runs on its binding's cron schedule, once per due time.
//!
//! ```no_run
//! use keyhaven_sdk::{ScheduledJob, ScheduledRun, json, kv};
//!
//! struct Heartbeat;
//!
//! impl ScheduledJob for Heartbeat {
//!     fn run(run: ScheduledRun) -> Result<(), String> {
//!         kv::set("heartbeat", &json!(run.scheduled_at)).map_err(|e| e.to_string())
//!     }
//! }
//!
//! keyhaven_sdk::export_scheduled!(Heartbeat);
//! ```

use crate::__private::scheduled::exports::keyhaven::extension::scheduled as wit;
use crate::token::Tenant;

/// Work done on a schedule.
pub trait ScheduledJob {
    /// Does the work for one due time; `Err` is recorded with the run.
    fn run(run: ScheduledRun) -> Result<(), String>;
}

/// One run of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledRun {
    pub tenant: Tenant,
    /// Unique per run.
    pub run_id: String,
    /// The binding's cron expression.
    pub schedule: String,
    /// The due time, in seconds since the Unix epoch.
    pub scheduled_at: u64,
}

impl ScheduledRun {
    /// A run of `schedule` for the test tenant, for tests.
    pub fn new(schedule: &str) -> Self {
        ScheduledRun { tenant: Tenant::test(), run_id: "run-test".into(), schedule: schedule.into(), scheduled_at: 0 }
    }
}

/// Runs hook `H`; used by [`crate::export_scheduled!`].
pub fn run_with<H: ScheduledJob>(run: wit::ScheduledRun) -> Result<(), String> {
    H::run(ScheduledRun {
        tenant: Tenant { id: run.tenant.id, name: run.tenant.name },
        run_id: run.run_id,
        schedule: run.schedule,
        scheduled_at: run.scheduled_at,
    })
}
