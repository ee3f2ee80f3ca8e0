//! `/admin/v1/tenants/{tenant}/deployments`: the versions of the tenant's extensions —
//! read one to poll its build (PENDING, then ENABLED or FAILED with the reason), list,
//! delete an inactive one — and dry runs: invoke a built version's hook with a supplied
//! input, without side effects (key-value writes stay in the run, outbound HTTP is not
//! sent), and get back the outcome, the output, the captured log, fuel and duration.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Caller;
use super::error::{ApiError, Problem};
use crate::AppState;
use crate::extensions::account_creation::{AccountData, Source};
use crate::extensions::events::Event;
use crate::extensions::otp_delivery::OtpMessage;
use crate::extensions::token_issuance::TokenRequest;
use crate::extensions::{CapturedLog, Hook, Invocation, Outcome};
use crate::storage::{DeploymentRow, DeploymentState};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    extension: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<DeploymentRow>>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Query(query) = query?;
    Ok(Json(state.db.list_deployments(&tenant.id, query.extension.as_deref()).await?))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<DeploymentRow>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let deployment = state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    Ok(Json(deployment))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let _change = state.extensions.change(&tenant.id);
    if !state.db.delete_deployment(&tenant.id, &id).await? {
        return Err(ApiError::not_found("deployment"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    hook: String,
    input: Value,
}

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

/// A dry run's answer.
#[derive(Debug, Serialize)]
pub struct DryRunResult {
    hook: Hook,
    outcome: Outcome,
    /// The hook's answer, when it gave one.
    output: Option<Value>,
    /// The error, when it failed.
    error: Option<String>,
    fuel_used: u64,
    duration_us: u64,
    log: CapturedLog,
}

fn result<T: Serialize>(hook: Hook, invocation: Invocation<T>) -> DryRunResult {
    let (output, error) = match &invocation.result {
        Ok(output) => (serde_json::to_value(output).ok(), None),
        Err(e) => (None, Some(e.to_string())),
    };
    DryRunResult {
        hook,
        outcome: invocation.outcome,
        output,
        error,
        fuel_used: invocation.fuel_used,
        duration_us: u64::try_from(invocation.duration.as_micros()).unwrap_or(u64::MAX),
        log: invocation.log,
    }
}

fn input<T: serde::de::DeserializeOwned>(hook: Hook, value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(Problem::InvalidRequest, format!("input is not a valid {} input: {e}", hook.name())))
}

pub async fn dry_run(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, id)): Path<(String, String)>,
    body: Result<Json<DryRun>, JsonRejection>,
) -> Result<Json<DryRunResult>, ApiError> {
    let tenant = caller.tenant(&state, &tenant).await?;
    let Json(body) = body?;
    let hook = Hook::from_name(&body.hook).ok_or_else(|| {
        let known: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
        ApiError::new(Problem::InvalidRequest, format!("hook must be one of {}", known.join(", ")))
    })?;
    let deployment = state.db.deployment(&tenant.id, &id).await?.ok_or_else(|| ApiError::not_found("deployment"))?;
    if deployment.state != DeploymentState::Enabled {
        return Err(ApiError::new(
            Problem::Conflict,
            format!("the deployment is {}; only a built (ENABLED) version can run", deployment.state.as_str()),
        ));
    }
    if !deployment.hooks.iter().any(|h| h == hook.name()) {
        return Err(ApiError::new(Problem::InvalidRequest, format!("the deployment does not export {}", hook.name())));
    }
    let runtime = &state.extensions;
    let target = runtime
        .target(&tenant, &deployment.extension, &deployment.id, deployment.version, hook, true)
        .await
        .map_err(ApiError::internal)?;
    let answer = match hook {
        Hook::TokenIssuance => {
            let request: TokenRequest = input(hook, body.input)?;
            result(hook, runtime.issue_token(&target, &request).await)
        }
        Hook::OtpDelivery => {
            let message: OtpMessage = input(hook, body.input)?;
            result(hook, runtime.deliver_otp(&target, &message).await)
        }
        Hook::AccountCreation => {
            let call: AccountCreationInput = input(hook, body.input)?;
            match call.stage.as_deref() {
                None | Some("before") => {
                    let invocation = runtime.before_account_creation(&target, call.source, &call.account).await;
                    result(hook, invocation)
                }
                Some("after") => {
                    let account_id = call.account_id.unwrap_or_else(|| "acc_dry_run".into());
                    let invocation =
                        runtime.after_account_creation(&target, call.source, &account_id, &call.account).await;
                    result(hook, invocation)
                }
                Some(other) => {
                    return Err(ApiError::new(
                        Problem::InvalidRequest,
                        format!("stage must be before or after, not {other:?}"),
                    ));
                }
            }
        }
        Hook::Events => {
            let call: EventInput = input(hook, body.input)?;
            result(hook, runtime.deliver_event(&target, &call.event, call.attempt).await)
        }
        Hook::Scheduled => {
            let call: ScheduledInput = input(hook, body.input)?;
            let run_id = call.run_id.unwrap_or_else(|| "run_dry_run".into());
            let at = call.scheduled_at.unwrap_or_else(|| state.clock.now());
            result(hook, runtime.run_scheduled(&target, &run_id, &call.schedule, at).await)
        }
    };
    Ok(Json(answer))
}
