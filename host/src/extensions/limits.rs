//! Limits. [`Limits`] are a tenant's: they come from its plan, refined by per-tenant
//! overrides an operator sets ([`LimitOverrides`]), and bound every invocation of its
//! guests. [`NodeLimits`] are the node's: the instance pool, the largest memory any plan may
//! grant, and the wasm stack (an engine setting). [`GuestLimiter`] enforces memory and table
//! growth inside one store.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

use super::{Hook, Language};

/// What a tenant's extensions may use, per invocation unless said otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    /// Wall-clock deadline of a token-issuance invocation, instantiation included.
    #[serde(with = "millis")]
    #[schema(value_type = u64)]
    pub token_deadline: Duration,
    /// Wall-clock deadline of every other hook's invocation.
    #[serde(with = "millis")]
    #[schema(value_type = u64)]
    pub hook_deadline: Duration,
    /// Instructions (fuel) per invocation.
    pub fuel: u64,
    /// Linear memory per memory of the instance, in bytes.
    pub memory_bytes: usize,
    /// Largest accepted component upload, in bytes.
    pub component_bytes: usize,
    /// `fuel`, `memory_bytes` and `component_bytes` of a JavaScript guest, which carries
    /// its engine: a QuickJS component is 1–15 MB, starts with a few MiB of heap and
    /// burns about a million instructions where a Rust guest burns twenty thousand.
    pub js_fuel: u64,
    pub js_memory_bytes: usize,
    pub js_component_bytes: usize,
    /// Largest hook input (the JSON of its arguments), in bytes.
    pub input_bytes: usize,
    /// Most claims one invocation may return (access and ID token together).
    pub output_claims: usize,
    /// Longest claim name, in bytes.
    pub claim_name_bytes: usize,
    /// Most bytes one invocation may return (claim names and values, changed attributes).
    pub output_bytes: usize,
    /// Most bytes of log lines and standard output/error kept per invocation.
    pub log_bytes: usize,
    /// Invocations the tenant may have in flight at once on a node; more are refused at
    /// once, so one tenant cannot take the node's whole pool.
    pub concurrent_invocations: u32,
    /// Invocations the tenant may start per minute on a node.
    pub invocations_per_minute: u32,
    /// Instructions (fuel) the tenant's invocations may burn per second on a node, with a
    /// burst of one second's worth: its share of the machine, whatever its guests do.
    pub fuel_per_second: u64,
    /// Longest an outbound HTTP request may take (it is also bounded by the deadline).
    #[serde(with = "millis")]
    #[schema(value_type = u64)]
    pub http_timeout: Duration,
    /// Largest outbound HTTP response body, in bytes.
    pub http_response_bytes: usize,
    /// Extensions the tenant may have enabled at once.
    pub enabled_extensions: u32,
    /// Keys the tenant's key-value store may hold.
    pub kv_keys: u32,
    /// Largest key-value entry (value JSON), in bytes.
    pub kv_value_bytes: usize,
    /// Requests a second to the token, introspection and revocation endpoints, and the
    /// burst above that rate.
    pub token_requests_per_second: u32,
    pub token_burst: u32,
    /// Requests a second to the login endpoints, and the burst above that rate.
    pub login_requests_per_second: u32,
    pub login_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            token_deadline: Duration::from_millis(50),
            hook_deadline: Duration::from_millis(100),
            fuel: 10_000_000,
            memory_bytes: 16 << 20,
            component_bytes: 1 << 20,
            js_fuel: 100_000_000,
            js_memory_bytes: 64 << 20,
            js_component_bytes: 16 << 20,
            input_bytes: 64 << 10,
            output_claims: 50,
            claim_name_bytes: 256,
            output_bytes: 16 << 10,
            log_bytes: 1 << 10,
            concurrent_invocations: 8,
            invocations_per_minute: 60_000,
            fuel_per_second: 500_000_000,
            http_timeout: Duration::from_secs(5),
            http_response_bytes: 256 << 10,
            enabled_extensions: 20,
            kv_keys: 1_000,
            kv_value_bytes: 16 << 10,
            token_requests_per_second: 1_000,
            token_burst: 100,
            login_requests_per_second: 1_000,
            login_burst: 100,
        }
    }
}

impl Limits {
    /// The wall-clock deadline of one invocation of `hook`.
    pub fn deadline(&self, hook: Hook) -> Duration {
        match hook {
            Hook::TokenIssuance => self.token_deadline,
            _ => self.hook_deadline,
        }
    }

