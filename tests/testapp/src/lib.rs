//! A marketplace seeded the way a real one is, for tests and benchmarks:
//! one builder instead of a seeder per test file.
//!
//! ```no_run
//! # async fn demo() {
//! use mercato_testapp::{TestApp, manifest};
//! use mercato_types::Kind;
//!
//! let code = std::fs::read("livestream_booking.wasm").unwrap();
//! let app = TestApp::builder()
//!     .tenant("acme")
//!     .publisher("mercato")
//!     .developer("dev", "mercato")
//!     .reviewer("legal")
//!     .director("dora", "acme")
//!     .rep("ray", "acme")
//!     .component(
//!         manifest("mercato/livestream-booking", "1.0.0", Kind::LivestreamBooking, &["store"]),
//!         code,
//!         &["acme"],
//!     )
//!     .build()
//!     .await;
//! let rep = app.token("ray");
//! # }
//! ```
//!
//! Everything is seeded through the [`Marketplace`] (the server's one path
//! into the registry), so what a test starts from passed the same checks a
//! real upload does. It panics on failure: it is for tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // A panic is a test's failure report.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use mercato_registry::{
    Database, Decision, Manifest, NewAccount, NewInstall, NewKey, NewTenant, Package,
    PackageVersion, Principal, Registry, Role, SqlCustomers, SqlState,
};
use mercato_runtime::Runtime;
use mercato_server::Marketplace;
use mercato_types::{Kind, WIT_PACKAGE};

/// An account the builder made, and a token for it.
#[derive(Debug, Clone)]
pub struct Account {
    /// Who it is.
    pub principal: Principal,
    /// Its bearer token.
    pub token: String,
}

/// A seeded marketplace.
pub struct TestApp {
    /// The marketplace (registry and runtime).
    pub market: Arc<Marketplace>,
    /// Its database.
    pub db: Database,
    accounts: BTreeMap<String, Account>,
    keys: BTreeMap<String, SigningKey>,
    /// Where the SQLite file and compile cache live, when the builder made it.
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("accounts", &self.accounts.keys())
            .finish_non_exhaustive()
    }
}

/// Where the builder keeps the marketplace's records.
#[derive(Debug, Clone, Default)]
enum Store {
    /// A SQLite file in a fresh temporary directory.
    #[default]
    Sqlite,
    /// A fresh database on the PostgreSQL server of `MERCATO_TEST_POSTGRES`.
    Postgres,
    /// This database, as it is.
    Given(Database),
}

/// A component the builder publishes, approves and enables.
#[derive(Debug, Clone)]
struct Seed {
    manifest: Manifest,
    code: Vec<u8>,
    tenants: Vec<String>,
}

/// How to seed a [`TestApp`].
#[derive(Debug, Default)]
pub struct Builder {
    store: Store,
    data_dir: Option<PathBuf>,
    clock: Option<Arc<std::sync::atomic::AtomicU64>>,
    tenants: Vec<String>,
    publishers: Vec<String>,
    accounts: Vec<NewAccount>,
    components: Vec<Seed>,
    admission: mercato_server::marketplace::admission::AdmissionConfig,
}

/// A manifest for `name` at `version` of `kind` asking `permissions`.
pub fn manifest(name: &str, version: &str, kind: Kind, permissions: &[&str]) -> Manifest {
    serde_json::from_value(serde_json::json!({
        "name": name,
        "version": version,
        "kind": kind.as_str(),
        "wit": WIT_PACKAGE,
        "permissions": permissions,
        "description": format!("{kind} for tests."),
    }))
    .expect("a valid manifest")
}

/// The signing key the builder gives `publisher`: fixed per name, so
/// packages signed in one run verify in the next.
pub fn publisher_key(publisher: &str) -> SigningKey {
    let seed = publisher.bytes().fold(0x5eed_u64, |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&seed.rotate_left(i as u32 * 8).to_le_bytes());
    }
    SigningKey::from_bytes(&bytes)
}

