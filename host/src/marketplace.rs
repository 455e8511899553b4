//! The marketplace as a host runs it: the registry's decisions joined to the
//! runtime. Uploads are checked by both (signature and trust by the
//! registry, the component's world and limits here); settings are validated
//! by the component before the registry stores them; calls resolve a
//! tenant's install to a loaded component.
//!
//! Resolved installs and authenticated tokens are cached. The registry's
//! generation (its audit head) changes with every change anywhere, so a
//! host compares it at most every [`REFRESH`] and drops its caches when it
//! moved: several hosts sharing PostgreSQL see each other's changes within
//! that time, and this host's own changes apply to the next call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mercato_registry::inbox::{Answer, Approval};
use mercato_registry::{
    Install, InstallUpdate, NewInstall, PackageVersion, Principal, Registry, RegistryError,
    RequestedLimits, Role, Scope, UpgradeOutcome, UpgradeRequest,
};
use semver::Version;
use serde_json::{Value, json};

use crate::metrics::Metrics;
use crate::{
    CallContext, Grants, InvokeError, Kind, Limits, LoadError, LoadedComponent, Outcome, Runtime,
};

/// How stale a host's view of the registry may get.
pub const REFRESH: Duration = Duration::from_millis(500);

/// Functions of the common interface that only the host may call.
pub const HOST_ONLY: &[&str] = &["validate-settings", "approval-decided"];

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
    /// The version it runs.
    pub version: PackageVersion,
    /// Its component.
    pub component: Arc<LoadedComponent>,
    /// Scope, grants, settings, tracking.
    pub call: Arc<CallContext>,
    /// Its limits.
    pub limits: Limits,
}

/// The limits a manifest's request comes to: platform defaults for what it
/// does not ask, capped by the platform.
pub fn limits_of(requested: &RequestedLimits) -> Limits {
    let d = Limits::default();
    Limits {
        fuel: requested.fuel.unwrap_or(d.fuel),
        deadline_ms: requested.deadline_ms.unwrap_or(d.deadline_ms),
        memory_bytes: requested.memory_bytes.unwrap_or(d.memory_bytes),
        output_bytes: requested.output_bytes.unwrap_or(d.output_bytes),
        log_bytes: requested.log_bytes.unwrap_or(d.log_bytes),
    }
    .within(Limits::PLATFORM_CAPS)
}

