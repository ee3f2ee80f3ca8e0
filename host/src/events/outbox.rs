//! Emitting platform events and delivering them to `events` bindings. An event is stored
//! with one pending delivery per binding whose filter matches (an outbox); a dispatcher on
//! every node claims due deliveries with a lease, invokes the extension, and marks each
//! delivered, or schedules a retry with exponential backoff (1 s, 2 s, 4 s … at most an
//! hour; after [`MAX_ATTEMPTS`] it gives up and the delivery shows as failed). A delivery is
//! pending until handled, so a restart mid-delivery loses none: delivery is at least once.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::clock::sortable_id;
use crate::drain::Drain;
use crate::events::EventFilter;
use crate::extensions::events::{Event, EventResult};
use crate::extensions::{ExtensionRuntime, Hook};
use crate::storage::{DeliveryOutcome, DueDelivery, StorageError};
use crate::tenancy::Tenant;

/// Attempts per delivery before it is given up.
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a claimed delivery is reserved for the node that claimed it.
const LEASE_SECONDS: i64 = 60;
/// How often each node looks for due deliveries.
const TICK: Duration = Duration::from_millis(250);
/// Deliveries taken per pass.
const BATCH: u32 = 50;

/// An event about to be emitted (id and time are added).
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub category: &'static str,
    pub action: &'static str,
    pub origin: &'static str,
    pub result: EventResult,
    pub reason: Option<String>,
    pub account_id: Option<String>,
    pub detail: Value,
}

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn backoff(attempts: i64) -> i64 {
    1i64 << attempts.clamp(1, 13).saturating_sub(1).min(12)
}

impl ExtensionRuntime {
    /// The ids of the tenant's `events` bindings whose filter matches `event`.
    async fn subscribers(self: &Arc<Self>, tenant: &Tenant, event: &Event) -> Result<Vec<String>, StorageError> {
        let bound = self.active_events_bindings(&tenant.id).await?;
        Ok(bound
            .iter()
            .filter(|b| {
                let filter: EventFilter =
                    b.binding.filter.clone().and_then(|f| serde_json::from_value(f).ok()).unwrap_or_default();
                filter.matches(event)
            })
            .map(|b| b.binding.id.clone())
            .collect())
    }

    /// An event ready to store, with the `events` bindings that want it; `None` when
    /// `only_if_subscribed` and no binding wants it (frequent events on hot paths).
    pub async fn prepare_event(
        self: &Arc<Self>,
        tenant: &Tenant,
        new: NewEvent,
        only_if_subscribed: bool,
    ) -> Result<Option<(Event, Vec<String>)>, StorageError> {
        let mut event = Event {
            id: String::new(),
            time: self.clock.now(),
            category: new.category.to_owned(),
            action: new.action.to_owned(),
            origin: new.origin.to_owned(),
            result: new.result,
            reason: new.reason,
            account_id: new.account_id,
            detail: new.detail,
        };
        let subscribers = self.subscribers(tenant, &event).await?;
        if only_if_subscribed && subscribers.is_empty() {
            return Ok(None);
        }
        event.id = sortable_id(self.entropy.as_ref(), "ev", event.time, 8)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        Ok(Some((event, subscribers)))
    }

    /// Stores an event and queues its deliveries (see [`Self::prepare_event`]).
    pub async fn emit(
        self: &Arc<Self>,
        tenant: &Tenant,
        new: NewEvent,
        only_if_subscribed: bool,
    ) -> Result<(), StorageError> {
        match self.prepare_event(tenant, new, only_if_subscribed).await? {
            Some((event, subscribers)) => self.db.insert_event(&tenant.id, &event, &subscribers, event.time).await,
            None => Ok(()),
        }
    }

    /// Delivers every due event delivery once; returns how many were attempted.
    pub async fn deliver_due_events(self: &Arc<Self>) -> Result<usize, StorageError> {
        let now = self.clock.now();
        let mut attempted = 0;
        for delivery in self.db.due_deliveries(now, BATCH).await? {
            // A stopping node finishes the delivery in hand and leaves the rest pending.
            if self.drain.is_stopping() {
                break;
            }
            if !self.db.claim_delivery(&delivery, now + LEASE_SECONDS, now).await? {
                continue;
            }
            attempted += 1;
            let outcome = self.deliver(&delivery).await?;
            let attempts = delivery.attempts + 1;
            let (tenant_id, event_id, binding_id) = (&delivery.tenant_id, &delivery.event.id, &delivery.binding_id);
            let now = self.clock.now();
            let finished = match &outcome {
                Ok(()) => DeliveryOutcome::Delivered,
                Err(error) if attempts >= MAX_ATTEMPTS => DeliveryOutcome::GiveUp { error },
                Err(error) => DeliveryOutcome::Retry { error, next_attempt_at: now + backoff(attempts) },
            };
            self.db.finish_delivery(tenant_id, event_id, binding_id, finished, now).await?;
        }
        Ok(attempted)
    }

    /// One attempt of one delivery: `Err` with the reason to retry.
    async fn deliver(self: &Arc<Self>, delivery: &DueDelivery) -> Result<Result<(), String>, StorageError> {
        let Some(tenant) = self.db.tenant_by_id(&delivery.tenant_id).await? else {
            return Ok(Err("the tenant no longer exists".into()));
        };
        if !tenant.effective_state().is_usable() {
            return Ok(Err(format!("the tenant is {}; delivery resumes when it is enabled", tenant.effective_state())));
        }
        let bound = self.active_events_bindings(&tenant.id).await?;
        let Some(binding) = bound.iter().find(|b| b.binding.id == delivery.binding_id) else {
            return Ok(Err("the binding is gone or its extension is not enabled".into()));
        };
        let target = self
            .target(&tenant, &binding.binding.extension, &binding.deployment_id, binding.version, Hook::Events, false)
            .await;
        let attempt = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
        Ok(match target {
            Err(e) => Err(e.to_string()),
            Ok(target) => match self.deliver_event(&target, &delivery.event, attempt).await.result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(reason),
                Err(e) => Err(e.to_string()),
            },
        })
    }
}

/// Delivers due events every [`TICK`] until the runtime is dropped or the node stops.
pub fn spawn_dispatcher(runtime: Weak<ExtensionRuntime>, drain: Arc<Drain>) {
    tokio::spawn(async move {
        while drain.sleep(TICK).await {
            let Some(runtime) = runtime.upgrade() else { return };
            let Some(_work) = drain.work() else { return };
            if let Err(e) = runtime.deliver_due_events().await {
                tracing::warn!("event delivery pass failed: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), 1);
        assert_eq!(backoff(2), 2);
        assert_eq!(backoff(5), 16);
        assert_eq!(backoff(40), 4096);
    }
}
