//! The marketplace as a host runs it: the registry's decisions joined to the
//! runtime. Uploads are checked by both (signature and trust by the
//! registry, the component's world and limits here); settings are validated
//! by the component before the registry stores them; calls resolve a
//! tenant's install to a loaded component.
//!
//! The marketplace is the one path by which the server changes the
//! registry: every change goes through a method here ([`publishing`],
//! [`installs`], [`admin`]), which drops this host's caches after it, and
//! every version change has the target version's component validate the
//! install's settings first. [`Marketplace::registry`] is for reads.
//!
//! Resolved installs and authenticated tokens are cached. On PostgreSQL
//! every change anywhere sends a notice that each host hears within
//! milliseconds and acts on at its next call. The registry's generation
//! (its audit head) changes with every change too, and a host compares it
//! at most every [`REFRESH`] and drops its caches when it moved, the
//! backstop for a notice missed while a listener reconnected. This host's
//! own changes apply to its next call. A cache refills once per key however
//! many calls miss it at once.
//!
//! Calls pass [`admission`] first (per-tenant and per-install slots, memory
//! budgets); compiling runs on its own thread, one at a time, within the
//! admission settings' compile timeout.

mod admin;
pub mod admission;
pub mod canary;
pub mod customer_data;
mod decisions;
mod flight;
mod guarding;
pub mod guardrails;
mod installs;
mod lanes;
mod publishing;
pub mod recording;
pub mod replay;

use mercato_registry::access::{Action, On};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mercato_registry::notices::Notices;
use mercato_registry::{
    Install, PackageVersion, Permission, Principal, Registry, RegistryError, Scope, SqlState,
};
use semver::Version;
use serde_json::Value;

use mercato_runtime::{
    CallContext, Grants, InvokeError, Kind, Limits, LoadError, LoadedComponent, Outcome, Runtime,
};

use crate::metrics::Metrics;
use admission::{Admission, AdmissionConfig, Refusal};
use flight::Flights;

/// How stale a host's view of the registry may get.
pub const REFRESH: Duration = Duration::from_millis(500);

/// Resolved installs (and tokens) a host keeps: a few hundred bytes each
/// plus the install's settings, so ample for 10 000 tenants with several
/// installs each; past it the least recently used go.
pub const ACTIVE_CAPACITY: usize = 100_000;

/// Loaded component versions a host keeps (compiled code, megabytes each;
/// the disk cache makes reloading one cheap).
pub const LOADED_CAPACITY: usize = 256;

/// Functions of the common interface that only the host may call.
pub const HOST_ONLY: &[&str] = &[
    "validate-settings",
    "approval-decided",
    // A customer's data goes out and away only through the tenant's
    // audited export and erasure, never through a rep's call.
    "export-customer",
    "forget-customer",
];

/// Why a marketplace operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The component in a package was refused.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A call failed.
    #[error(transparent)]
    Invoke(#[from] InvokeError),
    /// The component rejected the settings.
    #[error("the settings were refused: {}", summary(.0))]
    Settings(Vec<Value>),
    /// The manifest asks for more than the platform allows.
    #[error("the manifest asks for limits above the platform's caps: {0}")]
    LimitsAboveCaps(String),
    /// The manifest asks for less than any call can run with.
    #[error("the manifest asks for limits below the platform's floors: {0}")]
    LimitsBelowFloors(String),
    /// The manifest names one WIT version and the component was built
    /// against another.
    #[error(
        "the manifest declares `{manifest}` but the component was built against `{component}`; \
         pack it again so both say the same"
    )]
    WitMismatch {
        /// The manifest's `wit`.
        manifest: String,
        /// The component's stamp (or the version of its exports).
        component: &'static str,
    },
    /// A guard of the install held the call for a director's decision: it
    /// did not run; the approval says what waits.
    #[error("the call waits for a director's decision (approval {})", .0.id)]
    Held(Box<mercato_registry::inbox::Approval>),
    /// The install exists but is disabled.
    #[error("`{id}` is disabled for tenant `{tenant}`; its director can enable it")]
    Disabled {
        /// The tenant.
        tenant: String,
        /// The install.
        id: String,
    },
    /// A function only the host calls.
    #[error("`{0}` is called by the host, not over the API")]
    HostOnly(String),
    /// The call was not admitted (tenant over its share, host full).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A worker thread died.
    #[error("internal error: {0}")]
    Internal(String),
}

