//! Running one hook invocation, whatever the hook: the tenant's admission limits (in
//! flight, per minute, input size), a node instance slot, a fresh store and instance from
//! the cached `InstancePre`, fuel and a wall-clock deadline (epoch interruption for guest
//! code, a timer for time spent waiting in the host, e.g. on HTTP or a sleep), a
//! cooperative yield on every epoch tick so a spinning guest never holds an executor thread,
//! a per-tenant fuel budget per second (its share of the machine), a bounded lane for guests
//! that run longer than a millisecond (so hostile or
//! heavy guests share a bounded part of the machine and never delay short invocations), the
//! hook's own output checks, the typed outcome, and the invocation record.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::Instance;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::engine::EPOCH_TICK;
use super::kv::KvSession;
use super::log::CapturedLog;
use super::records::InvocationRecord;
use super::state::{ExtensionEnv, HostStateParts};
use super::{Compiled, ExtensionRuntime, Hook, HostState, InvocationContext, Limits};

/// Instructions a guest computes freely before it takes turns on the long-running lane
/// (well under a millisecond here; a token-issuance hook typically needs 20,000).
pub const FAST_FUEL: u64 = 2_000_000;
/// Without fuel metering: epoch ticks a guest computes through freely.
pub const FAST_TICKS: u32 = 1;

/// Why an invocation produced no usable answer. Limits are typed; everything else is a
/// trap, invalid output or a policy refusal, described for the tenant's developer.
#[derive(Clone, Debug, thiserror::Error)]
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
    #[error("{0}")]
    Policy(String),
    #[error("the hook's input is {size} bytes; this tenant's limit is {limit}")]
    InputTooLarge { size: usize, limit: usize },
    #[error("the tenant already has {0} extension invocations in flight; retry shortly")]
    TooManyInFlight(u32),
    #[error("the tenant reached its limit of {0} extension invocations per minute; retry shortly")]
    RateLimited(u32),
    #[error("the tenant used its extension budget of {0} instructions per second; retry shortly")]
    FuelBudget(u64),
    #[error("the deployment does not export this hook")]
    NotExported,
    #[error("the extension could not be loaded: {0}")]
    Load(String),
    #[error("the extension runtime is shutting down")]
    Unavailable,
}

/// How an invocation ended, as invocation records and metrics show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The hook answered and its answer was used.
    Ok,
    /// The hook refused (a token or an account), as it may.
    Denied,
    /// The hook reported a failure of its own (delivery failed, event handler asked for a
    /// retry, scheduled run failed).
    Failed,
    Deadline,
    Fuel,
    Memory,
    StackOverflow,
    Trap,
    InvalidOutput,
    /// The answer broke a rule of the host (e.g. a protected claim).
    Policy,
    /// Not run: the tenant was over an admission limit.
    Throttled,
    /// Not run: the deployment could not be loaded or the runtime is stopping.
    Unavailable,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Deadline => "deadline",
            Outcome::Fuel => "fuel",
            Outcome::Memory => "memory",
            Outcome::StackOverflow => "stack-overflow",
            Outcome::Trap => "trap",
            Outcome::InvalidOutput => "invalid-output",
            Outcome::Policy => "policy",
            Outcome::Throttled => "throttled",
            Outcome::Unavailable => "unavailable",
        }
    }

    /// Whether the outcome is an error of the extension or its limits (not a refusal it
    /// was entitled to make).
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Denied)
    }
}

impl InvokeError {
    pub fn outcome(&self) -> Outcome {
        match self {
            InvokeError::Deadline(_) => Outcome::Deadline,
            InvokeError::Fuel(_) => Outcome::Fuel,
            InvokeError::Memory(_) => Outcome::Memory,
            InvokeError::StackOverflow => Outcome::StackOverflow,
            InvokeError::Trap(_) => Outcome::Trap,
            InvokeError::InvalidOutput(_) => Outcome::InvalidOutput,
            InvokeError::Policy(_) => Outcome::Policy,
            InvokeError::InputTooLarge { .. }
            | InvokeError::TooManyInFlight(_)
            | InvokeError::RateLimited(_)
            | InvokeError::FuelBudget(_) => Outcome::Throttled,
            InvokeError::NotExported | InvokeError::Load(_) | InvokeError::Unavailable => Outcome::Unavailable,
        }
    }