impl TestApp {
    /// Start describing the marketplace.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The registry (for reads and for registry-level tests).
    pub fn registry(&self) -> &Registry {
        self.market.registry()
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> &Account {
        self.accounts
            .get(name)
            .unwrap_or_else(|| panic!("the test app has no account `{name}`"))
    }

    /// The principal of account `name`.
    pub fn who(&self, name: &str) -> &Principal {
        &self.account(name).principal
    }

    /// A token of account `name`.
    pub fn token(&self, name: &str) -> &str {
        &self.account(name).token
    }

    /// `publisher`'s signing key (registered by the builder).
    pub fn key(&self, publisher: &str) -> &SigningKey {
        self.keys
            .get(publisher)
            .unwrap_or_else(|| panic!("the test app has no publisher `{publisher}`"))
    }

    /// `manifest` and `code` signed with its publisher's key. As `mercato
    /// pack` does, a manifest without a settings schema gets the one the
    /// component describes (when the code is a component of its kind).
    pub fn package(&self, manifest: &Manifest, code: &[u8]) -> Vec<u8> {
        let mut manifest = manifest.clone();
        if manifest.settings_schema.is_none()
            && let Ok(kind) = manifest.kind.parse::<Kind>()
            && let Ok(component) = self.market.runtime().load(kind, code)
            && let Ok(described) = self.market.runtime().describe(&component)
        {
            manifest.settings_schema = described["settings-schema"]
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok());
        }
        Package::build(&manifest, code, self.key(manifest.publisher())).expect("package builds")
    }

    /// The HTTP API over this marketplace.
    pub fn router(&self) -> axum::Router {
        mercato_server::http::app(self.market.clone())
    }

    /// Publish `manifest` + `code` as `developer` and approve it as `reviewer`.
    pub async fn publish_approved(
        &self,
        developer: &str,
        reviewer: &str,
        manifest: &Manifest,
        code: &[u8],
    ) -> PackageVersion {
        let version = self
            .market
            .publish(self.who(developer), self.package(manifest, code))
            .await
            .expect("publish");
        self.market
            .review(
                self.who(reviewer),
                &version.name,
                &version.version,
                Decision::Approve,
                None,
            )
            .await
            .expect("approve")
            .0
    }
}

impl TestApp {
    /// Run an experiment `key` on install `install` of `tenant` as `actor`:
    /// control and treatment at equal weights, `units` units exposed evenly
    /// over `days` days moved on `clock`, a unit converting when
    /// `converts(unit index, variant)` says so. Returns the units per arm.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_experiment(
        &self,
        clock: &std::sync::atomic::AtomicU64,
        actor: &str,
        tenant: &str,
        install: &str,
        key: &str,
        units: usize,
        days: u64,
        converts: impl Fn(usize, &str) -> bool,
    ) -> std::collections::BTreeMap<String, u64> {
        use serde_json::json;
        let who = self.who(actor).clone();
        let call = |function: &'static str, args: serde_json::Value| {
            let who = who.clone();
            async move {
                let outcome = self
                    .market
                    .invoke(&who, tenant, install, function, args)
                    .await
                    .unwrap_or_else(|e| panic!("{function}: {e}"));
                let reply = outcome.json();
                assert!(reply.get("err").is_none(), "{function}: {reply}");
                reply["ok"].clone()
            }
        };
        call("define", json!({"draft": {"key": key, "description": "Dashboard test",
            "unit-type": "customer", "variants": [{"key": "control", "weight": 1}, {"key": "treatment", "weight": 1}],
            "seed": "seed-1", "primary-metric": {"name": "booked", "kind": "conversion"}, "coverage-bp": 10000}}))
            .await;
        call("start", json!({"key": key})).await;
        let start = clock.load(std::sync::atomic::Ordering::Relaxed);
        let per_day = units.div_ceil(days.max(1) as usize).max(1);
        let mut arms = std::collections::BTreeMap::new();
        for u in 0..units {
            let day = (u / per_day) as u64;
            clock.store(
                start + day * 86_400_000 + 1_000,
                std::sync::atomic::Ordering::Relaxed,
            );
            let unit = format!("u{u}");
            let assignment = call("record-exposure", json!({"key": key, "unit-id": unit})).await;
            let variant = assignment["variant"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *arms.entry(variant.clone()).or_insert(0) += 1;
            if converts(u, &variant) {
                call(
                    "record-conversion",
                    json!({"key": key, "unit-id": unit, "value": 10.0}),
                )
                .await;
            }
        }
        arms
    }
}

