//! The runtime: one engine and linker, the compile cache, and invocations.
//!
//! Every invocation runs in a fresh store and instance with its own fuel,
//! deadline, memory cap and output cap. Its store writes, events and approval
//! requests are buffered (bounded in count and bytes) and committed together
//! when it returns a value; a trap, a limit or a returned error discards
//! them. The commit is part of the invocation's deadline. Commits are
//! optimistic per (tenant, component): when another invocation changed what
//! this one read, it is run again, this time holding the scope exclusively
//! within this process so it cannot lose twice to a neighbour. Every attempt
//! draws on one budget: the fuel left and the time left of the first.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mercato_types::{
    CustomerDirectory, MemoryCustomers, MemoryState, Scope, Snapshot, StateError, StateStore,
};
use serde_json::Value;
use wasmtime::component::{Linker, Val};
use wasmtime::{Engine, Store, Trap};

use crate::cache::CompileCache;
use crate::component::{Function, LoadedComponent, digest};
use crate::engine::{EngineOptions, EpochTicker};
use crate::fault::Fault;
use crate::sandbox::{CallContext, LogLine, Sandbox, Transaction};
use crate::{InvokeError, Kind, Limit, Limits, LoadError, value};

/// Largest component the runtime loads.
pub const MAX_COMPONENT_BYTES: usize = 16 << 20;

/// How often an invocation is run before giving up on contention. Retries
/// after the first hold the scope exclusively in-process, so only other hosts
/// can make them lose again; all attempts share one fuel and time budget.
const MAX_ATTEMPTS: u32 = 20;

/// What is left of an invocation's budget across its attempts.
#[derive(Debug, Clone, Copy)]
struct Budget {
    fuel: u64,
    deadline: Instant,
}

/// What a successful invocation produced.
#[derive(Debug)]
pub struct Outcome {
    /// The function's results (zero or one value).
    pub results: Vec<Val>,
    /// Fuel consumed by the attempt that committed.
    pub fuel_used: u64,
    /// The largest linear memory the attempt that committed held, in bytes.
    pub memory_peak: u64,
    /// The size of the result as the output limit counts it, in bytes.
    pub output_bytes: u64,
    /// Wall time, all attempts included.
    pub elapsed: Duration,
    /// Attempts made (more than 1 after a commit conflict).
    pub attempts: u32,
    /// What the component logged, stdout and stderr included.
    pub logs: Vec<LogLine>,
    /// Log lines dropped over the log cap.
    pub logs_dropped: usize,
    /// Events committed.
    pub events: usize,
    /// Ids of the approval requests filed.
    pub approvals: Vec<String>,
}

impl Outcome {
    /// The result as JSON (`null` for a function without one).
    pub fn json(&self) -> Value {
        self.results.first().map_or(Value::Null, value::to_json)
    }

    /// Whether the function returned the error case of its `result`.
    pub fn returned_error(&self) -> bool {
        returned_error(&self.results)
    }
}

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    options: EngineOptions,
    cache_dir: Option<PathBuf>,
    state: Arc<dyn StateStore>,
    customers: Arc<dyn CustomerDirectory>,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("options", &self.options)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// Cache compiled components in `dir`.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Keep component state in `state`.
    pub fn state(mut self, state: Arc<dyn StateStore>) -> Self {
        self.state = state;
        self
    }

    /// Read customer profiles from `customers`.
    pub fn customers(mut self, customers: Arc<dyn CustomerDirectory>) -> Self {
        self.customers = customers;
        self
    }

    /// Use `clock` (milliseconds since the epoch) instead of the system clock.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Engine sizing and fuel.
    pub fn engine_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    /// Build the engine, link the host and start the epoch ticker.
    pub fn build(self) -> Result<Runtime, RuntimeError> {
        let engine = crate::engine::build(&self.options)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        crate::wasi::add_to_linker(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        crate::imports::add_to_linker(&mut linker)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let cache = self
            .cache_dir
            .map(|dir| CompileCache::open(&dir, &engine))
            .transpose()
            .map_err(RuntimeError::Cache)?;
        let ticker = EpochTicker::start(&engine).map_err(RuntimeError::Cache)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            world: World {
                state: self.state,
                customers: self.customers,
                now_ms: None,
                locks: Arc::default(),
            },
            clock: self.clock,
            fuel: self.options.fuel,
            max_component_bytes: MAX_COMPONENT_BYTES,
            _ticker: ticker,
        })
    }
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// wasmtime refused the configuration or the host bindings.
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    /// The cache directory or the epoch thread could not be set up.
    #[error("cannot set up the runtime: {0}")]
    Cache(#[source] std::io::Error),
}

