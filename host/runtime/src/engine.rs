//! The one wasmtime engine, built for many short invocations, and the thread
//! that advances its epoch so deadlines can fire.
//!
//! Every limit set here carries the reason for its value. Per-invocation
//! budgets (fuel, deadline, memory) are set on each store from
//! [`Limits`](crate::Limits); what is here bounds the whole process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::Limits;

/// How often the epoch advances. Deadlines are counted in these ticks, so a
/// deadline fires between one and two ticks late at worst; 10 ms keeps that
/// error small next to the 1 s default deadline while the ticker thread wakes
/// only 100 times a second.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Process-wide sizing of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Invocations that may run at the same time; one more waits for a slot
    /// (the pool is preallocated address space, so this is cheap to raise).
    pub max_concurrent_instances: u32,
    /// Charge fuel. Only benchmarks turn this off, to measure its cost.
    pub fuel: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            // Far above what 2 cores can run at once, so a burst of requests
            // queues on CPU rather than failing for lack of a slot.
            max_concurrent_instances: 512,
            fuel: true,
        }
    }
}

/// Build the engine. Errors only if wasmtime rejects the configuration.
pub fn build(options: &EngineOptions) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .consume_fuel(options.fuel)
        .epoch_interruption(true)
        // Deep recursion must end in a clean `stack` trap long before the host
        // thread's own stack (2 MiB for Tokio's blocking threads) is at risk;
        // 512 KiB is ample for serde-heavy component code.
        .max_wasm_stack(512 << 10)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true)
        // Copy-on-write images make a fresh instance's memory a page-table
        // operation instead of a copy of the data segments.
        .memory_init_cow(true)
        // Short wasm backtraces help an author find a fault; DWARF would only
        // help debug the host.
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(16))
        .debug_info(false)
        // Native unwind tables only serve host debuggers and profilers walking
        // through wasm frames; registering them is most of the cost of loading
        // a cached component.
        .native_unwind_info(false)
        // On a trap, keep handles to the instance's globals: an out-of-bounds
        // access with a wrapped stack pointer is a shadow-stack overflow, and
        // must be reported as the `stack` limit (see runtime::classify).
        .coredump_on_trap(true);

    let mut pool = PoolingAllocationConfig::default();
    let slots = options.max_concurrent_instances;
    pool.total_component_instances(slots)
        // A Rust component holds its main module plus a few small shim modules.
        .total_core_instances(slots * 8)
        .max_core_instances_per_component(16)
        // One memory per Rust component; allow a few more for components built
        // from several modules.
        .total_memories(slots * 2)
        .max_memories_per_component(4)
        .total_tables(slots * 8)
        .max_tables_per_component(16)
        // The hard ceiling behind every per-invocation memory limit.
        .max_memory_size(Limits::PLATFORM_CAPS.memory_bytes as usize)
        // Reset a slot's first 128 KiB in place rather than returning it to
        // the kernel: SDK components (64 KiB stack, see .cargo/config.toml)
        // start with exactly two pages, which every call touches. Measured on
        // fresh `book` calls: 0 or 64 KiB → 37 µs, 128 KiB → 22 µs, 256 KiB+ →
        // no better (the extra memcpy eats the saved page faults).
        .linear_memory_keep_resident(128 << 10)
        .table_keep_resident(16 << 10)
        // Reusing warm slots keeps the kernel's page tables for them hot.
        .max_unused_warm_slots(slots / 4);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));

    Engine::new(&config)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Start ticking `engine`.
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mercato-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }

    /// Epoch ticks that cover `deadline`: one extra because the first tick may
    /// come at once.
    pub fn ticks_for(deadline: Duration) -> u64 {
        let tick = EPOCH_TICK.as_millis().max(1) as u64;
        (deadline.as_millis() as u64).div_ceil(tick) + 1
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