    /// Whether the caller should say "retry shortly" (HTTP 503) rather than "failed".
    pub fn is_throttled(&self) -> bool {
        matches!(self, InvokeError::TooManyInFlight(_) | InvokeError::RateLimited(_) | InvokeError::FuelBudget(_))
    }
}

/// One call of one hook: how to call it, and how to judge its answer.
pub(super) trait HookCall: Sync {
    /// What the guest returns.
    type Raw: Send;
    /// The answer after the host's checks.
    type Output;
    const HOOK: Hook;

    /// The size of the input, checked against the tenant's input limit.
    fn input_bytes(&self) -> usize;

    /// Calls the hook's export on a fresh instance.
    fn call<'a>(
        &'a self,
        store: &'a mut Store<HostState>,
        instance: &'a Instance,
        compiled: &'a Compiled,
    ) -> impl Future<Output = wasmtime::Result<Self::Raw>> + Send + 'a;

    /// Checks the answer against the tenant's output limits and the host's rules.
    fn check(&self, raw: Self::Raw, limits: &Limits) -> Result<Self::Output, InvokeError>;

    /// How the answer reads in the invocation record: outcome and a short detail.
    fn outcome(output: &Self::Output) -> (Outcome, Option<String>);
}

/// For hooks that answer `result<_, string>` (events, scheduled): the guest's own failure,
/// its reason cut to 500 characters.
pub(super) fn reported(raw: Result<(), String>) -> Result<Result<(), String>, InvokeError> {
    Ok(raw.map_err(|reason| reason.chars().take(500).collect()))
}

/// How a `result<_, string>` answer reads in the invocation record.
pub(super) fn reported_outcome(output: &Result<(), String>) -> (Outcome, Option<String>) {
    match output {
        Ok(()) => (Outcome::Ok, None),
        Err(reason) => (Outcome::Failed, Some(reason.clone())),
    }
}

/// A deployment ready to invoke, with everything its invocations may read.
#[derive(Clone)]
pub struct Target {
    pub compiled: Arc<Compiled>,
    pub context: InvocationContext,
    pub limits: Limits,
    pub env: Arc<ExtensionEnv>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("context", &self.context).finish_non_exhaustive()
    }
}

/// A finished invocation: the answer or the error, and what it cost.
#[derive(Debug)]
pub struct Invocation<T> {
    pub result: Result<T, InvokeError>,
    /// How it ended, as its record says.
    pub outcome: Outcome,
    pub fuel_used: u64,
    pub duration: Duration,
    pub log: CapturedLog,
}

impl ExtensionRuntime {
    /// Invokes `call` on `target` once, in a fresh instance, and records the invocation.
    pub(super) async fn invoke<C: HookCall>(&self, target: &Target, call: &C) -> Invocation<C::Output> {
        let started_at = self.clock.now();
        let mut invocation = self.run(target, call).await;
        let (outcome, detail) = match &invocation.result {
            Ok(output) => C::outcome(output),
            Err(e) => (e.outcome(), Some(e.to_string())),
        };
        invocation.outcome = outcome;
        let context = &target.context;
        if outcome.is_error() {
            tracing::info!(
                tenant = %context.tenant_id, extension = %context.extension, hook = C::HOOK.name(),
                outcome = outcome.as_str(), "extension invocation failed: {}", detail.as_deref().unwrap_or("")
            );
        }
        if !context.dry_run {
            self.metrics.invocation(
                &context.tenant_id,
                &context.extension,
                C::HOOK.name(),
                outcome.as_str(),
                invocation.fuel_used,
                invocation.duration,
            );
        }
        self.records.push(InvocationRecord {
            tenant_id: context.tenant_id.clone(),
            extension: context.extension.clone(),
            deployment_id: context.deployment_id.clone(),
            version: context.version,
            hook: C::HOOK,
            started_at,
            duration_us: u64::try_from(invocation.duration.as_micros()).unwrap_or(u64::MAX),
            fuel_used: invocation.fuel_used,
            outcome,
            detail,
            output: invocation.log.text(),
            dry_run: context.dry_run,
        });
        invocation
    }

