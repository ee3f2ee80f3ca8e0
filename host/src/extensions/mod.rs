//! The extension runtime: tenants' WebAssembly components run in-process, in a fresh
//! wasmtime store and instance for every invocation, created from a cached, pre-compiled
//! and pre-linked component ([`wasmtime::component::InstancePre`]), under hard limits
//! (fuel, wall-clock deadline, linear memory, stack, output size).
//!
//! - [`engine`]: engine configuration and the epoch ticker;
//! - [`limits`]: the limits and the memory limiter;
//! - [`compile`]: validating an upload and compiling it into a [`Compiled`] component;
//! - [`token_issuance`]: invoking the token-issuance hook;
//! - [`log`]: the host side of the `log` import; [`state`]: per-invocation store data.

mod bindings;
pub mod compile;
pub mod deployments;
pub mod engine;
mod limits;
mod log;
mod state;
pub mod token_issuance;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;
use wasmtime::component::Linker;

pub use compile::{Compiled, DeployError};
pub use deployments::{DeployFailure, LoadError, Upload};
pub use limits::Limits;
pub use state::{HostState, InvocationContext};
pub use token_issuance::{Decision, Invocation, InvokeError};

/// The hooks a component can export; each is one interface of the WIT contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    TokenIssuance,
}

impl Hook {
    pub const ALL: &'static [Hook] = &[Hook::TokenIssuance];

    /// The name used in the API and in bindings, e.g. `token-issuance`.
    pub fn name(self) -> &'static str {
        match self {
            Hook::TokenIssuance => "token-issuance",
        }
    }

    /// The component export that implements the hook.
    pub fn export_name(self) -> &'static str {
        match self {
            Hook::TokenIssuance => "keyhaven:extension/token-issuance@0.1.0",
        }
    }
}

/// The contract package and version this host implements.
pub const CONTRACT_PACKAGE: &str = "keyhaven:extension";
pub const CONTRACT_VERSION: &str = "0.1.0";

/// Engine, linker, limits and the cache of compiled deployments of one node.
pub struct ExtensionRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
    /// Compiled deployments by (tenant id, deployment id).
    compiled: RwLock<HashMap<(String, String), Arc<Compiled>>>,
    /// The deployment bound to each (tenant id, hook), or none, as last read or deployed.
    bindings: RwLock<HashMap<(String, Hook), Option<String>>>,
    /// One permit per instance slot of the pooling allocator.
    slots: Semaphore,
    /// Each tenant's in-flight invocations, by tenant id.
    tenant_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    #[error("cannot start the epoch ticker: {0}")]
    Ticker(#[from] std::io::Error),
}

impl ExtensionRuntime {
    pub fn new(limits: Limits) -> Result<Self, StartError> {
        let engine = engine::build(&limits).map_err(|e| StartError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| StartError::Engine(format!("{e:#}")))?;
        bindings::Platform::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |state| {
            state
        })
        .map_err(|e| StartError::Engine(format!("{e:#}")))?;
        engine::spawn_epoch_ticker(&engine)?;
        let slots = Semaphore::new(limits.concurrent_invocations.max(1) as usize);
        Ok(ExtensionRuntime {
            engine,
            linker,
            limits,
            compiled: RwLock::default(),
            bindings: RwLock::default(),
            slots,
            tenant_slots: Mutex::default(),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The compiled deployment, if this node has it in memory.
    pub fn cached(&self, tenant_id: &str, deployment_id: &str) -> Option<Arc<Compiled>> {
        let cache = self.compiled.read().ok()?;
        cache.get(&(tenant_id.to_owned(), deployment_id.to_owned())).cloned()
    }

    /// Takes one of the tenant's in-flight slots; a tenant at its limit is refused at once.
    fn tenant_slot(&self, tenant_id: &str) -> Result<OwnedSemaphorePermit, InvokeError> {
        let limit = self.limits.tenant_concurrent_invocations;
        let semaphore = {
            let mut slots = self.tenant_slots.lock().map_err(|_| InvokeError::Unavailable)?;
            slots.entry(tenant_id.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(limit as usize))).clone()
        };
        semaphore.try_acquire_owned().map_err(|_| InvokeError::TooManyInFlight(limit))
    }

    /// Keeps a compiled deployment for later invocations.
    pub fn cache(&self, tenant_id: &str, deployment_id: &str, compiled: Arc<Compiled>) {
        if let Ok(mut cache) = self.compiled.write() {
            cache.insert((tenant_id.to_owned(), deployment_id.to_owned()), compiled);
        }
    }
}

impl std::fmt::Debug for ExtensionRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionRuntime").field("limits", &self.limits).finish_non_exhaustive()
    }
}