fn summary(fields: &[Value]) -> String {
    fields
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["field"].as_str().unwrap_or("?"),
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An install ready to call.
#[derive(Debug)]
pub struct Active {
    /// The install.
    pub install: Install,
    /// The version it runs (one copy shared by every install of it).
    pub version: Arc<PackageVersion>,
    /// Its component.
    pub component: Arc<LoadedComponent>,
    /// Scope, grants, settings, tracking.
    pub call: Arc<CallContext>,
    /// Its limits.
    pub limits: Limits,
    /// What its recent calls (and its version's) cost, which picks their lane.
    lane: lanes::Costs,
    /// The candidate of its running canary, if one runs.
    pub canary: Option<Arc<canary::Candidate>>,
}

/// One version of an install, ready to serve (see [`Marketplace::serving`]).
#[derive(Debug, Clone)]
pub(crate) struct Serving {
    pub(crate) version: Arc<PackageVersion>,
    pub(crate) component: Arc<LoadedComponent>,
    pub(crate) call: Arc<CallContext>,
    pub(crate) limits: Limits,
}

/// A call's outcome and the version that served it.
#[derive(Debug)]
pub struct Served {
    /// What the call returned.
    pub outcome: Outcome,
    /// The version that ran it.
    pub version: Version,
}

/// The registry and the runtime, joined.
pub struct Marketplace {
    registry: Registry,
    runtime: Arc<Runtime>,
    metrics: Metrics,
    admission: Admission,
    lanes: lanes::Lanes,
    compiler: Arc<tokio::sync::Semaphore>,
    loaded: Flights<(String, Version), Arc<LoadedComponent>>,
    versions: Flights<(String, Version), Arc<PackageVersion>>,
    active: Flights<(String, String), Arc<Active>>,
    tokens: Flights<String, Principal>,
    generation: AtomicI64,
    checked_at_ms: AtomicU64,
    /// The runtime's state store when it is the database's, to take a
    /// call's snapshot before the call runs.
    state: Option<SqlState>,
    /// Other hosts' change notices (PostgreSQL) and how many were acted on.
    notices: Option<Arc<Notices>>,
    notices_seen: AtomicU64,
    started: Instant,
    /// Canaries' tallies on this host.
    counting: canary::Counting,
    /// Recorded calls not yet stored.
    recorder: recording::Recorder,
}

impl std::fmt::Debug for Marketplace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marketplace").finish_non_exhaustive()
    }
}

fn blocking_failed(e: tokio::task::JoinError) -> MarketError {
    MarketError::Internal(format!("a worker thread failed: {e}"))
}

impl Marketplace {
    /// The marketplace over `registry`, running components in `runtime`.
    pub fn new(registry: Registry, runtime: Arc<Runtime>) -> Self {
        Self::with_admission(registry, runtime, AdmissionConfig::default())
    }

    /// [`new`](Self::new) with admission settings.
    pub fn with_admission(
        registry: Registry,
        runtime: Arc<Runtime>,
        admission: AdmissionConfig,
    ) -> Self {
        let notices = tokio::runtime::Handle::try_current()
            .ok()
            .and_then(|_| registry.notices());
        Marketplace {
            state: None,
            notices,
            notices_seen: AtomicU64::new(0),
            registry,
            runtime,
            metrics: Metrics::new(),
            lanes: lanes::Lanes::start(admission.slow_lane, admission.inline),
            admission: Admission::new(admission),
            compiler: Arc::new(tokio::sync::Semaphore::new(1)),
            loaded: Flights::bounded(LOADED_CAPACITY),
            versions: Flights::bounded(LOADED_CAPACITY),
            active: Flights::bounded(ACTIVE_CAPACITY),
            tokens: Flights::bounded(ACTIVE_CAPACITY),
            generation: AtomicI64::new(-1),
            checked_at_ms: AtomicU64::new(0),
            started: Instant::now(),
            counting: canary::Counting::new(),
            recorder: recording::Recorder::new(),
        }
    }