    async fn run<C: HookCall>(&self, target: &Target, call: &C) -> Invocation<C::Output> {
        let refused = |error| Invocation {
            result: Err(error),
            outcome: Outcome::Unavailable,
            fuel_used: 0,
            duration: Duration::ZERO,
            log: CapturedLog::default(),
        };
        let limits = target.limits.for_language(target.compiled.language);
        let limits = &*limits;
        let size = call.input_bytes();
        if size > limits.input_bytes {
            return refused(InvokeError::InputTooLarge { size, limit: limits.input_bytes });
        }
        let _tenant_slot = match self.admit(&target.context.tenant_id, limits) {
            Ok(permit) => permit,
            Err(e) => return refused(e),
        };
        let Ok(_slot) = self.slots.acquire().await else { return refused(InvokeError::Unavailable) };
        if !target.compiled.hooks.contains(&C::HOOK) {
            return refused(InvokeError::NotExported);
        }

        let started = Instant::now();
        let deadline = limits.deadline(C::HOOK);
        let context = Arc::new(target.context.clone());
        let kv =
            KvSession::new(self.kv.clone(), context.tenant_id.clone(), limits, self.clock.clone(), context.dry_run);
        let parts = HostStateParts {
            context,
            limits: limits.clone(),
            env: target.env.clone(),
            vault: self.vault.clone(),
            kv,
            clock: self.clock.clone(),
            deadline: started + deadline,
            egress: self.node.egress.clone(),
        };
        let mut store = Store::new(&self.engine, HostState::new(parts));
        store.limiter(|state| &mut state.limiter);
        if self.node.fuel_metering
            && let Err(e) = store.set_fuel(limits.fuel)
        {
            return refused(InvokeError::Trap(format!("{e:#}")));
        }
        store.set_epoch_deadline(1);
        let lane = self.long_running.clone();
        let held: Arc<Mutex<Option<OwnedSemaphorePermit>>> = Arc::default();
        let (metered, fuel) = (self.node.fuel_metering, limits.fuel);
        let mut ticks_running: u32 = 0;
        store.epoch_deadline_callback(move |context| {
            if started.elapsed() >= deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            // How much has this guest computed? Its fuel says so exactly, whatever else
            // shared its thread meanwhile; without metering, the ticks it ran through.
            ticks_running += 1;
            let computed_little = match metered {
                true => fuel.saturating_sub(context.get_fuel().unwrap_or(0)) <= FAST_FUEL,
                false => ticks_running <= FAST_TICKS,
            };
            if computed_little {
                return Ok(UpdateDeadline::Yield(1));
            }
            // Past its first ticks the guest takes turns on the long-running lane: it gives
            // the lane up at every tick and waits (not runnable) for its next turn, so
            // long-running guests share a bounded number of cores and short invocations and
            // request handling keep the rest.
            if let Ok(mut slot) = held.lock() {
                slot.take();
            }
            let (lane, held) = (lane.clone(), held.clone());
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(async move {
                    // Yield even when the lane is free at once, so the executor thread runs
                    // what else is waiting before this guest's next slice.
                    tokio::task::yield_now().await;
                    if let Ok(permit) = lane.acquire_owned().await
                        && let Ok(mut slot) = held.lock()
                    {
                        *slot = Some(permit);
                    }
                }),
            ))
        });

        let compiled = &target.compiled;
        let guest = async {
            let instance = compiled.pre.instantiate_async(&mut store).await?;
            call.call(&mut store, &instance, compiled).await
        };
        // The epoch stops guest code at the deadline; this timer stops time spent waiting
        // in the host (outbound HTTP, a sleeping guest), two ticks later at most.
        let outcome = tokio::time::timeout(deadline + 2 * EPOCH_TICK, guest).await;
        let fuel_used = match self.node.fuel_metering {
            true => limits.fuel.saturating_sub(store.get_fuel().unwrap_or(0)),
            false => 0,
        };
        self.charge_fuel(&target.context.tenant_id, fuel_used);
        let duration = started.elapsed();
        let log = store.data().log.snapshot();
        let result = match outcome {
            Err(_elapsed) => Err(InvokeError::Deadline(deadline)),
            Ok(Err(error)) => Err(classify(&error, store.data(), limits, deadline)),
            Ok(Ok(raw)) => call.check(raw, limits),
        };
        Invocation { result, outcome: Outcome::Ok, fuel_used, duration, log }
    }

    /// Takes one of the tenant's in-flight slots and counts the invocation against its
    /// per-minute allowance; a tenant at either limit is refused at once.
    fn admit(&self, tenant_id: &str, limits: &Limits) -> Result<OwnedSemaphorePermit, InvokeError> {
        let limit = limits.concurrent_invocations;
        let semaphore = {
            let mut slots = self.tenant_slots.lock().map_err(|_| InvokeError::Unavailable)?;
            let entry =
                slots.entry(tenant_id.to_owned()).or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
            if entry.0 != limit {
                // The plan changed: invocations in flight keep their permits on the old one.
                *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
            }
            entry.1.clone()
        };
        let permit = semaphore.try_acquire_owned().map_err(|_| InvokeError::TooManyInFlight(limit))?;
        if !self.fuel_left(tenant_id, limits.fuel_per_second) {
            return Err(InvokeError::FuelBudget(limits.fuel_per_second));
        }
        let minute = self.clock.now().div_euclid(60);
        let mut counts = self.minute_counts.lock().map_err(|_| InvokeError::Unavailable)?;
        let count = counts.entry(tenant_id.to_owned()).or_insert((minute, 0));
        if count.0 != minute {
            *count = (minute, 0);
        }
        if count.1 >= limits.invocations_per_minute {
            return Err(InvokeError::RateLimited(limits.invocations_per_minute));
        }
        count.1 += 1;
        Ok(permit)
    }
}

