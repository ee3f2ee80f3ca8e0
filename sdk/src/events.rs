//! The events hook: platform events, delivered asynchronously and at least once (an error
//! asks for a retry with backoff), so make handling idempotent on [`Event::id`].
//!
//! ```no_run
//! use keyhaven_sdk::{EventDelivery, EventHandler, log};
//!
//! struct Audit;
//!
//! impl EventHandler for Audit {
//!     fn handle(delivery: EventDelivery) -> Result<(), String> {
//!         let event = &delivery.event;
//!         log::info(&format!("{} {} (attempt {})", event.id, event.action, delivery.attempt));
//!         Ok(())
//!     }
//! }
//!
//! keyhaven_sdk::export_events!(Audit);
//! ```

use serde_json::Value;

use crate::__private::events::exports::keyhaven::extension::events as wit;
use crate::token::Tenant;

/// Handles platform events.
pub trait EventHandler {
    /// Handles one event; `Err` asks for a retry later.
    fn handle(delivery: EventDelivery) -> Result<(), String>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed,
    Pending,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Pending => "pending",
        }
    }
}

/// A platform event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Unique and stable across redeliveries.
    pub id: String,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub category: String,
    pub action: String,
    pub origin: String,
    pub result: Outcome,
    pub reason: Option<String>,
    pub account_id: Option<String>,
    pub detail: Value,
}

impl Event {
    /// A successful event with this action, for tests.
    pub fn new(action: &str) -> Self {
        Event {
            id: format!("ev-{action}"),
            time: 0,
            category: "resource-change".into(),
            action: action.into(),
            origin: "test".into(),
            result: Outcome::Success,
            reason: None,
            account_id: None,
            detail: Value::Object(Default::default()),
        }
    }
}

/// One delivery of one event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDelivery {
    pub tenant: Tenant,
    pub event: Event,
    /// 1 for the first delivery.
    pub attempt: u32,
}

impl EventDelivery {
    /// The first delivery of `event` to the test tenant, for tests.
    pub fn new(event: Event) -> Self {
        EventDelivery { tenant: Tenant::test(), event, attempt: 1 }
    }
}

/// Runs hook `H`; used by [`crate::export_events!`].
pub fn handle_with<H: EventHandler>(delivery: wit::Delivery) -> Result<(), String> {
    let e = delivery.event;
    let event = Event {
        id: e.id,
        time: e.time,
        category: e.category,
        action: e.action,
        origin: e.origin,
        result: match e.outcome {
            wit::Outcome::Success => Outcome::Success,
            wit::Outcome::Failed => Outcome::Failed,
            wit::Outcome::Pending => Outcome::Pending,
        },
        reason: e.reason,
        account_id: e.account_id,
        detail: serde_json::from_str(&e.detail).unwrap_or(Value::Null),
    };
    let tenant = Tenant { id: delivery.tenant.id, name: delivery.tenant.name };
    H::handle(EventDelivery { tenant, event, attempt: delivery.attempt })
}
