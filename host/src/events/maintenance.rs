//! Periodic maintenance, on one node at a time (a database lease): removes ended sessions
//! and expired logins, spent one-time codes, and accounts inactive for longer than their
//! tenant's `account_inactivity_days` (each removal an `account.deleted` event with reason
//! `inactive`, written with it). Runs every minute on every node that runs background
//! jobs; whichever node holds the lease does the work.

use std::sync::Weak;
use std::time::Duration;

use serde_json::{Map, json};

use crate::AppState;
use crate::events::changes;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::storage::StorageError;

/// How often each node tries to run maintenance.
pub const EVERY: Duration = Duration::from_secs(60);
/// The lease a pass takes; longer than a pass, shorter than the period.
const LEASE_SECONDS: i64 = 55;
/// Accounts removed per tenant and pass (the rest in later passes).
const BATCH: u32 = 500;

/// What one maintenance pass removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub sessions: u64,
    pub codes: u64,
    pub accounts: u64,
}

impl AppState {
    /// One maintenance pass, if this node can take the lease; `None` when another node
    /// holds it.
    pub async fn run_maintenance(&self) -> Result<Option<MaintenanceReport>, StorageError> {
        let now = self.clock.now();
        if !self.db.take_lease("maintenance", &self.node_id, now, now + LEASE_SECONDS).await? {
            return Ok(None);
        }
        let mut report = MaintenanceReport { codes: self.db.remove_spent_codes(now).await?, ..Default::default() };
        for tenant in self.db.list_tenants().await? {
            report.sessions += self.db.remove_dead_sessions(&tenant.id, &tenant.settings, now).await?;
            let Some(days) = tenant.settings.account_inactivity_days else { continue };
            for account_id in self.db.inactive_accounts(&tenant.id, now - days * 86_400, BATCH).await? {
                let Some(account) = self.db.account(&tenant.id, &account_id).await? else { continue };
                let mut removed = account.changeable();
                removed.insert("username".into(), json!(account.username));
                let event = NewEvent {
                    category: "resource-change",
                    action: "account.deleted",
                    origin: "maintenance",
                    result: EventResult::Success,
                    reason: Some("inactive".into()),
                    account_id: Some(account.id.clone()),
                    detail: changes(&removed, &Map::new()),
                };
                let event = self.extensions.prepare_event(&tenant, event, false).await?;
                let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
                if self.db.delete_account(&tenant.id, &account.id, event, now).await? {
                    report.accounts += 1;
                }
            }
        }
        Ok(Some(report))
    }
}

/// Tries a maintenance pass every [`EVERY`] while the service runs.
pub fn spawn(state: Weak<crate::Services>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            let Some(services) = state.upgrade() else { return };
            let state = AppState::from(services);
            match state.run_maintenance().await {
                Ok(Some(report)) if report != MaintenanceReport::default() => tracing::info!(?report, "maintenance"),
                Ok(_) => {}
                Err(e) => tracing::warn!("maintenance pass failed: {e}"),
            }
        }
    });
}
