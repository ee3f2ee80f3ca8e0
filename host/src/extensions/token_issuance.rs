//! Invoking the token-issuance hook: a fresh store and instance per call, fuel and a
//! wall-clock deadline set before the guest runs, a cooperative yield on every epoch tick
//! (a guest spinning until its deadline never holds an executor thread for more than one
//! tick), and the guest's answer checked against the output limits.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::{token_issuance as wit, types};
use super::log::CapturedLog;
use super::{Compiled, ExtensionRuntime, HostState, InvocationContext, Limits};

/// Who a token is about to be issued to.
#[derive(Clone, Debug)]
pub enum Subject {
    Client { client_id: String, name: String, attributes: Value },
}

/// The hook's input.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub tenant_id: String,
    pub tenant_name: String,
    pub subject: Subject,
    pub grant_type: String,
    pub scopes: Vec<String>,
    pub audience: Vec<String>,
}

/// What the guest decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Issue { access_token: Vec<(String, Value)>, id_token: Vec<(String, Value)> },
    Deny(String),
}

/// A completed invocation and what it cost.
#[derive(Debug)]
pub struct Invocation {
    pub decision: Decision,
    pub fuel_used: u64,
    pub duration: Duration,
    pub log: CapturedLog,
}

/// Why an invocation produced no decision. Limits are typed; everything else is a trap
/// or invalid output, described for the tenant's developer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the extension exceeded its deadline of {} ms", .0.as_millis())]
    Deadline(Duration),
    #[error("the extension used up its fuel ({0} instructions)")]
    Fuel(u64),
    #[error("the extension exceeded its memory limit of {0} bytes")]
    Memory(usize),
    #[error("the extension overflowed its stack")]
    StackOverflow,
    #[error("the extension trapped: {0}")]
    Trap(String),
    #[error("the extension returned invalid output: {0}")]
    InvalidOutput(String),
    #[error("the tenant already has {0} extension invocations in flight; retry shortly")]
    TooManyInFlight(u32),
    #[error("the deployment does not export this hook")]
    NotExported,
    #[error("the extension runtime is shutting down")]
    Unavailable,
}

impl ExtensionRuntime {
    /// Runs the token-issuance hook of `compiled` once, in a fresh instance.
    pub async fn issue_token(
        &self,
        compiled: &Compiled,
        context: InvocationContext,
        request: &TokenRequest,
    ) -> Result<Invocation, InvokeError> {
        let indices = compiled.token_issuance.as_ref().ok_or(InvokeError::NotExported)?;
        let _tenant_slot = self.tenant_slot(&context.tenant_id)?;
        let _slot = self.slots.acquire().await.map_err(|_| InvokeError::Unavailable)?;

        let started = Instant::now();
        let mut store = Store::new(&self.engine, HostState::new(&self.limits, context));
        store.limiter(|state| &mut state.limiter);
        store.set_fuel(self.limits.fuel).map_err(|e| InvokeError::Trap(format!("{e:#}")))?;
        let deadline = self.limits.deadline;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if started.elapsed() >= deadline { UpdateDeadline::Interrupt } else { UpdateDeadline::Yield(1) })
        });

        let input = to_wit(request);
        let result = async {
            let instance = compiled.pre.instantiate_async(&mut store).await?;
            let guest = indices.load(&mut store, &instance)?;
            guest.call_issue(&mut store, &input).await
        }
        .await;

        let fuel_used = self.limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let duration = started.elapsed();
        let decision = match result {
            Ok(decision) => decision,
            Err(error) => return Err(classify(&error, store.data(), &self.limits)),
        };
        let decision = check_output(decision, &self.limits)?;
        let state = store.into_data();
        Ok(Invocation { decision, fuel_used, duration, log: state.log })
    }
}

fn to_wit(request: &TokenRequest) -> wit::TokenRequest {
    let subject = match &request.subject {
        Subject::Client { client_id, name, attributes } => wit::Subject::Client(wit::Client {
            client_id: client_id.clone(),
            name: name.clone(),
            attributes: attributes.to_string(),
        }),
    };
    wit::TokenRequest {
        tenant: types::Tenant { id: request.tenant_id.clone(), name: request.tenant_name.clone() },
        subject,
        grant_type: request.grant_type.clone(),
        scopes: request.scopes.clone(),
        audience: request.audience.clone(),
    }
}

fn classify(error: &wasmtime::Error, state: &HostState, limits: &Limits) -> InvokeError {
    if state.limiter.memory_limit_hit {
        return InvokeError::Memory(limits.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => InvokeError::Deadline(limits.deadline),
        Some(Trap::OutOfFuel) => InvokeError::Fuel(limits.fuel),
        Some(Trap::StackOverflow) => InvokeError::StackOverflow,
        Some(trap) => InvokeError::Trap(trap.to_string()),
        // Only the outermost message: the full chain carries a wasm backtrace.
        None => InvokeError::Trap(error.to_string().chars().take(200).collect()),
    }
}

/// Parses claim values and enforces the output limits (claim count and total bytes).
fn check_output(decision: wit::Decision, limits: &Limits) -> Result<Decision, InvokeError> {
    let claims = match decision {
        wit::Decision::Deny(reason) => return Ok(Decision::Deny(reason)),
        wit::Decision::Issue(claims) => claims,
    };
    let count = claims.access_token.len() + claims.id_token.len();
    if count > limits.output_claims {
        return Err(InvokeError::InvalidOutput(format!(
            "{count} claims returned; at most {} are allowed",
            limits.output_claims
        )));
    }
    let bytes: usize = claims.access_token.iter().chain(&claims.id_token).map(|c| c.name.len() + c.value.len()).sum();
    if bytes > limits.output_bytes {
        return Err(InvokeError::InvalidOutput(format!(
            "{bytes} bytes of claims returned; at most {} are allowed",
            limits.output_bytes
        )));
    }
    let parse = |claims: Vec<wit::Claim>| -> Result<Vec<(String, Value)>, InvokeError> {
        claims
            .into_iter()
            .map(|claim| match serde_json::from_str(&claim.value) {
                Ok(value) => Ok((claim.name, value)),
                Err(e) => Err(InvokeError::InvalidOutput(format!("claim {:?} is not valid JSON: {e}", claim.name))),
            })
            .collect()
    };
    Ok(Decision::Issue { access_token: parse(claims.access_token)?, id_token: parse(claims.id_token)? })
}