impl Builder {
    /// Keep the records in a fresh PostgreSQL database (`MERCATO_TEST_POSTGRES`).
    /// Admit calls with `config` instead of the defaults.
    pub fn admission(
        mut self,
        config: mercato_server::marketplace::admission::AdmissionConfig,
    ) -> Self {
        self.admission = config;
        self
    }

    pub fn postgres(mut self) -> Self {
        self.store = Store::Postgres;
        self
    }

    /// Keep the records in `db`.
    pub fn database(mut self, db: Database) -> Self {
        self.store = Store::Given(db);
        self
    }

    /// Keep the SQLite file and the compile cache in `dir` (default: a
    /// temporary directory removed with the app).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Components see this time (milliseconds since the epoch).
    pub fn clock(mut self, now_ms: u64) -> Self {
        self.clock = Some(Arc::new(std::sync::atomic::AtomicU64::new(now_ms)));
        self
    }

    /// Components see the time `now` holds (milliseconds since the epoch),
    /// which the test moves.
    pub fn clock_source(mut self, now: Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.clock = Some(now);
        self
    }

    /// A tenant.
    pub fn tenant(mut self, name: &str) -> Self {
        self.tenants.push(name.to_owned());
        self
    }

    /// A publisher; its key is registered by its first developer.
    pub fn publisher(mut self, name: &str) -> Self {
        self.publishers.push(name.to_owned());
        self
    }

    fn with_account(
        mut self,
        name: &str,
        role: Role,
        tenant: Option<&str>,
        publisher: Option<&str>,
    ) -> Self {
        self.accounts.push(NewAccount {
            name: name.to_owned(),
            role,
            tenant: tenant.map(str::to_owned),
            publisher: publisher.map(str::to_owned),
        });
        self
    }

    /// An operator account.
    pub fn operator(self, name: &str) -> Self {
        self.with_account(name, Role::Operator, None, None)
    }

    /// A developer of `publisher`.
    pub fn developer(self, name: &str, publisher: &str) -> Self {
        self.with_account(name, Role::Developer, None, Some(publisher))
    }

    /// A reviewer.
    pub fn reviewer(self, name: &str) -> Self {
        self.with_account(name, Role::Reviewer, None, None)
    }

    /// A director of `tenant`.
    pub fn director(self, name: &str, tenant: &str) -> Self {
        self.with_account(name, Role::Director, Some(tenant), None)
    }

    /// A rep of `tenant`.
    pub fn rep(self, name: &str, tenant: &str) -> Self {
        self.with_account(name, Role::Rep, Some(tenant), None)
    }

    /// A component published by its publisher's first developer, approved
    /// by the first reviewer, and enabled (default settings) by the first
    /// director of each of `tenants`.
    pub fn component(mut self, manifest: Manifest, code: Vec<u8>, tenants: &[&str]) -> Self {
        self.components.push(Seed {
            manifest,
            code,
            tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
        });
        self
    }

