//! Running any hook of a deployment from a JSON input: the input parsed into the hook's
//! own type, one invocation, and a [`HookRun`] with the outcome, the hook's answer, the
//! captured log, fuel and duration. Dry runs (`POST .../deployments/{id}/dry-run`) and the
//! local component harness ([`crate::harness`]) both run hooks this way.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::account_creation::{AccountData, Source};
use super::events::Event;
use super::otp_delivery::OtpMessage;
use super::token_issuance::TokenRequest;
use super::{CapturedLog, ExtensionRuntime, Hook, Invocation, Outcome, Target};

/// The input does not fit the hook.
#[derive(Debug, thiserror::Error)]
pub enum HookInputError {
    #[error("input is not a valid {hook} input: {message}")]
    Invalid { hook: &'static str, message: String },
    #[error("stage must be before or after, not {0:?}")]
    Stage(String),
}

/// An `account-creation` input: which stage, and the account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountCreationInput {
    /// `before` (default) or `after`.
    #[serde(default)]
    stage: Option<String>,
    #[serde(default = "admin")]
    source: Source,
    #[serde(default)]
    account_id: Option<String>,
    account: AccountData,
}

fn admin() -> Source {
    Source::Admin
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventInput {
    event: Event,
    #[serde(default = "first")]
    attempt: u32,
}

fn first() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduledInput {
    schedule: String,
    #[serde(default)]
    run_id: Option<String>,
    #[serde(default)]
    scheduled_at: Option<i64>,
}

/// What one run of a hook did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookRun {
    pub hook: Hook,
    pub outcome: Outcome,
    /// The hook's answer, when it gave one.
    pub output: Option<Value>,
    /// The error, when it failed.
    pub error: Option<String>,
    pub fuel_used: u64,
    pub duration_us: u64,
    pub log: CapturedLog,
}

fn hook_run<T: Serialize>(hook: Hook, invocation: Invocation<T>) -> HookRun {
    let (output, error) = match &invocation.result {
        Ok(output) => (serde_json::to_value(output).ok(), None),
        Err(e) => (None, Some(e.to_string())),
    };
    HookRun {
        hook,
        outcome: invocation.outcome,
        output,
        error,
        fuel_used: invocation.fuel_used,
        duration_us: u64::try_from(invocation.duration.as_micros()).unwrap_or(u64::MAX),
        log: invocation.log,
    }
}

fn parse<T: serde::de::DeserializeOwned>(hook: Hook, value: Value) -> Result<T, HookInputError> {
    serde_json::from_value(value).map_err(|e| HookInputError::Invalid { hook: hook.name(), message: e.to_string() })
}

impl ExtensionRuntime {
    /// Parses `input` as `hook`'s input and runs the hook once on `target` (whose context
    /// says whether this is a dry run). Nothing runs when the input does not fit.
    pub async fn run_hook(&self, target: &Target, hook: Hook, input: Value) -> Result<HookRun, HookInputError> {
        let run = match hook {
            Hook::TokenIssuance => {
                let request: TokenRequest = parse(hook, input)?;
                hook_run(hook, self.issue_token(target, &request).await)
            }
            Hook::OtpDelivery => {
                let message: OtpMessage = parse(hook, input)?;
                hook_run(hook, self.deliver_otp(target, &message).await)
            }
            Hook::AccountCreation => {
                let call: AccountCreationInput = parse(hook, input)?;
                match call.stage.as_deref() {
                    None | Some("before") => {
                        hook_run(hook, self.before_account_creation(target, call.source, &call.account).await)
                    }
                    Some("after") => {
                        let account_id = call.account_id.unwrap_or_else(|| "acc_dry_run".into());
                        let invocation =
                            self.after_account_creation(target, call.source, &account_id, &call.account).await;
                        hook_run(hook, invocation)
                    }
                    Some(other) => return Err(HookInputError::Stage(other.to_owned())),
                }
            }
            Hook::Events => {
                let call: EventInput = parse(hook, input)?;
                hook_run(hook, self.deliver_event(target, &call.event, call.attempt).await)
            }
            Hook::Scheduled => {
                let call: ScheduledInput = parse(hook, input)?;
                let run_id = call.run_id.unwrap_or_else(|| "run_dry_run".into());
                let at = call.scheduled_at.unwrap_or_else(|| self.clock.now());
                hook_run(hook, self.run_scheduled(target, &run_id, &call.schedule, at).await)
            }
        };
        Ok(run)
    }
}