    /// Take each call's snapshot of its state from `state` (the store the
    /// runtime was built with) before the call runs, so that a call whose
    /// scope is in memory never waits for the database inside the sandbox.
    pub fn with_state(mut self, state: SqlState) -> Self {
        self.state = Some(state);
        self
    }

    /// The registry, for reads: changes go through the marketplace's own
    /// methods, so that this host's caches follow them.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Drop cached installs and tokens if the registry changed: at once
    /// when another host's change notice arrived, else when the registry's
    /// generation moved (looked at most every [`REFRESH`]).
    pub async fn refresh(&self) -> Result<(), MarketError> {
        if self.counting.aborted.swap(false, Ordering::AcqRel) {
            self.forget();
        }
        if let Some(notices) = &self.notices {
            let heard = notices.heard();
            if self.notices_seen.swap(heard, Ordering::AcqRel) != heard {
                self.forget();
            }
        }
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = self.checked_at_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < REFRESH.as_millis() as u64 {
            return Ok(());
        }
        self.checked_at_ms.store(now, Ordering::Relaxed);
        let generation = self.registry.generation().await?;
        if self.generation.swap(generation, Ordering::Relaxed) != generation {
            self.forget();
        }
        Ok(())
    }

    /// Forget cached installs, components and tokens (after a change).
    fn forget(&self) {
        // Loaded components go too: a revoked key must stop its code at the
        // next call (reloading from the disk cache is cheap).
        self.loaded.clear();
        self.versions.clear();
        self.active.clear();
        self.tokens.clear();
    }

