//! Per-invocation limits and the resource limiter that enforces linear-memory and table
//! growth. Limits apply to every guest; per-tenant plans refine them later.

use std::time::Duration;

/// What one invocation of a guest may use.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock deadline of a token-issuance invocation, instantiation included.
    #[serde(with = "millis")]
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
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Enforces memory and table growth limits and remembers whether a limit was hit, so a
/// resulting trap is reported as a memory-limit error rather than an opaque trap.
#[derive(Debug)]
pub struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
    pub(super) memory_limit_hit: bool,
}

impl GuestLimiter {
    pub fn new(limits: &Limits) -> Self {
        GuestLimiter { memory_bytes: limits.memory_bytes, table_elements: 100_000, memory_limit_hit: false }
    }
}

impl wasmtime::ResourceLimiter for GuestLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.memory_limit_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }
}
