//! Per-invocation limits and the resource limiter that enforces linear-memory and table
//! growth. Limits apply to every guest; per-tenant plans refine them later.

use std::time::Duration;

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// What one invocation of a guest may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock deadline of a token-issuance invocation, instantiation included.
    pub deadline: Duration,
    /// Instructions (fuel) per invocation.
    pub fuel: u64,
    /// Linear memory per memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// WebAssembly stack, in bytes (engine-wide).
    pub stack_bytes: usize,
    /// Largest accepted component upload, in bytes.
    pub component_bytes: usize,
    /// Most claims one invocation may return (access and ID token together).
    pub output_claims: usize,
    /// Most bytes of claim names and values one invocation may return.
    pub output_bytes: usize,
    /// Most bytes of log messages kept per invocation; the rest is counted and dropped.
    pub log_bytes: usize,
    /// Invocations that may run at once across the node (sizes the instance pool).
    pub concurrent_invocations: u32,
    /// Invocations one tenant may have in flight at once; more are refused at once, so one
    /// tenant cannot take the node's whole pool.
    pub tenant_concurrent_invocations: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(50),
            fuel: 10_000_000,
            memory_bytes: 16 << 20,
            stack_bytes: 512 << 10,
            component_bytes: 1 << 20,
            output_claims: 50,
            output_bytes: 16 << 10,
            log_bytes: 1 << 10,
            concurrent_invocations: 64,
            tenant_concurrent_invocations: 8,
        }
    }
}

/// Wasmtime's [`StoreLimits`] (memory size, table elements, instance/memory/table counts),
/// remembering whether a memory limit refused a growth, so that the trap that follows is
/// reported as a memory-limit error rather than an opaque trap.
#[derive(Debug)]
pub struct GuestLimiter {
    limits: StoreLimits,
    pub(super) memory_limit_hit: bool,
}

/// Enough for components from the usual toolchains; far below what would strain the host.
const MAX_TABLE_ELEMENTS: usize = 100_000;
const MAX_INSTANCES: usize = 64;
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;

impl GuestLimiter {
    pub fn new(limits: &Limits) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .table_elements(MAX_TABLE_ELEMENTS)
            .instances(MAX_INSTANCES)
            .memories(MAX_MEMORIES)
            .tables(MAX_TABLES)
            .build();
        GuestLimiter { limits, memory_limit_hit: false }
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        self.memory_limit_hit |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}
