//! The events hook: one platform event delivered to a deployment whose filter matched.
//! An error answer (or any failure) asks for a retry; the dispatcher retries with backoff,
//! so delivery is at least once.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::Instance;

use super::bindings::{events as wit, types};
use super::invoke::{HookCall, Invocation, InvokeError, Outcome, Target, reported, reported_outcome};
use super::{Compiled, ExtensionRuntime, Hook, HostState, Limits};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EventResult {
    Success,
    Failed,
    Pending,
}

impl EventResult {
    pub fn as_str(self) -> &'static str {
        match self {
            EventResult::Success => "success",
            EventResult::Failed => "failed",
            EventResult::Pending => "pending",
        }
    }
}

/// A platform event, as stored and as delivered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: String,
    pub time: i64,
    pub category: String,
    pub action: String,
    pub origin: String,
    pub result: EventResult,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub detail: Value,
}

struct Call {
    input: wit::Delivery,
}

impl HookCall for Call {
    type Raw = Result<(), String>;
    type Output = Result<(), String>;
    const HOOK: Hook = Hook::Events;

    fn input_bytes(&self) -> usize {
        let e = &self.input.event;
        e.id.len() + e.category.len() + e.action.len() + e.origin.len() + e.detail.len()
    }

    async fn call(
        &self,
        store: &mut Store<HostState>,
        instance: &Instance,
        compiled: &Compiled,
    ) -> wasmtime::Result<Self::Raw> {
        let indices = compiled.events.as_ref().ok_or_else(|| wasmtime::format_err!("not exported"))?;
        indices.load(&mut *store, instance)?.call_handle(store, &self.input).await
    }

    fn check(&self, raw: Self::Raw, _: &Limits) -> Result<Self::Output, InvokeError> {
        reported(raw)
    }

    fn outcome(output: &Self::Output) -> (Outcome, Option<String>) {
        reported_outcome(output)
    }
}

impl ExtensionRuntime {
    /// Delivers `event` to `target` (attempt `attempt`, from 1).
    pub async fn deliver_event(&self, target: &Target, event: &Event, attempt: u32) -> Invocation<Result<(), String>> {
        let context = &target.context;
        let input = wit::Delivery {
            tenant: types::Tenant { id: context.tenant_id.clone(), name: context.tenant_name.clone() },
            event: wit::Event {
                id: event.id.clone(),
                time: u64::try_from(event.time).unwrap_or(0),
                category: event.category.clone(),
                action: event.action.clone(),
                origin: event.origin.clone(),
                outcome: match event.result {
                    EventResult::Success => wit::Outcome::Success,
                    EventResult::Failed => wit::Outcome::Failed,
                    EventResult::Pending => wit::Outcome::Pending,
                },
                reason: event.reason.clone(),
                account_id: event.account_id.clone(),
                detail: event.detail.to_string(),
            },
            attempt,
        };
        self.invoke(target, &Call { input }).await
    }
}