/// What invocations read from and commit to: a state store, a customer
/// directory and, optionally, a fixed clock. The runtime serves its own
/// world; [`Runtime::invoke_json_in`] runs a call in another one (a replay's
/// in-memory copy of an install's state, with masked profiles), sharing the
/// engine, linker and compiled code but nothing a call can write.
#[derive(Clone)]
pub struct World {
    state: Arc<dyn StateStore>,
    customers: Arc<dyn CustomerDirectory>,
    now_ms: Option<u64>,
    /// Retry locks per scope, so a world's calls never wait on another's.
    locks: Arc<ScopeLocks>,
}

type ScopeLocks = Mutex<HashMap<Scope, Arc<RwLock<()>>>>;

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl World {
    /// A world over `state` and `customers`, on the runtime's clock.
    pub fn new(state: Arc<dyn StateStore>, customers: Arc<dyn CustomerDirectory>) -> Self {
        World {
            state,
            customers,
            now_ms: None,
            locks: Arc::default(),
        }
    }

    /// The same world, its calls seeing `now_ms` as the time (a recorded
    /// call's own time, so both sides of a replay see one clock).
    pub fn at(&self, now_ms: u64) -> World {
        World {
            now_ms: Some(now_ms),
            ..self.clone()
        }
    }

    /// Its state store.
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.state
    }

    /// Its customer directory.
    pub fn customers(&self) -> &Arc<dyn CustomerDirectory> {
        &self.customers
    }
}

/// Runs components. Share it (`Arc`) across threads; invocations block, so
/// call them from threads that may block.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    cache: Option<CompileCache>,
    /// The production world: the real store and customer directory.
    world: World,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    fuel: bool,
    max_component_bytes: usize,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

