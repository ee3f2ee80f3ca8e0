//! The per-invocation store data: a WASI context with nothing granted (no filesystem,
//! environment, network or inherited stdio), the resource limiter, and captured logs.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use super::limits::GuestLimiter;
use super::log::CapturedLog;

/// Identifies whose guest is running, for log lines.
#[derive(Clone, Debug)]
pub struct InvocationContext {
    pub tenant_id: String,
    pub deployment_id: String,
}

/// Everything a guest's store holds; built fresh for each invocation.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limiter: GuestLimiter,
    pub(super) log: CapturedLog,
    pub(super) context: InvocationContext,
}

impl HostState {
    pub fn new(limits: &Limits, context: InvocationContext) -> Self {
        let wasi = WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(limits),
            log: CapturedLog::new(limits.log_bytes),
            context,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