    /// The admission gates.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// The account behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, MarketError> {
        self.refresh().await?;
        let hash = mercato_registry::sha256_hex(token.as_bytes());
        self.tokens
            .get_or_load(&hash, || async {
                self.registry
                    .authenticate(token)
                    .await
                    .map_err(MarketError::from)
            })
            .await
    }

    /// Load (compiling or from the disk cache) the component of a version,
    /// its signature and signer checked again.
    pub async fn component(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<Arc<LoadedComponent>, MarketError> {
        let key = (name.to_owned(), version.clone());
        self.loaded
            .get_or_load(&key, || async {
                let package = self.registry.load_package(name, version).await?;
                let kind = kind_of(&package.manifest.kind)?;
                let limits = package.manifest.limits.resolve();
                let digest = package.code_digest();
                let component = self.load(kind, package.code, digest, limits).await?;
                Ok(Arc::new(component))
            })
            .await
    }

    /// Load component bytes: from the disk cache on a worker thread, or
    /// compiled on a thread of its own, one compile at a time and within
    /// the compile timeout, so compiling never holds a serving thread and
    /// never more than one core.
    async fn load(
        &self,
        kind: Kind,
        code: Vec<u8>,
        digest: String,
        limits: Limits,
    ) -> Result<LoadedComponent, MarketError> {
        let runtime = self.runtime.clone();
        if runtime.is_compiled(&digest) {
            return tokio::task::spawn_blocking(move || {
                runtime.load_verified(kind, &code, &digest, &limits)
            })
            .await
            .map_err(blocking_failed)?
            .map_err(MarketError::from);
        }
        let timeout = self.admission.config().compile_timeout;
        let seconds = timeout.as_secs_f64();
        let permit = tokio::time::timeout(timeout, self.compiler.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(LoadError::CompilerBusy)?;
        let (done, result) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("mercato-compile".into())
            .spawn(move || {
                let loaded = runtime.load_verified(kind, &code, &digest, &limits);
                // The permit is held until the compiler is really done, even
                // when the caller stopped waiting.
                drop(permit);
                let _ = done.send(loaded);
            })
            .map_err(|e| MarketError::Internal(format!("cannot start a compile thread: {e}")))?;
        match tokio::time::timeout(timeout, result).await {
            Ok(Ok(loaded)) => Ok(loaded?),
            Ok(Err(_)) => Err(MarketError::Internal("the compile thread died".into())),
            Err(_) => Err(LoadError::CompileTimeout { seconds }.into()),
        }
    }

    /// A tenant's install, resolved and ready to call.
    pub async fn active(&self, tenant: &str, id: &str) -> Result<Arc<Active>, MarketError> {
        self.refresh().await?;
        let key = (tenant.to_owned(), id.to_owned());
        self.active
            .get_or_load(&key, || self.resolve(tenant, id))
            .await
    }

    /// A package version's record (one copy shared by every install of it).
    async fn version_of(
        &self,
        package: &str,
        version: &Version,
    ) -> Result<Arc<PackageVersion>, MarketError> {
        let key = (package.to_owned(), version.clone());
        self.versions
            .get_or_load(&key, || async {
                let (version, _) = self
                    .registry
                    .version(&Principal::console(), package, version)
                    .await?;
                Ok::<_, MarketError>(Arc::new(version))
            })
            .await
    }

    async fn resolve(&self, tenant: &str, id: &str) -> Result<Arc<Active>, MarketError> {
        let install = self.registry.installed(tenant, id).await?;
        let tenant_caps = self.registry.tenant_caps(tenant).await?;
        let current = self
            .serving(&install, &install.version, tenant_caps)
            .await?;
        let canary = self.resolve_candidate(&install, tenant_caps).await?;
        let active = Arc::new(Active {
            lane: self.lanes.costs(
                tenant,
                id,
                &format!("{}@{}", current.version.name, current.version.version),
            ),
            call: current.call,
            limits: current.limits,
            component: current.component,
            version: current.version,
            install,
            canary,
        });
        Ok(active)
    }

    /// One version of an install ready to serve its calls: the install's
    /// scope, settings and tracking, the version's permissions as far as the
    /// director accepted them, its limits within the tenant's caps. The
    /// current version, a canary's candidate and a replay's both sides are
    /// all made here.
    pub(crate) async fn serving(
        &self,
        install: &Install,
        version: &Version,
        tenant_caps: Limits,
    ) -> Result<Serving, MarketError> {
        let record = self.version_of(&install.package, version).await?;
        let component = self.component(&install.package, version).await?;
        let grants: Grants = record
            .manifest
            .permissions
            .intersection(&install.accepted)
            .copied()
            .collect();
        Ok(Serving {
            call: Arc::new(CallContext {
                scope: Scope::new(&install.tenant, &install.id),
                grants,
                settings: install.settings.to_string().into(),
                track_events: install.tracking,
                version: Some(version.to_string().into()),
            }),
            limits: record.manifest.limits.resolve().within(tenant_caps),
            component,
            version: record,
        })
    }

    /// Call `function` of a tenant's install as `actor` (its directors and
    /// reps), recording metrics; a running canary routes it by its unit.
    pub async fn invoke(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        function: &str,
        args: Value,
    ) -> Result<Outcome, MarketError> {
        self.invoke_routed(actor, tenant, id, function, args, &canary::Route::default())
            .await
            .map(|served| served.outcome)
    }

    /// [`invoke`](Self::invoke) with what the caller said about routing
    /// (its unit; a director may force a version).
    pub async fn invoke_routed(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        function: &str,
        args: Value,
        route: &canary::Route,
    ) -> Result<Served, MarketError> {
        actor.may(Action::Call, On::Tenant(tenant))?;
        if route.force.is_some() {
            actor.may(Action::ForceVersion, On::Tenant(tenant))?;
        }
        if HOST_ONLY.contains(&function) {
            return Err(MarketError::HostOnly(function.to_owned()));
        }
        let active = self.active(tenant, id).await?;
        if !active.install.enabled {
            return Err(MarketError::Disabled {
                tenant: tenant.to_owned(),
                id: id.to_owned(),
            });
        }
        self.guard(actor, &active, function, &args).await?;
        // Kept only while recording is on: most installs never copy a call.
        let recorded = recording::records(&active).then(|| args.clone());
        let served = self.serve(&active, function, args, route).await;
        if let Some(args) = recorded {
            let version = match &served {
                Ok(s) => &s.1,
                Err((_, v)) => v,
            };
            let result = match &served {
                Ok(s) => Ok(&s.0),
                Err((e, _)) => Err(e),
            };
            self.record(&active, version, function, &args, result);
        }
        match served {
            Ok((outcome, version)) => Ok(Served { outcome, version }),
            Err((e, _)) => Err(e),
        }
    }

    /// Run a call on the version its route picks: the outcome (or error)
    /// and the version that ran it.
    async fn serve(
        &self,
        active: &Arc<Active>,
        function: &str,
        args: Value,
        route: &canary::Route,
    ) -> Result<(Outcome, Version), (MarketError, Version)> {
        let (tenant, id) = (&active.install.tenant, &active.install.id);
        let current = || active.install.version.clone();
        let Some(candidate) = &active.canary else {
            if let Some(force) = route
                .force
                .as_deref()
                .filter(|f| *f != "current" && *f != active.install.version.to_string())
            {
                return Err((
                    RegistryError::conflict(
                        "no-rollout",
                        format!(
                            "{tenant}/{id} runs no canary, so `{force}` cannot serve this call"
                        ),
                    )
                    .into(),
                    current(),
                ));
            }
            return match self.call(active, function, args).await {
                Ok(outcome) => Ok((outcome, current())),
                Err(e) => Err((e, current())),
            };
        };
        let pick =
            canary::pick(active, candidate, function, &args, route).map_err(|e| (e, current()))?;
        let (result, version) = if pick.candidate() {
            (
                self.call_on(active, Some(candidate), function, args).await,
                candidate.rollout.candidate.clone(),
            )
        } else {
            (self.call_on(active, None, function, args).await, current())
        };
        self.count(candidate, pick, &result);
        match result {
            Ok(outcome) => Ok((outcome, version)),
            Err(e) => Err((e, version)),
        }
    }

    async fn call(
        &self,
        active: &Arc<Active>,
        function: &str,
        args: Value,
    ) -> Result<Outcome, MarketError> {
        self.call_on(active, None, function, args).await
    }

    /// Run a call on the install's current version, or on its canary's
    /// candidate: same admission, lanes and metrics.
    async fn call_on(
        &self,
        active: &Arc<Active>,
        candidate: Option<&Arc<canary::Candidate>>,
        function: &str,
        args: Value,
    ) -> Result<Outcome, MarketError> {
        let (component, call, limits, lane) = match candidate {
            Some(c) => (&c.component, &c.call, c.limits, &c.lane),
            None => (&active.component, &active.call, active.limits, &active.lane),
        };
        let admitted = self
            .admission
            .admit(
                &active.install.tenant,
                &active.install.id,
                limits.memory_bytes,
            )
            .await;
        let version = call.version.as_deref().unwrap_or_default();
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(refusal) => {
                self.metrics
                    .refused(&active.install.tenant, &active.install.id, version);
                return Err(refusal.into());
            }
        };
        let started = Instant::now();
        let snapshot = match &self.state {
            Some(state) if call.grants.allows(Permission::Store) => {
                state.prefetch(&call.scope).await
            }
            _ => None,
        };
        let runtime = self.runtime.clone();
        let (component_, call_) = (component.clone(), call.clone());
        let f = function.to_owned();
        let result = self
            .lanes
            .run(
                lane,
                move || runtime.invoke_json_from(&component_, &call_, &limits, &f, &args, snapshot),
                |result| match result {
                    Ok(outcome) => outcome.fuel_used > lanes::INLINE_FUEL,
                    Err(e) => e.limit().is_some(),
                },
            )
            .await;
        // Released here, not on the worker: the semaphores' locks are shared
        // with every tenant's admission, and a slow-lane thread holding one
        // while preempted would stall them all.
        drop(admitted);
        let result =
            result.ok_or_else(|| MarketError::Internal("a worker thread failed".into()))?;
        self.metrics.record(
            &active.install.tenant,
            &active.install.id,
            version,
            started.elapsed(),
            &result,
        );
        Ok(result?)
    }
}

fn kind_of(kind: &str) -> Result<Kind, MarketError> {
    kind.parse::<Kind>().map_err(|e| {
        MarketError::Registry(RegistryError::Invalid {
            field: "kind",
            message: e.to_string(),
        })
    })
}
