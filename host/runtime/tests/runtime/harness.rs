//! A test host: a runtime over in-memory state, a fixed clock, and helpers
//! that read like the user's story.

use std::sync::{Arc, OnceLock};

use mercato_runtime::{
    CallContext, Grants, InvokeError, Kind, Limits, LoadedComponent, Outcome, Permission, Runtime,
};
use mercato_runtime::{MemoryCustomers, MemoryState, Scope};
use serde_json::Value;

/// 2026-03-01T09:00:00Z.
pub const NOW: u64 = 1_772_355_600_000;
pub const HOUR: u64 = 3_600_000;

pub struct TestHost {
    pub runtime: Runtime,
    pub state: Arc<MemoryState>,
    pub customers: Arc<MemoryCustomers>,
    livestream: OnceLock<Arc<LoadedComponent>>,
    hostile: OnceLock<Arc<LoadedComponent>>,
}

impl TestHost {
    pub fn new() -> Self {
        let state = Arc::new(MemoryState::new());
        let customers = Arc::new(MemoryCustomers::new());
        let runtime = Runtime::builder()
            .state(state.clone())
            .customers(customers.clone())
            .clock(|| NOW)
            .build()
            .expect("runtime builds");
        TestHost {
            runtime,
            state,
            customers,
            livestream: OnceLock::new(),
            hostile: OnceLock::new(),
        }
    }

    pub fn load(&self, kind: Kind, path: &str) -> LoadedComponent {
        self.runtime
            .load(kind, &mercato_artifacts::read(path))
            .expect("component loads")
    }

    pub fn livestream(&self) -> Arc<LoadedComponent> {
        self.cached(&self.livestream, mercato_artifacts::LIVESTREAM_BOOKING)
    }

    pub fn hostile(&self) -> Arc<LoadedComponent> {
        self.cached(&self.hostile, mercato_artifacts::HOSTILE)
    }

    /// Compile each component once per host, however many tests use it.
    fn cached(&self, slot: &OnceLock<Arc<LoadedComponent>>, path: &str) -> Arc<LoadedComponent> {
        slot.get_or_init(|| Arc::new(self.load(Kind::LivestreamBooking, path)))
            .clone()
    }
}

/// A caller of one component for one tenant.
pub struct Caller<'h> {
    pub host: &'h TestHost,
    pub component: Arc<LoadedComponent>,
    pub call: Arc<CallContext>,
    pub limits: Limits,
}

impl<'h> Caller<'h> {
    pub fn new(host: &'h TestHost, component: Arc<LoadedComponent>, tenant: &str) -> Self {
        Caller {
            host,
            component,
            call: Arc::new(CallContext {
                scope: Scope::new(tenant, "test/component"),
                grants: [Permission::Store, Permission::Events]
                    .into_iter()
                    .collect(),
                settings: "{}".into(),
                track_events: true,
                version: None,
            }),
            limits: Limits::default(),
        }
    }

    pub fn with_grants(mut self, grants: Grants) -> Self {
        Arc::make_mut(&mut self.call).grants = grants;
        self
    }

    pub fn with_settings(mut self, settings: Value) -> Self {
        Arc::make_mut(&mut self.call).settings = settings.to_string().into();
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn try_call(&self, function: &str, args: Value) -> Result<Outcome, InvokeError> {
        self.host
            .runtime
            .invoke_json(&self.component, &self.call, &self.limits, function, &args)
    }

    /// Call and return the function's result as JSON (`{"ok": ...}` / `{"err": ...}`).
    pub fn call(&self, function: &str, args: Value) -> Value {
        self.try_call(function, args)
            .unwrap_or_else(|e| panic!("{function} failed: {e}"))
            .json()
    }

    /// Call a function returning `result<T, error>` and unwrap the `ok`.
    pub fn ok(&self, function: &str, args: Value) -> Value {
        let result = self.call(function, args);
        match result.get("ok") {
            Some(v) => v.clone(),
            None => panic!("{function} returned {result}"),
        }
    }

    /// Call a function returning `result<T, error>` and unwrap the `err`.
    pub fn err(&self, function: &str, args: Value) -> Value {
        let result = self.call(function, args);
        match result.get("err") {
            Some(v) => v.clone(),
            None => panic!("{function} was expected to fail but returned {result}"),
        }
    }

    /// Every stored entry of this caller's scope, decoded as JSON.
    pub fn stored(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        self.host.state.entries(&self.call.scope)
    }
}

/// One runtime shared by the tests that only read components, so the
/// component is compiled once.
pub fn shared() -> &'static TestHost {
    static HOST: OnceLock<TestHost> = OnceLock::new();
    HOST.get_or_init(TestHost::new)
}