fn system_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Runtime {
    /// A builder with in-memory state, no customers, the system clock and no
    /// disk cache.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            options: EngineOptions::default(),
            cache_dir: None,
            state: Arc::new(MemoryState::new()),
            customers: Arc::new(MemoryCustomers::new()),
            clock: Arc::new(system_now),
        }
    }

    /// The engine, for benchmarks and tools.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The world its calls run in (the real store and directory).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Invoke `function` with JSON arguments (an object keyed by parameter name).
    pub fn invoke_json(
        &self,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
        args: &Value,
    ) -> Result<Outcome, InvokeError> {
        self.invoke_json_from(component, call, limits, function, args, None)
    }

    /// [`invoke_json`](Self::invoke_json) reading from `snapshot`, the
    /// scope as the caller just took it from this runtime's store (e.g.
    /// without blocking, before running the call): the first attempt reads
    /// from it instead of asking the store; a retry takes a fresh one.
    pub fn invoke_json_from(
        &self,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
        args: &Value,
        snapshot: Option<Snapshot>,
    ) -> Result<Outcome, InvokeError> {
        self.invoke_json_within(
            &self.world,
            component,
            call,
            limits,
            function,
            args,
            snapshot,
        )
    }

    /// [`invoke_json`](Self::invoke_json) in `world` instead of the
    /// runtime's own: its reads, writes, events and approval requests stay
    /// there.
    pub fn invoke_json_in(
        &self,
        world: &World,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
        args: &Value,
    ) -> Result<Outcome, InvokeError> {
        self.invoke_json_within(world, component, call, limits, function, args, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke_json_within(
        &self,
        world: &World,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
        args: &Value,
        snapshot: Option<Snapshot>,
    ) -> Result<Outcome, InvokeError> {
        let f = self.lookup(component, function)?;
        let args = value::params_from_json(&f.params, args).map_err(|message| {
            InvokeError::BadArguments {
                function: function.to_owned(),
                message,
            }
        })?;
        self.invoke_function(world, component, f, call, limits, &args, snapshot)
    }

    fn lookup<'c>(
        &self,
        component: &'c LoadedComponent,
        function: &str,
    ) -> Result<&'c Function, InvokeError> {
        component
            .function(function)
            .ok_or_else(|| InvokeError::UnknownFunction {
                kind: component.kind(),
                function: function.to_owned(),
                available: component
                    .functions()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Invoke `function` with already-typed arguments.
    pub fn invoke(
        &self,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
        args: &[Val],
    ) -> Result<Outcome, InvokeError> {
        let f = self.lookup(component, function)?;
        self.invoke_function(&self.world, component, f, call, limits, args, None)
    }

    /// The body of [`invoke`](Self::invoke) once the function is resolved.
    #[allow(clippy::too_many_arguments)]
    fn invoke_function(
        &self,
        world: &World,
        component: &LoadedComponent,
        f: &Function,
        call: &Arc<CallContext>,
        limits: &Limits,
        args: &[Val],
        mut snapshot: Option<Snapshot>,
    ) -> Result<Outcome, InvokeError> {
        let started = Instant::now();
        let now_ms = world.now_ms.unwrap_or_else(|| (self.clock)());
        let held = scope_lock(&world.locks, &call.scope);
        let lock = held.lock();
        let mut budget = Budget {
            fuel: limits.fuel,
            deadline: started + limits.deadline(),
        };
        for attempt in 1..=MAX_ATTEMPTS {
            // First attempts share the scope; a retry takes it exclusively.
            let _shared;
            let _exclusive;
            if attempt == 1 {
                _shared = lock.read().unwrap_or_else(|p| p.into_inner());
            } else {
                _exclusive = lock.write().unwrap_or_else(|p| p.into_inner());
            }
            let run = self
                .run_once(
                    world,
                    component,
                    f,
                    call,
                    limits,
                    &budget,
                    args,
                    now_ms,
                    snapshot.take(),
                )
                .map_err(|e| across_attempts(e, attempt))?;
            budget.fuel = budget.fuel.saturating_sub(run.fuel_used);
            let committed = if returned_error(&run.results) {
                // All or nothing: a returned error commits nothing.
                Ok(Committed::default())
            } else {
                self.commit(world, &call.scope, run.tx, budget.deadline)
            };
            match committed {
                Ok(committed) => {
                    return Ok(Outcome {
                        results: run.results,
                        fuel_used: limits.fuel - budget.fuel,
                        memory_peak: run.memory_peak,
                        output_bytes: run.output_bytes,
                        elapsed: started.elapsed(),
                        attempts: attempt,
                        logs: run.logs,
                        logs_dropped: run.logs_dropped,
                        events: committed.events,
                        approvals: committed.approvals,
                    });
                }
                Err(StateError::Conflict { .. }) => continue,
                Err(StateError::Deadline) => {
                    return Err(InvokeError::LimitExceeded {
                        limit: Limit::Deadline,
                        detail: format!(
                            "its effects could not be committed within its {} ms deadline, so none were",
                            limits.deadline_ms
                        ),
                    });
                }
                Err(e @ StateError::OverQuota { .. }) => {
                    return Err(InvokeError::LimitExceeded {
                        limit: Limit::Store,
                        detail: e.to_string(),
                    });
                }
                Err(StateError::Busy) => return Err(InvokeError::Busy),
                Err(StateError::Storage(e)) => return Err(InvokeError::Storage(e)),
            }
        }
        Err(InvokeError::Contention {
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Whether loading `digest` would come from the disk cache (no compile).
    pub fn is_compiled(&self, digest: &str) -> bool {
        self.cache.as_ref().is_some_and(|c| c.contains(digest))
    }

    /// Load component bytes as a component of `kind`.
    pub fn load(&self, kind: Kind, bytes: &[u8]) -> Result<LoadedComponent, LoadError> {
        self.load_verified(kind, bytes, &digest(bytes), &Limits::default())
    }

    /// [`load`](Self::load) for bytes whose sha256 `digest` the caller has
    /// just verified (checking a package signature hashes the code anyway),
    /// checked under the `limits` its calls will run with.
    pub fn load_verified(
        &self,
        kind: Kind,
        bytes: &[u8],
        digest: &str,
        limits: &Limits,
    ) -> Result<LoadedComponent, LoadError> {
        let component = crate::component::prepare(
            &self.engine,
            &self.linker,
            self.cache.as_ref(),
            self.max_component_bytes,
            kind,
            bytes,
            digest,
        )?;
        self.typecheck(&component, limits)?;
        Ok(component)
    }

    /// Instantiate once, under the limits its calls will have and with no
    /// grants, and check every export's signature against the kind's world.
    /// (Resolving export names alone would accept a `book` of any type.)
    fn typecheck(&self, component: &LoadedComponent, limits: &Limits) -> Result<(), LoadError> {
        let kind = component.kind();
        let mut store = self.probe_store(limits);
        let instance = component.pre.instantiate(&mut store).map_err(|e| {
            LoadError::Invalid(format!("the component cannot be instantiated: {e:#}"))
        })?;
        crate::kind::check_exports(kind, component.wit(), &component.pre, &mut store, &instance)
            .map_err(|detail| LoadError::WrongWorld { kind, detail })
    }

    /// Apply the transaction, or for a read-only one that read key by key
    /// confirm that what it read was not changed underneath it.
    fn commit(
        &self,
        world: &World,
        scope: &Scope,
        tx: Transaction,
        deadline: Instant,
    ) -> Result<Committed, StateError> {
        let committed = Committed {
            events: tx.events.len(),
            approvals: tx.approvals.iter().map(|a| a.id.clone()).collect(),
        };
        let effectful = !tx.writes.is_empty()
            || !tx.events.is_empty()
            || !tx.approvals.is_empty()
            || !tx.withdrawals.is_empty();
        if effectful {
            world.state.commit(scope, tx.into_commit(deadline))?;
        } else if let Some(base) = tx.base
            && tx.entries.is_none()
        {
            // Reads that went to the store one by one may have straddled a
            // commit; reads from a snapshot were one view.
            let current = world.state.version(scope)?;
            if current != base {
                return Err(StateError::Conflict { base, current });
            }
        }
        Ok(committed)
    }

    /// A store for an invocation with no grants, used to check a component
    /// at load time.
    fn probe_store(&self, limits: &Limits) -> Store<Sandbox> {
        let call = Arc::new(CallContext {
            scope: Scope::new("", ""),
            grants: mercato_types::Grants::none(),
            settings: "{}".into(),
            track_events: false,
            version: None,
        });
        self.store(&self.world, &call, limits, (self.clock)())
    }

    /// A fresh store with the invocation's budget: memory and log caps, fuel,
    /// and the epoch deadline.
    fn store(
        &self,
        world: &World,
        call: &Arc<CallContext>,
        limits: &Limits,
        now_ms: u64,
    ) -> Store<Sandbox> {
        let budget = Budget {
            fuel: limits.fuel,
            deadline: Instant::now() + limits.deadline(),
        };
        self.store_within(world, call, limits, &budget, now_ms)
    }

    /// A fresh store with what is left of an invocation's budget.
    fn store_within(
        &self,
        world: &World,
        call: &Arc<CallContext>,
        limits: &Limits,
        budget: &Budget,
        now_ms: u64,
    ) -> Store<Sandbox> {
        let sandbox = Sandbox::new(
            call.clone(),
            now_ms,
            world.state.clone(),
            world.customers.clone(),
            *limits,
        );
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| s);
        if self.fuel {
            // Fails only when fuel is not enabled, which `self.fuel` rules out.
            let _ = store.set_fuel(budget.fuel);
        }
        let left = budget.deadline.saturating_duration_since(Instant::now());
        store.set_epoch_deadline(EpochTicker::ticks_for(left));
        store.epoch_deadline_trap();
        store
    }

    #[allow(clippy::too_many_arguments)]
    fn run_once(
        &self,
        world: &World,
        component: &LoadedComponent,
        f: &Function,
        call: &Arc<CallContext>,
        limits: &Limits,
        budget: &Budget,
        args: &[Val],
        now_ms: u64,
        snapshot: Option<Snapshot>,
    ) -> Result<Run, InvokeError> {
        if budget.fuel == 0 || Instant::now() >= budget.deadline {
            return Err(InvokeError::LimitExceeded {
                limit: if budget.fuel == 0 {
                    Limit::Fuel
                } else {
                    Limit::Deadline
                },
                detail: "nothing was left of its budget for another attempt".to_owned(),
            });
        }
        let mut store = self.store_within(world, call, limits, budget, now_ms);
        if let Some(snapshot) = snapshot {
            let tx = &mut store.data_mut().tx;
            tx.base = Some(snapshot.version);
            tx.entries = snapshot.entries;
        }
        let instance = match component.pre.instantiate(&mut store) {
            Ok(instance) => instance,
            Err(e) => return Err(classify(e, &mut store, limits)),
        };
        let func =
            instance
                .get_func(&mut store, f.index)
                .ok_or_else(|| InvokeError::ComponentFault {
                    message: format!("export `{}` vanished after instantiation", f.name),
                })?;
        let mut results = vec![Val::Bool(false); f.results.len()];
        if let Err(e) = func.call(&mut store, args, &mut results) {
            return Err(classify(e, &mut store, limits));
        }
        let fuel_used = if self.fuel {
            budget.fuel.saturating_sub(store.get_fuel().unwrap_or(0))
        } else {
            0
        };
        let size: usize = results.iter().map(value::size_of).sum();
        if size as u64 > limits.output_bytes {
            return Err(InvokeError::LimitExceeded {
                limit: Limit::Output,
                detail: format!(
                    "`{}` returned about {size} bytes; the output limit is {} bytes",
                    f.name, limits.output_bytes
                ),
            });
        }
        store.data_mut().drain_output();
        let sandbox = store.into_data();
        Ok(Run {
            results,
            fuel_used,
            memory_peak: sandbox.memory_peak as u64,
            output_bytes: size as u64,
            logs: sandbox.log.lines,
            logs_dropped: sandbox.log.dropped,
            tx: sandbox.tx,
        })
    }
}

/// One instance kept alive across calls. For benchmarks only: it measures the
/// cost of a call without instantiation, and nothing it writes is committed.
#[doc(hidden)]
pub struct ReusedInstance {
    store: Store<Sandbox>,
    func: wasmtime::component::Func,
    results: usize,
    fuel: u64,
}

impl std::fmt::Debug for ReusedInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReusedInstance").finish_non_exhaustive()
    }
}

impl ReusedInstance {
    /// Call the function again on the same instance.
    pub fn call(&mut self, args: &[Val]) -> Result<Vec<Val>, InvokeError> {
        if self.fuel > 0 {
            let _ = self.store.set_fuel(self.fuel);
        }
        self.store.set_epoch_deadline(1_000);
        let mut results = vec![Val::Bool(false); self.results];
        self.func
            .call(&mut self.store, args, &mut results)
            .map_err(|e| InvokeError::ComponentFault {
                message: format!("{e:#}"),
            })?;
        Ok(results)
    }
}

impl Runtime {
    /// An instance of `component` whose `function` can be called repeatedly.
    #[doc(hidden)]
    pub fn reused_instance(
        &self,
        component: &LoadedComponent,
        call: &Arc<CallContext>,
        limits: &Limits,
        function: &str,
    ) -> Result<ReusedInstance, InvokeError> {
        let f = self.lookup(component, function)?;
        let mut store = self.store(&self.world, call, limits, (self.clock)());
        let instance = component
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(e, &mut store, limits))?;
        let func =
            instance
                .get_func(&mut store, f.index)
                .ok_or_else(|| InvokeError::ComponentFault {
                    message: "export vanished".into(),
                })?;
        Ok(ReusedInstance {
            store,
            func,
            results: f.results.len(),
            fuel: if self.fuel { limits.fuel } else { 0 },
        })
    }
}

struct Run {
    results: Vec<Val>,
    fuel_used: u64,
    memory_peak: u64,
    output_bytes: u64,
    logs: Vec<LogLine>,
    logs_dropped: usize,
    tx: Transaction,
}

#[derive(Default)]
struct Committed {
    events: usize,
    approvals: Vec<String>,
}

/// Name what ended an invocation: a host fault, a limit, or the component's
/// own trap (with what it wrote to stderr, where Rust puts panic messages).
/// The trap is judged first: a refused `memory.grow` only explains a trap
/// that no limit explains. The wasm backtrace and core dump go to the host's
/// log, never to the caller.
fn classify(error: wasmtime::Error, store: &mut Store<Sandbox>, limits: &Limits) -> InvokeError {
    if let Some(fault) = error.downcast_ref::<Fault>() {
        return match fault {
            Fault::PermissionDenied { permission, call } => InvokeError::PermissionDenied {
                permission: *permission,
                call,
            },
            Fault::Storage(StateError::Busy) => InvokeError::Busy,
            Fault::Storage(e) => InvokeError::Storage(e.to_string()),
            Fault::Limit { limit, detail } => InvokeError::LimitExceeded {
                limit: *limit,
                detail: detail.clone(),
            },
            Fault::Blocking(_) | Fault::Unstorable(_) => InvokeError::ComponentFault {
                message: fault.to_string(),
            },
        };
    }
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return InvokeError::Busy;
    }
    let trap = error.downcast_ref::<Trap>().copied();
    let limit = match trap {
        Some(Trap::OutOfFuel) => Some((
            Limit::Fuel,
            format!("used all {} units of fuel", limits.fuel),
        )),
        Some(Trap::Interrupt) => Some((
            Limit::Deadline,
            format!("still running after {} ms", limits.deadline_ms),
        )),
        Some(Trap::StackOverflow) => Some((
            Limit::Stack,
            "recursed past the wasm stack bound".to_owned(),
        )),
        Some(Trap::MemoryOutOfBounds) if shadow_stack_overflowed(&error, store) => Some((
            Limit::Stack,
            "ran past the end of its stack in linear memory".to_owned(),
        )),
        _ => None,
    };
    if let Some((limit, detail)) = limit {
        return InvokeError::LimitExceeded { limit, detail };
    }
    if let Some(desired) = store.data().memory_refused {
        return InvokeError::LimitExceeded {
            limit: Limit::Memory,
            detail: format!(
                "tried to grow linear memory to {desired} bytes; the memory limit is {} bytes",
                limits.memory_bytes
            ),
        };
    }
    if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return InvokeError::ComponentFault {
            message: format!("the component called exit({})", exit.0),
        };
    }
    tracing::warn!(scope = ?store.data().call.scope, error = ?error, "component trapped");
    let stderr = store.data_mut().drain_output();
    let what = trap.map_or_else(|| first_line(&error), |t| t.to_string());
    let stderr = stderr.trim();
    InvokeError::ComponentFault {
        message: if stderr.is_empty() {
            what
        } else {
            format!("{what}; stderr: {}", last_lines(stderr, 5))
        },
    }
}