    /// The limits a guest in `language` runs under: a JavaScript guest's fuel, memory and
    /// upload size are the plan's `js_*` values; everything else is the same for all.
    pub fn for_language(&self, language: Language) -> std::borrow::Cow<'_, Limits> {
        match language {
            Language::Compiled => std::borrow::Cow::Borrowed(self),
            Language::JavaScript => std::borrow::Cow::Owned(Limits {
                fuel: self.js_fuel,
                memory_bytes: self.js_memory_bytes,
                component_bytes: self.js_component_bytes,
                ..self.clone()
            }),
        }
    }

    /// These limits with `overrides` applied, capped by what the node can grant.
    pub fn with(mut self, overrides: &LimitOverrides, node: &NodeLimits) -> Limits {
        let o = overrides;
        macro_rules! apply {
            ($($field:ident),*) => { $( if let Some(value) = o.$field { self.$field = value; } )* };
        }
        apply!(
            fuel,
            memory_bytes,
            component_bytes,
            js_fuel,
            js_memory_bytes,
            js_component_bytes,
            input_bytes,
            output_claims,
            claim_name_bytes,
            output_bytes,
            log_bytes,
            concurrent_invocations,
            invocations_per_minute,
            fuel_per_second,
            http_response_bytes,
            enabled_extensions,
            kv_keys,
            kv_value_bytes,
            token_requests_per_second,
            token_burst,
            login_requests_per_second,
            login_burst
        );
        if let Some(ms) = o.token_deadline_ms {
            self.token_deadline = Duration::from_millis(ms);
        }
        if let Some(ms) = o.hook_deadline_ms {
            self.hook_deadline = Duration::from_millis(ms);
        }
        if let Some(ms) = o.http_timeout_ms {
            self.http_timeout = Duration::from_millis(ms);
        }
        self.memory_bytes = self.memory_bytes.min(node.max_memory_bytes);
        self.js_memory_bytes = self.js_memory_bytes.min(node.max_memory_bytes);
        self
    }
}

/// Changes to [`Limits`], as a plan or an operator states them; absent fields keep the value
/// underneath. Stored and exchanged as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_deadline_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_deadline_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js_fuel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js_memory_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub js_component_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_claims: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_invocations: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocations_per_minute: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel_per_second: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_response_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_extensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_keys: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_value_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_requests_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_burst: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_requests_per_second: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_burst: Option<u32>,
}

/// Bounds that keep one override from being absurd; checked when a plan or override is set.
#[derive(Debug, thiserror::Error)]
#[error("{field} must be between {min} and {max}")]
pub struct OutOfRange {
    pub field: &'static str,
    pub min: u64,
    pub max: u64,
}

impl LimitOverrides {
    /// Refuses values no node could honour or that would disable the limit.
    pub fn validate(&self, node: &NodeLimits) -> Result<(), OutOfRange> {
        let check = |field: &'static str, value: Option<u64>, min: u64, max: u64| match value {
            Some(v) if v < min || v > max => Err(OutOfRange { field, min, max }),
            _ => Ok(()),
        };
        let n = |v: Option<usize>| v.map(|v| v as u64);
        let m = |v: Option<u32>| v.map(u64::from);
        check("token_deadline_ms", self.token_deadline_ms, 1, 10_000)?;
        check("hook_deadline_ms", self.hook_deadline_ms, 1, 60_000)?;
        check("fuel", self.fuel, 1_000, 10_000_000_000)?;
        check("memory_bytes", n(self.memory_bytes), 1 << 16, node.max_memory_bytes as u64)?;
        check("component_bytes", n(self.component_bytes), 1 << 10, 64 << 20)?;
        check("js_fuel", self.js_fuel, 1_000, 10_000_000_000)?;
        check("js_memory_bytes", n(self.js_memory_bytes), 1 << 16, node.max_memory_bytes as u64)?;
        check("js_component_bytes", n(self.js_component_bytes), 1 << 10, 64 << 20)?;
        check("input_bytes", n(self.input_bytes), 1 << 10, 1 << 20)?;
        check("output_claims", n(self.output_claims), 0, 1_000)?;
        check("claim_name_bytes", n(self.claim_name_bytes), 1, 4096)?;
        check("output_bytes", n(self.output_bytes), 0, 1 << 20)?;
        check("log_bytes", n(self.log_bytes), 0, 1 << 20)?;
        check("concurrent_invocations", m(self.concurrent_invocations), 1, u64::from(node.concurrent_invocations))?;
        check("invocations_per_minute", m(self.invocations_per_minute), 1, 10_000_000)?;
        check("fuel_per_second", self.fuel_per_second, 1_000_000, 1_000_000_000_000)?;
        check("http_timeout_ms", self.http_timeout_ms, 1, 60_000)?;
        check("http_response_bytes", n(self.http_response_bytes), 0, 16 << 20)?;
        check("enabled_extensions", m(self.enabled_extensions), 0, 1_000)?;
        check("kv_keys", m(self.kv_keys), 0, 1_000_000)?;
        check("kv_value_bytes", n(self.kv_value_bytes), 1, 1 << 20)?;
        check("token_requests_per_second", m(self.token_requests_per_second), 1, 1_000_000)?;
        check("token_burst", m(self.token_burst), 1, 1_000_000)?;
        check("login_requests_per_second", m(self.login_requests_per_second), 1, 1_000_000)?;
        check("login_burst", m(self.login_burst), 1, 1_000_000)?;
        Ok(())
    }
}

