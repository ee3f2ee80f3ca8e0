//! The wasmtime engine: component model, async, Cranelift, fuel, epoch interruption and
//! the pooling instance allocator sized from the limits; plus the epoch ticker thread that
//! drives deadlines.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::Limits;

/// How often the epoch advances: the granularity of deadlines and of cooperative yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Bytes of each pooled memory and table reset in place (not returned to the kernel) between
/// instances: small guests then start without page faults.
const KEEP_RESIDENT: usize = 256 << 10;

/// Builds the engine every guest of this node runs in.
pub fn build(limits: &Limits) -> wasmtime::Result<Engine> {
    let instances = limits.concurrent_invocations.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(4))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(limits.memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(limits.stack_bytes)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
pub fn spawn_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new().name("keyhaven-epoch".into()).spawn(move || {
        loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        }
    })?;
    Ok(())
}