/// An error's own message, without its chain of context (a wasm backtrace
/// or a core dump listing).
fn first_line(error: &wasmtime::Error) -> String {
    let text = error.to_string();
    text.lines().next().unwrap_or("").to_owned()
}

/// Rust (like C) keeps a shadow stack in linear memory, placed first and
/// growing down, with no overflow check: running off its end wraps the
/// stack-pointer global below zero, so the next access is out of bounds. A
/// mutable i32 global holding an address in the top half of the 4 GiB space
/// (no real memory reaches it: the platform caps memory at 256 MiB; a frame
/// of any size up to 2 GiB wraps there) is that wrapped stack pointer.
fn shadow_stack_overflowed(error: &wasmtime::Error, store: &mut Store<Sandbox>) -> bool {
    let Some(dump) = error.downcast_ref::<wasmtime::WasmCoreDump>() else {
        return false;
    };
    dump.globals().iter().any(|global| {
        let ty = global.ty(&*store);
        ty.mutability() == wasmtime::Mutability::Var
            && matches!(global.get(&mut *store), wasmtime::Val::I32(sp) if sp < 0)
    })
}

/// Whether the function returned its `result`'s error case.
fn returned_error(results: &[Val]) -> bool {
    matches!(results.first(), Some(Val::Result(Err(_))))
}