/// What one node provides to every tenant's guests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    /// Invocations that may run at once across the node (sizes the instance pool).
    pub concurrent_invocations: u32,
    /// The largest linear memory any tenant's plan may grant (sizes pool slots).
    pub max_memory_bytes: usize,
    /// WebAssembly stack, in bytes (an engine setting, so the same for every tenant).
    pub stack_bytes: usize,
    /// Compiled components kept in memory; the least recently used beyond this are dropped
    /// and reloaded from the artifact cache on their next use.
    pub compiled_cache_entries: usize,
    /// Whether invocations are metered with fuel (the instruction limit). Off only to
    /// measure what metering costs.
    pub fuel_metering: bool,
    /// Guests that run past their first few milliseconds take turns on this many lanes (at
    /// most this many cores), leaving the rest of the machine to short invocations and to
    /// request handling.
    pub long_running_lanes: u32,
    /// Whether this node runs the background jobs (event deliveries, scheduled runs). Off
    /// only where a test drives them itself.
    pub background_jobs: bool,
    /// The build command of this node's JavaScript toolchain (`sdk/js/bin/keyhaven-js.mjs`
    /// with its packages installed; `node` on the PATH), which builds handlers uploaded as
    /// JavaScript or TypeScript source. Without one such uploads are refused; components
    /// are accepted either way.
    pub js_builder: Option<std::path::PathBuf>,
    /// Where extensions' outbound HTTP may go from this node, whatever hosts a tenant allows.
    pub egress: std::sync::Arc<super::egress::EgressPolicy>,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            concurrent_invocations: 64,
            // A JavaScript guest's plan gives it 64 MiB by default; a plan may go to 128.
            max_memory_bytes: 128 << 20,
            stack_bytes: 512 << 10,
            compiled_cache_entries: 256,
            fuel_metering: true,
            long_running_lanes: 1,
            background_jobs: true,
            js_builder: None,
            egress: std::sync::Arc::default(),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
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
    pub fn new(memory_bytes: usize) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_name_and_memory_is_capped_by_the_node() {
        let node = NodeLimits { max_memory_bytes: 32 << 20, ..NodeLimits::default() };
        let overrides: LimitOverrides =
            serde_json::from_str(r#"{"fuel": 5000, "token_deadline_ms": 20, "memory_bytes": 1073741824}"#).unwrap();
        let limits = Limits::default().with(&overrides, &node);
        assert_eq!(limits.fuel, 5000);
        assert_eq!(limits.token_deadline, Duration::from_millis(20));
        assert_eq!(limits.memory_bytes, 32 << 20);
        assert_eq!(limits.hook_deadline, Limits::default().hook_deadline);
        assert!(overrides.validate(&node).is_err(), "1 GiB is beyond this node");
    }

    #[test]
    fn a_javascript_guest_runs_under_the_plans_js_limits_and_a_compiled_one_under_its_base() {
        let limits = Limits::default();
        let js = limits.for_language(Language::JavaScript);
        assert_eq!(
            (js.fuel, js.memory_bytes, js.component_bytes),
            (limits.js_fuel, limits.js_memory_bytes, limits.js_component_bytes)
        );
        assert_eq!(js.token_deadline, limits.token_deadline);
        assert_eq!(*limits.for_language(Language::Compiled), limits);
        let small_node = NodeLimits { max_memory_bytes: 32 << 20, ..NodeLimits::default() };
        let capped = Limits::default().with(&LimitOverrides::default(), &small_node);
        assert_eq!(capped.for_language(Language::JavaScript).memory_bytes, 32 << 20);
    }

    #[test]
    fn unknown_or_out_of_range_overrides_are_refused() {
        assert!(serde_json::from_str::<LimitOverrides>(r#"{"fuell": 1}"#).is_err());
        let zero_deadline = LimitOverrides { token_deadline_ms: Some(0), ..Default::default() };
        let error = zero_deadline.validate(&NodeLimits::default()).unwrap_err();
        assert_eq!(error.field, "token_deadline_ms");
    }
}