/// The registry and the runtime, joined.
pub struct Marketplace {
    registry: Registry,
    runtime: Arc<Runtime>,
    metrics: Metrics,
    loaded: Mutex<HashMap<(String, Version), Arc<LoadedComponent>>>,
    active: RwLock<HashMap<(String, String), Arc<Active>>>,
    tokens: RwLock<HashMap<String, Principal>>,
    generation: AtomicI64,
    checked_at_ms: AtomicU64,
    started: Instant,
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
        Marketplace {
            registry,
            runtime,
            metrics: Metrics::new(),
            loaded: Mutex::new(HashMap::new()),
            active: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
            generation: AtomicI64::new(-1),
            checked_at_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// The registry.
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

    /// Drop cached installs and tokens if the registry changed since the
    /// last look (looked at most every [`REFRESH`]).
    pub async fn refresh(&self) -> Result<(), MarketError> {
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
    pub fn forget(&self) {
        // Loaded components go too: a revoked key must stop its code at the
        // next call (reloading from the disk cache is cheap).
        if let Ok(mut l) = self.loaded.lock() {
            l.clear();
        }
        if let Ok(mut a) = self.active.write() {
            a.clear();
        }
        if let Ok(mut t) = self.tokens.write() {
            t.clear();
        }
    }

    /// The account behind a bearer token.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, MarketError> {
        self.refresh().await?;
        let hash = mercato_registry::sha256_hex(token.as_bytes());
        if let Some(p) = self.tokens.read().ok().and_then(|t| t.get(&hash).cloned()) {
            return Ok(p);
        }
        let principal = self.registry.authenticate(token).await?;
        if let Ok(mut t) = self.tokens.write() {
            t.insert(hash, principal.clone());
        }
        Ok(principal)
    }

    /// Load (compiling or from the disk cache) the component of a version,
    /// its signature and signer checked again.
    pub async fn component(
        &self,
        name: &str,
        version: &Version,
    ) -> Result<Arc<LoadedComponent>, MarketError> {
        let key = (name.to_owned(), version.clone());
        if let Some(c) = self.loaded.lock().ok().and_then(|l| l.get(&key).cloned()) {
            return Ok(c);
        }
        let package = self.registry.load_package(name, version).await?;
        let kind = kind_of(&package.manifest.kind)?;
        let digest = package.code_digest();
        let runtime = self.runtime.clone();
        let component = tokio::task::spawn_blocking(move || {
            runtime.load_verified(kind, &package.code, &digest)
        })
        .await
        .map_err(blocking_failed)??;
        let component = Arc::new(component);
        if let Ok(mut l) = self.loaded.lock() {
            l.insert(key, component.clone());
        }
        Ok(component)
    }

    /// Check, compile and store an uploaded package as submitted.
    pub async fn publish(
        &self,
        actor: &Principal,
        bytes: Vec<u8>,
    ) -> Result<PackageVersion, MarketError> {
        let upload = self.registry.check_upload(actor, bytes).await?;
        let manifest = &upload.package.manifest;
        let asked = Limits {
            fuel: manifest.limits.fuel.unwrap_or(0),
            deadline_ms: manifest.limits.deadline_ms.unwrap_or(0),
            memory_bytes: manifest.limits.memory_bytes.unwrap_or(0),
            output_bytes: manifest.limits.output_bytes.unwrap_or(0),
            log_bytes: manifest.limits.log_bytes.unwrap_or(0),
        };
        let excess = asked.excess_over(&Limits::PLATFORM_CAPS);
        if !excess.is_empty() {
            return Err(MarketError::LimitsAboveCaps(
                excess
                    .iter()
                    .map(|(name, asked, cap)| format!("{name} {asked} > {cap}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        let kind = kind_of(&manifest.kind)?;
        let runtime = self.runtime.clone();
        let code = upload.package.code.clone();
        let digest = upload.package.code_digest();
        // Compiling also type-checks the component against its kind's world,
        // and leaves it in the disk cache for the first call.
        tokio::task::spawn_blocking(move || runtime.load_verified(kind, &code, &digest))
            .await
            .map_err(blocking_failed)??;
        let version = self.registry.submit(actor, upload).await?;
        self.forget();
        Ok(version)
    }

    /// Have version `version` of `package` validate `settings` for an install.
    async fn validate_for(
        &self,
        package: &str,
        version: &Version,
        tenant: &str,
        id: &str,
        settings: &Value,
    ) -> Result<(), MarketError> {
        let component = self.component(package, version).await?;
        self.validate_settings(component, tenant, id, settings)
            .await
    }

    /// Have `component` validate `settings` for `tenant`.
    async fn validate_settings(
        &self,
        component: Arc<LoadedComponent>,
        tenant: &str,
        id: &str,
        settings: &Value,
    ) -> Result<(), MarketError> {
        let call = Arc::new(CallContext {
            scope: Scope::new(tenant, id),
            grants: Grants::none(),
            settings: settings.to_string().into(),
            track_events: false,
        });
        let args = json!({ "settings": settings.to_string() });
        let runtime = self.runtime.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            runtime.invoke_json(
                &component,
                &call,
                &Limits::default(),
                "validate-settings",
                &args,
            )
        })
        .await
        .map_err(blocking_failed)??;
        match outcome.json().get("err") {
            Some(Value::Array(fields)) => Err(MarketError::Settings(fields.clone())),
            Some(other) => Err(MarketError::Settings(vec![
                json!({"field": "settings", "message": other.to_string()}),
            ])),
            None => Ok(()),
        }
    }

    /// Enable a package for a tenant, its settings validated by the component.
    pub async fn install(
        &self,
        actor: &Principal,
        tenant: &str,
        new: NewInstall,
    ) -> Result<Install, MarketError> {
        let target = self.registry.plan_install(actor, tenant, &new).await?;
        let settings = new.settings.clone().unwrap_or_else(|| json!({}));
        let id = new.id.clone().unwrap_or_else(|| {
            new.package
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        self.validate_for(&target.name, &target.version, tenant, &id, &settings)
            .await?;
        let install = self
            .registry
            .install(actor, tenant, new, &target.version)
            .await?;
        self.forget();
        Ok(install)
    }

    /// Enable, disable, switch tracking or change settings.
    pub async fn update(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        update: InstallUpdate,
    ) -> Result<Install, MarketError> {
        if let Some(settings) = &update.settings {
            actor.require_tenant(
                tenant,
                &[Role::Operator, Role::Director],
                "change components",
            )?;
            let install = self.registry.install_of(actor, tenant, id).await?;
            self.validate_for(&install.package, &install.version, tenant, id, settings)
                .await?;
        }
        let install = self
            .registry
            .update_install(actor, tenant, id, update)
            .await?;
        self.forget();
        Ok(install)
    }

    /// Move to a newer version (or park it until the director accepts).
    pub async fn upgrade(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        request: UpgradeRequest,
    ) -> Result<UpgradeOutcome, MarketError> {
        let target = self
            .registry
            .plan_upgrade(actor, tenant, id, &request)
            .await?;
        let install = self.registry.installed(tenant, id).await?;
        self.validate_for(&target.name, &target.version, tenant, id, &install.settings)
            .await?;
        let outcome = self
            .registry
            .upgrade(actor, tenant, id, request, &target.version)
            .await?;
        self.forget();
        Ok(outcome)
    }

    /// Accept a pending version's permissions and move to it.
    pub async fn accept(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<UpgradeOutcome, MarketError> {
        actor.require_tenant(tenant, &[Role::Director], "accept new permissions")?;
        let install = self.registry.install_of(actor, tenant, id).await?;
        if install.pending.as_ref() == Some(version) {
            self.validate_for(&install.package, version, tenant, id, &install.settings)
                .await?;
        }
        let outcome = self.registry.accept(actor, tenant, id, version).await?;
        self.forget();
        Ok(outcome)
    }

    /// Roll back to a version the install ran before.
    pub async fn rollback(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        version: &Version,
    ) -> Result<Install, MarketError> {
        actor.require_tenant(
            tenant,
            &[Role::Operator, Role::Director],
            "roll back components",
        )?;
        let install = self.registry.install_of(actor, tenant, id).await?;
        if install.history.contains(version) {
            self.validate_for(&install.package, version, tenant, id, &install.settings)
                .await?;
        }
        let install = self.registry.rollback(actor, tenant, id, version).await?;
        self.forget();
        Ok(install)
    }

    /// Remove an install.
    pub async fn uninstall(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<(), MarketError> {
        self.registry.uninstall(actor, tenant, id).await?;
        self.forget();
        Ok(())
    }

    /// A tenant's install, resolved and ready to call.
    pub async fn active(&self, tenant: &str, id: &str) -> Result<Arc<Active>, MarketError> {
        self.refresh().await?;
        let key = (tenant.to_owned(), id.to_owned());
        if let Some(a) = self.active.read().ok().and_then(|a| a.get(&key).cloned()) {
            return Ok(a);
        }
        let install = self.registry.installed(tenant, id).await?;
        let version = self
            .registry
            .version(&Principal::console(), &install.package, &install.version)
            .await?
            .0;
        let component = self.component(&install.package, &install.version).await?;
        let grants: Grants = version
            .manifest
            .permissions
            .intersection(&install.accepted)
            .copied()
            .collect();
        let active = Arc::new(Active {
            call: Arc::new(CallContext {
                scope: Scope::new(tenant, id),
                grants,
                settings: install.settings.to_string().into(),
                track_events: install.tracking,
            }),
            limits: limits_of(&version.manifest.limits),
            component,
            version,
            install,
        });
        if let Ok(mut a) = self.active.write() {
            a.insert(key, active.clone());
        }
        Ok(active)
    }

    /// Call `function` of a tenant's install as `actor` (its directors and
    /// reps), recording metrics.
    pub async fn invoke(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        function: &str,
        args: Value,
    ) -> Result<Outcome, MarketError> {
        actor.require_tenant(tenant, &[Role::Director, Role::Rep], "call components")?;
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
        self.call(&active, function, args).await
    }

    async fn call(
        &self,
        active: &Arc<Active>,
        function: &str,
        args: Value,
    ) -> Result<Outcome, MarketError> {
        let runtime = self.runtime.clone();
        let a = active.clone();
        let f = function.to_owned();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            runtime.invoke_json(&a.component, &a.call, &a.limits, &f, &args)
        })
        .await
        .map_err(blocking_failed)?;
        self.metrics.record(
            &active.install.tenant,
            &active.install.id,
            started.elapsed(),
            &result,
        );
        Ok(result?)
    }

    /// Decide an approval request and tell the component that asked.
    /// Returns the decision and whether the component took it (`None` when
    /// the install is gone or disabled: the decision stands regardless).
    pub async fn decide(
        &self,
        actor: &Principal,
        tenant: &str,
        approval: &str,
        answer: Answer,
    ) -> Result<(Approval, Option<Value>), MarketError> {
        let decided = self
            .registry
            .decide(actor, tenant, approval, answer)
            .await?;
        self.forget();
        let Ok(active) = self.active(tenant, &decided.component).await else {
            return Ok((decided, None));
        };
        if !active.install.enabled {
            return Ok((decided, None));
        }
        let decision = json!({
            "decision": {
                "approval-id": decided.id,
                "subject": decided.subject,
                "approved": decided.status == "approved",
                "reason": decided.reason,
                "decided-by": decided.decided_by,
                "decided-at": decided.decided_at.unwrap_or_default(),
            }
        });
        let delivered = match self.call(&active, "approval-decided", decision).await {
            Ok(outcome) => outcome.json(),
            Err(e) => json!({ "err": e.to_string() }),
        };
        Ok((decided, Some(delivered)))
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