/// Say in a limit's detail that the budget was shared by several attempts.
fn across_attempts(error: InvokeError, attempt: u32) -> InvokeError {
    match error {
        InvokeError::LimitExceeded { limit, detail } if attempt > 1 => InvokeError::LimitExceeded {
            limit,
            detail: format!("{detail} (across {attempt} attempts, which share one budget)"),
        },
        other => other,
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

fn scope_lock<'a>(locks_: &'a ScopeLocks, scope: &'a Scope) -> HeldScope<'a> {
    let mut locks = locks_.lock().unwrap_or_else(|p| p.into_inner());
    let lock = match locks.get(scope) {
        Some(lock) => lock.clone(),
        None => locks.entry(scope.clone()).or_default().clone(),
    };
    HeldScope {
        locks: locks_,
        scope,
        lock: Some(lock),
    }
}

/// A scope's retry lock, taken for one invocation. The map entry goes when
/// the last invocation of the scope ends, so the map holds only the scopes
/// being called, however many tenants the host has served.
struct HeldScope<'a> {
    locks: &'a ScopeLocks,
    scope: &'a Scope,
    /// Always `Some` until dropped.
    lock: Option<Arc<RwLock<()>>>,
}

impl HeldScope<'_> {
    fn lock(&self) -> &RwLock<()> {
        self.lock.as_deref().unwrap_or(&UNLOCKED)
    }
}

/// Never used: `HeldScope::lock` is set until the guard drops.
static UNLOCKED: RwLock<()> = RwLock::new(());

impl Drop for HeldScope<'_> {
    fn drop(&mut self) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Dropped under the map's lock, so the count below is exact.
        self.lock = None;
        if locks.get(self.scope).map(Arc::strong_count) == Some(1) {
            locks.remove(self.scope);
        }
    }
}
