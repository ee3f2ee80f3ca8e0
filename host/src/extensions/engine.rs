//! The wasmtime engine: component model, async, Cranelift, fuel, epoch interruption and
//! the pooling instance allocator sized from the node's limits; the engine fingerprint that
//! keys compiled artifacts; and the epoch ticker thread that drives deadlines.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::NodeLimits;

/// How often the epoch advances: the granularity of deadlines and of cooperative yields.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Bytes of each pooled memory and table reset in place (not returned to the kernel) between
/// instances: guests then start without page faults. 2 MiB covers a QuickJS component's
/// 1.6 MiB heap snapshot as well as a small Rust guest's stack, data and heap; wasmtime only
/// resets what an instance made accessible, so a Rust guest pays no more than with 256 KiB.
/// At most a slot's 2 MiB stays resident per pooled memory ever used.
const KEEP_RESIDENT: usize = 2 << 20;

/// Builds the engine every guest of this node runs in.
pub fn build(limits: &NodeLimits) -> wasmtime::Result<Engine> {
    let instances = limits.concurrent_invocations.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(4))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_memory_size(limits.max_memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(limits.fuel_metering)
        .epoch_interruption(true)
        .max_wasm_stack(limits.stack_bytes)
        // One core per compilation: a tenant's large component never takes every core
        // from the requests of others (builds also run one at a time, off the executor).
        .parallel_compilation(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Identifies what compiled artifacts this engine can load (wasmtime hashes its version and
/// every setting that changes generated code). Artifacts are cached under it, so a node with a
/// different engine compiles afresh instead of loading code it cannot run.
pub fn fingerprint(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("engine-{:016x}", hasher.finish())
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
