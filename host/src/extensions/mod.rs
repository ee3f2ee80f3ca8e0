//! The extension platform: tenants' WebAssembly components run in-process, in a fresh
//! wasmtime store and instance for every invocation, created from a cached, pre-compiled
//! and pre-linked component, under the tenant's limits.
//!
//! - [`engine`]: engine configuration, fingerprint and the epoch ticker;
//! - [`limits`]: tenant [`Limits`] (plan + overrides), [`NodeLimits`], the memory limiter;
//! - [`compile`]: validating and compiling an upload into a [`Compiled`] component;
//! - [`deployments`]: uploads, the background build queue, the compiled-artifact cache and
//!   the bounded in-memory cache of compiled components;
//! - [`dispatch`]: which deployments a hook runs for a tenant (bindings, order, failure
//!   policy), with their limits and environment;
//! - [`invoke`]: running one invocation of any hook; [`records`]: invocation records;
//!   [`hook_run`]: running a hook from a JSON input (dry runs, the component harness);
//! - one module per hook: [`token_issuance`], [`otp_delivery`], [`account_creation`],
//!   [`events`], [`scheduled`];
//! - one host-impl module per imported interface: `log`, `config` (config and secrets),
//!   `kv`, `http` (outbound `wasi:http` policy); `state`: the per-invocation store data.

pub mod account_creation;
mod bindings;
pub mod compile;
mod config;
pub mod deployments;
pub mod dispatch;
pub mod egress;
pub mod engine;
pub mod events;
pub mod hook_run;
mod http;
pub mod invoke;
pub mod js_build;
pub mod kv;
pub mod kv_store;
mod language;
mod limits;
mod log;
pub mod otp_delivery;
pub mod records;
pub mod scheduled;
mod state;
pub mod token_issuance;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use compile::{Compiled, DeployError};
pub use config::secret_context;
pub use deployments::{BuildQueue, LoadError};
pub use http::{AllowedHost, valid_allowed_host};
pub use invoke::{Invocation, InvokeError, Outcome, Target};
pub use language::{LANGUAGE_SECTION, Language};
pub use limits::{LimitOverrides, Limits, NodeLimits, OutOfRange};
pub use log::{CapturedLog, LogLine};
pub use state::{ExtensionEnv, HostState, InvocationContext};
pub use token_issuance::Decision;

use crate::clock::{Clock, Entropy};
use crate::storage::{Db, FailurePolicy};
use crate::vault::Vault;

/// The hooks a component can export; each is one interface of the WIT contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    TokenIssuance,
    OtpDelivery,
    AccountCreation,
    Events,
    Scheduled,
}

impl Hook {
    pub const ALL: &'static [Hook] =
        &[Hook::TokenIssuance, Hook::OtpDelivery, Hook::AccountCreation, Hook::Events, Hook::Scheduled];

    /// The name used in the API, in bindings and in the contract, e.g. `token-issuance`.
    pub fn name(self) -> &'static str {
        match self {
            Hook::TokenIssuance => "token-issuance",
            Hook::OtpDelivery => "otp-delivery",
            Hook::AccountCreation => "account-creation",
            Hook::Events => "events",
            Hook::Scheduled => "scheduled",
        }
    }

    pub fn from_name(name: &str) -> Option<Hook> {
        Hook::ALL.iter().copied().find(|hook| hook.name() == name)
    }

    /// The component export that implements the hook, at this host's contract version.
    pub fn export_name(self) -> String {
        format!("{CONTRACT_PACKAGE}/{}@{CONTRACT_VERSION}", self.name())
    }

    /// The failure policy of a binding that does not choose one: synchronous hooks whose
    /// answer guards something (a token, an account, a code) fail closed; asynchronous
    /// hooks are retried or recorded and never block anything.
    pub fn default_failure_policy(self) -> FailurePolicy {
        match self {
            Hook::TokenIssuance | Hook::AccountCreation | Hook::OtpDelivery => FailurePolicy::FailClosed,
            Hook::Events | Hook::Scheduled => FailurePolicy::FailOpen,
        }
    }
}

/// The contract package and version this host implements.
pub const CONTRACT_PACKAGE: &str = "keyhaven:extension";
pub const CONTRACT_VERSION: &str = "0.1.2";