impl ExtensionRuntime {
    /// Whether the tenant has fuel left in its per-second budget (refilled continuously,
    /// at most one second's worth banked).
    fn fuel_left(&self, tenant_id: &str, per_second: u64) -> bool {
        let Ok(mut buckets) = self.fuel_buckets.lock() else { return false };
        let now = Instant::now();
        let bucket =
            buckets.entry(tenant_id.to_owned()).or_insert(FuelBucket { level: per_second as i128, updated: now });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second as f64;
        bucket.level = (bucket.level + refill as i128).min(per_second as i128);
        bucket.updated = now;
        bucket.level > 0
    }

    /// Takes what an invocation burned from its tenant's budget (it may go below zero:
    /// the tenant then waits until the budget has refilled).
    fn charge_fuel(&self, tenant_id: &str, fuel: u64) {
        if let Ok(mut buckets) = self.fuel_buckets.lock()
            && let Some(bucket) = buckets.get_mut(tenant_id)
        {
            bucket.level -= i128::from(fuel);
        }
    }
}

/// A tenant's fuel budget: what is left, as of when.
#[derive(Debug)]
pub(super) struct FuelBucket {
    level: i128,
    updated: Instant,
}

fn classify(error: &wasmtime::Error, state: &HostState, limits: &Limits, deadline: Duration) -> InvokeError {
    if state.limiter.memory_limit_hit {
        return InvokeError::Memory(limits.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => InvokeError::Deadline(deadline),
        Some(Trap::OutOfFuel) => InvokeError::Fuel(limits.fuel),
        Some(Trap::StackOverflow) => InvokeError::StackOverflow,
        Some(trap) => InvokeError::Trap(trap.to_string()),
        // Only the outermost message: the full chain carries a wasm backtrace.
        None => InvokeError::Trap(error.to_string().chars().take(200).collect()),
    }
}
