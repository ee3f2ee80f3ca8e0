//! The per-invocation store data. Built fresh for each invocation: a WASI context that
//! grants nothing (no filesystem, environment, sockets; standard output and error go to the
//! invocation's bounded capture; the clock is the service's), a `wasi:http` context whose
//! requests pass the tenant's outbound policy, the resource limiter, the captured log, and
//! what the extension may read: its configuration, its sealed secrets and the tenant's
//! key-value store.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::Hook;
use super::http::{AllowedHost, OutboundPolicy};
use super::kv::KvSession;
use super::limits::{GuestLimiter, Limits};
use super::log::{CapturedLog, CapturedOutput, SharedLog};
use crate::clock::Clock;
use crate::vault::{SealedSecret, Vault};

/// Whose guest is running, and why.
#[derive(Clone, Debug)]
pub struct InvocationContext {
    pub tenant_id: String,
    pub tenant_name: String,
    /// The extension's name; its versions are deployments.
    pub extension: String,
    pub deployment_id: String,
    pub version: i64,
    pub hook: Hook,
    /// A dry run: key-value writes stay in the invocation and outbound HTTP is refused.
    pub dry_run: bool,
}

/// What an extension's invocations may read besides their input, shared by all of them
/// until the tenant administrator changes it.
#[derive(Debug)]
pub struct ExtensionEnv {
    pub config: HashMap<String, String>,
    pub secrets: HashMap<String, SealedSecret>,
    /// Where the tenant allows outbound HTTP to.
    pub allowed_hosts: Arc<[AllowedHost]>,
}

/// Everything a guest's store holds.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    pub(super) outbound: OutboundPolicy,
    pub(super) limiter: GuestLimiter,
    pub(super) log: SharedLog,
    pub(super) context: Arc<InvocationContext>,
    pub(super) env: Arc<ExtensionEnv>,
    pub(super) vault: Arc<Vault>,
    pub(super) kv: KvSession,
}

/// The parts of a [`HostState`] that come from outside the invocation.
pub(super) struct HostStateParts {
    pub context: Arc<InvocationContext>,
    pub limits: Limits,
    pub env: Arc<ExtensionEnv>,
    pub vault: Arc<Vault>,
    pub kv: KvSession,
    pub clock: Arc<dyn Clock>,
    pub deadline: std::time::Instant,
    pub egress: Arc<super::egress::EgressPolicy>,
}

impl HostState {
    pub(super) fn new(parts: HostStateParts) -> Self {
        let HostStateParts { context, limits, env, vault, kv, clock, deadline, egress } = parts;
        let log = SharedLog::new(CapturedLog::new(limits.log_bytes));
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .stdout(CapturedOutput::new(log.clone(), "stdout"))
            .stderr(CapturedOutput::new(log.clone(), "stderr"))
            .wall_clock(ServiceClock(clock))
            .build();
        let outbound =
            OutboundPolicy::new(env.allowed_hosts.clone(), egress, &limits, deadline, context.dry_run, log.clone());
        HostState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            outbound,
            limiter: GuestLimiter::new(limits.memory_bytes),
            log,
            context,
            env,
            vault,
            kv,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

/// The service's clock as the guest's wall clock, so that expiry logic in extensions runs
/// under the same (injectable) time as the service.
struct ServiceClock(Arc<dyn Clock>);

impl wasmtime_wasi::HostWallClock for ServiceClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }

    fn now(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::try_from(self.0.now()).unwrap_or(0))
    }
}