/// The extension platform of one node: engine, linker, caches, admission control, the
/// build queue and the invocation recorder.
pub struct ExtensionRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    node: NodeLimits,
    engine_fingerprint: String,
    pub(crate) db: Db,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) entropy: Arc<dyn Entropy>,
    vault: Arc<Vault>,
    default_limits: Limits,
    caches: dispatch::Caches,
    compiled: deployments::CompiledCache,
    builds: BuildQueue,
    /// One permit per instance slot of the pooling allocator.
    slots: Semaphore,
    /// Turns for guests past their first slice (see [`invoke::FAST_FUEL`]).
    long_running: Arc<Semaphore>,
    /// Each tenant's in-flight invocations: (its limit, its semaphore), by tenant id.
    tenant_slots: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
    /// Each tenant's invocations in the current minute: (minute, count).
    minute_counts: Mutex<HashMap<String, (i64, u32)>>,
    /// Each tenant's fuel budget.
    fuel_buckets: Mutex<HashMap<String, invoke::FuelBucket>>,
    pub records: records::Recorder,
    /// The tenants' key-value stores, with this node's read cache.
    pub kv: Arc<kv_store::KvStore>,
    /// Components this node compiled (not loaded from the artifact cache).
    compilations: std::sync::atomic::AtomicU64,
    /// The node's stop signal, watched by every background loop (see [`crate::drain`]).
    pub drain: Arc<crate::drain::Drain>,
    /// The node's Prometheus counters (see [`crate::metrics`]).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot start the epoch ticker: {0}")]
    Ticker(#[from] std::io::Error),
    #[error(transparent)]
    Entropy(#[from] crate::clock::EntropyError),
}

/// What the runtime is built from.
pub struct RuntimeParts {
    pub node: NodeLimits,
    /// The limits of a tenant whose plan and overrides say nothing else.
    pub default_limits: Limits,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub entropy: Arc<dyn Entropy>,
    pub vault: Arc<Vault>,
}

impl ExtensionRuntime {
    /// Builds the runtime and starts its background tasks (epoch ticker, build worker,
    /// record writer); they stop when the runtime is dropped or its drain is stopped.
    pub fn start(parts: RuntimeParts) -> Result<Arc<Self>, StartError> {
        let RuntimeParts { node, default_limits, db, clock, entropy, vault } = parts;
        let engine_error = |e: wasmtime::Error| StartError::Engine(format!("{e:#}"));
        let engine = engine::build(&node).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
        bindings::Platform::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |state| {
            state
        })
        .map_err(engine_error)?;
        engine::spawn_epoch_ticker(&engine)?;
        let id_prefix = crate::clock::random_id(entropy.as_ref(), "", 4)?.trim_start_matches('_').to_owned();
        let (builds, build_jobs) = BuildQueue::new();
        let kv_db = db.clone();
        let runtime = Arc::new(ExtensionRuntime {
            engine_fingerprint: engine::fingerprint(&engine),
            slots: Semaphore::new(node.concurrent_invocations.max(1) as usize),
            long_running: Arc::new(Semaphore::new(node.long_running_lanes.max(1) as usize)),
            compiled: deployments::CompiledCache::new(node.compiled_cache_entries),
            engine,
            linker,
            node,
            db,
            clock,
            entropy,
            vault,
            default_limits,
            caches: dispatch::Caches::default(),
            kv: Arc::new(kv_store::KvStore::new(kv_db)),
            builds,
            tenant_slots: Mutex::default(),
            minute_counts: Mutex::default(),
            fuel_buckets: Mutex::default(),
            records: records::Recorder::new(id_prefix),
            compilations: Default::default(),
            drain: Arc::default(),
            metrics: Arc::default(),
        });
        let drain = &runtime.drain;
        deployments::spawn_build_worker(Arc::downgrade(&runtime), build_jobs, drain.clone());
        records::spawn_flusher(Arc::downgrade(&runtime), drain.clone());
        if runtime.node.background_jobs {
            crate::events::scheduler::spawn(Arc::downgrade(&runtime), drain.clone());
            crate::events::outbox::spawn_dispatcher(Arc::downgrade(&runtime), drain.clone());
        }
        Ok(runtime)
    }

    pub fn node_limits(&self) -> &NodeLimits {
        &self.node
    }

    /// How many components this node has compiled since it started (loads from the
    /// artifact cache do not count).
    pub fn compilations(&self) -> u64 {
        self.compilations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many compiled components this node holds in memory.
    pub fn components_in_memory(&self) -> usize {
        self.compiled.len()
    }

    /// Instance slots free now, of the node's `concurrent_invocations`.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    pub fn vault(&self) -> &Vault {
        &self.vault
    }
}

impl std::fmt::Debug for ExtensionRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionRuntime").field("node", &self.node).finish_non_exhaustive()
    }
}