    /// Open the store, start the runtime and seed everything.
    pub async fn build(self) -> TestApp {
        let (dir, data_dir) = match &self.data_dir {
            Some(path) => (None, path.clone()),
            None => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let path = dir.path().to_owned();
                (Some(dir), path)
            }
        };
        let db = match self.store.clone() {
            Store::Sqlite => Database::open_sqlite(&data_dir.join("mercato.db"))
                .await
                .expect("SQLite opens"),
            Store::Postgres => {
                let url = mercato_registry::db::test_postgres_url()
                    .expect("MERCATO_TEST_POSTGRES is not set: run the suite with scripts/test");
                mercato_registry::db::fresh_postgres(&url)
                    .await
                    .expect("a fresh PostgreSQL database")
            }
            Store::Given(db) => db,
        };
        let state = SqlState::new(db.clone());
        let mut runtime = Runtime::builder()
            .state(Arc::new(state.clone()))
            .customers(Arc::new(SqlCustomers::new(db.clone())))
            .cache_dir(data_dir.join("cache"));
        if let Some(now) = self.clock.clone() {
            runtime = runtime.clock(move || now.load(std::sync::atomic::Ordering::Relaxed));
        }
        let runtime = Arc::new(runtime.build().expect("the runtime starts"));
        let market = Arc::new(
            Marketplace::with_admission(Registry::new(db.clone()), runtime, self.admission)
                .with_state(state),
        );
        let mut app = TestApp {
            market,
            db,
            accounts: BTreeMap::new(),
            keys: BTreeMap::new(),
            data_dir,
            _dir: dir,
        };
        self.seed(&mut app).await;
        app
    }

    async fn seed(self, app: &mut TestApp) {
        let console = Principal::console();
        let market = app.market.clone();
        for name in &self.tenants {
            market
                .create_tenant(
                    &console,
                    NewTenant {
                        name: name.clone(),
                        title: None,
                    },
                )
                .await
                .expect("tenant");
        }
        for name in &self.publishers {
            market
                .create_publisher(&console, name)
                .await
                .expect("publisher");
        }
        for new in self.accounts {
            let name = new.name.clone();
            let (_, token) = market.create_account(&console, new).await.expect("account");
            let principal = market
                .authenticate(&token.token)
                .await
                .expect("the new token works");
            app.accounts.insert(
                name,
                Account {
                    principal,
                    token: token.token,
                },
            );
        }
        let first = |app: &TestApp, role: Role, scope: &str| -> String {
            app.accounts
                .iter()
                .find(|(_, a)| {
                    a.principal.role == role
                        && match role {
                            Role::Developer => a.principal.publisher.as_deref() == Some(scope),
                            Role::Director | Role::Rep => {
                                a.principal.tenant.as_deref() == Some(scope)
                            }
                            _ => true,
                        }
                })
                .map(|(name, _)| name.clone())
                .unwrap_or_else(|| panic!("the test app needs a {role} account for `{scope}`"))
        };
        for publisher in &self.publishers {
            let key = publisher_key(publisher);
            if let Some(developer) = app.accounts.values().find(|a| {
                a.principal.role == Role::Developer
                    && a.principal.publisher.as_deref() == Some(publisher)
            }) {
                market
                    .register_key(
                        &developer.principal,
                        publisher,
                        NewKey {
                            public_key: hex::encode(key.verifying_key().as_bytes()),
                        },
                    )
                    .await
                    .expect("key");
            }
            app.keys.insert(publisher.clone(), key);
        }
        for seed in self.components {
            let developer = first(app, Role::Developer, seed.manifest.publisher());
            let reviewer = first(app, Role::Reviewer, "");
            let version = app
                .publish_approved(&developer, &reviewer, &seed.manifest, &seed.code)
                .await;
            for tenant in &seed.tenants {
                let director = first(app, Role::Director, tenant);
                market
                    .install(
                        app.who(&director),
                        tenant,
                        NewInstall {
                            package: version.name.clone(),
                            ..NewInstall::default()
                        },
                    )
                    .await
                    .expect("install");
            }
        }
    }
}
