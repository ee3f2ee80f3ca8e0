//! Periodic maintenance, on one node at a time (a database lease): removes ended sessions
//! and expired logins, spent one-time codes, accounts inactive for longer than their
//! tenant's `account_inactivity_days` (an `account.deleted` event with reason `inactive`),
//! PENDING accounts whose invite lapsed (reason `pending-expired`) and factor enrolments
//! never confirmed; and disables tenants unused for longer than their
//! `tenant_inactivity_days` (a `tenant.state_changed` event with reason `inactive`);
//! rotates signing keys older than the tenant's `signing_key_rotation_days` and removes
//! retired keys whose tokens have all expired; forgets revocations and client-assertion
//! ids of tokens and assertions that have expired, and authorization codes and refresh
//! tokens expired for longer than a refresh token's idle lifetime, and admin API
//! idempotency keys older than a day, and resource leases that lapsed an hour ago. Each
//! change is written with its event. Runs every minute on every node that runs background
//! jobs; whichever node holds the lease does the work.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::{Map, json};

use crate::AppState;
use crate::events::changes;
use crate::events::outbox::NewEvent;
use crate::extensions::events::EventResult;
use crate::storage::StorageError;
use crate::tenancy::account::{INVITE_SECONDS, PENDING_FACTOR_SECONDS};
use crate::tenancy::{ResourceState, Tenant};

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
    /// Admin API idempotency keys past their 24 hours.
    pub idempotency_keys: u64,
    pub accounts: u64,
    pub pending_accounts: u64,
    pub enrolments: u64,
    pub tenants: u64,
    /// Signing keys rotated on schedule, and retired keys removed from the JWKS.
    pub keys_rotated: u64,
    pub keys_removed: u64,
}

impl AppState {
    /// One maintenance pass, if this node can take the lease; `None` when another node
    /// holds it.
    pub async fn run_maintenance(&self) -> Result<Option<MaintenanceReport>, StorageError> {
        let now = self.clock.now();
        if !self.db.take_lease("maintenance", &self.node_id, now, now + LEASE_SECONDS).await? {
            return Ok(None);
        }
        let mut report = MaintenanceReport {
            codes: self.db.remove_spent_codes(now).await?,
            idempotency_keys: self.db.remove_expired_idempotency_keys(now).await?,
            ..Default::default()
        };
        self.db.remove_lapsed_leases(now).await?;
        self.db.prune_auth_failures(now, crate::ops::failures::WINDOW_SECONDS).await?;
        // One tenant's failure (a storage error, a key that cannot be made) is logged and
        // the pass goes on, so no tenant keeps the tenants after it from their maintenance.
        for tenant in self.db.list_tenants().await? {
            if let Err(e) = self.maintain_tenant(&tenant, now, &mut report).await {
                tracing::warn!(tenant = %tenant.id, "maintenance of the tenant failed: {e}");
            }
        }
        Ok(Some(report))
    }
}

impl AppState {
    /// One tenant's share of a pass, counted into `report`.
    async fn maintain_tenant(
        &self,
        tenant: &Tenant,
        now: i64,
        report: &mut MaintenanceReport,
    ) -> Result<(), crate::ops::RotationError> {
        report.sessions += self.db.remove_dead_sessions(&tenant.id, &tenant.settings, now).await?;
        report.enrolments += self.db.remove_lapsed_enrolments(&tenant.id, now - PENDING_FACTOR_SECONDS, now).await?;
        let lapsed = self.db.lapsed_pending_accounts(&tenant.id, now - INVITE_SECONDS, now, BATCH).await?;
        for account_id in lapsed {
            report.pending_accounts += u64::from(self.remove_account(tenant, &account_id, "pending-expired").await?);
        }
        if let Some(days) = tenant.settings.account_inactivity_days {
            for account_id in self.db.inactive_accounts(&tenant.id, now - days * 86_400, BATCH).await? {
                report.accounts += u64::from(self.remove_account(tenant, &account_id, "inactive").await?);
            }
        }
        self.db.remove_expired_revocations(&tenant.id, now).await?;
        self.db.remove_expired_assertions(&tenant.id, now).await?;
        // Spent refresh tokens are kept one more idle lifetime, so a late replay still
        // revokes the family it belongs to.
        self.db.remove_expired_grants(&tenant.id, now, tenant.settings.refresh_token_idle_seconds).await?;
        let (rotated, removed) = self.rotate_signing_key_if_due(tenant, now).await?;
        report.keys_rotated += u64::from(rotated);
        report.keys_removed += removed;
        if let Some(days) = tenant.settings.tenant_inactivity_days {
            report.tenants += u64::from(self.expire_tenant(tenant, now - days * 86_400, now).await?);
        }
        Ok(())
    }

    /// Removes an account (if it is still there) with an `account.deleted` event.
    async fn remove_account(&self, tenant: &Tenant, account_id: &str, reason: &str) -> Result<bool, StorageError> {
        let Some(account) = self.db.account(&tenant.id, account_id).await? else { return Ok(false) };
        let mut removed = account.changeable();
        removed.insert("username".into(), json!(account.username));
        let event = NewEvent {
            category: "resource-change",
            action: "account.deleted",
            origin: "maintenance",
            result: EventResult::Success,
            reason: Some(reason.into()),
            account_id: Some(account.id.clone()),
            detail: changes(&removed, &Map::new()),
        };
        let event = self.extensions.prepare_event(tenant, event, false).await?;
        let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
        self.db.delete_account(&tenant.id, &account.id, event, self.clock.now()).await
    }

    /// Disables the tenant if it has not been used since `before` (the default tenant
    /// never expires), with a `tenant.state_changed` event.
    async fn expire_tenant(&self, tenant: &Tenant, before: i64, now: i64) -> Result<bool, StorageError> {
        if tenant.default || tenant.state != ResourceState::Enabled {
            return Ok(false);
        }
        let event = NewEvent {
            category: "resource-change",
            action: "tenant.state_changed",
            origin: "maintenance",
            result: EventResult::Success,
            reason: Some("inactive".into()),
            account_id: None,
            detail: json!({"added": {"state": "DISABLED"}, "removed": {"state": "ENABLED"}}),
        };
        let event = self.extensions.prepare_event(tenant, event, false).await?;
        let event = event.as_ref().map(|(event, bindings)| (event, bindings.as_slice()));
        let expired = self.db.expire_tenant(&tenant.id, before, now, event).await?;
        if expired {
            tracing::info!(tenant = %tenant.id, "tenant disabled after inactivity");
        }
        Ok(expired)
    }
}

/// Tries a maintenance pass every [`EVERY`] until the service stops.
pub fn spawn(state: Weak<crate::Services>, drain: Arc<crate::drain::Drain>) {
    tokio::spawn(async move {
        while drain.sleep(EVERY).await {
            let Some(services) = state.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
            let state = AppState::from(services);
            match state.run_maintenance().await {
                Ok(Some(report)) if report != MaintenanceReport::default() => tracing::info!(?report, "maintenance"),
                Ok(_) => {}
                Err(e) => tracing::warn!("maintenance pass failed: {e}"),
            }
        }
    });
}
